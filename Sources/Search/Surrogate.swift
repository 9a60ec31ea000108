import Foundation

/// A measured objective's model as the acquisition sees it: the posterior at the target fidelity,
/// and the same model believing a value at a new point (Kriging-believer batches).
///
/// Single-fidelity studies use the GP; once some observation is below the target fidelity, the
/// multi-fidelity GP, whose predictions are at the target (the front is the target's).
enum Surrogate: Sendable {
    case single(GaussianProcess)
    case multiFidelity(MultiFidelityGP)

    /// Fits and conditions the model for standardised targets `z` observed at `distances`.
    /// - Parameter noisePerFidelity: the multi-fidelity GP learns a cheap run's noise apart (`MultiFidelityGP`).
    static func fit(inputs: [[Double]], distances: [Double], targets z: [Double], kernel: GaussianProcess.Kernel,
                    restarts: Int, seed: UInt64, warmStart: [Double]?, noisePerFidelity: Bool = false) -> Surrogate? {
        let d = inputs.first?.count ?? 0
        if distances.allSatisfy({ $0 == 0 }) {
            let warm = warmStart.map { $0.count == d + 3 ? [$0] : [] } ?? []
            let h = GPFit.fit(inputs: inputs, targets: z, kernel: kernel, restarts: restarts, seed: seed, extraStarts: warm).0
            return GaussianProcess(inputs: inputs, targets: z, hyperparameters: h, kernel: kernel).map { .single($0) }
        }
        let warm = warmStart.map { $0.count == d + 5 + (noisePerFidelity ? 1 : 0) ? [$0] : [] } ?? []
        let h = MultiFidelityGP.fit(inputs: inputs, distances: distances, targets: z, kernel: kernel, restarts: restarts,
                                    seed: seed, extraStarts: warm, cheapNoise: noisePerFidelity).0
        return MultiFidelityGP(inputs: inputs, distances: distances, targets: z, hyperparameters: h,
                               kernel: kernel).map { .multiFidelity($0) }
    }

    /// Posterior mean and latent variance at the target fidelity.
    func predict(_ points: [[Double]]) -> (mean: [Double], variance: [Double]) {
        switch self {
        case .single(let gp): return gp.predict(points)
        case .multiFidelity(let gp): return gp.predict(points, distance: 0)
        }
    }

    /// Posterior mean and latent covariance [m, m] at the target fidelity.
    func jointPredict(_ points: [[Double]]) -> (mean: [Double], covariance: [Double]) {
        switch self {
        case .single(let gp): return gp.jointPredict(points)
        case .multiFidelity(let gp): return gp.jointPredict(points)
        }
    }

    /// The noise variance the model learnt for a run at the target (standardised units).
    var noiseVariance: Double {
        switch self {
        case .single(let gp): return exp(gp.hyperparameters.logNoiseVariance)
        case .multiFidelity(let gp): return gp.hyperparameters.noiseVariance(atDistance: 0)
        }
    }

    /// The model with `value` observed at `x` at the target fidelity, hyperparameters kept.
    func believing(_ x: [Double], _ value: Double) -> Surrogate? {
        switch self {
        case .single(let gp):
            return GaussianProcess(inputs: gp.inputs + [x], targets: gp.targets + [value], hyperparameters: gp.hyperparameters,
                                   kernel: gp.kernel).map { .single($0) }
        case .multiFidelity(let gp):
            return MultiFidelityGP(inputs: gp.inputs + [x], distances: gp.distances + [0], targets: gp.targets + [value],
                                   hyperparameters: gp.hyperparameters, kernel: gp.kernel).map { .multiFidelity($0) }
        }
    }

    /// What observing x at fidelity distance z is worth to its target score, as `measure` counts.
    /// The single-fidelity GP knows nothing of cheap fidelities: only z = 0 informs it.
    func worth(at x: [Double], distance z: Double, as measure: FidelityWorth) -> Double {
        switch self {
        case .single(let gp):
            guard z == 0 else { return 0 }
            let v = gp.predict([x]).variance[0]
            return measure.value(targetVariance: v, observedVariance: v, covariance: v, noise: exp(gp.hyperparameters.logNoiseVariance))
        case .multiFidelity(let gp): return gp.worth(at: x, distance: z, as: measure)
        }
    }

    /// The fitted hyperparameters, flattened (the journal's `gp` field and the next fit's warm start).
    var hyperparameterVector: [Double] {
        switch self {
        case .single(let gp): return gp.hyperparameters.vector
        case .multiFidelity(let gp): return gp.hyperparameters.vector
        }
    }
}
