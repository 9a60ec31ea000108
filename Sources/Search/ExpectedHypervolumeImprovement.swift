import Foundation

/// Expected hypervolume improvement (all objectives minimised).
public enum ExpectedHypervolumeImprovement {
    /// Exact EHVI for two objectives when the second is known (e.g. trainable parameters) and the
    /// first is Gaussian, f ~ N(mean, sd²).
    ///
    /// Adding (f, c) adds, over the strip c' ∈ [c, r₂], the length max(0, g(c') − f), where
    /// g(c') = min{fᵢ : cᵢ ≤ c'} (r₁ when no front point is that cheap) is the front's staircase.
    /// g is a step function, so I(f) = Σₖ Δcₖ · max(0, gₖ − f), and with z = (g − m)/s,
    /// E[max(0, g − f)] = (g − m) Φ(z) + s φ(z). Exact; O(|front|).
    public static func knownCost(mean m: Double, sd s: Double, cost c: Double, front: [[Double]], reference r: [Double]) -> Double {
        guard c < r[1] else { return 0 }
        let pts = front.filter { $0[0] < r[0] && $0[1] < r[1] }.sorted { $0[1] < $1[1] }
        // Breakpoints of g inside [c, r₂]: the costs of front points above c.
        var edges = [c]
        for p in pts where p[1] > c { edges.append(p[1]) }
        edges.append(r[1])
        var total = 0.0
        for k in 0..<(edges.count - 1) {
            let lo = edges[k], width = edges[k + 1] - lo
            guard width > 0 else { continue }
            let g = pts.filter { $0[1] <= lo }.map { $0[0] }.min() ?? r[0]
            total += width * expectedPositivePart(g - m, s)
        }
        return total
    }

    /// E[max(0, d + s·Z)], Z standard normal: d Φ(d/s) + s φ(d/s) (d⁺ when s = 0).
    static func expectedPositivePart(_ d: Double, _ s: Double) -> Double {
        guard s > 1e-300 else { return max(d, 0) }
        let z = d / s
        let cdf = 0.5 * erfc(-z / 2.0.squareRoot())
        let pdf = exp(-0.5 * z * z) / (2 * Double.pi).squareRoot()
        return d * cdf + s * pdf
    }

    /// Monte-Carlo EHVI for independent Gaussian objectives: the mean, over the given standard-normal
    /// draws z (one row per sample, one column per objective), of HV(front ∪ {m + s ⊙ z}) − HV(front).
    /// Objectives with sd 0 are known exactly.
    public static func monteCarlo(mean: [Double], sd: [Double], front: [[Double]], reference r: [Double], normals: [[Double]]) -> Double {
        let base = Hypervolume.compute(front, reference: r)
        var total = 0.0
        for z in normals {
            let y = zip(zip(mean, sd), z).map { $0.0 + $0.1 * $1 }
            if zip(y, r).contains(where: { $0 >= $1 }) || front.contains(where: { Pareto.dominates($0, y) || $0 == y }) { continue }
            total += Hypervolume.compute(front + [y], reference: r) - base
        }
        return total / Double(max(normals.count, 1))
    }

    /// log EHVI for two independent Gaussian objectives (either may have sd 0, i.e. be known),
    /// exact, in O(|front| log |front|); −∞ when the improvement is exactly zero.
    ///
    /// With the front sorted by the first objective, a₀ = −∞ < a₁ < … < aₙ the front's first
    /// coordinates, aₙ₊₁ = r₁, and hₖ the staircase height over [aₖ, aₖ₊₁) (h₀ = r₂, hₖ = the k-th
    /// point's second coordinate), the improvement of y is Σₖ (aₖ₊₁ − max(y₁, aₖ))⁺ (hₖ − y₂)⁺.
    /// The factors are independent, and E[(b − max(y₁, a))⁺] = ψ₁(b) − ψ₁(a) with
    /// ψ(t) = E[(t − y)⁺] = s·(zΦ(z) + φ(z)), z = (t − m)/s. Computed in log space (as in
    /// LogEHVI) so that far-from-front candidates still rank instead of underflowing to 0.
    public static func logTwoObjective(mean m: [Double], sd s: [Double], front: [[Double]], reference r: [Double]) -> Double {
        let pts = front.filter { $0[0] < r[0] && $0[1] < r[1] }.sorted { $0[0] < $1[0] || ($0[0] == $1[0] && $0[1] < $1[1]) }
        // Keep the staircase: strictly decreasing second coordinate.
        var stairs: [[Double]] = []
        for p in pts where stairs.last.map({ p[1] < $0[1] }) ?? true { stairs.append(p) }
        var terms: [Double] = []
        var prevLog = -Double.infinity            // log ψ₁(a₀) with a₀ = −∞
        for k in 0...stairs.count {
            let b = k < stairs.count ? stairs[k][0] : r[0]
            let h = k == 0 ? r[1] : stairs[k - 1][1]
            let lb = logPsi(b, m[0], s[0])
            let width = logDifference(lb, prevLog)
            prevLog = lb
            let t = width + logPsi(h, m[1], s[1])
            if t > -Double.infinity { terms.append(t) }
        }
        guard let mx = terms.max() else { return -.infinity }
        return mx + log(terms.reduce(0) { $0 + exp($1 - mx) })
    }

    /// log(eᵃ − eᵇ) for a ≥ b (−∞ when equal).
    static func logDifference(_ a: Double, _ b: Double) -> Double {
        guard a > b else { return -.infinity }
        guard b > -Double.infinity else { return a }
        return a + log(-expm1(b - a))
    }

    /// log E[(t − y)⁺] for y ~ N(m, s²).
    static func logPsi(_ t: Double, _ m: Double, _ s: Double) -> Double {
        guard s > 1e-300 else { return t > m ? log(t - m) : -.infinity }
        return log(s) + logH((t - m) / s)
    }

    /// log(zΦ(z) + φ(z)): direct above z = −25 (φ − |z|Φ loses only ~log₁₀(z²) digits there),
    /// the asymptotic series φ(z)/z² · (1 − 3/z² + 15/z⁴ − 105/z⁶ + 945/z⁸ − 10395/z¹⁰) below
    /// (next term ~1e-12 relative at z = −25).
    static func logH(_ z: Double) -> Double {
        if z > -25 {
            let cdf = 0.5 * erfc(-z / 2.0.squareRoot())
            let pdf = exp(-0.5 * z * z) / (2 * Double.pi).squareRoot()
            let v = z * cdf + pdf
            return v > 0 ? log(v) : -.infinity
        }
        let w = 1 / (z * z)
        return -0.5 * z * z - 0.5 * log(2 * Double.pi) + log(w) + log(1 - 3 * w + 15 * w * w - 105 * w * w * w
            + 945 * w * w * w * w - 10395 * w * w * w * w * w)
    }
}
