import XCTest
import JSONKit
@testable import Search

/// The space file's `fidelity` section: the cool-down share and what a trial's seconds pay for.
final class FidelitySettingsTests: XCTestCase {
    func settings(_ json: String) throws -> FidelitySettings {
        try FidelitySettings(reading: JSONReader(JSONParser.parse(json), path: "fidelity"))
    }

    func testACheapTrialPaysForItsCoolDownAndTheTargetDoesNot() throws {
        let f = try settings(#"{"target": {"train_examples": 4000, "epochs": 3}, "cheaper": [2000, 4000], "cooldown": 0.25}"#)
        XCTAssertEqual(f.coolDown, 0.25)
        // 2000 examples from scratch: 2000 + 500 in the branch.
        XCTAssertEqual(f.trainedExamples(at: Fidelity(examples: 2000), from: 0), 2500)
        // 4000 continuing 2000: 2000 more and a branch of a quarter of 4000.
        XCTAssertEqual(f.trainedExamples(at: Fidelity(examples: 4000), from: 2000), 3000)
        // The target continuing 4000: no branch.
        XCTAssertEqual(f.trainedExamples(at: f.target, from: 4000), 8000)
        let plain = try settings(#"{"target": {"train_examples": 4000, "epochs": 3}, "cheaper": [2000]}"#)
        XCTAssertEqual(plain.coolDown, 0, "off unless asked for: older studies train as they did")
        XCTAssertEqual(plain.trainedExamples(at: Fidelity(examples: 2000), from: 0), 2000)
    }

    func testACoolDownOutsideZeroToOneIsRefusedByPath() {
        XCTAssertThrowsError(try settings(#"{"target": {"train_examples": 40, "epochs": 1}, "cooldown": 1.5}"#)) { error in
            let e = error as? ConfigError
            XCTAssertEqual(e?.path, "fidelity.cooldown")
            XCTAssertTrue(e?.message.contains("share of a cheap trial's steps") == true, "\(error)")
        }
    }
}
