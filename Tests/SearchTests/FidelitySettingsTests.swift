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

    func testCheapStreakIsReadDefaultsToThreeAndIsRefusedByPath() throws {
        XCTAssertEqual(try settings(#"{"target": {"train_examples": 40, "epochs": 3}}"#).cheapStreak, 3)
        XCTAssertEqual(try settings(#"{"target": {"train_examples": 40, "epochs": 3}, "cheap_streak": 0}"#).cheapStreak, 0)
        XCTAssertThrowsError(try settings(#"{"target": {"train_examples": 40, "epochs": 3}, "cheap_streak": -1}"#)) { error in
            let e = error as? ConfigError
            XCTAssertEqual(e?.path, "fidelity.cheap_streak")
            XCTAssertTrue(e?.message.contains("a number of trials") == true, "\(error)")
        }
    }

    func testACoolDownOutsideZeroToOneIsRefusedByPath() {
        XCTAssertThrowsError(try settings(#"{"target": {"train_examples": 40, "epochs": 1}, "cooldown": 1.5}"#)) { error in
            let e = error as? ConfigError
            XCTAssertEqual(e?.path, "fidelity.cooldown")
            XCTAssertTrue(e?.message.contains("share of a cheap trial's steps") == true, "\(error)")
        }
    }
}

/// `fidelity.cheap_runs`: prefixes of the target run (the default) or annealed runs of their own.
final class CheapRunsSettingsTests: XCTestCase {
    func settings(_ json: String) throws -> FidelitySettings {
        try FidelitySettings(reading: JSONReader(JSONParser.parse(json), path: "fidelity"))
    }

    func testAnnealedRunsTrainWholeRunsOfTheirOwnAndPayForAllOfThem() throws {
        let prefix = try settings(#"{"target": {"train_examples": 4000, "epochs": 3}, "cheaper": [2000, 4000]}"#)
        XCTAssertEqual(prefix.cheapRuns, .prefix, "older space files train as they did")
        let f = try settings(#"{"target": {"train_examples": 4000, "epochs": 3}, "cheaper": [2000, 4000, 8000], "cheap_runs": "annealed"}"#)
        XCTAssertEqual(f.cheapRuns, .annealed)
        XCTAssertTrue(f.annealedRun(Fidelity(examples: 2000)) == (2000, 1))
        XCTAssertTrue(f.annealedRun(Fidelity(examples: 4000)) == (4000, 1))
        XCTAssertTrue(f.annealedRun(Fidelity(examples: 8000)) == (4000, 2), "above the target's rows: whole epochs of them")
        // Nothing is continued: a trial pays for all its examples whatever trained before.
        XCTAssertEqual(f.trainedExamples(at: Fidelity(examples: 4000), from: 2000), 4000)
        XCTAssertEqual(f.trainedExamples(at: f.target, from: 4000), 12000)
        XCTAssertEqual(prefix.trainedExamples(at: prefix.target, from: 4000), 8000)
        // The report says which.
        XCTAssertEqual(prefix.cheapRunDescription(Fidelity(examples: 2000)), "first 2000 examples")
        XCTAssertEqual(f.cheapRunDescription(Fidelity(examples: 2000)), "2000 rows × 1 epoch")
        XCTAssertEqual(f.cheapRunDescription(Fidelity(examples: 8000)), "4000 rows × 2 epochs")
    }

    func testBadCheapRunSettingsAreRefusedByPath() {
        func refused(_ json: String, at path: String, saying text: String) {
            XCTAssertThrowsError(try settings(json)) { error in
                let e = error as? ConfigError
                XCTAssertEqual(e?.path, path, "\(error)")
                XCTAssertTrue(e?.message.contains(text) == true, "\(error)")
            }
        }
        refused(#"{"target": {"train_examples": 40, "epochs": 3}, "cheap_runs": "short"}"#, at: "fidelity.cheap_runs",
                saying: #"expected "prefix" or "annealed", got "short""#)
        refused(#"{"target": {"train_examples": 40, "epochs": 3}, "cheap_runs": "annealed", "cooldown": 0.25}"#,
                at: "fidelity.cooldown", saying: "applies to prefix cheap runs")
        refused(#"{"target": {"train_examples": 40, "epochs": 3}, "cheaper": [20, 60], "cheap_runs": "annealed"}"#,
                at: "fidelity.cheaper[1]", saying: "expected a multiple of 40, got 60")
    }
}

/// `fidelity.worth`: what an observation at a fidelity is worth per second.
final class FidelityWorthSettingsTests: XCTestCase {
    func settings(_ json: String) throws -> FidelitySettings {
        try FidelitySettings(reading: JSONReader(JSONParser.parse(json), path: "fidelity"))
    }

    func testWorthIsReadAndDefaultsToInformation() throws {
        XCTAssertEqual(try settings(#"{"target": {"train_examples": 40, "epochs": 3}}"#).worth, .information,
                       "studies without the key choose fidelities as they did")
        XCTAssertEqual(try settings(#"{"target": {"train_examples": 40, "epochs": 3}, "worth": "variance"}"#).worth, .variance)
        XCTAssertThrowsError(try settings(#"{"target": {"train_examples": 40, "epochs": 3}, "worth": "varience"}"#)) { error in
            let e = error as? ConfigError
            XCTAssertEqual(e?.path, "fidelity.worth")
            XCTAssertTrue(e?.message.contains(#"did you mean "variance""#) == true, "\(error)")
        }
    }
}
