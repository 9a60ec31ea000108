import XCTest

struct BinaryNotFound: Error, CustomStringConvertible {
    let searched: [String]
    var description: String { "autopeft binary not found beside the tests: \(searched)" }
}

/// Runs the built `autopeft` binary and checks its exit codes and messages.
final class CLITests: XCTestCase {
    func run(_ args: [String]) throws -> (code: Int32, out: String, err: String) {
        // On Linux the test bundle is one executable inside the build folder; on macOS a bundle beside it.
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let candidates = [testBinary.deletingLastPathComponent(), Bundle(for: CLITests.self).bundleURL.deletingLastPathComponent()]
            .map { $0.appendingPathComponent("autopeft") }
        guard let bin = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw BinaryNotFound(searched: candidates.map(\.path))
        }
        let p = Process()
        p.executableURL = bin
        p.arguments = args
        let o = Pipe(), e = Pipe()
        p.standardOutput = o
        p.standardError = e
        try p.run()
        let out = o.fileHandleForReading.readDataToEndOfFile(), err = e.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    func testUnknownCommandSuggests() throws {
        let r = try run(["trian"])
        XCTAssertEqual(r.code, 2)
        XCTAssertTrue(r.err.contains("unknown command \"trian\" (did you mean \"train\"?)"), r.err)
    }

    func testMissingRunFileIsAClearError() throws {
        let r = try run(["train", "/nonexistent/run.json"])
        XCTAssertEqual(r.code, 2)
        XCTAssertTrue(r.err.contains("/nonexistent/run.json: cannot read run file"), r.err)
        XCTAssertEqual(r.out, "", "stdout stays clean on errors")
    }

    func testMissingModelDirectoryIsAClearError() throws {
        let dir = NSTemporaryDirectory() + "autopeft-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let p = dir + "/run.json"
        FileManager.default.createFile(atPath: p, contents: Data(#"{"model": "nope", "task": {"name": "sst2", "train": "t", "dev": "d"}}"#.utf8))
        let r = try run(["train", p, "--threads", "1"])
        XCTAssertEqual(r.code, 2)
        XCTAssertTrue(r.err.contains("model directory not found"), r.err)
    }

    func testDoctorPrintsJSONWithTheKernel() throws {
        let r = try run(["doctor"])
        XCTAssertEqual(r.code, 0)
        XCTAssertTrue(r.out.contains("\"blas_core\""), r.out)
    }
}
