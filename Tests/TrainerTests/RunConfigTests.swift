import XCTest
import TestSupport
import Space
@testable import Trainer

final class RunConfigTests: XCTestCase {
    func parse(_ json: String) throws -> RunConfig {
        let p = scratchDirectory("trainer") + "/run.json"
        XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: Data(json.utf8)), p)
        return try RunConfig(contentsOf: p)
    }

    func testRelativePathsResolveAgainstTheRunFile() throws {
        let c = try parse(#"{"model": "m", "task": {"name": "sst2", "train": "t.tsv", "dev": "/abs/d.tsv"}}"#)
        XCTAssertTrue(c.model.hasSuffix("/m") && c.model.hasPrefix("/"), c.model)
        XCTAssertEqual(c.task.dev, "/abs/d.tsv")
        XCTAssertEqual(c.head, .pooler)
        XCTAssertNil(c.plan.lora)
    }

    func testErrorsNameFileAndPath() throws {
        XCTAssertThrowsError(try parse(#"{"model": "m", "task": {"name": "sst3", "train": "t", "dev": "d"}}"#)) { e in
            XCTAssertTrue("\(e)".hasSuffix(#"run.json: task.name: unknown GLUE task "sst3"; expected one of sst2, cola, mrpc, stsb, rte, qnli, wnli, qqp, mnli (did you mean "sst2"?)"#), "\(e)")
        }
        XCTAssertThrowsError(try parse(#"{"model": "m", "task": {"name": "sst2", "train": "t", "dev": "d"}, "training": {"epochs": "3"}}"#)) { e in
            XCTAssertTrue("\(e)".hasSuffix(#"run.json: training.epochs: expected a number of epochs in 1...10000, got "3""#), "\(e)")
        }
        XCTAssertThrowsError(try parse(#"{"model": "m", "task": {"name": "sst2", "train": "t", "dev": "d"}, "haed": "cls"}"#)) { e in
            XCTAssertTrue("\(e)".contains(#"haed: unknown key "haed" (did you mean "head"?)"#), "\(e)")
        }
        XCTAssertThrowsError(try parse("{\"model\": \"m\",\n \"task\": }")) { e in
            XCTAssertTrue("\(e)".contains("line 2, column 10"), "\(e)")
        }
    }
}
