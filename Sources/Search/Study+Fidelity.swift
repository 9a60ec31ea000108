import JSONKit
import Foundation
import Space

/// Multi-fidelity: which trials are the answer, what a trial costs, how well the cheapest
/// fidelity ranks configurations, and at which fidelity the next configuration trains.
extension Study {
    /// True when the trial trained at the target (every trial of a study without fidelities).
    public func isAtTarget(_ t: TrialRecord) -> Bool {
        guard let settings = spec.fidelity, let f = t.fidelity else { return true }
        return f == settings.target
    }

    /// The trial's distance from the target fidelity (0 at the target).
    func distance(_ t: TrialRecord) -> Double { spec.fidelity?.distance(t.fidelity) ?? 0 }

    /// What a trial is, across fidelities: a baseline's name, or the configuration.
    func identity(_ t: TrialRecord) -> String {
        if let b = t.baseline { return "baseline:" + b }
        return identity(t.candidate)
    }

    /// What a candidate is: its configuration's key, or its plan's JSON.
    func identity(_ c: Candidate) -> String {
        c.config.map { spec.space.key($0) } ?? c.plan.map { $0.json.serialized() } ?? ""
    }

    /// Seconds of every trial that ended.
    public var secondsSpent: Double { trials.reduce(0) { $0 + ($1.status == .running ? 0 : $1.seconds) } }

    /// The examples a trial trains itself: its fidelity less that of the trial it continues, and
    /// its cool-down branch.
    func trainedExamples(_ t: TrialRecord) -> Double {
        guard let f = t.fidelity, let settings = spec.fidelity else { return 1 }
        return settings.trainedExamples(at: f, from: t.continues.flatMap { trials[$0].fidelity?.examples } ?? 0)
    }

    func costFeatures(_ candidate: Candidate, examples: Double) -> CostModel.Features {
        guard let dims = spec.problem.dimensions, let plan = try? spec.plan(candidate) else { return .init(examples: examples) }
        let lowest = plan.lowestAdaptedLayer(layers: dims.layers) ?? dims.layers
        return .init(examples: examples, depth: Double(dims.layers - lowest) / Double(max(dims.layers, 1)),
                     parameters: Double(plan.moduleParameters(dims: dims)))
    }

    /// What the trial cost, as the study prices trials (`FidelitySettings.cost`).
    func cost(_ t: TrialRecord) -> Double {
        spec.fidelity?.cost == .seconds ? t.seconds : trainedExamples(t)
    }

    /// The cost of every trial that ended, and the target's share of it.
    public var targetShareOfCost: Double {
        let ended = trials.filter { $0.status != .running }
        let spent = ended.reduce(0) { $0 + cost($1) }
        return spent > 0 ? ended.filter { isAtTarget($0) }.reduce(0) { $0 + cost($1) } / spent : 1
    }

    /// The optimiser's trials in a row, the last ones, that train below the target.
    var currentCheapStreak: Int {
        trials.filter { $0.origin == .optimizer }.reversed().prefix { !isAtTarget($0) }.count
    }

    /// The cost model fitted to the finished trials' seconds (`FidelityCost.seconds`: older journals).
    var costModel: CostModel {
        CostModel(samples: finished.filter { $0.fidelity != nil }.map { (costFeatures($0.candidate, examples: trainedExamples($0)),
                                                                         $0.seconds) })
    }

    /// Configurations finished at both the cheapest fidelity and the target: (cheap, target) values
    /// of the first measured objective, and Kendall's τ between them: the smallest over the
    /// measured objectives (an objective the fidelity does not bias must not hide one it does).
    public var fidelityAgreement: (pairs: [(cheap: Double, target: Double, ids: (Int, Int))], tau: Double) {
        let measured = spec.objectives.indices.filter { !spec.objectives[$0].known }
        guard let settings = spec.fidelity, settings.cheapest != settings.target, let j = measured.first else { return ([], 0) }
        var cheap: [String: TrialRecord] = [:], target: [String: TrialRecord] = [:]
        for t in finished {
            if t.fidelity == settings.cheapest, cheap[identity(t)] == nil { cheap[identity(t)] = t }
            if isAtTarget(t), target[identity(t)] == nil { target[identity(t)] = t }
        }
        let keys = cheap.keys.sorted().filter { target[$0] != nil }
        let pairs = keys.map { k in (cheap: cheap[k]!.values[j], target: target[k]!.values[j], ids: (cheap[k]!.id, target[k]!.id)) }
        let tau = measured.map { m in kendallTau(keys.map { cheap[$0]!.values[m] }, keys.map { target[$0]!.values[m] }) }.min() ?? 0
        return (pairs, tau)
    }

    /// Cheap fidelities no longer rank configurations as the target does, so every further trial
    /// trains at the target: with 4 pairs or more and τ below the space file's `min_tau`, or, from
    /// proposal rules 5 on, when the cheapest fidelity's scores are flat (`cheapestScoresAreFlat`).
    var cheapFidelitiesMislead: Bool {
        guard let settings = spec.fidelity else { return false }
        let a = fidelityAgreement
        return (a.pairs.count >= 4 && a.tau < settings.minimumTau) || (Study.proposalRules(journal) >= 5 && cheapestScoresAreFlat)
    }

    /// True when most trials finished at the cheapest fidelity (5 or more) score what learning
    /// nothing scores (`Study.flatScoreWarning`). τ cannot see this: over scores tied at the
    /// one-class F1 (MRPC at 1000 rows), τ-b counts only the few untied pairs, and when those
    /// agree it comes out high (0.60 on `results/baselines/earlier/mrpc-s0-rules4`) for a fidelity that
    /// ranks nothing.
    var cheapestScoresAreFlat: Bool {
        guard let settings = spec.fidelity, settings.cheapest != settings.target,
              let j = spec.objectives.firstIndex(where: { $0.name == Objective.Name.score }) else { return false }
        let scores = finished.filter { $0.fidelity == settings.cheapest }.map { $0.values[j] }
        return Study.flatScoreWarning(scores: scores, constant: constantPredictionScore) != nil
    }

    /// Why the cheaper fidelities were dropped (`cheapFidelitiesMislead`), for progress lines and
    /// the report; nil while they are kept.
    var cheapFidelityDropReason: String? {
        guard cheapFidelitiesMislead, let settings = spec.fidelity else { return nil }
        let a = fidelityAgreement
        if a.pairs.count >= 4 && a.tau < settings.minimumTau { return String(format: "below min_tau %.2f", settings.minimumTau) }
        return "the cheapest fidelity's scores are flat: nothing learns there"
    }

    /// The fidelity the initial design and the baselines start at: the cheapest.
    var startingFidelity: Fidelity? { spec.fidelity.map { cheapFidelitiesMislead ? $0.target : $0.cheapest } }

    /// Paired evaluations: the baselines and the first `paired` design configurations, once
    /// finished at the cheapest fidelity, continue to the target, so the cheap fidelity's bias
    /// is learnt from configurations of both kinds (all layers and few) early.
    func pairProposals(count: Int, design: [(Config, TrialRecord.Origin)], pending: [Proposed] = []) -> [Proposed] {
        guard let settings = spec.fidelity, settings.cheapest != settings.target else { return [] }
        let designKeys = Set(design.prefix(settings.paired).map { spec.space.key($0.0) })
        var reached = Set(trials.filter { isAtTarget($0) }.map(identity)).union(targetIdentities(pending: pending))
        var out: [Proposed] = []
        for t in trials where out.count < count && t.status == .finished && t.fidelity == settings.cheapest && t.continues == nil {
            let isPair = t.baseline != nil || t.origin == .start || t.config.map { designKeys.contains(spec.space.key($0)) } == true
            guard isPair, reached.insert(identity(t)).inserted else { continue }
            out.append(Proposed(candidate: t.candidate, baseline: t.baseline, origin: t.baseline != nil ? .baseline : .pair,
                                fidelity: settings.target, promotes: t.id, cheapRuns: settings.cheapRuns))
        }
        return out
    }

    /// A design at the target when the cheaper fidelities are dropped (`cheapFidelitiesMislead`,
    /// after the design or part-way): until the target holds as many configurations as the
    /// initial design has rows (`spec.initial`, baselines counted), configurations trained only
    /// below it are promoted there, the design's rows first (in design order, so the points stay
    /// space-filling), then the best of the others at the cheaper fidelity. Without it the
    /// optimiser went on from the few pairs it had at the target (on an unseen GLUE task, two
    /// points that both scored 0) and learnt nothing worth knowing; with it the model at the
    /// target starts from as many points as a target-only study's design gives it. Promotions
    /// continue their cheap runs (prefix runs), so the design costs less than fresh runs.
    /// Proposal rules 2 (`Study.proposalRules`).
    func targetDesignProposals(count: Int, design: [(Config, TrialRecord.Origin)], pending: [Proposed]) -> [Proposed] {
        guard count > 0, let settings = spec.fidelity, settings.cheapest != settings.target, cheapFidelitiesMislead,
              Study.proposalRules(journal) >= 2 else { return [] }
        var reached = targetIdentities(pending: pending)
        let size = targetDesignSize
        guard reached.count < size else { return [] }
        let designKeys = design.map { spec.space.key($0.0) }
        let measured = spec.objectives.firstIndex { !$0.known } ?? 0
        func rank(_ t: TrialRecord) -> (Int, Double) {
            let k = t.config.flatMap { designKeys.firstIndex(of: spec.space.key($0)) } ?? (t.baseline != nil ? -1 : designKeys.count)
            return (k, spec.objectives[measured].minimised(t.values[measured]))
        }
        let candidates = finished.filter { !isAtTarget($0) }.sorted { rank($0) < rank($1) }
        var out: [Proposed] = []
        for t in candidates where out.count < count && reached.count < size {
            guard reached.insert(identity(t)).inserted else { continue }
            let promotes = finished.filter { !isAtTarget($0) && identity($0) == identity(t) }
                .max { ($0.fidelity?.examples ?? 0) < ($1.fidelity?.examples ?? 0) } ?? t
            out.append(Proposed(candidate: t.candidate, baseline: t.baseline, origin: t.baseline != nil ? .baseline : .pair,
                                fidelity: settings.target, promotes: promotes.id, cheapRuns: settings.cheapRuns))
        }
        return out
    }

    /// The configurations (and baselines) finished, running or `pending` at the target.
    func targetIdentities(pending: [Proposed]) -> Set<String> {
        var reached = Set(trials.filter { isAtTarget($0) && $0.status != .failed }.map(identity))
        for p in pending where p.fidelity == spec.fidelity?.target { reached.insert(p.baseline.map { "baseline:" + $0 } ?? identity(p.candidate)) }
        return reached
    }

    /// How many configurations the target design holds, baselines counted: the initial design's
    /// size (`search.initial`). From proposal rules 6, when the study has a budget of seconds, no
    /// more than half the target trials the whole budget pays for (at least 4), so the optimiser
    /// keeps the other half. On MRPC a target trial costs about 270 s of a 2700-s budget: under
    /// rules 5 the 8 design rows and the 4 baselines at the target took the whole budget and the
    /// optimiser never ran (`results/baselines/earlier/mrpc-s0-rules5`).
    var targetDesignSize: Int {
        guard Study.proposalRules(journal) >= 6, let budget = spec.budgetSeconds, let perTrial = targetTrialSeconds,
              perTrial > 0 else { return spec.initial }
        return min(spec.initial, max(4, Int(budget / perTrial / 2)))
    }

    /// What a target trial costs in seconds: the finished trials' seconds per example they trained
    /// themselves, times the target's examples. Per example, because a promotion pays only for the
    /// examples its cheap run had not trained; an overestimate where a trial's fixed part (loading,
    /// evaluation) weighs, since that is scaled too. Nil before any trial finished.
    var targetTrialSeconds: Double? {
        guard let settings = spec.fidelity else { return nil }
        let ended = finished.filter { $0.seconds > 0 }
        let examples = ended.reduce(0) { $0 + trainedExamples($1) }
        guard examples > 0 else { return nil }
        return ended.reduce(0) { $0 + $1.seconds } / examples * Double(settings.target.examples)
    }

    /// The fidelity at which an optimiser pick trains, and the cheaper trial of it that it promotes
    /// (the highest finished below the target, or none). The target when cheap fidelities mislead,
    /// when the target's share of the cost is below `target_share`, or when `streak` optimiser
    /// trials in a row (with those proposed alongside) already train below the target
    /// (`cheap_streak`); otherwise the fidelity above the pick's best so far whose observation is
    /// worth the most (`worth`, per level, as `FidelitySettings.worth` counts) per unit of cost.
    func chooseFidelity(_ config: Config, worth: [Double], streak: Int) -> (Fidelity, promotes: Int?) {
        guard let settings = spec.fidelity else { return (Fidelity(examples: 1), nil) }
        let key = spec.space.key(config)
        let earlier = finished.filter { $0.baseline == nil && $0.config.map { spec.space.key($0) } == key && !isAtTarget($0) }
            .max { ($0.fidelity?.examples ?? 0) < ($1.fidelity?.examples ?? 0) }
        let start = earlier?.fidelity?.examples ?? 0
        let streakEnds = settings.cheapStreak.map { streak >= $0 } ?? false
        if cheapFidelitiesMislead || targetShareOfCost < settings.targetShare || streakEnds { return (settings.target, earlier?.id) }
        let model = settings.cost == .seconds ? costModel : nil
        var best = (value: -Double.infinity, fidelity: settings.target)
        for (k, f) in settings.levels.enumerated() where f.examples > start && k < worth.count {
            let examples = settings.trainedExamples(at: f, from: start)
            let price = model.map { $0.seconds(costFeatures(.config(config), examples: examples)) } ?? examples
            let value = worth[k] / price
            if value > best.value { best = (value, f) }
        }
        return (best.fidelity, earlier?.id)
    }
}

/// A trial about to be started: what, why, and (with fidelities) where it trains.
struct Proposed {
    var candidate: Candidate
    var baseline: String?
    var origin: TrialRecord.Origin
    var fidelity: Fidelity?
    /// The cheaper trial of the same configuration this one promotes: it keeps that trial's seed
    /// and, with prefix runs, continues its run.
    var promotes: Int?
    /// The trial whose checkpoint this one continues (prefix runs only).
    var continues: Int?
    /// The baseline an optimiser proposal aims to beat (`Study.baselineAim`).
    var aim: String?
    /// The trial a replicate re-runs (`Study.replicateProposal`).
    var replicates: Int?

    init(candidate: Candidate, baseline: String? = nil, origin: TrialRecord.Origin, fidelity: Fidelity? = nil,
         promotes: Int? = nil, cheapRuns: CheapRuns = .prefix, aim: String? = nil, replicates: Int? = nil) {
        self.candidate = candidate
        self.replicates = replicates
        self.aim = aim
        self.baseline = baseline
        self.origin = origin
        self.fidelity = fidelity
        self.promotes = promotes
        continues = cheapRuns == .prefix ? promotes : nil
    }
}
