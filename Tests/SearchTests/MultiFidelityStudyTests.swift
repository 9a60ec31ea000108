import XCTest
import TestSupport
import Foundation
import JSONKit
import Space
@testable import Search
import SearchArms

/// Whole studies on ZDT1 (d = 3) whose cheap fidelity (a quarter of the target's training) is
/// biased towards the wrong region (`SyntheticEvaluator`): three arms with the same budget of
/// simulated seconds (`cost_seconds`: a target trial costs 1 s, a cheap one 0.25 s), each
/// returning a front, all scored by the hypervolume of their returned configurations at the target.
final class MultiFidelityStudyTests: XCTestCase {
    static let budget = 16.0

    func folder() -> String { scratchDirectory("mf") }

    /// The arms (`SearchArms`, shared with bench/sweeps), each study in a scratch folder.
    let arms = SearchArms(root: RepositoryData.root) { scratchDirectory("mf") }

    /// A ZDT1 study of the given extra problem settings and fidelity section, 16 simulated seconds;
    /// the hypervolume at the target of the front it returns.
    func arm(problem extra: String, fidelity: String, seed: Int) throws -> (hypervolume: Double, study: Study) {
        try arms.zdt(problem: extra, fidelity: fidelity, seed: seed, budget: Self.budget)
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

    /// Issue 12's acceptance on a problem shaped like SST-2 (`SearchArms.fidelityArms`): one
    /// cheap fidelity timed whole, the target alone, multi-fidelity by each fidelity worth. The
    /// sweep over 20 seeds is a benchmark (`bench/sweeps/run multi-fidelity`; measured, results/sweeps: cheap
    /// 0.638 (15.3 s whole), target only 0.549, multi-fidelity 0.654 by information and 0.649 by
    /// variance); the suite runs 5 seeds with the same assertions. The mild bias lets the cheap
    /// fidelity rank well enough that searching there beats the target alone; multi-fidelity
    /// searches there too and trains its answer at the target as it goes, where the cheap arm
    /// spends its last seconds retraining. What `cheap_streak` costs is `bench/sweeps/run cheap-streak`.
    func testMultiFidelityBeatsOneCheapFidelityTimedWholeAndTheTargetAlone() throws {
        let r = try arms.fidelityArms(seeds: 0..<5)
        print(r.table)
        XCTAssertLessThanOrEqual(mean(r.cheapSeconds), 16, "timed whole, the cheap arm had no more time: " + r.table)
        for worth in FidelityWorth.allCases {
            XCTAssertGreaterThan(mean(r.multi[worth]!), mean(r.cheap), r.table)
            XCTAssertGreaterThan(mean(r.multi[worth]!), mean(r.target) + 0.05, r.table)
        }
    }

    /// A cheaper fidelity that carries no signal (the mock's score there is the majority rate plus
    /// noise): once the fidelity check drops it, before the optimiser goes on, the target gets a
    /// design of its own, as many configurations as the initial design (promoted from their cheap
    /// runs). Its front then matches the target-only study's within 0.05 of hypervolume over 3
    /// seeds (measured here: see the printed line); before, the optimiser went on from the 4 pairs.
    func testACheapFidelityWithoutSignalGetsATargetDesignFirst() throws {
        // min_tau 1 drops the cheaper fidelity on its first 6 pairs unless the noise ranks them
        // exactly as the target does (1 in 720): dropping it is FidelityPolicyTests' concern,
        // what follows the drop this test's.
        let fidelity = #", "fidelity": {"target": {"train_examples": 1200, "epochs": 1}, "cheaper": [300], "paired": 6, "min_tau": 1}"#
        var multi: [Double] = [], target: [Double] = []
        for seed in 0..<3 {
            let (hv, study) = try arms.mock(problem: #", "cheap_noise": 0.01"#, fidelity: fidelity, budget: 16, seed: seed)
            multi.append(hv)
            target.append(try arms.mock(budget: 16, seed: seed).hypervolume)
            XCTAssertTrue(study.cheapFidelitiesMislead, "seed \(seed): τ \(study.fidelityAgreement.tau)")
            let first = try XCTUnwrap(study.trials.first { $0.origin == .optimizer && study.isAtTarget($0) }, "seed \(seed)")
            let before = Set(study.trials.prefix(first.id).filter { study.isAtTarget($0) }.map { study.identity($0) })
            XCTAssertGreaterThanOrEqual(before.count, study.spec.initial, "seed \(seed): the target's design comes first")
        }
        print(String(format: "no signal below the target, 3 seeds: multi-fidelity %.3f, target only %.3f", mean(multi), mean(target)))
        XCTAssertGreaterThan(mean(multi), mean(target) - 0.05)
    }

    /// The mock with flat cheap scores (every run below the target scores 0.5, as MRPC's runs at
    /// 1000 rows score the one-class F1) and `min_tau` −1, so τ never drops the cheap fidelity,
    /// searched for 16 simulated seconds; its journal then says proposal rules `rules`, resumed
    /// from its folder and run to its end. Returns the study and its progress lines.
    func flatCheapStudy(rules: Int, seed: Int) throws -> (study: Study, progress: [String]) {
        let fidelity = #", "fidelity": {"target": {"train_examples": 1200, "epochs": 1}, "cheaper": [300], "min_tau": -1}"#
        let d = folder()
        try arms.mockSpace(problem: #", "cheap_noise": 0"#, fidelity: fidelity, budget: 16, seed: seed)
            .write(toFile: d + "/s.json", atomically: true, encoding: .utf8)
        let spec = try StudySpec(file: d + "/s.json")
        _ = try Study(spec: spec, directory: d + "/study")
        let journal = d + "/study/journal.jsonl"
        let text = try String(contentsOfFile: journal, encoding: .utf8)
        let current = #""proposal_rules":\#(Study.currentProposalRules)"#
        XCTAssertTrue(text.contains(current))
        try text.replacingOccurrences(of: current, with: #""proposal_rules":\#(rules)"#)
            .write(toFile: journal, atomically: true, encoding: .utf8)
        let study = try Study(spec: spec, directory: d + "/study")
        XCTAssertEqual(Study.proposalRules(study.journal), rules)
        var lines: [String] = []
        try study.run(evaluator: SyntheticEvaluator(spec: spec)) { lines.append($0) }
        return (study, lines)
    }

    /// Flat cheap scores are dropped whatever τ says (rules 5): the optimiser trains at the target
    /// only, after a design there. Under rules 4, τ (held above `min_tau` here) keeps the cheap
    /// fidelity, so the optimiser starts from the two paired design points at the target.
    func testFlatCheapScoresDropTheCheapFidelityWhateverTauSays() throws {
        for seed in 0..<2 {
            let (study, progress) = try flatCheapStudy(rules: 5, seed: seed)
            XCTAssertTrue(progress.contains { $0.contains("the cheapest fidelity's scores are flat") }, "seed \(seed): says why")
            XCTAssertTrue(study.cheapestScoresAreFlat, "seed \(seed)")
            XCTAssertTrue(study.cheapFidelitiesMislead, "seed \(seed)")
            let optimiser = study.trials.filter { $0.origin == .optimizer }
            XCTAssertGreaterThan(optimiser.count, 0, "seed \(seed)")
            XCTAssertTrue(optimiser.allSatisfy { study.isAtTarget($0) }, "seed \(seed): an optimiser trial below the target")
            let first = try XCTUnwrap(optimiser.first)
            let before = Set(study.trials.prefix(first.id).filter { study.isAtTarget($0) }.map { study.identity($0) })
            XCTAssertGreaterThanOrEqual(before.count, study.spec.initial, "seed \(seed): the target's design comes first")
            print("flat cheap scores, seed \(seed): " + study.trials.map { "\($0.origin)@\($0.fidelity?.examples ?? 0)" }.joined(separator: " "))

            let old = try flatCheapStudy(rules: 4, seed: seed).study
            XCTAssertTrue(old.cheapestScoresAreFlat, "seed \(seed)")
            XCTAssertFalse(old.cheapFidelitiesMislead, "seed \(seed): rules 4 replays as it ran")
            let firstOld = try XCTUnwrap(old.trials.first { $0.origin == .optimizer })
            XCTAssertEqual(old.trials.prefix(firstOld.id).filter { old.isAtTarget($0) }.count, old.spec.fidelity?.paired,
                           "seed \(seed)")
        }
    }

    /// Rules 6, on the AutoPEFT mock space (its 4 baselines, a design of 10) with flat cheap scores
    /// and a budget that pays for 12 target trials (each costs 1 s): once the cheap fidelity is
    /// dropped, the baselines reach the target before any other design row does, and the target
    /// design stops at 6 configurations (half of 12), baselines counted, so the optimiser gets the
    /// rest of the budget. Under rules 5 the design's 10 rows and the 4 baselines take 14 target
    /// trials: the whole budget.
    func testADroppedCheapFidelityLeavesTheOptimiserHalfTheBudget() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        var text = try String(contentsOfFile: root + "/spaces/autopeft-mock.json", encoding: .utf8)
        text = text.replacingOccurrences(of: #""name": "peft_mock""#, with: #""name": "peft_mock", "cost_seconds": 1, "cheap_noise": 0"#)
            .replacingOccurrences(of: #""trials": 40,"#, with: #""trials": 40, "budget_seconds": 12,"#)
            .replacingOccurrences(of: #""objectives""#, with: #""fidelity": {"target": {"train_examples": 1200, "epochs": 1}, "cheaper": [300], "min_tau": -1}, "objectives""#)
            .replacingOccurrences(of: #""sensitivity": "spt""#, with: #""sensitivity": "none""#)
        for rules in [6, 5] {
            let d = folder()
            try text.write(toFile: d + "/s.json", atomically: true, encoding: .utf8)
            let spec = try StudySpec(file: d + "/s.json")
            XCTAssertEqual(spec.baselines.count, 4)
            _ = try Study(spec: spec, directory: d + "/study")
            let journal = d + "/study/journal.jsonl"
            try (try String(contentsOfFile: journal, encoding: .utf8))
                .replacingOccurrences(of: #""proposal_rules":\#(Study.currentProposalRules)"#, with: #""proposal_rules":\#(rules)"#)
                .write(toFile: journal, atomically: true, encoding: .utf8)
            let study = try Study(spec: spec, directory: d + "/study")
            try study.run(evaluator: SyntheticEvaluator(spec: spec)) { _ in }
            XCTAssertTrue(study.cheapFidelitiesMislead)
            let atTarget = study.trials.filter { study.isAtTarget($0) }
            let firstOptimiser = study.trials.firstIndex { $0.origin == .optimizer }
            let beforeOptimiser = atTarget.filter { firstOptimiser == nil || $0.id < firstOptimiser! }
            print("rules \(rules): " + study.trials.map { "\($0.baseline == nil ? "\($0.origin)" : "baseline")@\($0.fidelity?.examples ?? 0)" }
                .joined(separator: " "))
            if rules == 6 {
                XCTAssertEqual(study.targetDesignSize, 6)
                let baselines = atTarget.filter { $0.baseline != nil }.map(\.id)
                let designRows = atTarget.filter { $0.origin == .design }.map(\.id)
                XCTAssertEqual(baselines.count, 4)
                XCTAssertLessThan(baselines.max() ?? 0, designRows.min() ?? .max, "the baselines reach the target first")
                XCTAssertEqual(Set(beforeOptimiser.map { study.identity($0) }).count, 6, "the target design: 6, baselines counted")
                XCTAssertGreaterThanOrEqual(study.trials.filter { $0.origin == .optimizer }.count, 4)
            } else {
                XCTAssertNil(firstOptimiser, "under rules 5 the design takes the whole budget")
            }
        }
    }
}
