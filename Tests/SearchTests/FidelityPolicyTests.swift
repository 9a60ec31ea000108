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
    /// machine or a pause (SIGSTOP) slowed down. Every trial also records `fixed` seconds more, the
    /// part of a real trial that does not grow with the examples (evaluation, loading).
    struct Slowed: Evaluator {
        let inner: SyntheticEvaluator
        var slow = -1
        var factor = 1.0
        var fixed = 0.0
        func evaluate(_ request: TrialRequest) throws -> TrialOutcome {
            var outcome = try inner.evaluate(request)
            if request.trial == slow { outcome.seconds = (outcome.seconds ?? 1) * factor }
            outcome.seconds = (outcome.seconds ?? 1) + fixed
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

    /// The seconds the trials to come will take (`Study.secondsLeft`) when each trial spends 0.2 s
    /// outside training as well, as a real one does (SST-2: 7.6 s of a 28 s first-fidelity trial).
    /// The study is stopped after k trials, asked with its trials' seconds as the wall clock, and run
    /// on to its 30. Early on, when the trials so far are the design's cheap ones, one rate per
    /// example prices the target runs to come too high; fitted per trial and per example, the
    /// range still holds the seconds taken and its middle is nearer them. Once trials of both kinds
    /// have ended (one figure), the two agree.
    func testTheSecondsLeftCountAFixedPartPerTrial() throws {
        let stops = [6, 8, 12, 16, 20, 24, 28]
        var errors = (range: (fitted: 0.0, perExample: 0.0, n: 0), point: (fitted: 0.0, perExample: 0.0, n: 0)), lines: [String] = []
        func middle(_ r: ClosedRange<Double>) -> Double { (r.lowerBound + r.upperBound) / 2 }
        for seed in 0..<3 {
            let s = try unrun(seed: seed)
            let evaluator = Slowed(inner: SyntheticEvaluator(spec: s.spec), fixed: 0.2)
            var asked: [(k: Int, left: ClosedRange<Double>, perExample: ClosedRange<Double>)] = []
            var before = 0
            for k in stops {
                s.spec.trials = k
                try s.run(evaluator: evaluator) { _ in }
                s.spec.trials = 30
                let here = s.trials[before..<k]
                let elapsed = here.reduce(0) { $0 + $1.seconds }, rate = elapsed / here.reduce(0) { $0 + s.trainedExamples($1) }
                let examples = try XCTUnwrap(s.examplesLeft())
                asked.append((k, try XCTUnwrap(s.secondsLeft(elapsed: elapsed)), rate * examples.lowerBound...rate * examples.upperBound))
                before = k
            }
            try s.run(evaluator: evaluator) { _ in }
            for (k, left, old) in asked {
                let actual = s.trials[k...].reduce(0) { $0 + $1.seconds }
                lines.append(String(format: "seed %d after %2d: %5.1f-%5.1f s, per example %5.1f-%5.1f s, took %5.1f s", seed, k,
                                    left.lowerBound, left.upperBound, old.lowerBound, old.upperBound, actual))
                let fitted = abs(middle(left) - actual) / actual, perExample = abs(middle(old) - actual) / actual
                if left.lowerBound < left.upperBound {
                    XCTAssertTrue(left.contains(actual), lines.last!)
                    errors.range = (errors.range.fitted + fitted, errors.range.perExample + perExample, errors.range.n + 1)
                } else {
                    errors.point = (errors.point.fitted + fitted, errors.point.perExample + perExample, errors.point.n + 1)
                }
            }
        }
        let range = (errors.range.fitted / Double(errors.range.n), errors.range.perExample / Double(errors.range.n))
        let point = (errors.point.fitted / Double(errors.point.n), errors.point.perExample / Double(errors.point.n))
        print(lines.joined(separator: "\n") + String(format: "\nmean relative error of the range's middle: %.3f (one rate per example: "
            + "%.3f); where one figure: %.3f (%.3f)", range.0, range.1, point.0, point.1))
        XCTAssertGreaterThan(errors.range.n, 2, "the range is checked at several stops")
        XCTAssertGreaterThan(errors.point.n, 6, "most stops give one figure")
        XCTAssertLessThan(range.0, range.1, "early on, a part per trial and one per example are nearer than one rate per example")
        XCTAssertEqual(point.0, point.1, accuracy: 0.02, "with trials of both kinds ended, the two agree")
    }

    /// Seconds that fall as the examples trained rise (a machine loaded during the cheap trials and
    /// idle for the target's) fit a negative rate per example, which priced the larger end of the
    /// range below the smaller and trapped the search on its progress line (seen once under load in
    /// RealSearchCLITests). The time left then uses one rate per example: after every trial a range
    /// in order, finite and not negative.
    func testSecondsThatFallWithTheExamplesGiveARangeNotATrap() throws {
        struct Falling: Evaluator {
            let inner: SyntheticEvaluator
            func evaluate(_ request: TrialRequest) throws -> TrialOutcome {
                var outcome = try inner.evaluate(request)
                outcome.seconds = 3 - 2 * Double(request.fidelity?.examples ?? 1200) / 1200
                return outcome
            }
        }
        let s = try unrun(seed: 0)
        let evaluator = Falling(inner: SyntheticEvaluator(spec: s.spec))
        var checked = 0
        for k in 1...30 {
            s.spec.trials = k
            try s.run(evaluator: evaluator) { _ in }
            s.spec.trials = 30
            let fit = CostModel(samples: s.finished.map { (features: .init(examples: s.trainedExamples($0), depth: 0), seconds: $0.seconds) })
            guard k < 30, let left = s.secondsLeft(elapsed: s.trials.reduce(0) { $0 + $1.seconds }) else { continue }
            XCTAssertTrue(left.lowerBound.isFinite && left.upperBound.isFinite && left.lowerBound >= 0, "after \(k): \(left)")
            if !fit.isMonotone { checked += 1 }
        }
        XCTAssertGreaterThan(checked, 5, "the falling seconds fit a negative rate at most stops")
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
