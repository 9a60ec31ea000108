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
        XCTAssertEqual(j.warnings, [])
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
