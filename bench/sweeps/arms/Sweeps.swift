import Foundation
import Space
import Search

/// The sweeps: arms against arms over seeds. Each returns what its table prints and what its
/// assertion reads; `bench/sweeps/run NAME` runs it at full size, the suite at fewer seeds.
extension SearchArms {
    /// Issue 12's three arms on the mock (`mock`), timed whole: one cheap fidelity searched for 6 s
    /// whose front is then trained at the target (1 s a point, counted); every trial at the target
    /// for 16 s; multi-fidelity for 16 s with each way of choosing the fidelity (`FidelityWorth`).
    public struct FidelityArms {
        public var cheap: [Double] = [], cheapSeconds: [Double] = [], target: [Double] = []
        public var multi: [FidelityWorth: [Double]] = [:], targetShare: [FidelityWorth: [Double]] = [:]

        public var table: String {
            String(format: "target hypervolume over %d seeds: cheap %.3f (%.1f s whole), target only %.3f", cheap.count, mean(cheap),
                   mean(cheapSeconds), mean(target))
                + FidelityWorth.allCases.map { w in
                    ", multi-fidelity by \(w.rawValue) " + String(format: "%.3f (target share %.2f, above cheap in %d seeds)",
                        mean(multi[w] ?? []), mean(targetShare[w] ?? []), zip(multi[w] ?? [], cheap).filter { $0 > $1 }.count)
                }.joined()
        }
    }

    public func fidelityArms(seeds: Range<Int>) throws -> FidelityArms {
        let fidelity = #", "fidelity": {"target": {"train_examples": 1200, "epochs": 1}, "cheaper": [300]"#
        var arms = FidelityArms()
        for seed in seeds {
            let (hv, study) = try mock(problem: #", "share": 0.25"#, budget: 6, seed: seed)
            arms.cheap.append(hv)
            arms.cheapSeconds.append(study.secondsSpent + Double(study.frontIDs.count))
            arms.target.append(try mock(budget: 16, seed: seed).hypervolume)
            for worth in FidelityWorth.allCases {
                let (hv, study) = try mock(fidelity: fidelity + #", "worth": "\#(worth.rawValue)"}"#, budget: 16, seed: seed)
                arms.multi[worth, default: []].append(hv)
                arms.targetShare[worth, default: []].append(study.targetShareOfCost)
            }
        }
        return arms
    }

    /// `cheap_streak` of 1, 2, 3 and unbounded (1000), for one way of choosing the fidelity: the
    /// mean target hypervolume of the mock and ZDT1 arms above, 16 s each. Returns streak → means.
    public func cheapStreaks(worth: FidelityWorth, mockSeeds: Range<Int>, zdtSeeds: Range<Int>,
                             streaks: [Int] = [1, 2, 3, 1000]) throws -> [Int: (mock: Double, zdt: Double)] {
        var out: [Int: (mock: Double, zdt: Double)] = [:]
        for streak in streaks {
            let fidelity = #", "fidelity": {"target": {"train_examples": 1200, "epochs": 1}, "#
                + #""cheaper": [300], "worth": "\#(worth.rawValue)", "cheap_streak": \#(streak)}"#
            out[streak] = (mean(try mockSeeds.map { try mock(fidelity: fidelity, budget: 16, seed: $0).hypervolume }),
                           mean(try zdtSeeds.map { try zdt(fidelity: fidelity, seed: $0).hypervolume }))
        }
        return out
    }

    /// spaces/autopeft-mock.json searched `trials` trials with the log10 and the linear parameter
    /// axis; the log10-parameter hypervolume of each seed.
    public func parameterAxes(seeds: Range<Int>, trials: Int = 30) throws -> (log: [Double], linear: [Double]) {
        var log: [Double] = [], linear: [Double] = []
        for seed in seeds {
            for axis in ["log10", "linear"] {
                let spec = try autopeftMock(seed: seed, trials: trials, axis: axis)
                let study = try Study(spec: spec, directory: folder() + "/s")
                try study.run(evaluator: SyntheticEvaluator(spec: spec)) { _ in }
                if axis == "log10" { log.append(study.reportedHypervolume) } else { linear.append(study.reportedHypervolume) }
            }
        }
        return (log, linear)
    }

    /// The mock with its own sensitivity scores as the prior (right: upper layers pay) and with
    /// the layers reversed (wrong), each with πBO's fixed weight and the earned one, and no prior:
    /// arm → per seed, the log10-parameter hypervolume after each of `checkpoints` trials.
    public func priorTrust(seeds: Range<Int>, checkpoints: [Int] = [10, 20, 30]) throws -> [String: [[Double]]] {
        let base = try StudySpec(file: root + "/spaces/autopeft-mock.json")
        guard let dims = base.problem.dimensions else { throw SweepError("the mock space has no model dimensions") }
        let right = PEFTMock.sensitivity(dims: dims)
        let wrong = SensitivityScores(method: .mock, layers: right.layers, targets: right.targets, scores: right.scores.reversed())
        func run(_ scores: SensitivityScores?, fromData: Bool, seed: Int) throws -> [Double] {
            var spec = base
            spec.seed = UInt64(seed)
            spec.trials = checkpoints.max() ?? 30
            spec.priors.weightFromData = fromData
            // The layer scores are the prior's opinion here (right or reversed); neutral layers,
            // the default, would leave it none in this space.
            spec.priors.layers = .scored
            if scores == nil { spec.priors.method = nil }
            let study = try Study(spec: spec, directory: folder(), sensitivity: scores)
            try study.run(evaluator: SyntheticEvaluator(spec: spec)) { _ in }
            return checkpoints.map { study.hypervolume(logParameters: true, trials: $0) }
        }
        var hv: [String: [[Double]]] = [:]
        for seed in seeds {
            hv["none", default: []].append(try run(nil, fromData: true, seed: seed))
            for (name, scores) in [("right", right), ("wrong", wrong)] {
                hv[name + " fixed", default: []].append(try run(scores, fromData: false, seed: seed))
                hv[name + " earned", default: []].append(try run(scores, fromData: true, seed: seed))
            }
        }
        return hv
    }
}
