import XCTest
import Foundation
import TestSupport

/// Issue 41's selection apart from reporting, end to end on a tiny random RoBERTa: a search scores
/// its trials on rows carved from the training file, journals which rows, and the final stage
/// scores on dev. `autopeft train` on a kept candidate's run file checks both scores independently:
/// the same training run scored on the validation rows gives the search's score, scored on dev the
/// final stage's.
final class ValidationSearchTests: XCTestCase {
    func jsonLines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func space(_ dir: String, validationSeed: Int) -> String {
        let model = RobertaSearchTests.fixture + "/../../../TrainerTests/Fixtures/roberta-tiny"
        return """
        {"name": "validation-tiny", "model": "\(model)",
         "task": {"format": "glue", "name": "sst2", "train": "train.tsv", "dev": "\(RepositoryData.glue)/SST-2/dev.tsv", "max_length": 32,
                  "validation": {"rows": 80, "seed": \(validationSeed)}},
         "head": "dense",
         "training": {"epochs": 2, "batch_size": 16, "learning_rate": 0.02, "seed": 0, "dev_examples": 96},
         "objectives": [{"name": "score", "goal": "maximize"}, {"name": "trainable_params", "goal": "minimize"}],
         "search": {"trials": 4, "initial": 2, "seed": 0, "reference_point": {"score": 0.3}},
         "space": {"lora": {"rank": [0, 2, 4], "targets": {"type": "subset", "of": ["query", "value"], "min": 1}}},
         "baselines": [{"name": "LoRA r2 q,v", "peft": {"lora": {"rank": 2, "alpha": 4, "targets": ["query", "value"]}}}],
         "final": {"seeds": 2}}
        """
    }

    func testTrialsScoreOnHeldRowsAndTheFinalStageOnDev() throws {
        try RepositoryData.requireGLUE()
        let dir = scratchDirectory("validation-search"), study = dir + "/study"
        let sst2 = try String(contentsOfFile: RepositoryData.glue + "/SST-2/train.tsv", encoding: .utf8).split(separator: "\n")
        try (sst2.prefix(481).joined(separator: "\n") + "\n").write(toFile: dir + "/train.tsv", atomically: true, encoding: .utf8)
        try space(dir, validationSeed: 0).write(toFile: dir + "/space.json", atomically: true, encoding: .utf8)
        let s = try runAutopeft(["search", dir + "/space.json", "--out", study, "--threads", "1"])
        XCTAssertEqual(s.code, 0, s.err)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(s.out.utf8)) as? [String: Any])
        XCTAssertEqual(summary["selected_on"] as? String, "validation")
        let journal = try jsonLines(study + "/journal.jsonl")
        let selection = try XCTUnwrap(journal.first { $0["op"] as? String == "study_created" }?["selection"] as? [String: Any])
        XCTAssertEqual((selection["indices"] as? [Int])?.count, 80)
        XCTAssertEqual(selection["source"] as? String, "carved")
        let report = try String(contentsOfFile: study + "/report.md", encoding: .utf8)
        XCTAssertTrue(report.contains("| selected on | validation: 80 rows of the training file"), report)
        XCTAssertTrue(report.contains("score (validation)"), report)

        let r = try runAutopeft(["reevaluate", study, "--threads", "1"])
        XCTAssertEqual(r.code, 0, r.err)
        let runs = try jsonLines(study + "/reevaluation.jsonl")
        let settings = try XCTUnwrap(runs.first { $0["final"] != nil }?["final"] as? [String: Any])
        XCTAssertEqual(settings["scored_on"] as? String, "dev")
        let scored = runs.filter { $0["op"] as? String == "reevaluated" }
        XCTAssertFalse(scored.isEmpty)
        XCTAssertTrue(scored.allSatisfy { $0["from_search"] == nil }, "a search run scored on validation rows cannot stand for a dev score")
        XCTAssertTrue(try String(contentsOfFile: study + "/report.md", encoding: .utf8).contains("final dev score"))

        // The exported candidate's run file, trained again: scored on dev it gives the final stage's
        // seed-0 score, scored on the validation rows the search's own score.
        let exports = try FileManager.default.contentsOfDirectory(atPath: study + "/exports").sorted()
        let candidate = study + "/exports/" + (try XCTUnwrap(exports.first))
        let trial = Int(candidate.split(separator: "-").last!)! - 1
        let finalScore = try XCTUnwrap(scored.first { $0["trial"] as? Int == trial && $0["seed"] as? Int == 0 }?["score"] as? Double)
        let searchScore = try XCTUnwrap((journal.first { $0["op"] as? String == "trial_finished" && $0["id"] as? Int == trial }?["values"]
                                         as? [String: Any])?["score"] as? Double)
        let onDev = try runAutopeft(["train", candidate + "/run.json", "--threads", "1"])
        XCTAssertEqual(onDev.code, 0, onDev.err)
        let devResult = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(onDev.out.utf8)) as? [String: Any])
        XCTAssertEqual(devResult["scored_on"] as? String, "dev")
        XCTAssertEqual(devResult["dev_examples"] as? Int, 96)
        XCTAssertEqual(try XCTUnwrap(devResult["score"] as? Double), finalScore, accuracy: 1e-6)
        var run = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: candidate + "/run.json")))
                                as? [String: Any])
        var task = try XCTUnwrap(run["task"] as? [String: Any])
        task["score_on"] = "validation"
        run["task"] = task
        try JSONSerialization.data(withJSONObject: run).write(to: URL(fileURLWithPath: dir + "/on-validation.json"))
        let onValidation = try runAutopeft(["train", dir + "/on-validation.json", "--threads", "1"])
        XCTAssertEqual(onValidation.code, 0, onValidation.err)
        let valResult = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(onValidation.out.utf8)) as? [String: Any])
        XCTAssertEqual(valResult["validation_examples"] as? Int, 80)
        XCTAssertEqual(try XCTUnwrap(valResult["score"] as? Double), searchScore, accuracy: 1e-6)
        XCTAssertNotEqual(finalScore, searchScore, "two scores of different rows")

        // A training file changed under the same name is noticed on resume.
        try (sst2.prefix(400).joined(separator: "\n") + "\n").write(toFile: dir + "/train.tsv", atomically: true, encoding: .utf8)
        let resumed = try runAutopeft(["search", dir + "/space.json", "--out", study, "--trials", "5", "--threads", "1"])
        XCTAssertNotEqual(resumed.code, 0)
        XCTAssertTrue(resumed.err.contains("this study cannot resume: its validation rows differ"), resumed.err)
    }
}
