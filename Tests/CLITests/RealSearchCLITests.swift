import XCTest
import Foundation

/// The whole product on the real model and real data, at a tiny fidelity: SPT and DiffoRA scores,
/// a search with baselines and the SPT prior, the final stage with exports, and the report.
final class RealSearchCLITests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func testTinyRealSearchEndToEnd() throws {
        let model = Self.root + "/models/all-MiniLM-L6-v2", glue = Self.root + "/data/glue"
        guard FileManager.default.fileExists(atPath: model + "/model.safetensors"), FileManager.default.fileExists(atPath: glue + "/SST-2/dev.tsv") else {
            try missing("the model or GLUE is missing; run scripts/setup --no-run")
        }
        let d = NSTemporaryDirectory() + "autopeft-real-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        let space = d + "/tiny.json"
        try """
        {"name": "tiny", "model": "\(model)",
         "task": {"format": "glue", "name": "sst2", "train": "\(glue)/SST-2/train.tsv", "dev": "\(glue)/SST-2/dev.tsv", "max_length": 24},
         "head": "mean",
         "training": {"epochs": 1, "batch_size": 16, "learning_rate": 5e-3, "train_examples": 64, "dev_examples": 64, "seed": 0},
         "search": {"trials": 5, "initial": 2, "reference_point": {"score": 0.4, "trainable_params": 500000}},
         "space": {"layers": {"type": "layer_mask"}, "serial_adapter": {"size": [0, 8, 32]}, "lora": {"rank": [0, 4], "targets": {"type": "subset", "of": ["query", "value"], "min": 1}}},
         "constraints": [{"type": "at_least_one", "of": ["serial_adapter.size", "lora.rank"]}],
         "baselines": [{"name": "prefix 4", "peft": {"prefix": {"length": 4}}},
                       {"name": "LoRA r4 q,v", "config": {"layers": [0, 1, 2, 3, 4, 5], "serial_adapter.size": 0, "lora.rank": 4, "lora.targets": ["query", "value"]}}],
         "priors": {"sensitivity": "spt", "batches": 2, "batch_size": 8, "steps": 3},
         "final": {"train_examples": 96, "epochs": 1, "seeds": 2}}
        """.write(toFile: space, atomically: true, encoding: .utf8)

        let score = try runAutopeft(["score", space, "--method", "diffora", "--out", d + "/scores"])
        XCTAssertEqual(score.code, 0, score.err)
        XCTAssertTrue(score.out.contains("diffora scores") && score.out.contains("diffora choice in this space"), score.out)
        let saved = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/scores/sensitivity-diffora.json"))) as? [String: Any])
        XCTAssertEqual((saved["gates"] as? [Any])?.count, 6 * 3, "LoRA on query and value, and a serial adapter, in 6 layers")

        let r = try runAutopeft(["search", space, "--out", d + "/study"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertTrue(r.err.contains("trial 1/5 [baseline prefix 4]"), r.err)
        XCTAssertTrue(r.err.contains("trial 3/5 [spt choice]"), r.err)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        XCTAssertEqual(summary["finished"] as? Int, 5, r.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/study/sensitivity-spt.json"))

        let re = try runAutopeft(["reevaluate", d + "/study"])
        XCTAssertEqual(re.code, 0, re.err)
        let lines = try String(contentsOfFile: d + "/study/reevaluation.jsonl", encoding: .utf8).split(separator: "\n")
        let reSummary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(re.out.utf8)) as? [String: Any])
        let targets = try XCTUnwrap(reSummary["reevaluated"] as? [[String: Any]])
        XCTAssertEqual(lines.count, 1 + 2 * targets.count, "the settings, then one line per configuration and seed")
        XCTAssertTrue(targets.allSatisfy { ($0["n"] as? Int) == 2 })
        // Running it again does nothing new (resumable).
        let again = try runAutopeft(["reevaluate", d + "/study"])
        XCTAssertEqual(again.code, 0, again.err)
        XCTAssertEqual(try String(contentsOfFile: d + "/study/reevaluation.jsonl", encoding: .utf8).split(separator: "\n").count, lines.count)

        // Another fidelity is not mixed into the same file.
        let other = try runAutopeft(["reevaluate", d + "/study", "--rows", "50"])
        XCTAssertEqual(other.code, 2)
        XCTAssertTrue(other.err.contains("holds runs at"), other.err)

        let rep = try runAutopeft(["report", d + "/study"])
        XCTAssertEqual(rep.code, 0, rep.err)
        let md = try String(contentsOfFile: d + "/study/report.md", encoding: .utf8)
        XCTAssertTrue(md.contains("final score, mean ± sd (seeds)"), md)
        XCTAssertTrue(md.contains("| final stage | 96 rows, 1 epoch, learning rate 0.005, max length 24; "), md)
        XCTAssertTrue(md.contains("## Baselines") && md.contains("## Sensitivity prior (spt)"), md)
        XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/study/sensitivity.svg"))
        let exports = try FileManager.default.contentsOfDirectory(atPath: d + "/study/exports")
        XCTAssertEqual(exports.count, targets.count)
        // The LoRA baseline's export is an HF PEFT adapter.
        let lora = try XCTUnwrap(targets.first { ($0["baseline"] as? String) == "LoRA r4 q,v" })
        let id = try XCTUnwrap(lora["trial"] as? Int)
        XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/study/exports/trial-\(id + 1)/adapter/adapter_config.json"))
    }
}
