import XCTest
@testable import Trainer

/// Central finite differences against an analytic gradient.
///
/// `loss` recomputes a scalar from the current values of `param` (Float32 forward,
/// Double accumulation). Checks up to `samples` seeded-random coordinates and names
/// the worst one on failure. Tolerance: |a − n| ≤ atol + rtol·|n|. Unless `allowZero`, at least
/// one sampled coordinate must have |n| > 2·atol, so that an analytic gradient of zero (a missing
/// backward) cannot pass within the tolerance.
/// ε is large (2e-2) because in Float32 roundoff dominates below ~1e-2 (measured on the tiny
/// model: at ε = 1e-3 a LoRA gradient was off by 8% from roundoff alone), and Richardson
/// extrapolation removes the truncation error that a large ε would otherwise leave.
func checkGradient(_ name: String, param: UnsafeMutablePointer<Float>, count: Int, analytic: [Float],
                   eps: Float = 2e-2, atol: Double = 5e-4, rtol: Double = 5e-3, samples: Int = 60, allowZero: Bool = false,
                   pattern: (() -> UInt64)? = nil,
                   file: StaticString = #filePath, line: UInt = #line, loss: () -> Double) {
    var rng = RandomSource(seed: 99, stream: name)
    let idx = count <= samples ? Array(0..<count) : (0..<samples).map { _ in Int(rng.next() % UInt64(count)) }
    var worst = (index: -1, analytic: 0.0, numeric: 0.0, excess: -Double.infinity)
    var significant = 0, skipped = 0, largest = 0.0
    for i in idx {
        let old = param[i]
        _ = loss()
        let base = pattern?()
        var crossed = false
        func central(_ h: Float) -> Double {
            param[i] = old + h
            let lp = loss()
            if let base, pattern?() != base { crossed = true }
            param[i] = old - h
            let lm = loss()
            if let base, pattern?() != base { crossed = true }
            param[i] = old
            return (lp - lm) / (Double(old + h) - Double(old - h))
        }
        // Richardson: (4·D(ε/2) − D(ε))/3 cancels the O(ε²) term of the central difference.
        let numeric = (4 * central(eps / 2) - central(eps)) / 3
        // A difference across a ReLU kink measures nothing: skip that coordinate.
        if crossed { skipped += 1; continue }
        let a = Double(analytic[i])
        if abs(numeric) > 2 * atol { significant += 1 }
        largest = max(largest, abs(numeric))
        let excess = abs(a - numeric) - (atol + rtol * abs(numeric))
        if excess > worst.excess { worst = (i, a, numeric, excess) }
    }
    XCTAssertLessThanOrEqual(worst.excess, 0,
        "\(name)[\(worst.index)]: analytic \(worst.analytic) vs numeric \(worst.numeric)", file: file, line: line)
    if !allowZero {
        XCTAssertGreaterThan(significant, 0,
                             "\(name): every sampled gradient is within 2·atol (\(2 * atol)) of zero, (largest \(largest)), so a "
                             + "zero analytic gradient would pass", file: file, line: line)
    }
    XCTAssertLessThanOrEqual(skipped * 2, idx.count, "\(name): \(skipped) of \(idx.count) coordinates crossed a ReLU kink",
                             file: file, line: line)
}

/// A seeded random vector.
func randomFloats(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var rng = RandomSource(seed: seed)
    return (0..<n).map { _ in Float(rng.nextGaussian()) * scale }
}

/// Σ out·w in Double (the scalar whose gradient a backward with dout = w computes).
func dot(_ a: UnsafePointer<Float>, _ w: [Float]) -> Double {
    var s = 0.0
    for i in 0..<w.count { s += Double(a[i]) * Double(w[i]) }
    return s
}
