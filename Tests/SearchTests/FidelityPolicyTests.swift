import XCTest
import TestSupport
import Foundation
import JSONKit
import Space
@testable import Search

/// How a multi-fidelity study prices trials and bounds its cheap streaks (`FidelityCost`,
/// `FidelitySettings.cheapStreak`), on the SST-2-shaped mock of `MultiFidelityStudyTests`.
final class FidelityPolicyTests: XCTestCase {
    func folder() -> String { scratchDirectory("policy") }

    /// Records `factor` times the inner evaluator's seconds for trial `slow`: a trial that a loaded
    /// machine or a pause (SIGSTOP) slowed down.
    struct Slowed: Evaluator {
        let inner: SyntheticEvaluator
        let slow: Int
        let factor: Double
        func evaluate(_ request: TrialRequest) throws -> TrialOutcome {
            var outcome = try inner.evaluate(request)
            if request.trial == slow { outcome.seconds = (outcome.seconds ?? 1) * factor }
            return outcome
        }
    }

    /// A 30-trial multi-fidelity study of the mock (target 1200 examples, cheaper 300); `fidelity`
    /// adds settings to the fidelity section.
    func study(seed: Int, fidelity extra: String = "", slow: Int = -1, factor: Double = 1) throws -> Study {
        let study = try unrun(seed: seed, fidelity: extra)
        try study.run(evaluator: Slowed(inner: SyntheticEvaluator(spec: study.spec), slow: slow, factor: factor)) { _ in }
        return study
    }

    /// The same study, not yet run.
    func unrun(seed: Int, fidelity extra: String = "") throws -> Study {
        let d = folder()
        let text = #"{"name": "policy", "problem": {"name": "peft_mock", "cost_seconds": 1, "noise": 0.005}, "#
            + #""fidelity": {"target": {"train_examples": 1200, "epochs": 1}, "cheaper": [300]\#(extra)}, "#
            + #""objectives": [{"name": "score", "goal": "maximize"}, {"name": "trainable_params", "goal": "minimize"}], "#
            + #""space": {"layers": {"type": "layer_mask", "min_on": 1}, "serial_adapter": {"size": [0, 1, 4, 16, 64]}, "#
            + #""parallel_adapter": {"size": [0, 1, 4, 16, 64]}, "prefix": {"length": [0, 1, 4, 16]}}, "#
            + #""constraints": [{"type": "at_least_one", "of": ["serial_adapter.size", "parallel_adapter.size", "prefix.length"]}], "#
            + #""search": {"trials": 30, "initial": 8, "seed": \#(seed), "#
            + #""reference_point": {"score": 0.5, "trainable_params": 3000000}}}"#
        try text.write(toFile: d + "/s.json", atomically: true, encoding: .utf8)
        return try Study(spec: try StudySpec(file: d + "/s.json"), directory: d + "/study")
    }

    /// What a study did: each trial's configuration and fidelity, in order.
    func trajectory(_ s: Study) -> [String] {
        s.trials.map { "\($0.config.map { s.spec.space.key($0) } ?? $0.baseline ?? "") @\($0.fidelity?.examples ?? 0)" }
    }

    /// The longest run of optimiser trials in a row below the target.
    func longestCheapStreak(_ s: Study) -> Int {
        var run = 0, longest = 0
        for t in s.trials where t.origin == .optimizer {
            run = s.isAtTarget(t) ? 0 : run + 1
            longest = max(longest, run)
        }
        return longest
    }

    /// A trial that took 50 times its seconds (a pause, a loaded machine) changes nothing the
    /// study does: fidelities are priced in examples, not in measured seconds.
    func testASlowTrialChangesNoChoice() throws {
        for seed in 0..<3 {
            let plain = try study(seed: seed), slowed = try study(seed: seed, slow: 9, factor: 50)
            XCTAssertEqual(trajectory(plain), trajectory(slowed), "seed \(seed)")
            XCTAssertEqual(slowed.secondsSpent - plain.secondsSpent, 49 * plain.trials[9].seconds, accuracy: 1e-9,
                           "the slow trial's seconds were recorded")
        }
    }

    /// At most `cheap_streak` optimiser trials in a row train below the target; without the limit
    /// the same studies run longer streaks, so the limit is what holds them.
    func testCheapStreaksAreBounded() throws {
        var limited: [Int] = [], unlimited: [Int] = []
        for seed in 0..<4 {
            limited.append(longestCheapStreak(try study(seed: seed, fidelity: #", "worth": "variance""#)))
            unlimited.append(longestCheapStreak(try study(seed: seed, fidelity: #", "worth": "variance", "cheap_streak": 1000"#)))
        }
        XCTAssertTrue(limited.allSatisfy { $0 <= 3 }, "\(limited)")
        XCTAssertGreaterThan(unlimited.max() ?? 0, 3, "\(unlimited)")
    }

    /// The examples the trials to come will train (`Study.examplesLeft`, which the progress line's
    /// time left multiplies by the seconds per example): the study is stopped after k trials, asked,
    /// and run on to its 30. Where the answer is a range (before 4 optimiser trials have ended), the
    /// examples trained afterwards fall inside it. Where it is one figure, it is nearer than what
    /// the progress line said before: the examples so far per trial, times the trials left (the
    /// design's cheap trials made that about half the truth early on).
    func testTheExamplesLeftFollowTheSchedule() throws {
        let stops = [1, 4, 8, 12, 14, 16, 18, 20, 22, 24, 26, 28]
        var rangeChecks = 0, pointError = 0.0, perTrialError = 0.0, lines: [String] = []
        for seed in 0..<3 {
            let s = try unrun(seed: seed)
            let evaluator = SyntheticEvaluator(spec: s.spec)
            var asked: [(k: Int, left: ClosedRange<Double>, perTrial: Double)] = []
            for k in stops {
                s.spec.trials = k
                try s.run(evaluator: evaluator) { _ in }
                s.spec.trials = 30
                let sofar = s.trials.reduce(0) { $0 + s.trainedExamples($1) }
                asked.append((k, try XCTUnwrap(s.examplesLeft()), sofar / Double(k) * Double(30 - k)))
            }
            try s.run(evaluator: evaluator) { _ in }
            XCTAssertEqual(s.trials.count, 30)
            for (k, left, perTrial) in asked {
                let actual = s.trials[k...].reduce(0) { $0 + s.trainedExamples($1) }
                lines.append(String(format: "seed %d after %2d: estimate %6.0f-%6.0f, per trial %6.0f, trained %6.0f", seed, k,
                                    left.lowerBound, left.upperBound, perTrial, actual))
                if left.lowerBound < left.upperBound {
                    XCTAssertTrue(left.contains(actual), lines.last!)
                    rangeChecks += 1
                } else {
                    pointError += abs(left.lowerBound - actual) / actual
                    perTrialError += abs(perTrial - actual) / actual
                }
            }
        }
        let points = Double(3 * stops.count - rangeChecks)
        print(lines.joined(separator: "\n") + String(format: "\nmean relative error where one figure: %.2f (per trial: %.2f)",
                                                     pointError / points, perTrialError / points))
        XCTAssertGreaterThan(rangeChecks, 6, "the range is checked at several stops")
        XCTAssertGreaterThan(pointError, 0, "some stops give one figure")
        XCTAssertLessThan(pointError, perTrialError, "one figure is nearer than examples per trial times the trials left")
    }

    /// A new study records the examples cost and its streak limit; a journal written before they
    /// existed resumes as it began: priced in seconds, without a limit.
    func testTheJournalFixesThePolicy() throws {
        let s = try study(seed: 0, fidelity: #", "cheap_streak": 5"#)
        XCTAssertEqual(s.spec.fidelity?.cost, .examples)
        XCTAssertEqual(s.spec.fidelity?.cheapStreak, 5)
        let reopened = try Study(readingDirectory: s.directory)
        XCTAssertEqual(reopened.spec.fidelity?.cost, .examples)
        XCTAssertEqual(reopened.spec.fidelity?.cheapStreak, 5)
        let journal = s.directory + "/journal.jsonl"
        let text = try String(contentsOfFile: journal, encoding: .utf8)
        let legacy = text.replacingOccurrences(of: #","fidelity_cost":"examples","cheap_streak":5"#, with: "")
        XCTAssertNotEqual(legacy, text)
        try legacy.write(toFile: journal, atomically: true, encoding: .utf8)
        let older = try Study(readingDirectory: s.directory)
        XCTAssertEqual(older.spec.fidelity?.cost, .seconds)
        XCTAssertNil(older.spec.fidelity?.cheapStreak)
    }
}
