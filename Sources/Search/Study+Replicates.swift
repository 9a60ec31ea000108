import JSONKit
import Foundation
import Space

/// Replicates where they change the answer (issue 41, proposal rules 7): part of the budget re-runs,
/// with another training seed and at the target, configurations whose place on the front the model
/// cannot settle.
///
/// The rule, learnt from SMAC's intensification (an incumbent is re-run before a challenger may
/// replace it) but aimed at a front rather than one incumbent:
/// - a configuration is uncertain when its posterior probability of being on the front (Pareto-
///   optimal and inside the reference point, estimated from 256 joint draws of the posterior) lies
///   in [0.2, 0.8]: below it, it is almost surely off the front; above it, almost surely on it,
///   and another run would change neither the answer nor a verdict;
/// - the most uncertain one (closest to ½) is re-run, at most 3 times, search trials only;
/// - replicates take at most a fifth of the trials after the initial design, so four of five keep
///   exploring: the front's gaps cost more hypervolume than its noise, and a replicate only ever
///   sharpens what was already found.
/// A problem that declares its runs exact (a synthetic problem without `noise`) gets no replicates
/// and is answered by its runs (`runsAreExact`): there is no noise to average, and what the GP
/// cannot fit would otherwise pass for noise. Training is never exact across seeds.
extension Study {
    static let replicateShare = 0.2
    static let uncertainBand = 0.2...0.8
    static let replicatesPerConfiguration = 3
    static let frontDraws = 256

    /// Whether a study spends part of its budget on replicates: from proposal rules 7, when it
    /// answers by posterior mean and its runs are not exact (the study keeps it in `replicatesOn`).
    static func replicatesOn(_ journal: Journal, spec: StudySpec) -> Bool {
        Study.proposalRules(journal) >= 7 && Study.answerMode(journal, spec: spec) == .posteriorMean && !runsAreExact(spec)
    }

    /// Whether the space file's problem declares its runs exact: a synthetic problem (or the PEFT
    /// mock) without `noise`, whose every evaluation of a configuration returns the same values.
    public var runsAreExact: Bool { Study.runsAreExact(spec) }

    static func runsAreExact(_ spec: StudySpec) -> Bool {
        switch spec.problem {
        case .synthetic, .peftMock: return spec.noise == 0
        case .training: return false
        }
    }

    /// A replicate of the most uncertain front configuration, when the rule calls for one.
    func replicateProposal(pending: [Proposed]) -> Proposed? {
        guard replicatesOn else { return nil }
        let after = trials.filter { $0.origin == .optimizer || $0.origin == .replicate }.count + pending.count
        let spent = trials.filter { $0.origin == .replicate }.count + pending.filter { $0.origin == .replicate }.count
        guard Double(spent + 1) <= Study.replicateShare * Double(after + 1) else { return nil }
        guard let posterior = answerPosterior else { return nil }
        let p = frontProbabilities(posterior, seed: spec.seed &+ UInt64(trials.count))
        let busy = Set(trials.filter { $0.status == .running }.compactMap(\.replicates) + pending.compactMap(\.replicates))
        let candidates = posterior.ids.indices.filter { i in
            let id = posterior.ids[i]
            return trials[id].baseline == nil && Study.uncertainBand.contains(p[i]) && !busy.contains(id)
                && trials.filter({ $0.replicates == id }).count < Study.replicatesPerConfiguration
        }
        guard let pick = candidates.min(by: { abs(p[$0] - 0.5) < abs(p[$1] - 0.5) }) else { return nil }
        let id = posterior.ids[pick]
        return Proposed(candidate: trials[id].candidate, origin: .replicate, fidelity: spec.fidelity?.target, replicates: id)
    }

    /// Each posterior point's probability of being on the front: the share of joint posterior draws
    /// (each measured objective drawn jointly over the points, known objectives fixed) in which it
    /// is Pareto-optimal and better than the reference point in every objective.
    func frontProbabilities(_ p: AnswerPosterior, seed: UInt64, draws: Int = Study.frontDraws) -> [Double] {
        let m = p.ids.count
        let measured = p.covariances.keys.sorted()
        let factors = measured.map { LinearAlgebra.cholesky(p.covariances[$0]!, n: m)?.factor }
        let objectives = spec.objectives
        let reference = zip(objectives, spec.reference).map { $0.minimised($1) }
        var rng = SplitMix64(seed: seed ^ 0xF407)
        var on = [Int](repeating: 0, count: m)
        for _ in 0..<draws {
            var values = p.means
            for (k, j) in measured.enumerated() {
                guard let l = factors[k] else { continue }
                let z = (0..<m).map { _ in rng.normal() }
                for a in 0..<m {
                    var s = 0.0
                    for b in 0...a { s += l[a * m + b] * z[b] }
                    values[a][j] += s
                }
            }
            let minimised = values.map { v in zip(objectives, v).map { $0.minimised($1) } }
            for i in Pareto.frontIndices(minimised) where zip(minimised[i], reference).allSatisfy({ $0 < $1 }) { on[i] += 1 }
        }
        return on.map { Double($0) / Double(draws) }
    }
}
