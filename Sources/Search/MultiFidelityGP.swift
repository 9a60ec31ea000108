import JSONKit
import Foundation
import Space

/// The score surrogate across fidelities: f(x, z) = g(x) + z^q · δ(x), where z ∈ [0, 1] is a
/// trial's distance from the target fidelity (0 at the target, 1 at the cheapest), g the score at
/// the target and δ the cheap runs' bias, both Gaussian processes over the configuration x.
///
/// The bias depends on the configuration (δ is a GP over x, not a constant offset) and vanishes at
/// the target (z = 0), the shape of BoTorch's downsampling kernel, c + (1 − s)^(1+δ)(1 − s′)^(1+δ),
/// multiplied by the configuration kernel. g and δ share the configuration kernel's lengthscales
/// (few points, so few hyperparameters), with δ's variance β·σ²:
///   k((x, z), (x′, z′)) = σ² · k̃(x, x′) · (1 + β (z z′)^q)
///   ∂K/∂log β = σ² k̃ β (z z′)^q,   ∂K/∂log q = σ² k̃ β (z z′)^q · q · log(z z′)
/// At z = 0 everywhere the modulation is exactly 1 and this is the single-fidelity GP, bit for bit.
/// Predictions are of g, at the target (z = 0), unless asked for another fidelity.
///
/// The noise may depend on the fidelity (proposal rules 7): σₙ²(z) = σₙ² (1 + ρ z), so that a
/// cheap run, trained on fewer rows, may scatter more than a target run; with two fidelities that
/// is one noise per fidelity. Without ρ (older studies) every observation has σₙ².
///   ∂K/∂log σₙ² = diag(σₙ²(zᵢ)),   ∂K/∂log ρ = diag(σₙ² ρ zᵢ)
public struct MultiFidelityGP: Sendable {
    /// The configuration kernel's hyperparameters, then log β (bias variance relative to σ²) and
    /// log q (how fast the bias fades towards the target).
    public struct Hyperparameters: Equatable, Sendable {
        public var base: GaussianProcess.Hyperparameters
        public var logBiasRatio: Double
        public var logPower: Double
        /// log ρ, how much more a cheap run's noise is (nil: one noise for every fidelity).
        public var logCheapNoiseRatio: Double?

        public init(base: GaussianProcess.Hyperparameters, biasRatio: Double = 0.3, power: Double = 2, cheapNoiseRatio: Double? = nil) {
            self.base = base
            logBiasRatio = log(biasRatio)
            logPower = log(power)
            logCheapNoiseRatio = cheapNoiseRatio.map { log($0) }
        }

        /// Flattened [log ℓ₁…log ℓ_d, log σ², log σₙ², μ, log β, log q] (then log ρ when there is one).
        public var vector: [Double] { base.vector + [logBiasRatio, logPower] + (logCheapNoiseRatio.map { [$0] } ?? []) }

        /// From `vector`'s form; `cheapNoise` says whether it ends with log ρ.
        public init(vector v: [Double], cheapNoise: Bool = false) {
            let tail = cheapNoise ? 1 : 0
            base = GaussianProcess.Hyperparameters(vector: Array(v.dropLast(2 + tail)))
            logBiasRatio = v[v.count - 2 - tail]
            logPower = v[v.count - 1 - tail]
            logCheapNoiseRatio = cheapNoise ? v[v.count - 1] : nil
        }

        /// σₙ²(z): the noise variance of an observation at fidelity distance z.
        public func noiseVariance(atDistance z: Double) -> Double {
            exp(base.logNoiseVariance) * (1 + (logCheapNoiseRatio.map { exp($0) } ?? 0) * z)
        }
    }

    public let kernel: GaussianProcess.Kernel
    public let inputs: [[Double]]
    /// Each input's distance from the target fidelity, in [0, 1].
    public let distances: [Double]
    public let targets: [Double]
    public let hyperparameters: Hyperparameters
    let factor: [Double]      // L [n, n]
    let alpha: [Double]       // K⁻¹ (y − μ) [n]

    /// Conditions on data; nil when K cannot be factorised (non-finite data).
    public init?(inputs: [[Double]], distances: [Double], targets: [Double], hyperparameters h: Hyperparameters,
                 kernel: GaussianProcess.Kernel = .matern52) {
        var k = Self.covariance(inputs, distances, inputs, distances, h, kernel)
        let n = inputs.count
        for i in 0..<n { k[i * n + i] += h.noiseVariance(atDistance: distances[i]) }
        guard let (l, a, _) = LinearAlgebra.condition(covariance: k, n: n, noise: 0, targets: targets, mean: h.base.mean) else {
            return nil
        }
        self.kernel = kernel
        self.inputs = inputs
        self.distances = distances
        self.targets = targets
        hyperparameters = h
        factor = l
        alpha = a
    }

    /// 1 + β (z z′)^q: how much more two points covary for sharing a cheap fidelity's bias.
    @inline(__always)
    static func modulation(_ za: Double, _ zb: Double, _ h: Hyperparameters) -> Double {
        let zz = za * zb
        return zz > 0 ? 1 + exp(h.logBiasRatio) * pow(zz, exp(h.logPower)) : 1
    }

    /// k((A, zA), (B, zB)) [|A|, |B|].
    static func covariance(_ a: [[Double]], _ za: [Double], _ b: [[Double]], _ zb: [Double], _ h: Hyperparameters,
                           _ kind: GaussianProcess.Kernel) -> [Double] {
        var k = GaussianProcess.covariance(a, b, h.base, kind)
        let nb = b.count
        for i in a.indices { for j in 0..<nb { k[i * nb + j] *= modulation(za[i], zb[j], h) } }
        return k
    }

    /// Posterior mean and latent variance of the score at fidelity distance `distance` (0: the target).
    public func predict(_ points: [[Double]], distance: Double = 0) -> (mean: [Double], variance: [Double]) {
        let m = points.count
        guard m > 0 else { return ([], []) }
        let zs = [Double](repeating: distance, count: m)
        let ks = Self.covariance(inputs, distances, points, zs, hyperparameters, kernel)  // [n, m]
        let prior = exp(hyperparameters.base.logSignalVariance) * Self.modulation(distance, distance, hyperparameters)
        return GaussianProcess.posterior(crossCovariance: ks, factor: factor, alpha: alpha, mean: hyperparameters.base.mean,
                                         priorVariance: prior, points: m)
    }

    /// Posterior mean and latent covariance [m, m] of the score at the target (z = 0).
    public func jointPredict(_ points: [[Double]]) -> (mean: [Double], covariance: [Double]) {
        let zs = [Double](repeating: 0, count: points.count)
        let ks = Self.covariance(inputs, distances, points, zs, hyperparameters, kernel)
        return GaussianProcess.jointPosterior(crossCovariance: ks, priorCovariance: Self.covariance(points, zs, points, zs, hyperparameters,
                                                                                                   kernel),
                                              factor: factor, alpha: alpha, mean: hyperparameters.base.mean, points: points.count)
    }

    /// The posterior covariance of the latent f at (x, z₁) and (x, z₂).
    public func posteriorCovariance(_ x: [Double], _ z1: Double, _ z2: Double) -> Double {
        let n = inputs.count
        var k = Self.covariance(inputs, distances, [x, x], [z1, z2], hyperparameters, kernel)  // [n, 2]
        let prior = Self.covariance([x], [z1], [x], [z2], hyperparameters, kernel)[0]
        LinearAlgebra.lowerSolve(factor, n: n, &k, columns: 2)
        var q = 0.0
        for i in 0..<n { q += k[i * 2] * k[i * 2 + 1] }
        return prior - q
    }

    /// What a noisy observation of x at distance z is worth to its target score g(x), as `measure` counts.
    public func worth(at x: [Double], distance z: Double, as measure: FidelityWorth) -> Double {
        measure.value(targetVariance: posteriorCovariance(x, 0, 0), observedVariance: posteriorCovariance(x, z, z),
                      covariance: posteriorCovariance(x, 0, z), noise: hyperparameters.noiseVariance(atDistance: z))
    }

    /// The log marginal likelihood and its gradient with respect to `Hyperparameters.vector`
    /// (the same formulas as `GaussianProcess.logMarginalLikelihood`, with ∂K through the modulation).
    public static func logMarginalLikelihood(inputs: [[Double]], distances: [Double], targets: [Double], hyperparameters h: Hyperparameters,
                                             kernel: GaussianProcess.Kernel = .matern52) -> (value: Double, gradient: [Double])? {
        guard let gp = MultiFidelityGP(inputs: inputs, distances: distances, targets: targets, hyperparameters: h, kernel: kernel) else {
            return nil
        }
        let n = inputs.count, d = h.base.logLengthscales.count
        var fit = 0.0, logDet = 0.0
        for i in 0..<n { fit += (targets[i] - h.base.mean) * gp.alpha[i]; logDet += log(gp.factor[i * n + i]) }
        let value = -0.5 * fit - logDet - 0.5 * Double(n) * log(2 * Double.pi)
        let kinv = LinearAlgebra.inverseFromCholesky(gp.factor, n: n)
        var grad = [Double](repeating: 0, count: h.vector.count)
        let noise = exp(h.base.logNoiseVariance), beta = exp(h.logBiasRatio), q = exp(h.logPower)
        let rho = h.logCheapNoiseRatio.map { exp($0) } ?? 0
        var lengthscaleGradient = [Double](repeating: 0, count: d)
        for i in 0..<n {
            for j in 0...i {
                let hw = 0.5 * (i == j ? 1.0 : 2.0) * (gp.alpha[i] * gp.alpha[j] - kinv[i * n + j])
                let base = GaussianProcess.kernelValue(inputs[i], inputs[j], h.base, kernel, gradient: &lengthscaleGradient)
                let zz = distances[i] * distances[j]
                let bias = zz > 0 ? beta * pow(zz, q) : 0
                for t in 0..<d { grad[t] += hw * lengthscaleGradient[t] * (1 + bias) }
                grad[d] += hw * base * (1 + bias)                        // ∂K/∂log σ² = K
                if i == j {
                    grad[d + 1] += hw * noise * (1 + rho * distances[i])      // ∂K/∂log σₙ² = diag σₙ²(zᵢ)
                    if h.logCheapNoiseRatio != nil { grad[d + 5] += hw * noise * rho * distances[i] }  // ∂K/∂log ρ
                }
                grad[d + 3] += hw * base * bias                          // ∂K/∂log β
                if zz > 0 { grad[d + 4] += hw * base * bias * q * log(zz) }  // ∂K/∂log q
            }
        }
        grad[d + 2] = gp.alpha.reduce(0, +)                              // ∂ℓ/∂μ
        return (value, grad)
    }
}

extension MultiFidelityGP {
    /// Priors on the two fidelity hyperparameters, in log space, added to `GPFit`'s:
    /// - log β ~ N(log 0.25, 1): a cheap run's bias is expected to be smaller than the spread of
    ///   scores across configurations (else the cheap fidelity would be useless), but not negligible
    ///   (the measured sst2-autopeft rankings disagree across fidelities).
    /// - log q ~ N(log 2, 0.5²): the bias fades faster than linearly towards the target, as
    ///   BoTorch's downsampling kernel assumes with its power 1 + δ, δ ≥ 0.
    /// - log ρ ~ N(0, 1.5²) (with a noise per fidelity): a cheap run is expected to scatter about
    ///   twice as much as a target run (ρ = 1 at the cheapest: half the rows, a noisier estimate of
    ///   the same dev score), and the width lets the data say anything from 1.05 to 20 times.
    /// Bounds: β ∈ [1e-4, 10], q ∈ [0.5, 8], ρ ∈ [1e-3, 1e3].
    static func logPrior(_ v: [Double], cheapNoise: Bool = false) -> (value: Double, gradient: [Double]) {
        let tail = cheapNoise ? 1 : 0
        let (baseValue, baseGradient) = GPFit.logPrior(Array(v.dropLast(2 + tail)))
        let zb = (v[v.count - 2 - tail] - log(0.25)) / 1, zq = (v[v.count - 1 - tail] - log(2.0)) / 0.5
        var value = baseValue - 0.5 * zb * zb - 0.5 * zq * zq, gradient = baseGradient + [-zb / 1, -zq / 0.5]
        if cheapNoise {
            let zr = v[v.count - 1] / 1.5
            value -= 0.5 * zr * zr
            gradient.append(-zr / 1.5)
        }
        return (value, gradient)
    }

    static func bounds(dimensions d: Int, cheapNoise: Bool = false) -> (lower: [Double], upper: [Double]) {
        let (lo, hi) = GPFit.bounds(dimensions: d)
        return (lo + [log(1e-4), log(0.5)] + (cheapNoise ? [log(1e-3)] : []), hi + [log(10.0), log(8.0)] + (cheapNoise ? [log(1e3)] : []))
    }

    /// The maximum a posteriori hyperparameters (log marginal likelihood + log prior) by L-BFGS
    /// from the best `polished` of a default start, `extraStarts` and seeded random starts, as
    /// `GPFit.fit` does for the single-fidelity GP.
    public static func fit(inputs: [[Double]], distances: [Double], targets: [Double], kernel: GaussianProcess.Kernel = .matern52,
                           restarts: Int = 3, seed: UInt64 = 0, maxIterations: Int = 60, extraStarts: [[Double]] = [],
                           polished: Int = 2, cheapNoise: Bool = false) -> (Hyperparameters, Double) {
        let d = inputs.first?.count ?? 0
        let (lo, hi) = bounds(dimensions: d, cheapNoise: cheapNoise)
        func objective(_ v: [Double]) -> (Double, [Double])? {
            guard let (l, g) = logMarginalLikelihood(inputs: inputs, distances: distances, targets: targets,
                                                     hyperparameters: .init(vector: v, cheapNoise: cheapNoise), kernel: kernel) else { return nil }
            let p = logPrior(v, cheapNoise: cheapNoise)
            return (-(l + p.value), zip(g, p.gradient).map { -($0 + $1) })
        }
        let start = Hyperparameters(base: .init(dimensions: d, lengthscale: 0.5, noiseVariance: 1e-3),
                                    cheapNoiseRatio: cheapNoise ? 1 : nil).vector
        let (best, value) = GPFit.minimise(objective, lower: lo, upper: hi,
                                           starts: [start] + extraStarts.filter { $0.count == start.count },
                                           randomStarts: 3 * restarts, seed: seed, maxIterations: maxIterations, polished: polished)
        return (.init(vector: best, cheapNoise: cheapNoise), -value)
    }
}
