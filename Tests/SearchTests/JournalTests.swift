import XCTest
import TestSupport
import Foundation
import Space
@testable import Search

final class JournalTests: XCTestCase {
    func path() -> String {
        let d = scratchDirectory("journal")
        return d + "/journal.jsonl"
    }

    func testAppendAndReplay() throws {
        let p = path()
        do {
            let j = try Journal(path: p)
            try j.append(.studyCreated, [("format", .number(1))])
            try j.append(.trialStarted, [("id", .number(0)), ("seed", .number(7))])
            try j.append(.trialFinished, [("id", .number(0)), ("values", .array([.number(0.5)]))])
        }
        let j = try Journal(path: p)
        XCTAssertEqual(j.records.map(\.op), [.studyCreated, .trialStarted, .trialFinished])
        XCTAssertEqual(j.records[2].record["values"], .array([.number(0.5)]))
        XCTAssertEqual(j.records.map(\.line), [1, 2, 3])
        XCTAssertEqual(j.warnings, [])
    }

    func testTornLastLineIsIgnoredWithAWarningAndAppendsContinueCleanly() throws {
        let p = path()
        do {
            let j = try Journal(path: p)
            try j.append(.studyCreated, [])
            try j.append(.trialStarted, [("id", .number(0))])
        }
        let h = FileHandle(forWritingAtPath: p)!
        h.seekToEndOfFile()
        h.write(Data(#"{"op":"trial_finished","id":0,"val"#.utf8))  // a crash mid-write
        h.closeFile()
        do {
            let j = try Journal(path: p)
            XCTAssertEqual(j.records.count, 2)
            XCTAssertEqual(j.warnings.count, 1)
            XCTAssertTrue(j.warnings[0].contains("line 3 is incomplete"))
            try j.append(.trialFinished, [("id", .number(0))])
        }
        let j = try Journal(path: p)
        XCTAssertEqual(j.records.map(\.op), [.studyCreated, .trialStarted, .trialFinished])
        XCTAssertEqual(j.records.map(\.line), [1, 2, 3], "the torn line was cut off, so the append took its place")
        XCTAssertEqual(j.warnings, [])
    }

    /// A record that parses but says the wrong thing (a trial id that is not a number, a result for
    /// a trial never started) is named by the journal's line, as a data file's errors are.
    func testABadRecordNamesItsLine() throws {
        let d = scratchDirectory("journal")
        try #"{"name": "z", "problem": {"name": "zdt1"}, "search": {"trials": 6, "initial": 5}}"#
            .write(toFile: d + "/z.json", atomically: true, encoding: .utf8)
        let study = try Study(spec: StudySpec(file: d + "/z.json"), directory: d + "/s")
        try study.run(evaluator: SyntheticEvaluator(spec: study.spec)) { _ in }
        let journal = d + "/s/journal.jsonl"
        let lines = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n").map(String.init)
        let k = try XCTUnwrap(lines.lastIndex { $0.contains("\"trial_finished\"") })
        for (id, says) in [(#""x""#, #"trial_finished.id: expected an integer, got "x""#), ("99", "result for unknown trial 99")] {
            var bad = lines
            bad[k] = bad[k].replacingOccurrences(of: #""id":[0-9]+"#, with: "\"id\":" + id, options: .regularExpression)
            try (bad.joined(separator: "\n") + "\n").write(toFile: journal, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try Study(readingDirectory: d + "/s")) {
                XCTAssertTrue("\($0)".contains("journal.jsonl:\(k + 1): " + says), "\($0)")
            }
        }
    }

    /// The final stage's file (`reevaluation.jsonl`) names the line and field of a record that
    /// cannot be a run: a negative trial id or seed.
    func testABadReevaluationRecordNamesItsLine() throws {
        let d = scratchDirectory("reevaluation")
        let good = #"{"op":"reevaluated","trial":3,"seed":1,"score":0.8,"seconds":2}"#
        for (record, says) in [(good.replacingOccurrences(of: #""trial":3"#, with: #""trial":-4"#), "reevaluated.trial: expected a trial id ≥ 0, got -4"),
                               (good.replacingOccurrences(of: #""seed":1"#, with: #""seed":-1"#), "reevaluated.seed: expected a seed ≥ 0, got -1")] {
            try ("{\"op\":\"study_note\"}\n" + good + "\n" + record + "\n").write(toFile: d + "/reevaluation.jsonl", atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try Reevaluation.read(directory: d)) {
                XCTAssertEqual("\($0)", d + "/reevaluation.jsonl:3: " + says)
            }
        }
        try ("{\"op\":\"study_note\"}\n" + good + "\n").write(toFile: d + "/reevaluation.jsonl", atomically: true, encoding: .utf8)
        XCTAssertEqual(try Reevaluation.read(directory: d)?.stats(trial: 3)?.mean, 0.8)
    }

    func testCorruptMiddleLineFailsLoudly() throws {
        let p = path()
        try "{\"op\":\"study_created\"}\nnot json\n{\"op\":\"study_note\"}\n".write(toFile: p, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Journal(path: p)) { XCTAssertTrue("\($0)".contains("line 2 is not a journal record"), "\($0)") }
        try "{\"op\":\"study_created\"}\n{\"op\":\"trial_exploded\"}\n".write(toFile: p, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Journal(path: p)) { XCTAssertTrue("\($0)".contains("line 2"), "\($0)") }
    }

    /// flock is per open file description: a second open of the same study is refused, as a second process would be.
    func testSecondWriterIsRefused() throws {
        let p = path()
        let first = try Journal(path: p)
        XCTAssertThrowsError(try Journal(path: p)) { XCTAssertTrue("\($0)".contains("another autopeft process is running this "
            + "study"), "\($0)") }
        try first.append(.studyNote, [("text", .string("still mine"))])
    }
}
