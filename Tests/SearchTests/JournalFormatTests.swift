import XCTest
import TestSupport
import Foundation
@testable import Search

/// The golden journal of format 1: a 12-trial study of spaces/autopeft-mock.json written by
/// release b70a97e (`autopeft search spaces/autopeft-mock.json --trials 12`), with its space file
/// recorded as an absolute path that does not exist here (as journals before relative paths did;
/// the path was replaced by /nonexistent/…). Every release must read it and find what that
/// release reported: hypervolume 1438080.9467610256 and front trials 1, 2, 3, 4, 7, 8, 9, 10.
final class JournalFormatTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/format1-study").path

    func testFormat1StudyFromAnEarlierReleaseReadsAndRenders() throws {
        let d = scratchDirectory("format1")
        try FileManager.default.copyItem(atPath: Self.fixture, toPath: d)
        let study = try Study(readingDirectory: d)
        XCTAssertTrue(study.warnings.isEmpty, "\(study.warnings)")
        XCTAssertEqual(study.spec.name, "autopeft-mock")
        XCTAssertEqual(study.spec.spaceHash, "c646c6ca21944377", "the study's identity, as that release recorded it")
        XCTAssertEqual(study.trials.count, 12)
        XCTAssertEqual(study.finished.count, 12)
        XCTAssertEqual(study.spaceFileFromStudy, "/nonexistent/spaces/autopeft-mock.json")
        XCTAssertEqual(study.hypervolume, 1438080.9467610256, accuracy: 1e-9 * 1438080.9467610256)
        XCTAssertEqual(study.frontIDs.sorted(), [1, 2, 3, 4, 7, 8, 9, 10])
        XCTAssertEqual(study.trials.filter { $0.baseline != nil }.count, 4, "the space's four baselines")
        // Written before issue 41: selected on dev, and its answer is the front of its runs.
        XCTAssertEqual(study.selection.kind, .dev)
        XCTAssertEqual(study.answerMode, .observed)
        XCTAssertNil(study.answerPosterior)
        let files = try Report.write(study, to: d)
        XCTAssertTrue(try String(contentsOfFile: d + "/report.md", encoding: .utf8).contains("| answer | the front of the runs' own scores |"))
        XCTAssertTrue(files.contains { $0.hasSuffix("report.html") })
    }

    /// The reported hypervolume puts trainable parameters on a log10 axis: here against a sweep
    /// over the journal's own values, written independently of `Hypervolume`.
    func testReportedHypervolumeIsOnLog10Parameters() throws {
        let d = scratchDirectory("format1")
        try FileManager.default.copyItem(atPath: Self.fixture, toPath: d)
        let study = try Study(readingDirectory: d)
        XCTAssertTrue(study.countsParameters)
        let points = study.finished.map { (params: log10($0.values[1]), score: $0.values[0]) }.sorted { $0.params < $1.params }
        var volume = 0.0, best = 0.5
        for p in points where p.score > best && p.params < log10(4_000_000) {
            volume += (log10(4_000_000) - p.params) * (p.score - best)
            best = p.score
        }
        XCTAssertGreaterThan(volume, 0)
        XCTAssertEqual(study.reportedHypervolume, volume, accuracy: 1e-12)
        XCTAssertEqual(study.hypervolume(logParameters: false), 1438080.9467610256, accuracy: 1e-9 * 1438080.9467610256)
        try Report.write(study, to: d)
        let md = try String(contentsOfFile: d + "/report.md", encoding: .utf8)
        XCTAssertTrue(md.contains("| hypervolume | \(Study.format(volume)) against log10 parameters (\(Study.format(study.hypervolume)) "
            + "against parameters) |"), md)
    }
}
