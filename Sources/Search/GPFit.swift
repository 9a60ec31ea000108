import JSONKit
import Space
import Foundation

/// Fits a GP's hyperparameters by maximising the log marginal likelihood plus log-priors with
/// L-BFGS (projected onto bounds), from the best of a default start, warm starts and seeded
/// random starts.
///
/// Priors (targets standardised by the caller), in log space: log ℓᵢ ~ N(0, 1.5²) (lengthscales
/// around the unit cube's size), log σ² ~ N(0, 1), log σₙ² ~ N(−4, 2²), μ ~ N(0, 1).
///
/// Why the noise prior: σₙ² is a share of the scores' variance across the study's configurations
/// (the targets are standardised). One training seed's sd is 0.003-0.006 on SST-2 at 4000 × 3 while
/// a union space's scores spread by 0.03-0.1, so a run's noise is about 1-4% of that variance;
/// e⁻⁴ ≈ 0.018 sits there, and an sd of 2 in log space lets the data say anything from a noiseless
/// synthetic problem (e⁻⁸) to a space where noise is all there is (e⁰). The observations then decide:
/// replicates of one configuration (`Study.replicateProposal`) pin it down most directly.
/// Bounds: ℓ ∈ [0.01, 20], σ² ∈ [0.05, 20], σₙ² ∈ [1e-8, 1], μ ∈ [−3, 3].
public enum GPFit {
    static func logPrior(_ v: [Double]) -> (value: Double, gradient: [Double]) {
        let d = v.count - 3
        var value = 0.0, g = [Double](repeating: 0, count: v.count)
        func gauss(_ i: Int, _ mu: Double, _ sd: Double) { let z = (v[i] - mu) / sd; value -= 0.5 * z * z; g[i] = -z / sd }
        for i in 0..<d { gauss(i, 0, 1.5) }
        gauss(d, 0, 1)
        gauss(d + 1, -4, 2)
        gauss(d + 2, 0, 1)
        return (value, g)
    }

    static func bounds(dimensions d: Int) -> (lower: [Double], upper: [Double]) {
        (Array(repeating: log(0.01), count: d) + [log(0.05), log(1e-8), -3],
         Array(repeating: log(20.0), count: d) + [log(20.0), 0, 3])
    }

    /// The best hyperparameters found and their objective (log marginal likelihood + log prior).
    public static func fit(inputs: [[Double]], targets: [Double], kernel: GaussianProcess.Kernel = .matern52,
                           restarts: Int = 3, seed: UInt64 = 0, maxIterations: Int = 60,
                           extraStarts: [[Double]] = [], polished: Int = 2) -> (GaussianProcess.Hyperparameters, Double) {
        let d = inputs.first?.count ?? 0
        let (lo, hi) = bounds(dimensions: d)
        func objective(_ v: [Double]) -> (Double, [Double])? {
            guard let (l, g) = GaussianProcess.logMarginalLikelihood(inputs: inputs, targets: targets,
                                                                     hyperparameters: .init(vector: v), kernel: kernel) else { return nil }
            let p = logPrior(v)
            return (-(l + p.value), zip(g, p.gradient).map { -($0 + $1) })
        }
        let start = GaussianProcess.Hyperparameters(dimensions: d, lengthscale: 0.5, noiseVariance: 1e-3).vector
        let (best, value) = minimise(objective, lower: lo, upper: hi, starts: [start] + extraStarts.filter { $0.count == d + 3 },
                                     randomStarts: 3 * restarts, seed: seed, maxIterations: maxIterations, polished: polished)
        return (.init(vector: best), -value)
    }

    /// The best point L-BFGS finds from the given starts and `randomStarts` seeded uniform ones in
    /// the bounds, and its value. Every start is scored once and L-BFGS runs from the best
    /// `polished` of them: most of a fit's cost is the line searches, and poor starts rarely win.
    static func minimise(_ objective: ([Double]) -> (Double, [Double])?, lower lo: [Double], upper hi: [Double], starts given: [[Double]],
                         randomStarts: Int, seed: UInt64, maxIterations: Int, polished: Int) -> ([Double], Double) {
        var starts = given
        var random = SplitMix64(seed: seed &+ 0x9E37_79B9_7F4A_7C15)
        for _ in 0..<randomStarts { starts.append(zip(lo, hi).map { $0 + ($1 - $0) * random.unit() }) }
        let scored = starts.compactMap { s in objective(s).map { (s, $0.0) } }.sorted { $0.1 < $1.1 }
        var best = starts[0], bestValue = Double.infinity
        for (s, _) in scored.prefix(polished) {
            if let (v, f) = LBFGS.minimize(objective, start: s, lower: lo, upper: hi, maxIterations: maxIterations,
                                           maxEvaluations: 4 * maxIterations), f < bestValue {
                best = v
                bestValue = f
            }
        }
        return (best, bestValue)
    }
}

/// Limited-memory BFGS (m = 8) with a weak Wolfe line search, projected onto box bounds.
public enum LBFGS {
    public static func minimize(_ objective: ([Double]) -> (Double, [Double])?, start: [Double], lower: [Double], upper: [Double],
                                maxIterations: Int = 100, maxEvaluations: Int = .max, memory: Int = 8) -> ([Double], Double)? {
        var evaluations = 0
        func f(_ x: [Double]) -> (Double, [Double])? { evaluations += 1; return objective(x) }
        func project(_ x: [Double]) -> [Double] { zip(zip(x, lower), upper).map { min(max($0.0, $0.1), $1) } }
        var x = project(start)
        guard var (fx, g) = f(x) else { return nil }
        var ss: [[Double]] = [], ys: [[Double]] = []
        var slow = 0
        for _ in 0..<maxIterations where evaluations < maxEvaluations {
            if projectedGradientNorm(x: x, g: g, lower: lower, upper: upper) < 1e-8 { break }
            var dir = direction(gradient: g, ss: ss, ys: ys)
            if dot(dir, g) >= 0 { dir = g.map { -$0 }; ss = []; ys = [] }
            guard let found = lineSearch(f, x: x, fx: fx, g: g, direction: dir, project: project,
                                         evaluationsLeft: { maxEvaluations - evaluations }) else {
                // Retry once along steepest descent with a fresh memory before giving up.
                if ss.isEmpty { break }
                ss = []; ys = []
                continue
            }
            let s = zip(found.x, x).map { $0 - $1 }, y = zip(found.g, g).map { $0 - $1 }
            if dot(s, y) > 1e-12 {
                ss.append(s); ys.append(y)
                if ss.count > memory { ss.removeFirst(); ys.removeFirst() }
            }
            let improvement = fx - found.v
            x = found.x; fx = found.v; g = found.g
            slow = improvement < 1e-12 * max(1, abs(fx)) ? slow + 1 : 0
            if slow >= 3 { break }
        }
        return (x, fx)
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    /// The largest gradient component not pinned by a bound: 0 at a (bounded) stationary point.
    static func projectedGradientNorm(x: [Double], g: [Double], lower: [Double], upper: [Double]) -> Double {
        var pg = 0.0
        for i in x.indices {
            let atLower = x[i] <= lower[i] && g[i] > 0, atUpper = x[i] >= upper[i] && g[i] < 0
            if !atLower && !atUpper { pg = max(pg, abs(g[i])) }
        }
        return pg
    }

    /// −H g by the two-loop recursion over the stored pairs (s, y), scaled by sᵀy / yᵀy.
    static func direction(gradient g: [Double], ss: [[Double]], ys: [[Double]]) -> [Double] {
        var q = g
        var alphas: [Double] = []
        for (s, y) in zip(ss, ys).reversed() {
            let rho = 1 / dot(y, s)
            let a = rho * dot(s, q)
            alphas.append(a)
            q = zip(q, y).map { $0 - a * $1 }
        }
        if let s = ss.last, let y = ys.last {
            let gamma = dot(s, y) / max(y.reduce(0) { $0 + $1 * $1 }, 1e-300)
            q = q.map { $0 * gamma }
        }
        for ((s, y), a) in zip(zip(ss, ys), alphas.reversed()) {
            let rho = 1 / dot(y, s)
            let b = rho * dot(y, q)
            q = zip(q, s).map { $0 + (a - b) * $1 }
        }
        return q.map { -$0 }
    }

    /// Weak Wolfe line search by bisection and expansion: sufficient decrease (c₁ = 1e-4) and
    /// curvature (c₂ = 0.9), so that accepted pairs have sᵀy > 0 and carry curvature. The last
    /// point with sufficient decrease is kept if the curvature condition is never met; nil when
    /// no point decreases enough.
    static func lineSearch(_ f: ([Double]) -> (Double, [Double])?, x: [Double], fx: Double, g: [Double], direction dir: [Double],
                           project: ([Double]) -> [Double], evaluationsLeft: () -> Int) -> (x: [Double], v: Double, g: [Double])? {
        let slope0 = dot(g, dir)
        var t = 1.0, lowT = 0.0, highT = Double.infinity
        var found: (x: [Double], v: Double, g: [Double])?
        for _ in 0..<50 where evaluationsLeft() > 0 {
            let xt = project(zip(x, dir).map { $0 + t * $1 })
            if let (v, gv) = f(xt), v.isFinite {
                let decrease = dot(g, zip(xt, x).map { $0 - $1 })
                if v > fx + 1e-4 * decrease {
                    highT = t
                } else {
                    found = (xt, v, gv)
                    if dot(gv, dir) < 0.9 * slope0 { lowT = t } else { break }
                }
            } else {
                highT = t
            }
            t = highT.isFinite ? (lowT + highT) / 2 : 2 * t
            if highT - lowT < 1e-14 * max(1, t) || t > 1e8 { break }
        }
        return found
    }
}
