import XCTest
import TestSupport
import Foundation
import JSONKit
import Space
@testable import Search

/// Whole studies on ZDT1 (d = 3) whose cheap fidelity (a quarter of the target's training) is
/// biased towards the wrong region (`SyntheticEvaluator`): three arms with the same budget of
/// simulated seconds (`cost_seconds`: a target trial costs 1 s, a cheap one 0.25 s), each
/// returning a front, all scored by the hypervolume of their returned configurations at the target.
final class MultiFidelityStudyTests: XCTestCase {
    static let budget = 16.0

    func folder() -> String { scratchDirectory("mf") }

    /// Runs a study of the given extra problem settings and fidelity section; returns the
    /// hypervolume at the target of the configurations it returns as its front.
    func arm(problem extra: String, fidelity: String, seed: Int) throws -> (hypervolume: Double, study: Study) {
        let d = folder()
        let text = #"{"name": "mf", "problem": {"name": "zdt1", "dimensions": 3, "cost_seconds": 1\#(extra)}\#(fidelity),"#
            + #""search": {"trials": 200, "initial": 6, "seed": \#(seed), "budget_seconds": \#(Self.budget)}}"#
        try text.write(toFile: d + "/s.json", atomically: true, encoding: .utf8)
        let spec = try StudySpec(file: d + "/s.json")
        let study = try Study(spec: spec, directory: d + "/study")
        try study.run(evaluator: SyntheticEvaluator(spec: spec)) { _ in }
        let front = study.frontIDs.map { spec.space.encode(study.trials[$0].config!) }
        let atTarget = front.map { SyntheticProblem.zdt1.evaluate($0) }
        return (Hypervolume.compute(atTarget, reference: spec.reference), study)
    }

    /// Measured (16 s each): cheap 0.000, target only 0.821, multi-fidelity 0.789 (0.787 when
    /// fidelities were priced in fitted seconds and cheap streaks unbounded; with 4 pairs 0.803
    /// then), true front 0.877. The cheap fidelity's front is worthless at the target; the
    /// multi-fidelity study finds the true front's region, and on this strongly biased problem it
    /// stays within 0.06 of the target-only study, not above it (cheap trials cost it 3 of 16 s).
    func testMultiFidelityFindsTheTargetFrontWhereTheCheapFidelityFails() throws {
        var cheap: [Double] = [], target: [Double] = [], multi: [Double] = []
        for seed in 0..<5 {
            cheap.append(try arm(problem: #", "share": 0.25"#, fidelity: "", seed: seed).hypervolume)
            target.append(try arm(problem: "", fidelity: "", seed: seed).hypervolume)
            let (hv, study) = try arm(problem: "", fidelity: #", "fidelity": {"target": {"train_examples": 1200, "epochs": 1}, "cheaper": [300]}"#,
                                      seed: seed)
            multi.append(hv)
            XCTAssertLessThanOrEqual(study.secondsSpent, Self.budget + 1, "the budget holds (one trial may cross it)")
            XCTAssertTrue(study.trials.contains { $0.continues != nil }, "paired trials continue their cheap runs")
            XCTAssertTrue(study.frontIDs.allSatisfy { study.isAtTarget(study.trials[$0]) }, "the answer is at the target")
        }
        func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
        print(String(format: "target hypervolume over 5 seeds: cheap %.3f, target only %.3f, multi-fidelity %.3f (true front %.3f)",
                     mean(cheap), mean(target), mean(multi), SyntheticProblem.zdt1.optimalHypervolume))
        XCTAssertGreaterThan(mean(multi), mean(cheap) + 0.5)
        // Margins leave room for other BLAS kernels, whose last bits can change a pick.
        XCTAssertGreaterThan(mean(multi), 0.85 * SyntheticProblem.zdt1.optimalHypervolume)
        XCTAssertGreaterThan(mean(multi), mean(target) - 0.06)
    }

    /// trials.csv of a multi-fidelity study lists, after each trial, the volume of the trials
    /// measured at the cheapest fidelity so far (recomputed here from the trials' values), which
    /// grows while the answers' volume is still 0 (no trial at the target yet), and the examples
    /// each trial trained itself.
    func testReportListsTheCheapestFidelitysVolumeAfterEachTrial() throws {
        let (_, study) = try arm(problem: "", fidelity: #", "fidelity": {"target": {"train_examples": 1200, "epochs": 1}, "cheaper": [300]}"#,
                                 seed: 0)
        let rows = Report.csv(study).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let answers = try XCTUnwrap(rows[0].firstIndex(of: "hypervolume"))
        let cheapest = try XCTUnwrap(rows[0].firstIndex(of: "cheapest_fidelity_hypervolume"))
        XCTAssertEqual(rows.count, 1 + study.trials.count)
        for (k, row) in rows.dropFirst().enumerated() {
            let cheap = study.trials[...k].filter { $0.status == .finished && $0.fidelity == Fidelity(examples: 300) }
            let expected = Hypervolume.compute(cheap.map(\.values), reference: study.spec.reference)
            XCTAssertEqual(try XCTUnwrap(Double(row[cheapest])), expected, accuracy: 1e-12, "after trial \(k + 1)")
        }
        XCTAssertTrue(rows.dropFirst().contains { Double($0[answers]) == 0 && Double($0[cheapest])! > 0 },
                      "before the first target trial only the cheapest fidelity's volume grows")
        // Trained examples: the fidelity less that of the trial continued (prefix runs).
        let (fidelity, continues, trained) = try (XCTUnwrap(rows[0].firstIndex(of: "fidelity_examples")),
                                                  XCTUnwrap(rows[0].firstIndex(of: "continues")),
                                                  XCTUnwrap(rows[0].firstIndex(of: "trained_examples")))
        for row in rows.dropFirst() {
            let start = Int(row[continues]).map { Int(rows[$0][fidelity])! } ?? 0
            XCTAssertEqual(Int(row[trained]), Int(row[fidelity])! - start, "trial \(row[0])")
        }
        XCTAssertTrue(rows.dropFirst().contains { $0[continues] != "" && Int($0[trained]) == 900 }, "a promotion trains 1200 - 300")
    }

    /// With annealed cheap runs nothing is continued: a promotion trains the target from scratch
    /// with the seed of the cheap trial it promotes, and pays for the whole run; the journal
    /// records the mode, and a journal without it resumes with prefix runs, as it began.
    func testAnnealedCheapRunsArePromotedFromScratch() throws {
        let fidelity = #", "fidelity": {"target": {"train_examples": 1200, "epochs": 1}, "cheaper": [300], "cheap_runs": "annealed"}"#
        let (hv, study) = try arm(problem: "", fidelity: fidelity, seed: 0)
        XCTAssertTrue(study.trials.allSatisfy { $0.continues == nil }, "no trial continues another")
        XCTAssertTrue(study.trials.allSatisfy { study.request($0.id).resume == nil && study.request($0.id).cheapRuns == .annealed })
        let cheap = study.trials.filter { !study.isAtTarget($0) }
        let promoted = study.trials.filter { t in study.isAtTarget(t) && cheap.contains { study.identity($0) == study.identity(t) } }
        XCTAssertGreaterThanOrEqual(promoted.count, 2, "the paired configurations reach the target")
        for t in promoted {
            let first = try XCTUnwrap(cheap.first { study.identity($0) == study.identity(t) })
            XCTAssertEqual(t.seed, first.seed, "trial \(t.id) keeps the seed of trial \(first.id)")
            XCTAssertEqual(t.seconds, 1, accuracy: 1e-9, "a promotion pays for the whole target run")
            XCTAssertEqual(study.trainedExamples(t), 1200)
        }
        XCTAssertTrue(cheap.allSatisfy { abs($0.seconds - 0.25) < 1e-9 })
        XCTAssertGreaterThan(hv, 0.5 * SyntheticProblem.zdt1.optimalHypervolume, "the search still finds the target's front")

        let journal = study.directory + "/journal.jsonl"
        var lines = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].contains(#""cheap_runs":"annealed""#), lines[0])
        XCTAssertEqual(try Study(readingDirectory: study.directory).spec.fidelity?.cheapRuns, .annealed)
        lines[0] = lines[0].replacingOccurrences(of: #","cheap_runs":"annealed""#, with: "")
        try (lines.joined(separator: "\n") + "\n").write(toFile: journal, atomically: true, encoding: .utf8)
        XCTAssertEqual(try Study(readingDirectory: study.directory).spec.fidelity?.cheapRuns, .prefix,
                       "a journal from before the setting resumes with prefix runs")
    }

    /// A study on the PEFT mock, whose cheap fidelity (a quarter of the target's training) is
    /// biased mildly, as SST-2's short runs are: modules high up look better than they are
    /// (`PEFTMock.score(_:dims:share:)`); scores carry SST-2's seed noise (sd 0.005). Returns the
    /// hypervolume at the target (noiseless, log10 parameters) of the configurations the study
    /// returns, and the study.
    func mockArm(problem extra: String = "", fidelity: String = "", budget: Double, seed: Int) throws -> (hypervolume: Double, study: Study) {
        let d = folder()
        let text = #"{"name": "mock", "problem": {"name": "peft_mock", "cost_seconds": 1, "noise": 0.005\#(extra)}\#(fidelity), "#
            + #""objectives": [{"name": "score", "goal": "maximize"}, {"name": "trainable_params", "goal": "minimize"}], "#
            + #""space": {"layers": {"type": "layer_mask", "min_on": 1}, "serial_adapter": {"size": [0, 1, 4, 16, 64]}, "#
            + #""parallel_adapter": {"size": [0, 1, 4, 16, 64]}, "prefix": {"length": [0, 1, 4, 16]}}, "#
            + #""constraints": [{"type": "at_least_one", "of": ["serial_adapter.size", "parallel_adapter.size", "prefix.length"]}], "#
            + #""search": {"trials": 200, "initial": 8, "seed": \#(seed), "budget_seconds": \#(budget), "#
            + #""reference_point": {"score": 0.5, "trainable_params": 3000000}}}"#
        try text.write(toFile: d + "/s.json", atomically: true, encoding: .utf8)
        let spec = try StudySpec(file: d + "/s.json")
        let study = try Study(spec: spec, directory: d + "/study")
        try study.run(evaluator: SyntheticEvaluator(spec: spec)) { _ in }
        let dims = try XCTUnwrap(spec.problem.dimensions)
        let points = try study.frontIDs.map { id -> [Double] in
            let c = study.trials[id].config!
            return [-PEFTMock.score(try spec.plan(.config(c)), dims: dims), log10(spec.knownValues(c)[1])]
        }
        return (Hypervolume.compute(points, reference: [-0.5, log10(3e6)]), study)
    }

    /// Issue 12's acceptance on a problem shaped like SST-2 (`mockArm`), three arms timed whole:
    /// one cheap fidelity searched for 6 s, whose front is then trained at the target (1 s a
    /// point, counted); every trial at the target for 16 s; multi-fidelity for 16 s, with each
    /// fidelity worth (`FidelityWorth`). Measured on this machine, mean over 20 seeds of the
    /// target hypervolume: cheap 0.636 (15.2 s whole), target only 0.550, multi-fidelity 0.657
    /// by information and 0.650 by variance (0.651 when priced in fitted seconds with unbounded
    /// cheap streaks). The mild bias lets the cheap fidelity rank well
    /// enough that searching there beats the target alone; multi-fidelity searches there too and
    /// trains its answer at the target as it goes, where the cheap arm spends its last seconds
    /// retraining.
    func testMultiFidelityBeatsOneCheapFidelityTimedWholeAndTheTargetAlone() throws {
        let fidelity = #", "fidelity": {"target": {"train_examples": 1200, "epochs": 1}, "cheaper": [300]"#
        var cheap: [Double] = [], target: [Double] = [], cheapSeconds: [Double] = []
        var multi: [FidelityWorth: [Double]] = [:], targetShare: [FidelityWorth: [Double]] = [:]
        for seed in 0..<20 {
            let (hv, study) = try mockArm(problem: #", "share": 0.25"#, budget: 6, seed: seed)
            cheap.append(hv)
            cheapSeconds.append(study.secondsSpent + Double(study.frontIDs.count))
            target.append(try mockArm(budget: 16, seed: seed).hypervolume)
            for worth in FidelityWorth.allCases {
                let (hv, study) = try mockArm(fidelity: fidelity + #", "worth": "\#(worth.rawValue)"}"#, budget: 16, seed: seed)
                multi[worth, default: []].append(hv)
                targetShare[worth, default: []].append(study.targetShareOfCost)
            }
        }
        func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
        let measured = String(format: "target hypervolume over 20 seeds: cheap %.3f (%.1f s whole), target only %.3f", mean(cheap),
                              mean(cheapSeconds), mean(target))
            + FidelityWorth.allCases.map { w in
                ", multi-fidelity by \(w.rawValue) " + String(format: "%.3f (target share %.2f, above cheap in %d seeds)", mean(multi[w]!),
                                                                 mean(targetShare[w]!), zip(multi[w]!, cheap).filter { $0 > $1 }.count)
            }.joined()
        print(measured)
        XCTAssertLessThanOrEqual(mean(cheapSeconds), 16, "timed whole, the cheap arm had no more time: " + measured)
        for worth in FidelityWorth.allCases {
            XCTAssertGreaterThan(mean(multi[worth]!), mean(cheap), measured)
            XCTAssertGreaterThan(mean(multi[worth]!), mean(target) + 0.05, measured)
        }
    }

    /// What `cheap_streak` costs where cheap trials are worth their price: the mock (20 seeds) and
    /// ZDT1 (5 seeds) arms above, 16 s each, with streaks of 1, 2, 3 and unbounded. Measured here
    /// (mean target hypervolume, information / variance worth): mock 0.642 / 0.643, 0.651 / 0.651,
    /// 0.657 / 0.650, 0.657 / 0.651; ZDT1 0.772 / 0.802, 0.781 / 0.781, 0.789 / 0.807, 0.787 /
    /// 0.802. So 3, the default, costs nothing measurable here, where a tighter bound does. About 5
    /// minutes on 2 cores, so it runs only when asked: `AUTOPEFT_SWEEPS=1 swift test --filter
    /// MultiFidelityStudyTests.testCheapStreakSweep`.
    func testCheapStreakSweep() throws {
        guard ProcessInfo.processInfo.environment["AUTOPEFT_SWEEPS"] == "1" else { throw XCTSkip("set AUTOPEFT_SWEEPS=1 to run") }
        func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
        for worth in FidelityWorth.allCases {
            var mock: [Int: Double] = [:], zdt: [Int: Double] = [:]
            for streak in [1, 2, 3, 1000] {
                let settings = #""cheaper": [300], "worth": "\#(worth.rawValue)", "cheap_streak": \#(streak)}"#
                let fidelity = #", "fidelity": {"target": {"train_examples": 1200, "epochs": 1}, "# + settings
                mock[streak] = mean(try (0..<20).map { try mockArm(fidelity: fidelity, budget: 16, seed: $0).hypervolume })
                zdt[streak] = mean(try (0..<5).map { try arm(problem: "", fidelity: fidelity, seed: $0).hypervolume })
                print(String(format: "cheap_streak %d, worth %@: mock %.4f, zdt1 %.4f", streak, worth.rawValue, mock[streak]!,
                             zdt[streak]!))
            }
            XCTAssertEqual(mock[3]!, mock[1000]!, accuracy: 0.005, "\(worth): the default costs the mock nothing measurable")
            XCTAssertGreaterThan(zdt[3]!, zdt[1000]! - 0.01, "\(worth)")
        }
    }
}
