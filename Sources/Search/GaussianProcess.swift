import Foundation

/// A Gaussian process regression model: constant mean μ, Matérn-5/2 (or RBF) ARD kernel with
/// signal variance σ², and Gaussian noise σₙ².
///
/// Shapes: inputs X [n, d] (in [0, 1]^d by the space's encoding), targets y [n] (standardised by
/// the caller). With K = k(X, X) + σₙ² I = L Lᵀ and α = K⁻¹(y − μ):
///   posterior mean  m(x) = μ + k(x, X) α
///   posterior var   v(x) = σ² − ‖L⁻¹ k(X, x)‖²            (latent f; add σₙ² for a new y)
///   log marginal likelihood  ℓ = −½ (y − μ)ᵀ α − Σ log Lᵢᵢ − (n/2) log 2π
///   ∂ℓ/∂θ = ½ tr((α αᵀ − K⁻¹) ∂K/∂θ),   ∂ℓ/∂μ = Σ α
/// Hyperparameters are optimised in log space (lengthscales, σ², σₙ²); see `GPFit`.
public struct GaussianProcess: Sendable {
    public enum Kernel: String, Sendable, CaseIterable { case matern52, rbf }

    /// Hyperparameters: log lengthscales (one per input dimension), log σ², log σₙ², μ.
    public struct Hyperparameters: Equatable, Sendable {
        public var logLengthscales: [Double]
        public var logSignalVariance: Double
        public var logNoiseVariance: Double
        public var mean: Double

        public init(dimensions d: Int, lengthscale: Double = 0.5, signalVariance: Double = 1, noiseVariance: Double = 1e-3,
                    mean: Double = 0) {
            logLengthscales = [Double](repeating: log(lengthscale), count: d)
            logSignalVariance = log(signalVariance)
            logNoiseVariance = log(noiseVariance)
            self.mean = mean
        }

        /// Flattened [log ℓ₁…log ℓ_d, log σ², log σₙ², μ].
        public var vector: [Double] { logLengthscales + [logSignalVariance, logNoiseVariance, mean] }

        public init(vector v: [Double]) {
            logLengthscales = Array(v.dropLast(3))
            logSignalVariance = v[v.count - 3]
            logNoiseVariance = v[v.count - 2]
            mean = v[v.count - 1]
        }
    }

    public let kernel: Kernel
    public let inputs: [[Double]]
    public let targets: [Double]
    public let hyperparameters: Hyperparameters
    let factor: [Double]      // L [n, n]
    let alpha: [Double]       // K⁻¹ (y − μ) [n]
    /// Jitter added to K's diagonal to factorise it (0 when none was needed).
    public let jitter: Double

    /// Conditions the GP on data; nil when K cannot be factorised (non-finite data).
    public init?(inputs: [[Double]], targets: [Double], hyperparameters h: Hyperparameters, kernel: Kernel = .matern52) {
        guard let (l, a, jitter) = LinearAlgebra.condition(
            covariance: GaussianProcess.covariance(inputs, inputs, h, kernel), n: inputs.count,
            noise: exp(h.logNoiseVariance), targets: targets, mean: h.mean) else { return nil }
        self.kernel = kernel
        self.inputs = inputs
        self.targets = targets
        hyperparameters = h
        factor = l
        alpha = a
        self.jitter = jitter
    }

    /// k(a, b) for one pair, and its derivative with respect to each log lengthscale.
    @inline(__always)
    static func kernelValue(_ a: [Double], _ b: [Double], _ h: Hyperparameters, _ kind: Kernel,
                            gradient: UnsafeMutablePointer<Double>? = nil) -> Double {
        let s2 = exp(h.logSignalVariance)
        var r2 = 0.0
        for i in a.indices {
            let d = (a[i] - b[i]) / exp(h.logLengthscales[i])
            r2 += d * d
        }
        switch kind {
        case .rbf:
            let k = s2 * exp(-0.5 * r2)
            if let g = gradient {
                // ∂k/∂log ℓᵢ = k · dᵢ²
                for i in a.indices { let d = (a[i] - b[i]) / exp(h.logLengthscales[i]); g[i] = k * d * d }
            }
            return k
        case .matern52:
            let r = r2.squareRoot(), s5 = 5.0.squareRoot()
            let e = exp(-s5 * r)
            let k = s2 * (1 + s5 * r + 5 * r2 / 3) * e
            if let g = gradient {
                // dk/dr = −(5/3) σ² r (1 + √5 r) e^(−√5 r);  ∂r/∂log ℓᵢ = −dᵢ²/r
                //   ⇒  ∂k/∂log ℓᵢ = (5/3) σ² (1 + √5 r) e dᵢ²
                let c = (5.0 / 3.0) * s2 * (1 + s5 * r) * e
                for i in a.indices { let d = (a[i] - b[i]) / exp(h.logLengthscales[i]); g[i] = c * d * d }
            }
            return k
        }
    }

    /// k(A, B) [|A|, |B|]. Inverse squared lengthscales are computed once, not per pair.
    static func covariance(_ a: [[Double]], _ b: [[Double]], _ h: Hyperparameters, _ kind: Kernel) -> [Double] {
        let d = h.logLengthscales.count, nb = b.count
        let inv2 = h.logLengthscales.map { exp(-2 * $0) }
        let s2 = exp(h.logSignalVariance), s5 = 5.0.squareRoot()
        var k = [Double](repeating: 0, count: a.count * nb)
        k.withUnsafeMutableBufferPointer { kp in
            for i in a.indices {
                let ai = a[i]
                for j in 0..<nb {
                    let bj = b[j]
                    var r2 = 0.0
                    for t in 0..<d { let df = ai[t] - bj[t]; r2 += df * df * inv2[t] }
                    switch kind {
                    case .rbf: kp[i * nb + j] = s2 * exp(-0.5 * r2)
                    case .matern52:
                        let r = r2.squareRoot()
                        kp[i * nb + j] = s2 * (1 + s5 * r + 5 * r2 / 3) * exp(-s5 * r)
                    }
                }
            }
        }
        return k
    }

    /// Posterior mean and latent variance at each point.
    public func predict(_ points: [[Double]]) -> (mean: [Double], variance: [Double]) {
        let m = points.count
        guard m > 0 else { return ([], []) }
        let ks = GaussianProcess.covariance(inputs, points, hyperparameters, kernel)  // [n, m]
        return Self.posterior(crossCovariance: ks, factor: factor, alpha: alpha, mean: hyperparameters.mean,
                              priorVariance: exp(hyperparameters.logSignalVariance), points: m)
    }

    /// Posterior mean and the latent covariance between the points [m, m] (row-major).
    public func jointPredict(_ points: [[Double]]) -> (mean: [Double], covariance: [Double]) {
        let ks = GaussianProcess.covariance(inputs, points, hyperparameters, kernel)
        return Self.jointPosterior(crossCovariance: ks, priorCovariance: GaussianProcess.covariance(points, points, hyperparameters, kernel),
                                   factor: factor, alpha: alpha, mean: hyperparameters.mean, points: points.count)
    }

    /// m = μ + k(x, X) α and C = k(x, x′) − (L⁻¹ k(X, x))ᵀ (L⁻¹ k(X, x′)), from the cross-covariance
    /// k(X, x) [n, m], the prior covariance k(x, x′) [m, m], the Cholesky factor L and α.
    static func jointPosterior(crossCovariance ks: [Double], priorCovariance: [Double], factor: [Double], alpha: [Double],
                               mean mu: Double, points m: Int) -> (mean: [Double], covariance: [Double]) {
        let n = alpha.count
        var mean = [Double](repeating: mu, count: m)
        for j in 0..<m { for i in 0..<n { mean[j] += ks[i * m + j] * alpha[i] } }
        var v = ks
        LinearAlgebra.lowerSolve(factor, n: n, &v, columns: m)
        var c = priorCovariance
        for a in 0..<m {
            for b in 0..<m {
                var q = 0.0
                for i in 0..<n { q += v[i * m + a] * v[i * m + b] }
                c[a * m + b] -= q
            }
            c[a * m + a] = max(c[a * m + a], 1e-12 * priorCovariance[a * m + a])
        }
        return (mean, c)
    }

    /// m(x) = μ + k(x, X) α and v(x) = k(x, x) − ‖L⁻¹ k(X, x)‖² (floored at 1e-12 k(x, x)), from the
    /// cross-covariance k(X, x) [n, m], the Cholesky factor L and α = K⁻¹(y − μ).
    static func posterior(crossCovariance ks: [Double], factor: [Double], alpha: [Double], mean mu: Double, priorVariance: Double,
                          points m: Int) -> (mean: [Double], variance: [Double]) {
        let n = alpha.count
        var mean = [Double](repeating: mu, count: m)
        for j in 0..<m { for i in 0..<n { mean[j] += ks[i * m + j] * alpha[i] } }
        var v = ks
        LinearAlgebra.lowerSolve(factor, n: n, &v, columns: m)
        var variance = [Double](repeating: priorVariance, count: m)
        for j in 0..<m {
            var q = 0.0
            for i in 0..<n { q += v[i * m + j] * v[i * m + j] }
            variance[j] = max(priorVariance - q, 1e-12 * priorVariance)
        }
        return (mean, variance)
    }

    /// The log marginal likelihood ℓ and its gradient with respect to `Hyperparameters.vector`.
    public static func logMarginalLikelihood(inputs: [[Double]], targets: [Double], hyperparameters h: Hyperparameters,
                                             kernel: Kernel = .matern52) -> (value: Double, gradient: [Double])? {
        guard let gp = GaussianProcess(inputs: inputs, targets: targets, hyperparameters: h, kernel: kernel) else { return nil }
        let n = inputs.count, d = h.logLengthscales.count
        var fit = 0.0
        for i in 0..<n { fit += (targets[i] - h.mean) * gp.alpha[i] }
        var logDet = 0.0
        for i in 0..<n { logDet += log(gp.factor[i * n + i]) }
        let value = -0.5 * fit - logDet - 0.5 * Double(n) * log(2 * Double.pi)
        // W = α αᵀ − K⁻¹, with K⁻¹ from the Cholesky factor (dpotri); W is symmetric, so the loop
        // visits each pair once and counts off-diagonal pairs twice.
        let kinv = LinearAlgebra.inverseFromCholesky(gp.factor, n: n)
        var grad = [Double](repeating: 0, count: d + 3)
        let noise = exp(h.logNoiseVariance), s2 = exp(h.logSignalVariance), s5 = 5.0.squareRoot()
        let inv2 = h.logLengthscales.map { exp(-2 * $0) }
        var dd = [Double](repeating: 0, count: d)
        for i in 0..<n {
            let xi = inputs[i]
            for j in 0...i {
                let xj = inputs[j]
                let w = (i == j ? 1.0 : 2.0) * (gp.alpha[i] * gp.alpha[j] - kinv[i * n + j])
                var r2 = 0.0
                for t in 0..<d { let df = xi[t] - xj[t]; dd[t] = df * df * inv2[t]; r2 += dd[t] }
                let k: Double, c: Double   // ∂k/∂log ℓₜ = c · dₜ²
                switch kernel {
                case .rbf:
                    k = s2 * exp(-0.5 * r2); c = k
                case .matern52:
                    let r = r2.squareRoot(), e = exp(-s5 * r)
                    k = s2 * (1 + s5 * r + 5 * r2 / 3) * e
                    c = (5.0 / 3.0) * s2 * (1 + s5 * r) * e
                }
                let hw = 0.5 * w
                for t in 0..<d { grad[t] += hw * c * dd[t] }
                grad[d] += hw * k                                       // ∂K/∂log σ² = k
                if i == j { grad[d + 1] += hw * noise }                 // ∂K/∂log σₙ² = σₙ² I
            }
        }
        grad[d + 2] = gp.alpha.reduce(0, +)                             // ∂ℓ/∂μ
        return (value, grad)
    }
}
