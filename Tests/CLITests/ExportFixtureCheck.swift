import XCTest
import Foundation
import Trainer

/// What a search-export fixture (tools/make_search_export_fixture.sh) holds for `fixture`: the trial
/// it exported, the export's adapter_config.json and tensors, 8 rows and HF PEFT's logits on them.
/// Checks that this run's export of the same trial has the same config `keys` and tensors (values
/// within 1e-4: another BLAS kernel trains to other roundoff), and that autopeft predict gives HF
/// PEFT's logits within 1e-4. Returns the trial's candidate folder, its tensor names and the worst
/// logit difference.
func checkExportAgainstFixture(study: String, fixture d: String, keys: [String],
                               file: StaticString = #filePath, line: UInt = #line) throws -> (candidate: String, tensors: Set<String>,
                                                                                              worst: Double) {
    func json(_ path: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any], path,
                      file: file, line: line)
    }
    let trial = try String(contentsOfFile: d + "/export/trial.txt", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    let candidate = study + "/exports/trial-\(trial)", adapter = candidate + "/adapter"
    let config = try json(adapter + "/adapter_config.json"), expected = try json(d + "/export/adapter_config.json")
    for key in keys { XCTAssertEqual("\(config[key] ?? "")", "\(expected[key] ?? "")", key, file: file, line: line) }
    let ours = try SafetensorsFile(path: adapter + "/adapter_model.safetensors")
    let theirs = try SafetensorsFile(path: d + "/export/adapter_model.safetensors")
    XCTAssertEqual(Set(ours.tensors.keys), Set(theirs.tensors.keys), file: file, line: line)
    for name in theirs.tensors.keys.sorted() where ours.tensors[name] != nil {
        let u = try ours.floats(name), v = try theirs.floats(name)
        XCTAssertEqual(u.count, v.count, name, file: file, line: line)
        XCTAssertLessThanOrEqual(zip(u, v).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0, 1e-4, name, file: file, line: line)
    }
    let p = try runAutopeft(["predict", candidate, "--data", d + "/rows.tsv", "--threads", "1"])
    XCTAssertEqual(p.code, 0, p.err, file: file, line: line)
    let logits = try p.out.split(separator: "\n").map { row -> [Double] in
        try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(row.utf8)) as? [String: Any])?["logits"] as? [Double], file: file, line: line)
    }
    let hf = try json(d + "/hf.json")
    let reference = try XCTUnwrap(hf["logits"] as? [[Double]], file: file, line: line)
    XCTAssertEqual(logits.count, 8, file: file, line: line)
    XCTAssertEqual(reference.count, logits.count, file: file, line: line)
    var worst = 0.0
    for (x, y) in zip(logits, reference) { for (a, b) in zip(x, y) { worst = max(worst, abs(a - b)) } }
    XCTAssertLessThanOrEqual(worst, 1e-4, "max |autopeft − HF PEFT| over 8 rows (HF: \(hf["versions"] ?? ""))", file: file, line: line)
    return (candidate, Set(ours.tensors.keys), worst)
}
