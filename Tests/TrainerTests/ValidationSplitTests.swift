import XCTest
import TestSupport
import JSONKit
import Space
@testable import Trainer

/// Issue 41's validation split: rows held apart from the training file to score a search's trials.
final class ValidationSplitTests: XCTestCase {
    func rows(_ counts: [Int]) -> [Example] {
        counts.enumerated().flatMap { c, n in (0..<n).map { Example(textA: "class \(c) row \($0)", label: .classIndex(c)) } }
    }

    /// Each class keeps its share of the file, by largest remainder: 50/30/20 rows, 7 held out →
    /// exact shares 3.5, 2.1, 1.4 → floors 3, 2, 1 and the one left to the largest remainder (class 0).
    func testACarvedSplitKeepsEachClassShare() {
        let all = rows([50, 30, 20])
        let held = ValidationSplit.carve(all, count: 7, seed: 0)
        XCTAssertEqual(held.count, 7)
        XCTAssertEqual(held, held.sorted())
        var perClass = [0, 0, 0]
        for i in held { if case .classIndex(let c) = all[i].label { perClass[c] += 1 } }
        XCTAssertEqual(perClass, [4, 2, 1])
        // 100 of 1000 rows at 90/10: exactly 90 and 10.
        let skewed = rows([900, 100])
        let tenth = ValidationSplit.carve(skewed, count: 100, seed: 3)
        XCTAssertEqual(tenth.filter { $0 >= 900 }.count, 10)
    }

    func testTheDrawDependsOnTheSeedOnly() {
        let all = rows([40, 60])
        XCTAssertEqual(ValidationSplit.carve(all, count: 20, seed: 5), ValidationSplit.carve(all, count: 20, seed: 5))
        XCTAssertNotEqual(ValidationSplit.carve(all, count: 20, seed: 5), ValidationSplit.carve(all, count: 20, seed: 6))
        // Regression rows (no classes) are drawn from one group.
        let values = (0..<30).map { Example(textA: "\($0)", label: .value(Double($0))) }
        XCTAssertEqual(Set(ValidationSplit.carve(values, count: 9, seed: 1)).count, 9)
    }

    /// A run with a carved split trains on the rest of the file and is scored on the held rows;
    /// with `score_on: dev` (the final stage) it trains on the same rows and is scored on dev.
    func testRunsTrainOnTheRestAndScoreOnTheHeldRows() throws {
        let dir = scratchDirectory("validation")
        var train = "sentence\tlabel\n"
        for i in 0..<60 { train += "train sentence \(i)\t\(i % 3 == 0 ? 1 : 0)\n" }
        try train.write(toFile: dir + "/train.tsv", atomically: true, encoding: .utf8)
        try "sentence\tlabel\ndev one\t1\ndev two\t0\n".write(toFile: dir + "/dev.tsv", atomically: true, encoding: .utf8)
        func config(_ extra: String) throws -> RunConfig {
            let p = dir + "/run.json"
            try #"{"model": "m", "task": {"name": "sst2", "train": "train.tsv", "dev": "dev.tsv", "validation": {"rows": 12, "seed": 4}\#(extra)}}"#
                .write(toFile: p, atomically: true, encoding: .utf8)
            return try RunConfig(contentsOf: p)
        }
        let search = try config("")
        XCTAssertEqual(search.task.scoring, .validation)
        let pool = try FineTuner.trainingPool(search), held = try FineTuner.evaluationExamples(search)
        XCTAssertEqual(pool.count, 48)
        XCTAssertEqual(held.count, 12)
        XCTAssertEqual(Set(pool.map(\.textA)).intersection(held.map(\.textA)), [])
        XCTAssertEqual(Set(pool.map(\.textA)).union(held.map(\.textA)).count, 60)
        XCTAssertEqual(held.filter { $0.label == .classIndex(1) }.count, 4, "a third of the rows are class 1")
        let final = try config(#", "score_on": "dev""#)
        XCTAssertEqual(try FineTuner.evaluationExamples(final).map(\.textA), ["dev one", "dev two"])
        XCTAssertEqual(try FineTuner.trainingPool(final).map(\.textA), pool.map(\.textA), "the final stage trains on the same rows")
        // The run file a candidate keeps reads back the same.
        XCTAssertEqual(try RunConfig(reading: JSONReader(search.json, file: "run.json"), baseDirectory: ""), search)
        // Too many held rows are refused with the file and the most allowed.
        let tooMany = dir + "/many.json"
        try #"{"model": "m", "task": {"name": "sst2", "train": "train.tsv", "dev": "dev.tsv", "validation": {"rows": 60}}}"#
            .write(toFile: tooMany, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try FineTuner.trainingPool(try RunConfig(contentsOf: tooMany))) { e in
            XCTAssertTrue("\(e)".contains("train.tsv") && "\(e)".contains("leave no training rows") && "\(e)".contains("at most 59"), "\(e)")
        }
    }

    func testBadSplitsAreRefusedByPath() throws {
        func parse(_ task: String) throws -> RunConfig {
            let p = scratchDirectory("validation") + "/run.json"
            try #"{"model": "m", "task": {"name": "sst2", "train": "t", "dev": "d"\#(task)}}"#.write(toFile: p, atomically: true, encoding: .utf8)
            return try RunConfig(contentsOf: p)
        }
        XCTAssertThrowsError(try parse(#", "validation": {"rows": 10, "file": "v.tsv"}"#)) { e in
            XCTAssertTrue("\(e)".contains("task.validation: expected exactly one of \"rows\""), "\(e)")
        }
        XCTAssertThrowsError(try parse(#", "validation": {"fraction": 0.9}"#)) { e in
            XCTAssertTrue("\(e)".contains("task.validation.fraction: expected a share of the training rows in [0.001, 0.5]"), "\(e)")
        }
        XCTAssertThrowsError(try parse(#", "validation": {"file": "v.tsv", "seed": 1}"#)) { e in
            XCTAssertTrue("\(e)".contains("task.validation.seed: a validation file is not drawn"), "\(e)")
        }
        XCTAssertThrowsError(try parse(#", "score_on": "validation""#)) { e in
            XCTAssertTrue("\(e)".contains("task.score_on: \"score_on\": \"validation\" needs a \"validation\" split"), "\(e)")
        }
        let file = try parse(#", "validation": {"file": "v.tsv"}"#)
        XCTAssertTrue(file.task.validation.map { if case .file(let p) = $0.source { return p.hasSuffix("/v.tsv") } else { return false } } ?? false)
        XCTAssertEqual(try parse(#", "validation": {"fraction": 0.1, "seed": 2}"#).task.validation?.carvedCount(total: 875), 88)
    }
}
