import Foundation
import Space

/// What the surrogate believes of evaluated configurations' true objective values (issue 41): per
/// point, the posterior mean and the sd of the noise-free value, and for each measured objective the
/// latent covariance between points, in the user's units. Known objectives (trainable parameters)
/// are exact: their sd is 0.
///
/// Why a posterior, not the runs: one training run of a configuration scatters by about a seed's sd
/// (0.003-0.006 on SST-2), as much as the differences a front ranks. The GP learns that scatter as
/// its noise, and its posterior mean at an evaluated configuration pools the run with its replicates
/// and neighbours, so a front chosen by it is not made of the luckiest runs.
public struct AnswerPosterior: Sendable {
    /// The trials the points stand for, in point order (one per distinct configuration).
    public let ids: [Int]
    /// Every modelled answer's point: its own, or the one of the replicate first evaluated.
    let pointOfTrial: [Int: Int]
    public let means: [[Double]]
    public let sds: [[Double]]
    /// Per measured objective index: the latent covariance between the points [m × m], row-major.
    let covariances: [Int: [Double]]
    /// Per measured objective index: the noise sd of one run, as the model learnt it.
    public let noiseSD: [Int: Double]

    /// The 95% interval's half-width of point i in objective j (1.96 sd).
    public func halfWidth(_ i: Int, _ j: Int) -> Double { 1.96 * sds[i][j] }

    /// The point standing for trial `id` (a replicate's is its configuration's), if the posterior holds it.
    public func point(of id: Int) -> Int? { pointOfTrial[id] }

    /// P(point a's true value of objective j is better than point b's) under the joint posterior;
    /// for a known objective 1, ½ or 0.
    public func probability(_ a: Int, betterThan b: Int, in j: Int, goal: Objective.Goal) -> Double {
        let d = (goal == .maximize ? 1.0 : -1.0) * (means[a][j] - means[b][j])
        guard let c = covariances[j] else { return Self.probabilityPositive(d, variance: 0) }
        let m = ids.count
        return Self.probabilityPositive(d, variance: max(c[a * m + a] + c[b * m + b] - 2 * c[a * m + b], 0))
    }

    /// P(D > 0) for D ~ N(d, v): Φ(d / √v); 1, ½ or 0 when v is 0.
    static func probabilityPositive(_ d: Double, variance v: Double) -> Double {
        guard v > 1e-300 else { return d > 0 ? 1 : d < 0 ? 0 : 0.5 }
        return 0.5 * erfc(-d / (2 * v).squareRoot())
    }
}

extension Optimizer {
    /// The posterior at `points` (model inputs of evaluated configurations, with their known
    /// objective values) of models fitted on `history`, as `fitModels` fits them for a proposal.
    func posterior(history: [Observation], points: [Observation], ids: [Int], pointOfTrial: [Int: Int], seed: UInt64,
                   warmStarts: [[Double]]) throws(SamplingError) -> AnswerPosterior {
        let models = try fitModels(history, seed: seed, warmStarts: warmStarts)
        let inputs = points.map(modelInput)
        var means = points.map(\.values), sds = points.map { $0.values.map { _ in 0.0 } }
        var covariances: [Int: [Double]] = [:], noise: [Int: Double] = [:]
        for model in models {
            let j = model.objective, sign = objectives[j].goal == .maximize ? -1.0 : 1.0   // back from minimised units
            let (mean, cov) = model.surrogate.jointPredict(inputs)
            for i in points.indices {
                means[i][j] = sign * (mean[i] * model.sd + model.mu)
                sds[i][j] = cov[i * points.count + i].squareRoot() * model.sd
            }
            covariances[j] = cov.map { $0 * model.sd * model.sd }
            noise[j] = model.surrogate.noiseVariance.squareRoot() * model.sd
        }
        return AnswerPosterior(ids: ids, pointOfTrial: pointOfTrial, means: means, sds: sds, covariances: covariances,
                               noiseSD: noise)
    }
}

extension Study {
    /// How this study's front is chosen (`AnswerMode`, as its journal records it).
    public var answerMode: AnswerMode { Study.answerMode(journal, spec: spec) }

    /// The surrogate's posterior at every distinct configuration evaluated at the target (the
    /// answers; baselines at their point of the space), fitted on every finished observation; nil
    /// for a study that returns its observed front, whose problem declares its runs exact
    /// (`runsAreExact`), or when there are too few answers to fit. Fitted
    /// once per finished trial count (deterministically: a resumed study gets the same posterior).
    public var answerPosterior: AnswerPosterior? {
        // Exact runs have no noise to average: their own values are the answer.
        guard answerMode == .posteriorMean, !runsAreExact else { return nil }
        let count = finished.count
        if let cached = posteriorCache, cached.finished == count { return cached.value }
        let value = fitAnswerPosterior()
        posteriorCache = (count, value)
        return value
    }

    func fitAnswerPosterior() -> AnswerPosterior? {
        let history = observations
        var seen: [String: Int] = [:], ids: [Int] = [], points: [Observation] = [], pointOfTrial: [Int: Int] = [:]
        for t in answers {
            guard let o = observation(t) else { continue }
            // One point per configuration: replicates of it share its posterior.
            let key = o.point.map { $0.map { String($0) }.joined(separator: ",") } ?? spec.space.key(o.config)
            if let i = seen[key] { pointOfTrial[t.id] = i; continue }
            seen[key] = points.count
            pointOfTrial[t.id] = points.count
            ids.append(t.id)
            points.append(o)
        }
        // A GP on fewer than three answers says little the runs do not; the observed values then stand.
        guard history.count >= 3, points.count >= 2 else { return nil }
        // Started from the last proposal's fit (and the default), without random restarts: the
        // posterior is fitted after every trial for the replicate rule, and the proposal's own fit
        // has already searched the hyperparameters widely.
        let warm = trials.last(where: { !$0.hyperparameters.isEmpty })?.hyperparameters ?? []
        var fitter = optimizer
        fitter.settings.restarts = 0
        return try? fitter.posterior(history: history, points: points, ids: ids, pointOfTrial: pointOfTrial, seed: spec.seed &+ 0xA45E,
                                     warmStarts: warm)
    }

    /// The front by posterior mean: Pareto-optimal among the distinct evaluated configurations by
    /// their posterior means, each better than the reference point by its mean in every objective.
    /// Configurations the model cannot place (a baseline no point of the space holds) keep their
    /// observed values.
    func posteriorFrontIDs(_ posterior: AnswerPosterior) -> (inside: [Int], beyond: [Int]) {
        let modelled = Set(posterior.ids)
        let unplaced = answers.filter { observation($0) == nil && !modelled.contains($0.id) }
        let ids = posterior.ids + unplaced.map(\.id)
        let values = posterior.means + unplaced.map(\.values)
        let minimised = values.map { v in zip(spec.objectives, v).map { $0.minimised($1) } }
        let pareto = Pareto.frontIndices(minimised)
        let inside = pareto.filter { i in spec.objectives.indices.allSatisfy { k in
            minimised[i][k] < spec.objectives[k].minimised(spec.reference[k]) } }
        return (inside.map { ids[$0] }.sorted(), pareto.filter { !inside.contains($0) }.map { ids[$0] }.sorted())
    }

    /// The front's hypervolume by its posterior means (the report's axes: trainable parameters on
    /// log10): what the study expects the front to hold, to set against what the final stage
    /// measures; nil in a study that answers by its runs.
    public var posteriorHypervolume: Double? {
        guard answerPosterior != nil else { return nil }
        let reference = zip(spec.objectives, spec.reference).map { $0.hypervolumeCoordinate($1, logParameters: true) }
        let points = frontIDs.map { id in zip(spec.objectives, estimatedValues(id)).map { $0.hypervolumeCoordinate($1, logParameters: true) } }
        return Hypervolume.compute(points, reference: reference)
    }

    /// The estimated values of trial `id`: its posterior mean, or what it recorded.
    public func estimatedValues(_ id: Int) -> [Double] {
        guard let p = answerPosterior, let i = p.point(of: id) else { return trials[id].values }
        return p.means[i]
    }

    /// Trial `id`'s posterior mean and 95% half-width in objective j, when the posterior holds it.
    public func posteriorBelief(_ id: Int, _ j: Int) -> (mean: Double, halfWidth: Double)? {
        guard let p = answerPosterior, let i = p.point(of: id) else { return nil }
        return (p.means[i][j], p.halfWidth(i, j))
    }

    /// "0.8412 [0.8350, 0.8474]": trial `id`'s posterior mean and 95% interval in objective j.
    public func posteriorText(_ id: Int, _ j: Int) -> String? {
        posteriorBelief(id, j).map { String(format: "%.4f [%.4f, %.4f]", $0.mean, $0.mean - $0.halfWidth, $0.mean + $0.halfWidth) }
    }

    /// A finished trial as the model sees it (nil for a plan no point of the space holds, or in a
    /// study that keeps such baselines out of the model).
    func observation(_ t: TrialRecord) -> Observation? {
        if let c = t.config { return Observation(config: c, values: t.values, distance: distance(t)) }
        guard baselinesInModel, let p = planPoint(t.candidate) else { return nil }
        return Observation(config: p.nearest, values: t.values, distance: distance(t), point: p.encoding, exact: p.exact)
    }
}
