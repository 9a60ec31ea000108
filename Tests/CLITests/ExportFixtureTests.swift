import XCTest
import Foundation
import Trainer
import TestSupport

/// Exports checked against what HF PEFT and AdapterHub compute, in CI: for each exportable kind a
/// small committed candidate (Fixtures/exports/<kind>/, made by tools/make_export_fixtures.sh with
/// the versions in its hf.json) is exported again, the export must equal the one HF loaded, and
/// `autopeft predict` must give HF's logits on the same 8 SST-2 rows within 1e-4.
final class ExportFixtureTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/exports").path
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func requireModel() throws {
        try RepositoryData.requireModel()
        try RepositoryData.requireGLUE()
    }

    func check(_ kind: String, format: String) throws {
        let d = Self.fixtures + "/" + kind
        let out = scratchDirectory("export")
        let e = try runAutopeft(["export", d + "/candidate", "--out", out])
        XCTAssertEqual(e.code, 0, "\(kind): \(e.err)")
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(e.out.utf8)) as? [String: Any], kind)
        XCTAssertEqual(summary["format"] as? String, format, "\(kind): the CLI's choice of format")
        // The export is the one HF loaded: same config, same tensor bytes.
        let fm = FileManager.default
        let files = try fm.contentsOfDirectory(atPath: d + "/export").filter { $0 != "README.md" }.sorted()
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: out).filter { $0 != "README.md" }.sorted(), files, kind)
        for f in files {
            let a = try Data(contentsOf: URL(fileURLWithPath: d + "/export/"
                + f)), b = try Data(contentsOf: URL(fileURLWithPath: out + "/" + f))
            if f.hasSuffix(".json") {
                // Everything but the base model's location, which names the folder of the machine that made it.
                func config(_ d: Data) throws -> NSDictionary? {
                    var o = try XCTUnwrap(JSONSerialization.jsonObject(with: d) as? [String: Any])
                    for key in ["base_model_name_or_path", "model_name"] where o[key] != nil { o[key] = "model" }
                    return o as NSDictionary
                }
                XCTAssertEqual(try config(a), try config(b), "\(kind)/\(f)")
            } else if a != b {
                // Tensors an export computes (a prefix MLP evaluated into prompt_embeddings) may
                // differ in the last bits under another BLAS kernel than the one that made the
                // fixture (2.4e-7 measured under Haswell); copied tensors are equal anyway.
                let x = try SafetensorsFile(path: d + "/export/" + f), y = try SafetensorsFile(path: out + "/" + f)
                XCTAssertEqual(Set(x.tensors.keys), Set(y.tensors.keys), "\(kind)/\(f): tensor names")
                for name in x.tensors.keys.sorted() where y.tensors[name] != nil {
                    XCTAssertEqual(x.tensors[name]?.shape, y.tensors[name]?.shape, "\(kind)/\(f): \(name)")
                    let u = try x.floats(name), v = try y.floats(name)
                    let worst = zip(u, v).map { abs($0 - $1) / max(1, abs($0)) }.max() ?? 0
                    XCTAssertLessThanOrEqual(worst, 1e-6, "\(kind)/\(f): \(name) differs from the export HF loaded")
                }
            }
        }
        // autopeft's logits against HF's for the same rows.
        let p = try runAutopeft(["predict", d + "/candidate", "--data", d + "/rows.tsv", "--threads", "1"])
        XCTAssertEqual(p.code, 0, "\(kind): \(p.err)")
        // Progress on stderr, the last line at every row with none left; stdout holds only the rows.
        XCTAssertTrue(p.err.split(separator: "\n").contains { $0.hasPrefix("autopeft predict: rows 8/8 ") && $0.hasSuffix("ETA 0m00s") },
                      "\(kind): \(p.err)")
        let ours = try p.out.split(separator: "\n").map { line -> [Double] in
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try XCTUnwrap(o["logits"] as? [Double])
        }
        let hf = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/hf.json"))) as? [String: Any])
        let theirs = try XCTUnwrap(hf["logits"] as? [[Double]], kind)
        XCTAssertEqual(ours.count, 8, kind)
        XCTAssertEqual(theirs.count, ours.count, kind)
        var worst = 0.0
        for (x, y) in zip(ours, theirs) { for (a, b) in zip(x, y) { worst = max(worst, abs(a - b)) } }
        XCTAssertLessThanOrEqual(worst, 1e-4, "\(kind): max |autopeft − HF| over 8 rows (HF: \(hf["versions"] ?? ""))")
    }

    func testLoRA() throws { try requireModel(); try check("lora", format: "hf-peft") }
    func testPiSSAAsPlainLoRA() throws { try requireModel(); try check("pissa", format: "hf-peft") }
    func testIA3() throws { try requireModel(); try check("ia3", format: "hf-peft") }
    func testPrefix() throws { try requireModel(); try check("prefix", format: "hf-peft") }
    func testPrefixWithProjection() throws { try requireModel(); try check("prefixmlp", format: "hf-peft") }
    func testSerialAdapter() throws { try requireModel(); try check("serial", format: "adapterhub") }
    func testParallelAdapter() throws { try requireModel(); try check("parallel", format: "adapterhub") }
    /// A prefix at positions from 0 (an MLP, layers 0, 2 and 5), which AdapterHub computes as autopeft does.
    func testPrefixAtPositionsFromZeroInAdapterHub() throws { try requireModel(); try check("adapterhub-prefix", format: "adapterhub") }

    /// Candidates no single adapter format holds are refused with the reason (exit 2), and nothing
    /// is written.
    func testCandidatesNoFormatHoldsAreRefusedWithTheReason() throws {
        try requireModel()
        let cases: [(String, String, String)] = [
            ("two bottleneck adapters", #"{"serial_adapter": {"size": 2}, "parallel_adapter": {"size": 2}}"#, "AdapterHub export takes one serial or one parallel bottleneck adapter alone"),
            ("head only", "{}", "the candidate trains only the head"),
            ("BitFit", #"{"bitfit": {"biases": ["query"]}}"#, "HF PEFT has no serial/parallel bottleneck adapter or BitFit method"),
            ("LoRA with (IA)3", #"{"lora": {"rank": 2, "targets": ["query"]}, "ia3": {}}"#, "a PEFT adapter holds one method; this candidate combines 2"),
        ]
        for (name, peft, reason) in cases {
            let d = scratchDirectory("refusal")
            try """
            {"model": "\(Self.root)/models/all-MiniLM-L6-v2",
             "task": {"format": "glue", "name": "sst2", "train": "\(Self.root)/data/glue/SST-2/dev.tsv", "dev": "\(Self.root)/data/glue/SST-2/dev.tsv", "max_length": 16},
             "peft": \(peft), "head": "pooler", "training": {"epochs": 1, "batch_size": 8, "train_examples": 16, "dev_examples": 8}}
            """.write(toFile: d + "/run.json", atomically: true, encoding: .utf8)
            let t = try runAutopeft(["train", d + "/run.json", "--save", d + "/candidate", "--threads", "1"])
            XCTAssertEqual(t.code, 0, "\(name): \(t.err)")
            let e = try runAutopeft(["export", d + "/candidate", "--out", d + "/export"])
            XCTAssertEqual(e.code, 2, "\(name): \(e.err)")
            XCTAssertTrue(e.err.contains(reason), "\(name): \(e.err)")
            XCTAssertEqual(e.out, "", name)
            XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/export"), "\(name): nothing written")
        }
    }
}
