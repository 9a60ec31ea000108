import JSONKit
import Foundation
import Space

/// How much training a trial gets: `examples` training examples, the target (the run the space
/// file's `fidelity.target` describes) being rows × epochs. How a cheaper trial spends them is the
/// study's `CheapRuns`.
public struct Fidelity: Sendable, Hashable, Comparable {
    public var examples: Int
    public init(examples: Int) { self.examples = examples }
    public static func < (a: Fidelity, b: Fidelity) -> Bool { a.examples < b.examples }

    public var json: JSONValue { .object([("examples", .number(examples))]) }

    public init(reading r: JSONReader) throws(ConfigError) {
        examples = try r.required("examples").int(in: 1...1_000_000_000, what: "a number of training examples")
        try r.finish()
    }
}

/// What a trial costs where the search weighs fidelities against each other (the choice of
/// fidelity and `target_share`).
public enum FidelityCost: String, Sendable, CaseIterable {
    /// The examples the trial trains: the same on every machine and under any load, so a study
    /// replays the same trials anywhere. Between the levels of one configuration, what the fidelity
    /// choice compares, its per-example price cancels; left out is the fixed evaluation pass.
    case examples
    /// Seconds predicted by `CostModel`, fitted to the journal's wall-clock seconds: journals
    /// written before `examples` existed. Why it was replaced: a trial slowed by load or a pause
    /// (one 872-s first-epoch trial on MRPC, in results/priors/mf) bends the fit, and the choice
    /// of fidelity, which hinged on ties of 2%, went with it.
    case seconds
}

/// How a trial below the target trains its examples.
public enum CheapRuns: String, Sendable, CaseIterable {
    /// The first N examples of the target run, with that run's data order and learning-rate
    /// schedule, scored at the stop; a promotion continues from the stop's checkpoint.
    case prefix
    /// A run of its own over N examples (the first min(N, rows) rows of the target's sample, N / rows
    /// epochs) with its own warm-up and decay to zero; a promotion trains the target from scratch.
    /// Why: a prefix is scored mid-schedule at a learning rate near the peak, and ranks
    /// configurations worse than a short annealed run (bench/fidelity/agreement, Kendall τ against
    /// the target's 3-seed means on SST-2: prefix of 2000 examples 0.17, annealed 2000 rows 0.57).
    case annealed
}

/// What a trial at a fidelity is worth, per example it trains, to the choice of fidelity
/// (`Study.chooseFidelity`); both measure what the observation tells about the configuration's
/// score at the target.
public enum FidelityWorth: String, Sendable, CaseIterable {
    /// The mutual information between the observation and the target score (nats); the default.
    /// It grows without bound as the fitted noise shrinks, and only for the target (a cheap
    /// observation's is capped by its correlation with the target), so with nearly noiseless
    /// scores the target wins at almost any price: on SST-2 (noise variance about 0.01 of the
    /// signal's) 83-88% of the seconds went to the target (results/fidelity-replicates).
    case information
    /// The expected fall in the posterior variance of the target score, cov² / (var_z + σₙ²):
    /// at most the variance itself, so the target is worth at most 1/ρ² a cheap observation
    /// correlated ρ with it, and cheap trials win unless they are that much less informative
    /// than they are cheaper. Why it is not the default: on SST-2 it spent 51-65% of the seconds
    /// at the target and tried more configurations, but its fronts were not better (two search
    /// seeds, 1.0951 and 1.1109 against 1.1062 and 1.1172; results/fidelity-replicates).
    case variance

    /// The worth of a noisy observation y = f(x, z) + ε of a configuration whose target score g(x)
    /// has posterior variance `v0`, where f(x, z) has `vz` and their covariance is `c` (`noise`:
    /// ε's variance). For the target itself, v0 = vz = c.
    public func value(targetVariance v0: Double, observedVariance vz: Double, covariance c: Double, noise: Double) -> Double {
        guard v0 > 0, vz + noise > 0 else { return 0 }
        switch self {
        case .information: return -0.5 * log(1 - min(c * c / (v0 * (vz + noise)), 1 - 1e-12))
        case .variance: return min(c * c / (vz + noise), v0)
        }
    }
}

/// The space file's `fidelity` section: where the answer is measured and the cheaper
/// fidelities the search may use.
///
///     "fidelity": {"target": {"train_examples": 4000, "epochs": 3}, "cheaper": [1000, 4000],
///                  "target_share": 0.3, "paired": 2, "min_tau": 0.3}
///
/// - `target`: what the user will train at; the returned front is measured there.
/// - `cheaper`: training examples of the target run a cheap trial stops after (ascending, each
///   below rows × epochs).
/// - `target_share`: the least share of the examples trained that goes to the target (default 0.3).
/// - `cheap_streak`: at most this many optimiser trials in a row train below the target; the next
///   one trains at the target (default 3). The answer is measured at the target only: a search that
///   keeps learning at cheap fidelities stops improving it.
/// - `paired`: initial-design configurations also run at the target early, besides the baselines,
///   so that the cheap fidelities' bias is learnable (default 2).
/// - `min_tau`: below this Kendall τ between the cheapest and the target fidelity on the paired
///   configurations (4 pairs or more), the search stops using cheap fidelities (default 0.3).
/// - `worth`: `"variance"` or `"information"` (default), what an observation at a fidelity is
///   worth per example trained (`FidelityWorth`).
/// - `cheap_runs`: `"prefix"` (default) or `"annealed"`, how a cheap trial trains (`CheapRuns`).
///   Annealed levels above the target's rows must be whole epochs of them.
/// - `cooldown`: with prefix runs, a cheap trial is scored after this share of the run's steps up
///   to its stop more, the learning rate falling to zero on a branch that a promotion does not
///   continue (default 0: scored at the stop, where the target's schedule still has a high rate).
public struct FidelitySettings: Sendable, Equatable {
    public var targetRows: Int
    public var targetEpochs: Int
    public var cheaper: [Fidelity]
    public var targetShare: Double
    /// The most optimiser trials in a row below the target (nil: no limit, as journals written
    /// before the setting existed).
    public var cheapStreak: Int?
    /// What a trial costs the choices between fidelities (the journal fixes it: `FidelityCost`).
    public var cost: FidelityCost = .examples
    public var paired: Int
    public var minimumTau: Double
    /// A cheap trial's cool-down branch, as a share of the run's steps up to its stop (0: none; see
    /// `TrainingSegment.coolDownShare`).
    public var coolDown: Double
    public var cheapRuns: CheapRuns
    public var worth: FidelityWorth

    public var target: Fidelity { Fidelity(examples: targetRows * targetEpochs) }
    /// Every fidelity a trial may run at, cheapest first, the target last.
    public var levels: [Fidelity] { cheaper + [target] }
    public var cheapest: Fidelity { levels[0] }

    /// How far a fidelity is from the target, in [0, 1): the share of the target's training it skips.
    public func distance(_ f: Fidelity?) -> Double {
        guard let f else { return 0 }
        return max(0, 1 - Double(f.examples) / Double(target.examples))
    }

    /// The examples a trial at `f` trains (what its seconds pay for) after a cheaper trial of the
    /// same configuration trained `start`: with prefix runs, the rest of its prefix and, below the
    /// target, its cool-down branch; with annealed runs, all of `f` (nothing is continued).
    public func trainedExamples(at f: Fidelity, from start: Int) -> Double {
        switch cheapRuns {
        case .annealed: return Double(f.examples)
        case .prefix: return Double(f.examples - start) + (f < target ? coolDown * Double(f.examples) : 0)
        }
    }

    /// The rows and epochs of an annealed run of `f` below the target: `f` examples, at most the
    /// target's rows per epoch (parsing ensures whole epochs).
    public func annealedRun(_ f: Fidelity) -> (rows: Int, epochs: Int) {
        let rows = min(f.examples, targetRows)
        return (rows, max(1, f.examples / rows))
    }

    /// How a cheaper trial of `f` trains, in words: the first `f` examples of the target's run, or
    /// a run of its own.
    public func cheapRunDescription(_ f: Fidelity) -> String {
        switch cheapRuns {
        case .prefix: return "first \(f.examples) examples"
        case .annealed: let (rows, epochs) = annealedRun(f); return "\(rows) rows × \(epochs) epoch\(epochs == 1 ? "" : "s")"
        }
    }

    init(reading r: JSONReader) throws(ConfigError) {
        let t = try r.required("target")
        targetRows = try t.required("train_examples").int(in: 1...100_000_000, what: "a row count")
        targetEpochs = try t.required("epochs").int(in: 1...10_000, what: "an epoch count")
        try t.finish()
        let runs = try r.optional("cheap_runs")
        let mode = try runs.map { v throws(ConfigError) in
            let text = try v.string()
            guard let mode = CheapRuns(rawValue: text) else { throw v.error("expected \"prefix\" or \"annealed\", got \"\(text)\"") }
            return mode
        } ?? .prefix
        cheapRuns = mode
        let total = targetRows * targetEpochs
        var cheaper: [Fidelity] = []
        if let c = try r.optional("cheaper") {
            for item in try c.array() {
                let n = try item.int(in: 1...max(1, total - 1), what: "training examples below the target's \(total)")
                if let last = cheaper.last, n <= last.examples { throw item.error("expected ascending values, got \(n) after "
                    + "\(last.examples)") }
                if mode == .annealed && n > targetRows && n % targetRows != 0 {
                    throw item.error("an annealed cheap run above the target's \(targetRows) rows trains whole epochs of them; "
                        + "expected a multiple of \(targetRows), got \(n)")
                }
                cheaper.append(Fidelity(examples: n))
            }
        }
        self.cheaper = cheaper
        targetShare = try r.optional("target_share")?.double(in: 0...1, what: "a share") ?? 0.3
        cheapStreak = try r.optional("cheap_streak")?.int(in: 0...1000, what: "a number of trials") ?? 3
        paired = try r.optional("paired")?.int(in: 0...1000, what: "a number of configurations") ?? 2
        minimumTau = try r.optional("min_tau")?.double(in: -1...1, what: "a Kendall τ") ?? 0.3
        worth = try r.optional("worth")?.enumValue(of: FidelityWorth.self) ?? .information
        let cool = try r.optional("cooldown")
        coolDown = try cool?.double(in: 0...1, what: "a share of a cheap trial's steps") ?? 0
        if let cool, mode == .annealed, coolDown > 0 {
            throw cool.error("a cool-down applies to prefix cheap runs; annealed runs decay on their own")
        }
        try r.finish()
    }
}

/// Kendall's τ-b between two paired samples: (concordant − discordant) / √((n₀ − ties₁)(n₀ − ties₂)),
/// n₀ = n(n − 1)/2. 0 when fewer than two pairs or a sample is constant.
public func kendallTau(_ a: [Double], _ b: [Double]) -> Double {
    let n = min(a.count, b.count)
    guard n >= 2 else { return 0 }
    var concordant = 0.0, discordant = 0.0, tiesA = 0.0, tiesB = 0.0
    for i in 0..<n {
        for j in (i + 1)..<n {
            let da = a[i] - a[j], db = b[i] - b[j]
            if da == 0 && db == 0 { tiesA += 1; tiesB += 1 }
            else if da == 0 { tiesA += 1 }
            else if db == 0 { tiesB += 1 }
            else if (da > 0) == (db > 0) { concordant += 1 }
            else { discordant += 1 }
        }
    }
    let n0 = Double(n * (n - 1) / 2)
    let denominator = ((n0 - tiesA) * (n0 - tiesB)).squareRoot()
    return denominator > 0 ? (concordant - discordant) / denominator : 0
}
