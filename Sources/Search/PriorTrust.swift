import Foundation

extension Optimizer {
    /// Pseudo-observations that agree with the prior: with few trials the prior keeps most of its
    /// weight; each observation that contradicts it takes weight away.
    static let priorPseudoCount = 3.0

    /// How far the observations bear the prior out, in [0, 1]: Kendall's τ between log π(x) and
    /// how good each trial is, within each fidelity (cheap trials rank against cheap ones) and
    /// pooled by the fidelities' sizes, then shrunk towards 1 by `priorPseudoCount` and clipped
    /// at 0. How good a trial is: minus the number of trials of its fidelity that dominate it in
    /// every objective, so that a prior earns weight by pointing at the front, not merely at
    /// high scores bought with parameters.
    ///
    /// Why a rank correlation: π only has to order configurations the way the task does; its scale
    /// is β's business. A misleading prior (τ < 0) loses all weight once a few trials contradict it,
    /// an uninformative one (τ ≈ 0) keeps a little, and one that predicts keeps most of it.
    public func priorTrust(_ history: [Observation]) -> Double {
        guard let prior else { return 0 }
        var groups: [Double: [Observation]] = [:]
        for o in history where o.values.allSatisfy(\.isFinite) { groups[o.distance, default: []].append(o) }
        var weighted = 0.0, count = 0.0
        for (_, g) in groups.sorted(by: { $0.key < $1.key }) where g.count >= 3 {
            let points = g.map { o in zip(objectives, o.values).map { $0.minimised($1) } }
            let quality = points.map { p in -Double(points.filter { Pareto.dominates($0, p) }.count) }
            weighted += Double(g.count) * kendallTau(g.map { prior.logProbability($0.config) }, quality)
            count += Double(g.count)
        }
        return min(1, max(0, (weighted + Self.priorPseudoCount) / (count + Self.priorPseudoCount)))
    }
}

extension Study {
    /// The weight of `prior` (the study's own, or one rebuilt from its scores for a report) at
    /// each optimiser trial's proposal, replayed from the journal: the trust (`Optimizer.priorTrust`
    /// over the trials finished before it) and the exponent of π it gave, β · trust / n. A replay
    /// sees the trials a single worker would have seen; with several workers some of them were
    /// still running when the trial was proposed.
    func priorWeightAtProposals(_ prior: SensitivityPrior) -> [Int: (trust: Double, exponent: Double)] {
        var optimizer = self.optimizer
        optimizer.prior = prior
        var out: [Int: (trust: Double, exponent: Double)] = [:]
        var n = 0
        for t in trials where t.origin == .optimizer {
            n += 1
            let history = trials[..<t.id].filter { $0.status == .finished }.compactMap { s in
                s.config.map { Observation(config: $0, values: s.values, distance: distance(s)) }
            }
            let trust = optimizer.settings.priorWeightFromData ? optimizer.priorTrust(history) : 1
            out[t.id] = (trust, optimizer.settings.priorWeight * trust / Double(n))
        }
        return out
    }
}

/// A sensitivity prior and how much it steered each optimiser proposal
/// (`Study.priorWeightAtProposals`), replayed once per report: the replay refits nothing but
/// costs O(n²) trust computations.
struct PriorSteering {
    let prior: SensitivityPrior
    /// Trust and exponent per optimiser trial; empty when the prior prefers nothing, since then it
    /// steered no proposal whatever its weight.
    let weights: [Int: (trust: Double, exponent: Double)]

    init?(_ study: Study, prior: SensitivityPrior?) {
        guard let prior else { return nil }
        self.prior = prior
        weights = prior.hasOpinion ? study.priorWeightAtProposals(prior) : [:]
    }
}
