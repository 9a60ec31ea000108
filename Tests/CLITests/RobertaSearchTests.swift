import XCTest
import Foundation
import Trainer
import TestSupport

/// Issue 39's end-to-end check on another family: a tiny random RoBERTa (its classification head,
/// LoRA on its attention) goes from the space file through search, report, reevaluate and export,
/// and the export gives what HF PEFT computed when it loaded the same export
/// (Fixtures/roberta-search, made by tools/make_roberta_search_fixture.sh with the versions in its hf.json).
final class RobertaSearchTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/roberta-search").path

    func testSpaceToSearchToReportToReevaluateToExportToHFPEFTLogits() throws {
        try RepositoryData.requireGLUE()
        let d = Self.fixture, study = scratchDirectory("roberta-search") + "/study"
        let s = try runAutopeft(["search", d + "/space.json", "--out", study, "--threads", "1"])
        XCTAssertEqual(s.code, 0, s.err)
        for f in ["report.md", "report.html", "trials.csv", "pareto.svg", "journal.jsonl"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: study + "/" + f), "search wrote no \(f)")
        }
        let r = try runAutopeft(["reevaluate", study, "--seeds", "2", "--threads", "1"])
        XCTAssertEqual(r.code, 0, r.err)
        // The trial the fixture exported is on the front and was exported here too, for HF PEFT, with
        // RoBERTa's module names and the classification head's dense and out_proj.
        let (candidate, tensors, worst) = try checkExportAgainstFixture(study: study, fixture: d,
                                                                         keys: ["peft_type", "r", "lora_alpha", "target_modules", "modules_to_save"])
        let trial = String(candidate.split(separator: "-").last!)
        XCTAssertTrue(tensors.contains("base_model.model.classifier.out_proj.weight"), "\(tensors.sorted())")
        XCTAssertTrue(tensors.contains { $0.hasPrefix("base_model.model.roberta.encoder.layer.0.attention.self.query.lora_A") })
        // The search counted the head's dense layer as the trainer allocated it.
        let result = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: candidate + "/result.json")))
                                   as? [String: Any])
        let finished = try String(contentsOfFile: study + "/journal.jsonl", encoding: .utf8).split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.first { $0["op"] as? String == "trial_finished" && $0["id"] as? Int == Int(trial)! - 1 }
        let values = try XCTUnwrap(finished?["values"] as? [String: Any])
        XCTAssertEqual(values["trainable_params"] as? Double, result["trainable_params"] as? Double, "trial \(trial)'s trainable parameters")
        print("RoBERTa end to end: trial \(trial) exported, max |autopeft − HF PEFT| = \(worst)")
    }

    /// The sensitivity priors score a RoBERTa as they score BERT: SPT's gradients and DiffoRA's
    /// gated supernet run on its layers, and both charge every layer something.
    func testSensitivityScoresOnRoBERTa() throws {
        try RepositoryData.requireGLUE()
        for method in ["spt", "diffora"] {
            let out = scratchDirectory("roberta-score")
            let r = try runAutopeft(["score", Self.fixture + "/space.json", "--method", method, "--out", out, "--threads", "1"])
            XCTAssertEqual(r.code, 0, "\(method): \(r.err)")
            let saved = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/sensitivity-\(method).json")))
                                      as? [String: Any], method)
            XCTAssertFalse(saved.isEmpty, method)
            // stdout's table: a row per layer (2), each with a positive total.
            var totals: [String: Double] = [:]
            for line in r.out.split(separator: "\n") {
                let cells: [String] = line.split(separator: " ").map(String.init)
                if let first = cells.first, first == "0" || first == "1", let last = cells.last { totals[first] = Double(last) }
            }
            XCTAssertEqual(totals.count, 2, "\(method): \(r.out)")
            for (layer, total) in totals { XCTAssertGreaterThan(total, 0, "\(method): layer \(layer)") }
        }
    }
}
