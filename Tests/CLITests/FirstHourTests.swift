import XCTest
import TestSupport
import Foundation
import Search
import Runner

/// What a new user meets first: the README's own-data example searched as written, and a
/// quickstart that warns about nothing of its own.
final class FirstHourTests: XCTestCase {
    static let root = RepositoryData.root

    /// The README's space file, the first JSON block under "Your own data and model".
    static func readmeSpace() throws -> String {
        let readme = try String(contentsOfFile: root + "/README.md", encoding: .utf8)
        let section = try XCTUnwrap(readme.range(of: "## Your own data and model"), "README.md has no own-data section")
        let rest = readme[section.upperBound...]
        let open = try XCTUnwrap(rest.range(of: "```json\n"), "no JSON block in the own-data section")
        let close = try XCTUnwrap(rest[open.upperBound...].range(of: "```"), "the JSON block is not closed")
        return String(rest[open.upperBound..<close.lowerBound])
    }

    /// Writes `rows` lines of the README's CSV format (`text,label`, labels negative/positive,
    /// one quoted text with a comma) made from a few words of each polarity.
    static func writeCSV(_ path: String, rows: Int, offset: Int) throws {
        let good = ["a delight", "warm and funny", "a moving, gripping story", "superb acting", "charming"]
        let bad = ["a dull mess", "tedious", "badly acted", "boring and flat", "a waste of time"]
        var lines = ["text,label"]
        for i in 0..<rows {
            let positive = (i + offset) % 2 == 0
            let words = positive ? good : bad
            let text = words[(i + offset) % words.count] + (i % 3 == 0 ? " and " + words[(i + 2) % words.count] : "")
            lines.append((text.contains(",") ? "\"\(text)\"" : text) + "," + (positive ? "positive" : "negative"))
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The README's space, as printed, on a CSV written in its format: a search runs end to end,
    /// with its baseline and report. When the README's example changes, this test runs the new one.
    func testTheREADMEsOwnDataExampleSearchesEndToEnd() throws {
        try RepositoryData.requireModel()
        let d = scratchDirectory("readme")
        let fm = FileManager.default
        try fm.createDirectory(atPath: d + "/my-data", withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: d + "/models", withDestinationPath: Self.root + "/models")
        try Self.readmeSpace().write(toFile: d + "/my-space.json", atomically: true, encoding: .utf8)
        try Self.writeCSV(d + "/my-data/train.csv", rows: 192, offset: 0)
        try Self.writeCSV(d + "/my-data/dev.csv", rows: 40, offset: 1)

        let r = try runAutopeft(["search", d + "/my-space.json", "--out", d + "/runs/my-task", "--trials", "4"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertFalse(r.err.contains("warning"), r.err)
        XCTAssertTrue(r.err.contains("trial 1/4 [baseline LoRA r8 q,v]"), r.err)
        XCTAssertTrue(r.err.contains("baseline LoRA r8 q,v: score "), r.err)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], r.out)
        XCTAssertEqual(summary["finished"] as? Int, 4, r.err)
        XCTAssertFalse((summary["front"] as? [Any] ?? []).isEmpty, "something learnt: " + r.err)
        XCTAssertTrue(fm.fileExists(atPath: d + "/runs/my-task/report.html"))
    }

    /// The Python lines the README gives to load an export are the ones the export fixtures were
    /// made with (tools/hf_export_logits.py), so the README's snippet is the one CI vouches for.
    func testTheREADMEsLoadingLinesAreTheFixtureMakers() throws {
        let readme = try String(contentsOfFile: Self.root + "/README.md", encoding: .utf8)
        let maker = try String(contentsOfFile: Self.root + "/tools/hf_export_logits.py", encoding: .utf8)
        for call in ["PeftModel.from_pretrained(base, ", "adapters.init(base)", ".load_adapter(", "use_safetensors=True)",
                     "base.set_active_adapters(", "base.classifier.load_state_dict(load_file(", "classifier.safetensors",
                     "AutoModelForSequenceClassification.from_pretrained("] {
            XCTAssertTrue(readme.contains(call), "README.md lacks \(call)")
            XCTAssertTrue(maker.contains(call), "tools/hf_export_logits.py lacks \(call)")
        }
    }

    /// The quickstart's reference point is above what predicting one class everywhere scores on
    /// SST-2's dev set, so `scripts/setup` opens with no warning about the project's own space.
    func testTheQuickstartSpaceRaisesNoReferenceWarning() throws {
        try RepositoryData.requireModel()
        try RepositoryData.requireGLUE()
        let spec = try StudySpec(file: Self.root + "/spaces/quickstart.json")
        let study = try Study(spec: spec, directory: scratchDirectory("quickstart") + "/study")
        let constant = try XCTUnwrap(TrainerEvaluator.constantPredictionScore(spec), "SST-2's dev set is read")
        XCTAssertEqual(constant, 444.0 / 872.0, accuracy: 1e-12, "SST-2 dev: 444 of 872 rows are positive")
        study.constantPredictionScore = constant
        XCTAssertNil(study.referenceWarning)
        XCTAssertEqual(study.warnings, [])
        XCTAssertNil(study.priorWarning)
    }
}
