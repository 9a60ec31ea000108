import XCTest
import TestSupport
import Foundation
import Space
@testable import Search

/// `"start"`: configurations (or plans) the space file asks to run first, as Optuna's
/// `enqueue_trial`: right after the baselines, before the design, once each, across resumes.
final class StartingConfigurationsTests: XCTestCase {
    static let space = #"{"name": "start", "problem": {"name": "peft_mock"}, "search": {"trials": 14, "initial": 4, "seed": 0}, "#
        + #""space": {"layers": {"type": "layer_mask", "min_on": 1}, "serial_adapter": {"size": [0, 8, 32]}, "#
        + #""lora": {"rank": [0, 4, 8], "targets": {"type": "subset", "of": ["query", "value"], "min": 1}}}, "#
        + #""constraints": [{"type": "at_least_one", "of": ["serial_adapter.size", "lora.rank"]}], "#
        + #""baselines": [{"name": "serial 8", "config": {"layers": [0, 1, 2, 3, 4, 5], "serial_adapter.size": 8, "lora.rank": 0}}], "#
        + #""start": [{"config": {"layers": [5], "serial_adapter.size": 0, "lora.rank": 8, "lora.targets": ["value"]}}, "#
        + #"{"name": "a plan", "peft": {"lora": {"rank": 4, "targets": ["query"], "layers": [4, 5]}}}, "#
        + #"{"config": {"layers": [0, 1, 2, 3, 4, 5], "serial_adapter.size": 8, "lora.rank": 0}}]}"#

    func testStartingConfigurationsRunAfterTheBaselinesOnceEach() throws {
        let d = scratchDirectory("start")
        try Self.space.write(toFile: d + "/s.json", atomically: true, encoding: .utf8)
        var spec = try StudySpec(file: d + "/s.json")
        XCTAssertEqual(spec.starting.count, 3)
        spec.trials = 4
        try Study(spec: spec, directory: d + "/study").run(evaluator: SyntheticEvaluator(spec: spec)) { _ in }
        spec.trials = 14
        let study = try Study(spec: spec, directory: d + "/study")
        XCTAssertTrue(study.resumed)
        try study.run(evaluator: SyntheticEvaluator(spec: spec)) { _ in }
        let origins = study.trials.map(\.origin)
        // The third starting configuration is the baseline's: already taken, it does not run again.
        XCTAssertEqual(Array(origins.prefix(3)), [.baseline, .start, .start], "\(origins)")
        XCTAssertEqual(origins.filter { $0 == .start }.count, 2, "each once, across the resume")
        XCTAssertEqual(study.trials[1].config.map { spec.space.json($0).serialized() },
                       #"{"layers":[5],"serial_adapter.size":0,"lora.rank":8,"lora.targets":["value"]}"#)
        XCTAssertEqual(study.trials[2].candidate.plan?.lora?.rank, 4)
        XCTAssertEqual(Array(origins[3...6]), Array(repeating: .design, count: 4), "then the design")
        // Starting configurations inform the model like any trial: the plan at its point.
        XCTAssertTrue(study.observations.contains { $0.point != nil })
    }

    func testAStartingEntryNeedsAConfigOrAPlan() throws {
        let d = scratchDirectory("start")
        try Self.space.replacingOccurrences(of: #"{"name": "a plan", "peft""#, with: #"{"name": "a plan", "pef""#)
            .write(toFile: d + "/s.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try StudySpec(file: d + "/s.json")) { e in
            XCTAssertTrue("\(e)".contains("start[1]"), "\(e)")
        }
    }
}
