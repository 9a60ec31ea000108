import Foundation

/// How a study's own trials stand against one of its baselines, at the target fidelity.
///
/// A search trial (not a baseline) *matches* a baseline when it is at least as good in every
/// objective. The verdict names a point of the front where one matches (what a user would take
/// instead of the baseline), and otherwise says by how much the search missed it: the best score
/// among search trials no worse than the baseline in every other objective, and the gap.
public struct BaselineVerdict: Sendable {
    public let baseline: TrialRecord
    /// Every search trial that matches or dominates the baseline, in trial order.
    public let matchedBy: [Int]
    /// The front points among them, fewest trainable parameters (the x axis) first: the first is
    /// the one the summary names.
    public let frontMatches: [Int]
    /// When nothing matches: the search trial with the best score among those no worse than the
    /// baseline in every other objective, and how far its score falls short (a positive number);
    /// nil when no search trial is that cheap.
    public let nearest: (id: Int, shortBy: Double)?
    /// The objective `nearest` is measured in (the score where there is one).
    public let measuredIn: Int

    public var isMatched: Bool { !matchedBy.isEmpty }
}

extension Study {
    /// One verdict per finished baseline at the target, in trial order.
    public var baselineVerdicts: [BaselineVerdict] {
        let objectives = spec.objectives
        let done = answers
        let searched = done.filter { $0.baseline == nil }
        let front = Set(frontIDs)
        let x = objectives.firstIndex { $0.name == Objective.Name.trainableParameters } ?? objectives.count - 1
        let y = objectives.firstIndex { $0.name == Objective.Name.score } ?? objectives.firstIndex { !$0.known } ?? 0
        func noWorse(_ t: TrialRecord, than b: TrialRecord, except skip: Int? = nil) -> Bool {
            objectives.indices.allSatisfy { k in k == skip || objectives[k].minimised(t.values[k]) <= objectives[k].minimised(b.values[k]) }
        }
        return done.filter { $0.baseline != nil }.map { b in
            let matched = searched.filter { noWorse($0, than: b) }
            let onFront = matched.filter { front.contains($0.id) }
                .sorted { objectives[x].minimised($0.values[x]) < objectives[x].minimised($1.values[x]) }
            var nearest: (Int, Double)?
            if matched.isEmpty, let best = searched.filter({ noWorse($0, than: b, except: y) })
                .min(by: { objectives[y].minimised($0.values[y]) < objectives[y].minimised($1.values[y]) }) {
                nearest = (best.id, objectives[y].minimised(best.values[y]) - objectives[y].minimised(b.values[y]))
            }
            return BaselineVerdict(baseline: b, matchedBy: matched.map(\.id), frontMatches: onFront.map(\.id), nearest: nearest,
                                   measuredIn: y)
        }
    }

    /// What the `n`-th optimiser trial aims at. From proposal rules 4, every third one aims at a
    /// baseline the search has not matched yet, in turn by trial order: the smallest configuration
    /// that beats it is what a user asks of the search, and a hypervolume on a log axis draws the
    /// other trials to the smallest modules (where each decade is as wide as any other). The others,
    /// and every trial once all baselines are matched, aim at the hypervolume.
    func baselineGoal(iteration n: Int) -> Optimizer.Goal {
        guard let b = baselineAim(iteration: n) else { return .hypervolume }
        return .beat(values: b.values, start: b.config ?? planPoint(b.candidate)?.nearest)
    }

    /// The unmatched baseline the `n`-th optimiser trial aims at (see `baselineGoal`), if any.
    func baselineAim(iteration n: Int) -> TrialRecord? {
        guard baselineTurns, n % 3 == 0 else { return nil }
        let open = baselineVerdicts.filter { !$0.isMatched }
        guard !open.isEmpty else { return nil }
        return open[(n / 3 - 1) % open.count].baseline
    }

    /// The verdict in words, as the terminal summary and the report say it (trial numbers from 1),
    /// with the optimiser trials that aimed at the baseline (`baselineAim`), if any.
    public func describe(_ v: BaselineVerdict) -> String {
        let aimed = trials.filter { $0.aim != nil && $0.aim == v.baseline.baseline }.map { "\($0.id + 1)" }
        guard !aimed.isEmpty else { return verdictText(v) }
        return verdictText(v) + "; \(aimed.count == 1 ? "trial" : "trials") \(aimed.joined(separator: ", ")) aimed at it"
    }

    func verdictText(_ v: BaselineVerdict) -> String {
        if let named = v.frontMatches.first {
            let others = v.matchedBy.count - 1
            return "matched or dominated by front trial \(named + 1) (\(namedValues(trials[named].values)))"
                + (others > 0 ? " and \(others) other search trial\(others == 1 ? "" : "s")" : "")
        }
        if let first = v.matchedBy.first {
            // Every trial that matches it is dominated by another baseline on the front.
            return "matched or dominated by \(v.matchedBy.count) search trial\(v.matchedBy.count == 1 ? "" : "s"), e.g. trial "
                + "\(first + 1) (\(namedValues(trials[first].values))), none of them on the front"
        }
        let y = spec.objectives[v.measuredIn]
        let others = spec.objectives.indices.filter { $0 != v.measuredIn }.map { spec.objectives[$0] }
        let bound = others.map { "\($0.goal == .minimize ? "at most" : "at least") its \($0.name)" }.joined(separator: " and ")
        guard let (id, short) = v.nearest else {
            return "not matched: no search trial has " + (bound.isEmpty ? "a \(y.name)" : bound)
        }
        return "not matched: " + (bound.isEmpty ? "the best search trial" : "the best search trial with \(bound)")
            + ", trial \(id + 1), has \(y.name) \(Study.format(trials[id].values[v.measuredIn])), \(Study.format(short)) short"
    }
}
