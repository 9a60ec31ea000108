import Foundation

/// A baseline against the front, judged on the surrogate's posterior rather than on single runs
/// (issue 41): whether some front point no larger than the baseline (no worse in every known
/// objective) has a better true score, and how sure the model is.
///
/// - beaten: P(better) ≥ 0.9 for the front point where it is highest;
/// - not matched: P(better) ≤ 0.1 for every such point (or there is none);
/// - tied within noise: in between; the data cannot tell them apart.
///
/// 0.9 and 0.1: a verdict a user acts on should be wrong at most one time in ten; in between, the
/// honest answer is that the runs cannot tell, which more seeds (replicates) would settle.
public struct NoiseVerdict: Sendable, Equatable {
    public enum Kind: String, Sendable { case beaten, tied = "tied within noise", notMatched = "not matched" }
    public let kind: Kind
    /// The front trial compared (the one most likely better), nil when no front point is as small.
    public let against: Int?
    /// P(that trial's true score is better than the baseline's).
    public let probabilityBetter: Double

    /// The probability that backs the verdict: P(better) when beaten or tied, P(not better) when not matched.
    public var probability: Double { kind == .notMatched ? 1 - probabilityBetter : probabilityBetter }

    public static let beatenAt = 0.9, notMatchedAt = 0.1

    public init(against: Int?, probabilityBetter p: Double) {
        self.against = against
        probabilityBetter = p
        kind = against == nil || p <= Self.notMatchedAt ? .notMatched : p >= Self.beatenAt ? .beaten : .tied
    }
}

extension Study {
    /// The posterior verdict on each baseline, in `baselineVerdicts`' order; nil in a study that
    /// returns its observed front (or before the model can be fitted).
    public var noiseVerdicts: [NoiseVerdict]? {
        guard let posterior = answerPosterior else { return nil }
        let objectives = spec.objectives
        guard let y = objectives.firstIndex(where: { !$0.known }) else { return nil }
        let front = frontIDs
        return baselineVerdicts.map { v in
            let b = v.baseline
            let small = front.filter { id in
                trials[id].baseline == nil && objectives.indices.allSatisfy { k in
                    !objectives[k].known || objectives[k].minimised(trials[id].values[k]) <= objectives[k].minimised(b.values[k])
                }
            }
            var best: (id: Int, p: Double)?
            for id in small {
                let p = probabilityBetter(id, than: b.id, in: y, posterior: posterior)
                if best == nil || p > best!.p { best = (id, p) }
            }
            return NoiseVerdict(against: best?.id, probabilityBetter: best?.p ?? 0)
        }
    }

    /// P(trial a's true value of objective j is better than trial b's): jointly where the posterior
    /// holds both; a trial it cannot place counts as its run, with the model's noise as its sd.
    func probabilityBetter(_ a: Int, than b: Int, in j: Int, posterior p: AnswerPosterior) -> Double {
        let pa = p.point(of: a), pb = p.point(of: b)
        if let pa, let pb { return p.probability(pa, betterThan: pb, in: j, goal: spec.objectives[j].goal) }
        func belief(_ id: Int, _ i: Int?) -> (mean: Double, variance: Double) {
            if let i { return (p.means[i][j], p.sds[i][j] * p.sds[i][j]) }
            let noise = p.noiseSD[j] ?? 0
            return (trials[id].values[j], noise * noise)
        }
        let (ma, va) = belief(a, pa), (mb, vb) = belief(b, pb)
        return AnswerPosterior.probabilityPositive((spec.objectives[j].goal == .maximize ? 1.0 : -1.0) * (ma - mb), variance: va + vb)
    }

    /// The posterior verdict in words: "beaten by front trial 7 (P = 0.97)".
    public func describe(_ n: NoiseVerdict) -> String {
        let p = String(format: "%.2f", n.probability)
        switch n.kind {
        case .beaten: return "beaten by front trial \(n.against! + 1) (P = \(p))"
        case .tied: return "tied within noise with front trial \(n.against! + 1) (P(better) = \(p))"
        case .notMatched:
            guard let id = n.against else { return "not matched: no front point is as small" }
            return "not matched (P = \(p) that front trial \(id + 1), the likeliest, is not better)"
        }
    }
}
