import Foundation
import XCTest

/// A new, empty folder for a test's files, named `<label>-<UUID>`. Every folder of one test process
/// lives under one root in the system's temporary folder, which is removed when the tests end: a
/// suite run used to leave a hundred-odd folders (a few hundred MiB over a day's runs) behind.
/// The root is kept, and its path printed, when a test failed (to look at what it wrote) or when
/// `AUTOPEFT_KEEP_TEST_FILES=1`.
public func scratchDirectory(_ label: String) -> String {
    let d = ScratchRoot.path + "/" + label + "-" + UUID().uuidString
    do {
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    } catch {
        XCTFail("cannot create the test folder \(d): \(error)")
    }
    return d
}

enum ScratchRoot {
    /// Made, and its cleaner registered, on first use.
    static let path: String = {
        let root = NSTemporaryDirectory() + "autopeft-tests-" + UUID().uuidString
        XCTestObservationCenter.shared.addTestObserver(ScratchCleaner(root: root))
        return root
    }()
}

/// Removes the root when the test bundle finishes, unless a test failed or the environment asks to keep it.
final class ScratchCleaner: NSObject, XCTestObservation {
    let root: String
    var failed = false

    init(root: String) { self.root = root }

    func testCase(_ testCase: XCTestCase, didFailWithDescription description: String, inFile filePath: String?, atLine lineNumber: Int) {
        failed = true
    }

    func testBundleDidFinish(_ testBundle: Bundle) {
        if failed || ProcessInfo.processInfo.environment["AUTOPEFT_KEEP_TEST_FILES"] == "1" {
            FileHandle.standardError.write(Data("test files kept in \(root)\n".utf8))
        } else {
            try? FileManager.default.removeItem(atPath: root)
        }
    }
}
