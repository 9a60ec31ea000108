import JSONKit
import Foundation
import Space

/// What one trial measured: objective values by name (measured ones; known ones are computed by
/// the study) and any further metrics worth keeping.
public struct TrialOutcome: Sendable {
    public var values: [String: Double]
    public var metrics: [String: Double]
    /// The seconds to record for the trial when not the wall clock (synthetic `cost_seconds`).
    public var seconds: Double?
    public init(values: [String: Double], metrics: [String: Double] = [:], seconds: Double? = nil) {
        self.values = values
        self.metrics = metrics
        self.seconds = seconds
    }
}

/// What a trial evaluates: a configuration of the space, or (for a baseline outside the space,
/// such as LoRA in an adapter-only space) a PEFT plan.
public enum Candidate: Sendable {
    case config(Config)
    case plan(PEFTPlan)

    public var config: Config? { if case .config(let c) = self { return c }; return nil }
    public var plan: PEFTPlan? { if case .plan(let p) = self { return p }; return nil }
}

/// One trial to run: the candidate and its seed, and in a multi-fidelity study the fidelity, the
/// earlier trial of the same run it continues, and where the study keeps checkpoints.
public struct TrialRequest: Sendable {
    public var candidate: Candidate
    public var seed: UInt64
    public var trial: Int
    /// nil: the space file's own training settings (a study without fidelities).
    public var fidelity: Fidelity?
    /// How a fidelity below the target trains (the study's `fidelity.cheap_runs`, as its journal
    /// recorded it).
    public var cheapRuns: CheapRuns = .prefix
    /// The earlier trial of the same run (same configuration and seed) this one continues, and its fidelity.
    public var resume: (trial: Int, fidelity: Fidelity)?
    /// The study's checkpoint folder: trial k's state is kept in `<folder>/trial-<k>`.
    public var checkpoints: String?
    /// Where a trial asked to stop early (a cluster's preemption) saves its state, and where the
    /// next attempt continues from.
    public var preemptTo: String?
    /// Train with `seed` even where the space file's `training.seed` fixes every trial's seed: a
    /// replicate, another training seed of a configuration already evaluated.
    public var ownSeed = false

    public init(candidate: Candidate, seed: UInt64, trial: Int, fidelity: Fidelity? = nil, resume: (trial: Int, fidelity: Fidelity)? = nil,
                checkpoints: String? = nil) {
        self.candidate = candidate
        self.seed = seed
        self.trial = trial
        self.fidelity = fidelity
        self.resume = resume
        self.checkpoints = checkpoints
    }

    /// Where trial `k`'s checkpoint lives, when the study keeps checkpoints.
    public func checkpoint(of k: Int) -> String? { checkpoints.map { "\($0)/trial-\(k)" } }
}

/// Runs one trial. The search sees objectives only through this protocol, so the optimiser is
/// tested on synthetic problems and the trainer plugs in from the CLI. Throwing marks the trial
/// failed (with the error's description) and the search goes on.
public protocol Evaluator {
    func evaluate(_ request: TrialRequest) throws -> TrialOutcome
}

/// Evaluates the synthetic problems of a space file: the standard test problems, and the PEFT
/// mock (the real space and parameter count, a smooth synthetic score).
public struct SyntheticEvaluator: Evaluator {
    public let spec: StudySpec
    /// True inside a worker process, where `crash_trials` apply.
    public let inWorker: Bool
    public init(spec: StudySpec, inWorker: Bool = false) {
        self.spec = spec
        self.inWorker = inWorker
    }

    /// With fidelities, a synthetic problem's cheap fidelity s (its share of the target's
    /// examples) is biased towards the wrong region: coordinates x₁… are measured from 0.6·(1 − s)
    /// instead of 0 (|xᵢ − 0.6(1 − s)|), a bias that depends on the configuration and vanishes at the
    /// target. A trial sleeps `delay_seconds` × the share of the target it trains (less what the
    /// trial it continues already trained).
    public func evaluate(_ request: TrialRequest) throws -> TrialOutcome {
        let candidate = request.candidate
        if inWorker && spec.crashTrials.contains(request.trial) { kill(getpid(), SIGKILL) }
        let share = fidelityShare(request.fidelity), done = fidelityShare(request.resume?.fidelity, orZero: true)
        if spec.delaySeconds > 0 { usleep(UInt32(spec.delaySeconds * max(share - done, 0) * 1e6)) }
        let cost = spec.costSeconds > 0 ? spec.costSeconds * max(share - done, 0) : nil
        var rng = SplitMix64(seed: request.seed)
        switch spec.problem {
        case .synthetic(let p, _):
            guard let config = candidate.config else { throw SamplingError(message: "a synthetic problem evaluates configurations only") }
            let x = spec.space.encode(config)
            let f = p.evaluate([x[0]] + x.dropFirst().map { abs($0 - 0.6 * (1 - share)) })
            return TrialOutcome(values: ["f1": f[0] + spec.noise * rng.normal(), "f2": f[1] + spec.noise * rng.normal()], seconds: cost)
        case .peftMock(let dims, _):
            let plan = try spec.plan(candidate)
            var score = PEFTMock.score(plan, dims: dims, share: share) + (spec.loraBonus?.bonus(plan, dims: dims) ?? 0)
                + spec.noise * rng.normal()
            if let sd = spec.cheapNoise, share < 1 { score = 0.5 + sd * rng.normal() }
            let n = Double(plan.moduleParameters(dims: dims))
            return TrialOutcome(values: [Objective.Name.score: score, "seconds": 1 + n / 1e5], metrics: ["accuracy": score], seconds: cost)
        case .training:
            throw SamplingError(message: "this space file trains real candidates; it needs the trainer's evaluator")
        }
    }

    /// A fidelity's share of the target's training (1 without fidelities; 0 for none when `orZero`).
    func fidelityShare(_ f: Fidelity?, orZero: Bool = false) -> Double {
        guard let f, let settings = spec.fidelity else { return orZero ? 0 : spec.evaluatedShare }
        return Double(f.examples) / Double(settings.target.examples)
    }
}

/// A smooth stand-in for a task score over PEFT plans, so every search feature runs in seconds.
///
/// Each module contributes capacity with diminishing returns (log of its size), weighted by depth
/// (upper layers matter more, as sensitivity analyses of BERT usually find); the score saturates
/// towards 0.92 from the majority rate 0.5. Different kinds pay off at different parameter
/// costs, so the front mixes kinds and layer subsets, as in the AutoPEFT paper.
public enum PEFTMock {
    /// At a share s < 1 of the target's training, modules in the upper third of the layers look
    /// better than they are and the rest worse: cheap runs reward what learns fast high up.
    public static func score(_ plan: PEFTPlan, dims: ModelDimensions, share s: Double) -> Double {
        let adapted = plan.adaptedLayers(layers: dims.layers)
        let upper = Double(adapted.filter { 3 * $0 >= 2 * dims.layers }.count) / Double(max(adapted.count, 1))
        return score(plan, dims: dims) * (0.7 + 0.3 * s) + (1 - s) * 0.1 * (upper - 0.3)
    }

    public static func score(_ plan: PEFTPlan, dims: ModelDimensions) -> Double {
        let L = dims.layers
        func weight(_ l: Int) -> Double { 0.35 + 0.65 * pow(Double(l) / Double(max(L - 1, 1)), 1.5) }
        var capacity = 0.0
        for a in [(plan.serialAdapter, 0.9), (plan.parallelAdapter, 1.0)] {
            guard let spec = a.0 else { continue }
            for (l, m) in spec.resolve(count: L) { capacity += a.1 * weight(l) * log1p(Double(m) / 4) }
        }
        if let p = plan.prefix {
            for l in p.layers.resolve(count: L) { capacity += 0.7 * weight(l) * log1p(Double(p.length) / 2) }
        }
        if let lora = plan.lora {
            for l in lora.layers.resolve(count: L) { capacity += 1.1 * weight(l) * log1p(Double(lora.rank * lora.targets.count) / 6) }
        }
        if let ia3 = plan.ia3 { for l in ia3.layers.resolve(count: L) { capacity += 0.25 * weight(l) * Double(ia3.sites.count) } }
        if let b = plan.bitfit { for l in b.layers.resolve(count: L) { capacity += 0.1 * weight(l) * Double(b.biases.count) } }
        // Many kinds at once interfere slightly.
        let kinds = [plan.lora != nil, plan.serialAdapter != nil, plan.parallelAdapter != nil, plan.prefix != nil].filter { $0 }.count
        return 0.5 + 0.42 * (1 - exp(-capacity / 8)) - 0.01 * Double(max(kinds - 1, 0))
    }

    /// A good region of the mock: LoRA on exactly `targets` scores `bonus` more, in proportion to
    /// the share of layers it adapts. It is an interaction (the targets together, not each), so a
    /// space-filling design or a model of main effects rarely lands on it: a baseline there is how
    /// a search learns of it.
    public struct LoRABonus: Sendable {
        public var targets: Set<LinearTarget>
        public var bonus: Double

        public init(targets: Set<LinearTarget>, bonus: Double) {
            self.targets = targets
            self.bonus = bonus
        }

        /// `{"targets": [...], "bonus": x}`.
        public init(reading r: JSONReader) throws(ConfigError) {
            var targets: Set<LinearTarget> = []
            let list = try r.required("targets")
            for (i, t) in try list.array().enumerated() {
                guard let target = LinearTarget(name: try t.string()) else {
                    throw list.error("expected a LoRA target (\(LinearTarget.allCases.map(\.rawValue).joined(separator: ", ")))", at: "\(i)")
                }
                targets.insert(target)
            }
            if targets.isEmpty { throw list.error("expected at least one target") }
            bonus = try r.required("bonus").double(in: 0...1, what: "a score bonus")
            self.targets = targets
            try r.finish()
        }

        public func bonus(_ plan: PEFTPlan, dims: ModelDimensions) -> Double {
            guard let lora = plan.lora, lora.rank > 0, Set(lora.targets) == targets else { return 0 }
            return bonus * Double(lora.layers.resolve(count: dims.layers).count) / Double(max(dims.layers, 1))
        }
    }

    /// Stand-in sensitivity scores for the mock (so that priors run without a model): the mock's
    /// depth weights times a per-target factor, in SPT's units (parameters in the top-τ).
    public static func sensitivity(dims: ModelDimensions) -> SensitivityScores {
        let L = dims.layers
        func weight(_ l: Int) -> Double { 0.35 + 0.65 * pow(Double(l) / Double(max(L - 1, 1)), 1.5) }
        let factor: [LinearTarget: Double] = [.query: 1.0, .key: 0.6, .value: 1.2, .attentionOutput: 0.8, .intermediate: 1.5, .output: 1.3]
        return SensitivityScores(method: .mock, layers: L, targets: LinearTarget.ungated,
                                 scores: (0..<L).map { l in LinearTarget.ungated.map { (4000 * weight(l) * factor[$0]!).rounded() } })
    }
}
