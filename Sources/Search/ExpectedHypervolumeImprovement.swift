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
}
