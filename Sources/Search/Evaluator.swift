import JSONKit
import Foundation
import Space

/// What one trial measured: objective values by name (measured ones; known ones are computed by
/// the study) and any further metrics worth keeping.
public struct TrialOutcome: Sendable {
    public var values: [String: Double]
    public var metrics: [String: Double]
    public init(values: [String: Double], metrics: [String: Double] = [:]) {
        self.values = values
        self.metrics = metrics
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

/// Runs one trial. The search sees objectives only through this protocol, so the optimiser is
/// tested on synthetic problems and the trainer plugs in from the CLI. Throwing marks the trial
/// failed (with the error's description) and the search goes on.
public protocol Evaluator {
    func evaluate(_ candidate: Candidate, seed: UInt64, trial: Int) throws -> TrialOutcome
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

    public func evaluate(_ candidate: Candidate, seed: UInt64, trial: Int) throws -> TrialOutcome {
        if inWorker && spec.crashTrials.contains(trial) { kill(getpid(), SIGKILL) }
        if spec.delaySeconds > 0 { usleep(UInt32(spec.delaySeconds * 1e6)) }
        var rng = SplitMix64(seed: seed)
        switch spec.problem {
        case .synthetic(let p, _):
            guard let config = candidate.config else { throw SamplingError(message: "a synthetic problem evaluates configurations only") }
            let f = p.evaluate(spec.space.encode(config))
            return TrialOutcome(values: ["f1": f[0] + spec.noise * rng.normal(), "f2": f[1] + spec.noise * rng.normal()])
        case .peftMock(let dims, _):
            let plan = try spec.plan(candidate)
            let score = PEFTMock.score(plan, dims: dims) + spec.noise * rng.normal()
            let n = Double(plan.moduleParameters(dims: dims))
            return TrialOutcome(values: [Objective.Name.score: score, "seconds": 1 + n / 1e5], metrics: ["accuracy": score])
        case .training:
            throw SamplingError(message: "this space file trains real candidates; it needs the trainer's evaluator")
        }
    }
}

/// A smooth stand-in for a task score over PEFT plans, so every search feature runs in seconds.
///
/// Each module contributes capacity with diminishing returns (log of its size), weighted by depth
/// (upper layers matter more, as sensitivity analyses of BERT usually find); the score saturates
/// towards 0.92 from the majority rate 0.5. Different kinds pay off at different parameter
/// costs, so the front mixes kinds and layer subsets, as in the AutoPEFT paper.
public enum PEFTMock {
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

    /// Stand-in sensitivity scores for the mock (so that priors run without a model): the mock's
    /// depth weights times a per-target factor, in SPT's units (parameters in the top-τ).
    public static func sensitivity(dims: ModelDimensions) -> SensitivityScores {
        let L = dims.layers
        func weight(_ l: Int) -> Double { 0.35 + 0.65 * pow(Double(l) / Double(max(L - 1, 1)), 1.5) }
        let factor: [LinearTarget: Double] = [.query: 1.0, .key: 0.6, .value: 1.2, .attentionOutput: 0.8, .intermediate: 1.5, .output: 1.3]
        return SensitivityScores(method: .mock, layers: L, targets: LinearTarget.allCases,
                                 scores: (0..<L).map { l in LinearTarget.allCases.map { (4000 * weight(l) * factor[$0]!).rounded() } })
    }
}
