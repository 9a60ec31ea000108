import JSONKit
import Foundation
import Space

/// Proposes the next configurations of a study: a Gaussian process per measured objective,
/// expected hypervolume improvement (exact in log space for two objectives, Monte-Carlo for
/// more) weighted by an optional prior, maximised by local search over the space.
///
/// `ask` is a pure function of its arguments (history, pending, seed): a resumed study asks the
/// same question and gets the same answer, which is what makes `kill -9` harmless.
public struct Optimizer: Sendable {
    public struct Settings: Sendable {
        public var kernel: GaussianProcess.Kernel = .matern52
        /// Random restarts of the hyperparameter fit (besides the default and warm starts).
        public var restarts = 2
        /// Random configurations scored before local search.
        public var rawSamples = 512
        /// Best raw candidates refined by local search.
        public var localStarts = 6
        /// Monte-Carlo samples for three or more measured-or-known objectives.
        public var monteCarloSamples = 128
        /// πBO exponent numerator β (the prior weighs π^(β/n) at the n-th BO iteration).
        public var priorWeight = 1.0
        /// Scale β by how far the observations bear the prior out (`priorTrust`); false keeps
        /// πBO's fixed β/n.
        public var priorWeightFromData = false
        /// Trainable parameters on a log10 axis in the hypervolume the acquisition improves.
        public var logParameters = false
        /// How `Proposal.worth` counts what an observation at a fidelity tells about the target.
        public var fidelityWorth = FidelityWorth.information
        /// Local search also starts at the best neighbour of each incumbent (`incumbents`), as SMAC's
        /// and BoTorch's local searches do, so the region that works is refined even where random
        /// samples score higher (proposal rules 2; false keeps older studies' proposals).
        public var incumbentStarts = false
        /// The models also see each configuration's trainable parameters (log10, `modelInput`): a
        /// known objective is a known function of the configuration, and capacity is what a score
        /// follows most, so a corner of the space no trial has visited is predicted from trials of
        /// its size rather than from the mean of all (proposal rules 3).
        public var parameterFeature = false
        /// The multi-fidelity GP learns a cheap run's noise apart from a target run's (proposal rules 7).
        public var noisePerFidelity = false
        public init() {}
    }

    /// What a proposal aims at.
    public enum Goal: Sendable {
        /// The expected hypervolume improvement (with the prior's weight): the study's objective.
        case hypervolume
        /// A configuration no worse than a baseline in every known objective (not larger) whose
        /// first measured objective beats the baseline's: log expected improvement over it, −∞ for
        /// a larger configuration. Local search starts at `start` (the baseline's point) first.
        case beat(values: [Double], start: Config?)
    }

    /// What `ask` returns.
    public struct Proposal: Sendable {
        public var configs: [Config]
        /// Fitted GP hyperparameters per measured objective (for warm starts and the journal).
        public var hyperparameters: [[Double]]
        /// log acquisition of each proposed configuration (NaN for the initial design).
        public var logAcquisition: [Double]
        /// Per proposed configuration, per fidelity distance asked for: what observing it there
        /// is worth to its target scores (`Settings.fidelityWorth`, summed over the measured objectives).
        public var worth: [[Double]] = []
    }

    public let space: SearchSpace
    public let objectives: [Objective]
    /// Reference point in the user's units, one value per objective.
    public let reference: [Double]
    /// Values of the known objectives (NaN for measured ones), in objective order.
    public let knownValues: @Sendable (Config) -> [Double]
    public var settings: Settings
    public var prior: (any ConfigurationPrior)?

    public init(space: SearchSpace, objectives: [Objective], reference: [Double], settings: Settings = .init(),
                prior: (any ConfigurationPrior)? = nil, knownValues: @escaping @Sendable (Config) -> [Double]) {
        self.space = space
        self.objectives = objectives
        self.reference = reference
        self.settings = settings
        self.prior = prior
        self.knownValues = knownValues
    }

    /// A space-filling initial design: a Latin hypercube in the encoding, decoded; points that
    /// decode to invalid or repeated configurations are replaced by uniform samples.
    ///
    /// - Parameter decode: how row i's point becomes a configuration (a prior's rows go through
    ///   its quantiles, `SensitivityPrior.config(atQuantiles:)`); nil: `SearchSpace.decode` for
    ///   every row. With it, a replacement is a uniform point of the cube mapped by it, so that
    ///   a prior's row stays the prior's.
    public func initialDesign(count: Int, seed: UInt64,
                              decode: ((_ row: Int, _ point: [Double]) -> Config)? = nil) throws(SamplingError) -> [Config] {
        var rng = SplitMix64(seed: seed ^ 0x1D1_7A1)
        let d = space.dimensions
        var columns: [[Int]] = []
        for _ in 0..<d {
            var perm = Array(0..<count)
            for i in stride(from: count - 1, to: 0, by: -1) { perm.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            columns.append(perm)
        }
        var out: [Config] = [], seen: Set<String> = []
        for i in 0..<count {
            let x = (0..<d).map { (Double(columns[$0][i]) + rng.unit()) / Double(count) }
            var c = decode?(i, x) ?? space.decode(x)
            var tries = 0
            while space.violation(c) != nil || seen.contains(space.key(c)) {
                if let decode { c = decode(i, (0..<d).map { _ in rng.unit() }) } else { c = try space.sample(&rng) }
                tries += 1
                if tries > 10_000 { throw SamplingError(message: "the space has fewer than \(count) distinct valid configurations") }
            }
            seen.insert(space.key(c))
            out.append(c)
        }
        return out
    }

    /// The `count` next configurations after `history`, none equal to an observed or pending one.
    ///
    /// - Parameters:
    ///   - iteration: n in the prior's π^(β/n): BO iterations so far after the initial design (≥ 1).
    ///   - warmStarts: previously fitted hyperparameters per measured objective (extra fit starts).
    ///   - distances: fidelity distances at which to report each proposal's worth (`Proposal.worth`).
    ///   - goal: what the proposals aim at (`Goal`); when no configuration can serve a baseline's
    ///     goal (none is as small), the hypervolume's pick is taken instead.
    public func ask(history: [Observation], pending: [Config], count: Int, seed: UInt64, iteration: Int = 1,
                    warmStarts: [[Double]] = [], distances: [Double] = [], goal: Goal = .hypervolume) throws(SamplingError) -> Proposal {
        var rng = SplitMix64(seed: seed)
        // Configurations observed only below the target stay proposable: promoting one is a choice.
        var taboo = Set(history.filter { $0.distance == 0 && $0.exact }.map { space.key($0.config) } + pending.map { space.key($0) })
        var models = try fitModels(history, seed: seed, warmStarts: warmStarts)
        let fitted = models.map(\.surrogate.hyperparameterVector)
        // The observed front at the target fidelity in minimised units, extended by fantasies as
        // the batch grows. Cheaper observations inform the models, never the front.
        var points = history.filter { $0.distance == 0 }.map { coordinates($0.values) }
        let normals = (0..<(objectives.count > 2 ? settings.monteCarloSamples : 0)).map { _ in objectives.map { _ in rng.normal() } }
        let trust = prior == nil ? 0 : settings.priorWeightFromData ? priorTrust(history) : 1
        let priorExponent = settings.priorWeight * trust / Double(max(iteration, 1))

        var chosen: [Config] = [], scores: [Double] = [], worth: [[Double]] = []
        for _ in 0..<count {
            let front = Pareto.frontIndices(points).map { points[$0] }
            let hypervolume = { (cs: [Config]) in
                self.logAcquisition(cs, models: models, front: front, normals: normals, priorExponent: priorExponent)
            }
            let around = settings.incumbentStarts ? incumbents(history) : []
            var found: (config: Config, value: Double)?
            if case let .beat(values, start) = goal {
                let beat = { (cs: [Config]) in self.logImprovement(cs, models: models, over: values) }
                found = try optimiseAcquisition(beat, front: history.map(\.config) + chosen, taboo: taboo,
                                                incumbents: (start.map { [$0] } ?? []) + around, rng: &rng)
                // Nothing as small can be proposed: the hypervolume's pick instead.
                if found.map({ $0.value == -.infinity }) ?? false { found = nil }
            }
            if found == nil {
                found = try optimiseAcquisition(hypervolume, front: history.map(\.config) + chosen, taboo: taboo, incumbents: around,
                                                rng: &rng)
            }
            guard let best = found else { break }
            chosen.append(best.config)
            scores.append(best.value)
            taboo.insert(space.key(best.config))
            let x = modelInput(best.config)
            worth.append(distances.map { z in models.reduce(0) { $0 + $1.surrogate.worth(at: x, distance: z, as: settings.fidelityWorth) } })
            // Kriging believer: pretend the posterior mean was observed at the pick.
            guard count > 1 else { continue }
            var believed = coordinates(knownValues(best.config))
            for k in models.indices {
                let m = models[k].surrogate.predict([x]).mean[0]
                believed[models[k].objective] = m * models[k].sd + models[k].mu
                if let model = models[k].surrogate.believing(x, m) { models[k].surrogate = model }
            }
            points.append(believed)
        }
        return Proposal(configs: chosen, hyperparameters: fitted, logAcquisition: scores, worth: worth)
    }

    /// What the models see of a configuration: its encoding, then, with `parameterFeature`, its
    /// trainable parameters on a log10 axis scaled so that 10 and the reference's count span [0, 1].
    func modelInput(_ config: Config, known: [Double]? = nil) -> [Double] {
        space.encode(config) + parameterCoordinate(known ?? knownValues(config))
    }

    /// An observation's model input: a baseline's point where it has one (`Observation.point`).
    func modelInput(_ o: Observation) -> [Double] {
        (o.point ?? space.encode(o.config)) + parameterCoordinate(o.values)
    }

    private func parameterCoordinate(_ values: [Double]) -> [Double] {
        guard settings.parameterFeature,
              let j = objectives.firstIndex(where: { $0.known && $0.name == Objective.Name.trainableParameters }),
              j < values.count, values[j].isFinite, reference[j] > 10 else { return [] }
        return [(log10(max(values[j], 1)) - 1) / (log10(reference[j]) - 1)]
    }

    /// Objective values (NaN for unknown ones) as the acquisition's hypervolume measures them.
    /// Only known objectives (trainable parameters) change axis; measured ones keep theirs.
    func coordinates(_ values: [Double]) -> [Double] {
        zip(objectives, values).map { $0.hypervolumeCoordinate($1, logParameters: settings.logParameters && $0.known) }
    }

    /// A measured objective's model: its surrogate on standardised minimised values (y − μ) / sd.
    struct ObjectiveModel {
        var objective: Int
        var surrogate: Surrogate
        var mu: Double, sd: Double
    }

    /// One model per measured objective. The fits are independent: one thread per objective (each
    /// fit is deterministic, so the result does not depend on the threads).
    func fitModels(_ history: [Observation], seed: UInt64, warmStarts: [[Double]]) throws(SamplingError) -> [ObjectiveModel] {
        let measured = objectives.indices.filter { !objectives[$0].known }
        let inputs = history.map(modelInput), distances = history.map(\.distance)
        // Distinct slots written by distinct threads, through a raw buffer (no copy-on-write).
        struct Slots: @unchecked Sendable { let fits: UnsafeMutableBufferPointer<Surrogate?> }
        let slots = Slots(fits: .allocate(capacity: measured.count))
        slots.fits.initialize(repeating: nil)
        defer { slots.fits.deallocate() }
        let standardised = measured.map { j -> (z: [Double], mu: Double, sd: Double) in
            let y = history.map { objectives[j].minimised($0.values[j]) }
            let mu = y.reduce(0, +) / Double(max(y.count, 1))
            let sd = max((y.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(max(y.count - 1, 1))).squareRoot(), 1e-9)
            return (y.map { ($0 - mu) / sd }, mu, sd)
        }
        let kernel = settings.kernel, restarts = settings.restarts, perFidelity = settings.noisePerFidelity
        DispatchQueue.concurrentPerform(iterations: measured.count) { k in
            let warm = k < warmStarts.count ? warmStarts[k] : nil
            slots.fits[k] = Surrogate.fit(inputs: inputs, distances: distances, targets: standardised[k].z, kernel: kernel,
                                          restarts: restarts, seed: seed &+ UInt64(k), warmStart: warm, noisePerFidelity: perFidelity)
        }
        var models: [ObjectiveModel] = []
        for (k, j) in measured.enumerated() {
            guard let surrogate = slots.fits[k] else {
                throw SamplingError(message: "the Gaussian process for \(objectives[j].name) cannot be conditioned on the data "
                    + "(non-finite values?)")
            }
            models.append(ObjectiveModel(objective: j, surrogate: surrogate, mu: standardised[k].mu, sd: standardised[k].sd))
        }
        return models
    }

    /// log EHVI (exact for two objectives, Monte-Carlo over `normals` for more) of each
    /// configuration over `front`, times the prior's π^exponent.
    func logAcquisition(_ cs: [Config], models: [ObjectiveModel], front: [[Double]], normals: [[Double]],
                        priorExponent: Double) -> [Double] {
        guard !cs.isEmpty else { return [] }
        let ref = coordinates(reference)
        // The known values are counted once per candidate: the model input and the front both use them.
        let knowns = cs.map(knownValues)
        let xs = cs.indices.map { modelInput(cs[$0], known: knowns[$0]) }
        let preds = models.map { $0.surrogate.predict(xs) }
        return cs.indices.map { i -> Double in
            let known = knowns[i]
            var mean = [Double](repeating: 0, count: objectives.count), sd = mean
            let knownCoordinates = coordinates(known)
            for (j, o) in objectives.enumerated() where o.known { mean[j] = knownCoordinates[j] }
            for (k, m) in models.enumerated() {
                mean[m.objective] = preds[k].mean[i] * m.sd + m.mu
                sd[m.objective] = preds[k].variance[i].squareRoot() * m.sd
            }
            var a: Double
            if objectives.count == 2 {
                a = ExpectedHypervolumeImprovement.logTwoObjective(mean: mean, sd: sd, front: front, reference: ref)
            } else {
                a = log(max(ExpectedHypervolumeImprovement.monteCarlo(mean: mean, sd: sd, front: front, reference: ref, normals: normals),
                            1e-300))
            }
            if let prior, priorExponent > 0 { a += priorExponent * prior.logProbability(cs[i]) }
            return a
        }
    }

    /// log E[(t − y)⁺] of the first measured objective y over a baseline's t (minimised units), for
    /// configurations no larger than the baseline in every known objective; −∞ for the others.
    func logImprovement(_ cs: [Config], models: [ObjectiveModel], over target: [Double]) -> [Double] {
        guard !cs.isEmpty, let m = models.first else { return cs.map { _ in -.infinity } }
        let t = objectives[m.objective].minimised(target[m.objective])
        let knowns = cs.map(knownValues)
        let pred = m.surrogate.predict(cs.indices.map { modelInput(cs[$0], known: knowns[$0]) })
        return cs.indices.map { i -> Double in
            let known = knowns[i]
            for (k, o) in objectives.enumerated() where o.known && !(o.minimised(known[k]) <= o.minimised(target[k])) { return -.infinity }
            return ExpectedHypervolumeImprovement.logPsi(t, pred.mean[i] * m.sd + m.mu, pred.variance[i].squareRoot() * m.sd)
        }
    }

    /// The observations local search starts around, best first: the observed front at the target
    /// (baselines included where they are in the history) by the first measured objective, then
    /// the best others in it; each configuration once.
    func incumbents(_ history: [Observation]) -> [Config] {
        let atTarget = history.filter { $0.distance == 0 }
        let front = Set(Pareto.frontIndices(atTarget.map { coordinates($0.values) }))
        guard let j = objectives.indices.first(where: { !objectives[$0].known }) else { return [] }
        let order = atTarget.indices.sorted { a, b in
            front.contains(a) != front.contains(b) ? front.contains(a)
                : objectives[j].minimised(atTarget[a].values[j]) < objectives[j].minimised(atTarget[b].values[j])
        }
        var seen = Set<String>()
        return order.map { atTarget[$0].config }.filter { seen.insert(space.key($0)).inserted }
    }

    /// Maximises a batch-scored acquisition: score random samples and the neighbours of the
    /// observed configurations, then hill-climb from the best few, and from the best neighbour of
    /// each incumbent, by one-change moves (reals move by a step that shrinks from 0.1 to 0.001 of
    /// their range when no move improves).
    func optimiseAcquisition(_ score: ([Config]) -> [Double], front: [Config], taboo: Set<String>, incumbents: [Config] = [],
                             rng: inout SplitMix64) throws(SamplingError) -> (config: Config, value: Double)? {
        var pool: [Config] = [], seen = taboo
        func add(_ c: Config) { if seen.insert(space.key(c)).inserted { pool.append(c) } }
        for _ in 0..<settings.rawSamples { add(try space.sample(&rng)) }
        for c in front { for step in [0.02, 0.1] { for n in space.neighbours(of: c, realStep: step) { add(n) } } }
        guard !pool.isEmpty else { return nil }
        let values = score(pool)
        let order = pool.indices.sorted { values[$0] > values[$1] }
        var best = (config: pool[order[0]], value: values[order[0]])
        let hasReals = space.parameters.contains { if case .real = $0.domain { return true }; return false }
        // Half the starts (at most) go around incumbents, so a proposal costs what it did.
        var seenIncumbents = Set<String>()
        let around = Array(incumbents.filter { seenIncumbents.insert(space.key($0)).inserted }.prefix(settings.localStarts / 2))
        var starts = order.prefix(settings.localStarts - around.count).map { (config: pool[$0], value: values[$0]) }
        for incumbent in around {
            let moves = space.neighbours(of: incumbent).filter { !taboo.contains(space.key($0)) }
            let v = score(moves)
            if let i = v.indices.max(by: { v[$0] < v[$1] }) { starts.append((moves[i], v[i])) }
        }
        for start in starts {
            var current = start
            var step = 0.1
            for _ in 0..<60 {
                let moves = space.neighbours(of: current.config, realStep: step).filter { !taboo.contains(space.key($0)) }
                let v = score(moves)
                if let i = v.indices.max(by: { v[$0] < v[$1] }), v[i] > current.value {
                    current = (moves[i], v[i])
                } else if hasReals && step > 0.001 {
                    step /= 3
                } else {
                    break
                }
            }
            if current.value > best.value { best = current }
        }
        return best
    }
}
