import JSONKit
import Foundation
import Space

/// A πBO prior over a PEFT space from sensitivity scores (SPT or DiffoRA): a product of
/// independent per-decision probabilities.
///
/// - A layer bit is on with probability ½ · (layer score / mean layer score), clamped to
///   [0.1, 0.9]: flat scores give the neutral ½, a layer twice as sensitive as the average is
///   almost always on. With `Layers.neutral`, every layer bit is ½.
/// - A LoRA target (or an (IA)³ site / BitFit bias mapped to its matrix) likewise by its target
///   score relative to the mean target score.
/// - A module size is centred on the largest value that pays off by SPT's rule (the benefit of
///   the matrices it covers in an average layer ≥ its cost per layer / α, α = 10), with a discrete
///   Gaussian of σ = 1.5 notches around it; "off" (0) is the centre when no size pays off.
/// - Every other decision is uniform (a constant, which the acquisition's ranking ignores).
public struct SensitivityPrior: ConfigurationPrior {
    /// How module sizes are believed. SPT's α rule answers "how large for accuracy"; when
    /// trainable parameters are an objective too, the front needs every size, from the smallest
    /// up, and centring on the large sizes that pay off for accuracy pulls the search off its
    /// small-module end. There the prior keeps its opinion on where (layers, targets, sites) and
    /// leaves how large uniform (over sizes spaced in powers of two: uniform in log size).
    public enum Sizes: String, Sendable { case centred, uniform }

    /// How layers are believed. Per-layer scores were measured not to predict where modules gain
    /// (results/priors/scorer-variants): SPT's layer order (5 ≫ 4 > 3 > 0-2) is the same under
    /// every scorer seed, 4× the batches and 10× the top fraction, and is the opposite of where a
    /// serial adapter gains (Spearman ρ −0.48 to −0.60); DiffoRA's flips sign with its seed. Target
    /// scores do predict (ρ +0.60 to +0.81). `neutral` keeps the targets' opinion and puts ½ on
    /// every layer bit; `scored` is the older belief.
    public enum Layers: String, Sendable, CaseIterable { case neutral, scored }

    public let scores: SensitivityScores
    /// Per parameter index: probabilities per value (ordinals, categoricals) or per bit.
    enum Decision: Sendable { case bits([Double]), values([Double]), uniform }
    let decisions: [Decision]
    let space: SearchSpace

    public init(scores: SensitivityScores, space: SearchSpace, dims: ModelDimensions, alpha: Double = 10, sizes: Sizes = .centred,
                layers: Layers = .scored) {
        self.scores = scores
        self.space = space
        let belief = Belief(scores: scores, dims: dims, alpha: alpha, sizes: sizes, layers: layers)
        decisions = space.parameters.map(belief.decision)
    }

    /// How the scores become one decision's probabilities (the rules of the type's comment).
    struct Belief {
        let scores: SensitivityScores, dims: ModelDimensions, alpha: Double, sizes: Sizes, layers: Layers
        /// Mean layer and target scores: probabilities are relative to them, so that flat
        /// (uninformative) scores give the neutral ½.
        let meanLayer: Double, meanTarget: Double

        init(scores: SensitivityScores, dims: ModelDimensions, alpha: Double, sizes: Sizes, layers: Layers) {
            (self.scores, self.dims, self.alpha, self.sizes, self.layers) = (scores, dims, alpha, sizes, layers)
            meanLayer = max(scores.perLayer.reduce(0, +) / Double(max(scores.perLayer.count, 1)), 1e-12)
            meanTarget = max(scores.perTarget.reduce(0, +) / Double(max(scores.perTarget.count, 1)), 1e-12)
        }

        func bitProbability(_ score: Double, mean: Double) -> Double { min(0.9, max(0.1, 0.5 * max(0, score) / mean)) }

        func targetProbability(_ t: LinearTarget?) -> Double {
            guard let t, let j = scores.targets.firstIndex(of: t) else { return 0.5 }
            return bitProbability(scores.perTarget[j], mean: meanTarget)
        }

        /// What a module kind's covered matrices offer in layer l, or in an average layer.
        func benefit(layer l: Int?, _ targets: [LinearTarget]) -> Double {
            func at(_ l: Int) -> Double { targets.reduce(0) { $0 + scores.score(layer: l, target: $1) } }
            if let l { return at(l) }
            return (0..<scores.layers).reduce(0.0) { $0 + at($1) } / Double(max(scores.layers, 1))
        }

        /// A discrete Gaussian (σ = 1.5 notches) on the largest size whose cost / α the benefit covers.
        func centred(_ values: [Double], cost: (Double) -> Double, benefit b: Double) -> Decision {
            guard sizes == .centred else { return .uniform }
            var centre = 0
            for (i, v) in values.enumerated() where v > 0 && cost(v) / alpha <= b { centre = i }
            if values.first.map({ $0 > 0 }) ?? false, cost(values[0]) / alpha > b { centre = 0 }
            let w = values.indices.map { exp(-pow(Double($0 - centre), 2) / (2 * 1.5 * 1.5)) }
            let total = w.reduce(0, +)
            return .values(w.map { $0 / total })
        }

        /// Whether `decision(for:)` centres this parameter by SPT's rule: a method's size or rank.
        static func isSize(_ name: String) -> Bool {
            guard let (kind, parameter) = PEFTMethodKind.owner(of: name) else { return false }
            switch kind.priorHints[parameter] {
            case .size?, .bestTarget?: return true
            default: return false
            }
        }

        /// Each method says what its parameters serve (`PEFTMethodKind.priorHints`); the rules
        /// are the type's.
        func decision(for p: Parameter) -> Decision {
            if case .layerMask(let n, _) = p.domain {
                let perLayer = scores.perLayer
                return .bits((0..<n).map { l in
                    layers == .neutral ? 0.5 : bitProbability(l < perLayer.count ? perLayer[l] : 0, mean: meanLayer)
                })
            }
            guard let (kind, parameter) = PEFTMethodKind.owner(of: p.name), let hint = kind.priorHints[parameter] else { return .uniform }
            var layer: Int?
            if let open = p.name.firstIndex(of: "["), let l = Int(p.name[p.name.index(after: open)...].dropLast()) { layer = l }
            switch (p.domain, hint) {
            case (.subset(let items, _), .items(let target)):
                return .bits(items.map { targetProbability(target($0)) })
            case (.ordinal(let values, _), .size(let cost, let targets, let perLayer)):
                return centred(values, cost: { cost($0, dims) }, benefit: benefit(layer: perLayer ? layer : nil, targets))
            case (.ordinal(let values, _), .bestTarget(let cost, let among)):
                let best = (0..<scores.layers).reduce(0.0) { acc, l in
                    acc + among.map { scores.score(layer: l, target: $0) }.max()!
                } / Double(max(scores.layers, 1))
                return centred(values, cost: { cost($0, dims) }, benefit: best)
            default:
                return .uniform
            }
        }
    }

    /// Whether the prior prefers any configuration to another: false when every decision is
    /// uniform (layer bits at ½, sizes uniform, no targets, sites or biases to weigh), as in the
    /// AutoPEFT space (layers and sizes only) with neutral layers and trainable parameters as an
    /// objective. Then log π is a constant, and the acquisition ranks as without it.
    public var hasOpinion: Bool {
        decisions.contains { d in
            switch d {
            case .bits(let probs): return probs.contains { abs($0 - 0.5) > 1e-12 }
            case .values(let probs): return probs.contains { abs($0 - probs[0]) > 1e-12 }
            case .uniform: return false
            }
        }
    }

    /// What a prior without opinion holds constant in this space, for `Study.priorWarning`: only
    /// the decisions the space has (a space without a layer mask has no layer bits at ½).
    var neutralDecisions: (layerBits: Bool, sizes: Bool) {
        (space.parameters.contains { if case .layerMask = $0.domain { return true } else { return false } },
         space.parameters.contains { Belief.isSize($0.name) })
    }

    public func logProbability(_ config: Config) -> Double {
        var total = 0.0
        let active = Set(space.activeNames(config))
        for (i, p) in space.parameters.enumerated() where active.contains(p.name) {
            switch (decisions[i], config.values[i], p.domain) {
            case let (.bits(probs), .bits(b), _):
                for (q, on) in zip(probs, b) { total += log(on ? q : 1 - q) }
            case let (.values(probs), .number(x), .ordinal(values, _)):
                if let k = values.firstIndex(of: x) { total += log(max(probs[k], 1e-300)) }
            default:
                break
            }
        }
        return total
    }

    /// The configuration at a point of the unit cube (the encoding's layout) read through the
    /// prior's marginals: a bit believed on with probability q is on where its coordinate is ≥ 1 − q,
    /// a size is the value whose cumulative probability first passes its coordinate, and every
    /// decision the prior holds uniform decodes as `SearchSpace.decode` does. Latin-hypercube
    /// points mapped so keep the hypercube's spread in what the prior leaves open, and follow it
    /// where it has an opinion; with no opinion at all this is `decode`. May violate constraints.
    public func config(atQuantiles x: [Double]) -> Config {
        var values = space.decodedValues(x)
        var k = 0
        for (i, p) in space.parameters.enumerated() {
            let slice = x[k..<(k + p.width)]
            k += p.width
            switch (decisions[i], p.domain) {
            case let (.bits(probs), _):
                values[i] = .bits(zip(probs, slice).map { q, u in u >= 1 - q })
            case let (.values(probs), .ordinal(vals, _)):
                values[i] = .number(vals[Self.index(atQuantile: slice.first ?? 0, of: probs)])
            default:
                break
            }
        }
        return space.canonical(Config(space: space, values: values))
    }

    /// The first index whose cumulative probability exceeds u ∈ [0, 1) (the last one if rounding
    /// leaves u beyond the total): the inverse CDF of a discrete distribution.
    static func index(atQuantile u: Double, of probs: [Double]) -> Int {
        var rest = u, k = 0
        while k < probs.count - 1 && rest >= probs[k] { rest -= probs[k]; k += 1 }
        return k
    }

    /// A configuration drawn from the prior (redrawn until valid).
    public func sample(_ rng: inout SplitMix64) throws(SamplingError) -> Config {
        for _ in 0..<10_000 {
            var values: [ParameterValue] = []
            for (i, p) in space.parameters.enumerated() {
                values.append(p.defaultValue)
                guard space.isActive(i, in: values) else { continue }
                switch (decisions[i], p.domain) {
                case let (.bits(probs), _): values[i] = .bits(probs.map { rng.unit() < $0 })
                case let (.values(probs), .ordinal(vals, _)):
                    values[i] = .number(vals[Self.index(atQuantile: rng.unit(), of: probs)])
                default:
                    var r = SplitMix64(seed: rng.next())
                    values[i] = (try? space.sample(&r).values[i]) ?? p.defaultValue
                }
            }
            let c = space.canonical(Config(space: space, values: values))
            if space.violation(c) == nil { return c }
        }
        throw SamplingError(message: "the prior puts (almost) no mass on valid configurations")
    }

    /// The configuration the sensitivity method itself would choose in this space: the valid
    /// configuration maximising SPT's utility (covered benefit − module parameters / α), found by
    /// 4000 samples from the prior and uniform, then one-change hill climbing.
    /// With `budget`, only configurations with at most that many trainable parameters count.
    public func methodChoice(dims: ModelDimensions, alpha: Double = 10, seed: UInt64, budget: Double? = nil) throws -> Config {
        var rng = SplitMix64(seed: seed ^ 0x5E75)
        func utility(_ c: Config) -> Double {
            if let budget, (space.parameterCount?(c) ?? .infinity) > budget { return -.infinity }
            guard let plan = try? PEFTSpace.plan(c, in: space, layers: dims.layers) else { return -.infinity }
            return scores.utility(plan, dims: dims, alpha: alpha)
        }
        var best: (Config, Double)?
        for k in 0..<4000 {
            let c = k % 2 == 0 ? try sample(&rng) : try space.sample(&rng)
            let u = utility(c)
            if best == nil || u > best!.1 { best = (c, u) }
        }
        guard var current = best, current.1 > -.infinity else { throw SamplingError(message: "no valid configuration within the budget") }
        while true {
            let moves = space.neighbours(of: current.0).map { ($0, utility($0)) }
            guard let top = moves.max(by: { $0.1 < $1.1 }), top.1 > current.1 else { break }
            current = top
        }
        return current.0
    }
}
