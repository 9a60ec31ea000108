import XCTest
import TestSupport
import Foundation
import Space
@testable import Search

/// What the terminal summary and the report say of each baseline (`BaselineVerdict`), recomputed
/// here by brute force from the trials' values.
final class BaselineVerdictTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The AutoPEFT mock space (its four baselines) with `trials` trials and no prior.
    func mockStudy(trials: Int) throws -> Study {
        let d = scratchDirectory("verdict")
        var text = try String(contentsOfFile: Self.root + "/spaces/autopeft-mock.json", encoding: .utf8)
        text = text.replacingOccurrences(of: #""trials": 40"#, with: #""trials": \#(trials)"#)
            .replacingOccurrences(of: #""sensitivity": "spt""#, with: #""sensitivity": "none""#)
        try text.write(toFile: d + "/space.json", atomically: true, encoding: .utf8)
        let spec = try StudySpec(file: d + "/space.json")
        let study = try Study(spec: spec, directory: d + "/study")
        try study.run(evaluator: SyntheticEvaluator(spec: spec)) { _ in }
        return study
    }

    func check(_ study: Study) throws -> (matched: Int, missed: Int) {
        let searched = study.answers.filter { $0.baseline == nil }
        let front = Set(study.frontIDs)
        let summary = Report.terminalSummary(study)
        var counts = (matched: 0, missed: 0)
        for v in study.baselineVerdicts {
            let b = v.baseline
            let beaters = searched.filter { $0.values[0] >= b.values[0] && $0.values[1] <= b.values[1] }.map(\.id)
            XCTAssertEqual(v.matchedBy, beaters, b.baseline ?? "")
            let at = try XCTUnwrap(summary.firstIndex { $0.hasPrefix("baseline \(b.baseline ?? ""):") }, summary.joined(separator: "\n"))
            let line = summary[at + 1]   // the verdict, on the line after the baseline's values
            if let named = v.frontMatches.first {
                counts.matched += 1
                XCTAssertTrue(front.contains(named), "the named point is on the front")
                XCTAssertEqual(named, beaters.filter(front.contains).min { study.trials[$0].values[1] < study.trials[$1].values[1] },
                               "the front point with the fewest parameters")
                XCTAssertTrue(line.contains("front trial \(named + 1) ("), line)
            } else if beaters.isEmpty {
                counts.missed += 1
                let cheaper = searched.filter { $0.values[1] <= b.values[1] }
                let best = try XCTUnwrap(cheaper.max { $0.values[0] < $1.values[0] }, "the mock always has a smaller module")
                XCTAssertEqual(v.nearest?.id, best.id)
                XCTAssertEqual(v.nearest?.shortBy ?? .nan, b.values[0] - best.values[0], accuracy: 1e-12)
                XCTAssertGreaterThan(v.nearest?.shortBy ?? 0, 0)
                XCTAssertTrue(line.contains("not matched: the best search trial with at most its trainable_params, trial \(best.id + 1)"),
                              line)
            }
        }
        return counts
    }

    /// Early on the mock's baselines are missed (measured here: the verdicts then say by how
    /// much); after 40 trials some are matched, and each verdict names a front point.
    func testVerdictsNameAFrontPointOrTheMiss() throws {
        let early = try check(mockStudy(trials: 8))
        let late = try check(mockStudy(trials: 40))
        XCTAssertGreaterThan(early.missed, 0, "with 4 design trials some baseline is missed")
        XCTAssertGreaterThan(late.matched, 0, "40 trials match some baseline")
    }
}
