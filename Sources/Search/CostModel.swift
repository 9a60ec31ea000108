import Foundation
import Space

/// The price of a trial in journals written before fidelities were priced in examples
/// (`FidelityCost.seconds`; they resume as they began), and, without the module features, the
/// progress line's time left (`Study.trialSeconds`). Seconds a trial will take, fitted to the
/// journal's seconds: a fixed part plus a part per training example, which grows with how deep backward runs (the share of layers from the
/// lowest adapted one up) and with the trainable parameters:
///
///     seconds ≈ β₀ + Δ · (β₁ + β₂ · depth + β₃ · parameters / 10⁶)
///
/// Δ is the examples the trial trains (its fidelity, less what the trial it continues trained).
/// Least squares with a small ridge; with fewer than five trials, seconds per example times Δ.
public struct CostModel: Sendable {
    /// A trial's description as the model reads it.
    public struct Features: Sendable {
        public var examples: Double
        public var depth: Double
        public var parameters: Double
        public init(examples: Double, depth: Double = 1, parameters: Double = 0) {
            self.examples = examples
            self.depth = depth
            self.parameters = parameters
        }
        var row: [Double] { [1, examples, examples * depth, examples * parameters / 1e6] }
    }

    let coefficients: [Double]?
    let secondsPerExample: Double

    /// Fits the samples; with `fitted` false (or fewer than 5 samples), one rate per example.
    public init(samples: [(features: Features, seconds: Double)], fitted: Bool = true) {
        let examples = samples.reduce(0) { $0 + $1.features.examples }, seconds = samples.reduce(0) { $0 + $1.seconds }
        secondsPerExample = examples > 0 ? seconds / examples : 1e-3
        guard fitted, samples.count >= 5 else { coefficients = nil; return }
        // Normal equations (XᵀX + λI) β = Xᵀy, by Cholesky.
        let p = 4
        var xtx = [Double](repeating: 0, count: p * p), xty = [Double](repeating: 0, count: p)
        for s in samples {
            let r = s.features.row
            for i in 0..<p { xty[i] += r[i] * s.seconds; for j in 0..<p { xtx[i * p + j] += r[i] * r[j] } }
        }
        for i in 0..<p { xtx[i * p + i] += 1e-6 * max(xtx[i * p + i], 1) }
        guard let (l, _) = LinearAlgebra.cholesky(xtx, n: p) else { coefficients = nil; return }
        LinearAlgebra.choleskySolve(l, n: p, &xty, columns: 1)
        coefficients = xty.allSatisfy(\.isFinite) ? xty : nil
    }

    /// Whether more examples never cost fewer seconds: no part of the fit is negative. Noisy
    /// seconds (a loaded machine during the cheap trials) can fit a negative rate per example.
    public var isMonotone: Bool { coefficients?.allSatisfy { $0 >= 0 } ?? true }

    /// Predicted seconds (at least a hundredth of the per-example estimate, so costs stay positive).
    public func seconds(_ f: Features) -> Double {
        let floor = 0.01 * secondsPerExample * max(f.examples, 1)
        guard let b = coefficients else { return max(secondsPerExample * f.examples, floor) }
        return max(zip(b, f.row).reduce(0) { $0 + $1.0 * $1.1 }, floor)
    }
}
