import XCTest
import TestSupport
import Foundation
import JSONKit
@testable import Search

/// `search.parameter_axis`: the acquisition weighs trainable parameters on a log10 axis unless
/// told otherwise, and a study keeps the axis it began with.
final class ParameterAxisTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func folder() -> String { scratchDirectory("axis") }

    /// The AutoPEFT space on the PEFT mock (exact MiniLM parameter counts, synthetic score) with
    /// the given seed, trial count and axis ("" leaves the default).
    func mockSpec(seed: Int, trials: Int, axis: String, in d: String) throws -> StudySpec {
        var doc = try JSONParser.parse(String(contentsOfFile: Self.root + "/spaces/autopeft-mock.json", encoding: .utf8))
        guard case .object(var top) = doc, let i = top.firstIndex(where: { $0.key == "search" }),
              case .object(var search) = top[i].value else { throw XCTSkip("spaces/autopeft-mock.json has no search section") }
        search.removeAll { ["seed", "trials", "parameter_axis"].contains($0.key) }
        search += [("seed", .number(seed)), ("trials", .number(trials))]
        if !axis.isEmpty { search.append(("parameter_axis", .string(axis))) }
        top[i].value = .object(search)
        top.removeAll { $0.key == "priors" }
        doc = .object(top)
        try doc.serialized().write(toFile: d + "/space.json", atomically: true, encoding: .utf8)
        return try StudySpec(file: d + "/space.json")
    }

    func testANewStudyRecordsItsSettingsAndAnOlderJournalKeepsItsOwn() throws {
        let d = folder()
        let study = try Study(spec: mockSpec(seed: 0, trials: 12, axis: "", in: d), directory: d + "/new")
        XCTAssertTrue(study.optimizer.settings.logParameters, "log10 by default")
        let created = try String(contentsOfFile: d + "/new/journal.jsonl", encoding: .utf8).split(separator: "\n")[0]
        XCTAssertTrue(created.contains(#""parameter_axis":"log10""#), String(created))
        XCTAssertTrue(created.contains(#""prior_weight_from_data":true"#) && created.contains(#""prior_sizes":"uniform""#)
                      && created.contains(#""prior_layers":"neutral""#), String(created))
        XCTAssertTrue(study.optimizer.settings.priorWeightFromData)
        XCTAssertTrue(try Study(readingDirectory: d + "/new").optimizer.settings.logParameters)

        let linear = try Study(spec: mockSpec(seed: 0, trials: 12, axis: "linear", in: d), directory: d + "/linear")
        XCTAssertFalse(linear.optimizer.settings.logParameters)

        // The golden format-1 journal was written before the setting: it resumes on its linear axis.
        let old = d + "/format1"
        try FileManager.default.copyItem(atPath: Self.root + "/Tests/SearchTests/Fixtures/format1-study", toPath: old)
        let reopened = try Study(readingDirectory: old)
        XCTAssertFalse(reopened.optimizer.settings.logParameters)
        XCTAssertFalse(reopened.optimizer.settings.priorWeightFromData, "πBO's fixed weight, as that release used")
        XCTAssertEqual(Study.priorSizes(reopened.journal, spec: reopened.spec), .centred)
        XCTAssertEqual(Study.priorLayers(reopened.journal, spec: reopened.spec), .scored, "layer scores, as that release used")
    }

    /// On the mock, 5 seeds × 30 trials: the log10 axis reaches a larger hypervolume against log10
    /// parameters than the linear axis does, in the median and in most seeds, because the linear
    /// axis barely rewards anything far below the 4M-parameter reference.
    func testTheLogAxisCoversTheSmallModuleEnd() throws {
        var log: [Double] = [], linear: [Double] = []
        for seed in 0..<5 {
            for axis in ["log10", "linear"] {
                let d = folder()
                let spec = try mockSpec(seed: seed, trials: 30, axis: axis, in: d)
                let study = try Study(spec: spec, directory: d + "/s")
                try study.run(evaluator: SyntheticEvaluator(spec: spec)) { _ in }
                if axis == "log10" { log.append(study.reportedHypervolume) } else { linear.append(study.reportedHypervolume) }
            }
        }
        let median = { (v: [Double]) in v.sorted()[v.count / 2] }
        print("log10-parameter hypervolume at 30 trials, 5 seeds: log10 axis \(log.map { Study.format($0) }), "
            + "linear axis \(linear.map { Study.format($0) })")
        XCTAssertGreaterThan(median(log), median(linear))
        XCTAssertGreaterThanOrEqual(zip(log, linear).filter { $0 > $1 }.count, 4, "the log axis wins in at least 4 of 5 seeds")
    }
}
