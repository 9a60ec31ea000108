import Foundation

/// Exact GELU, `x · Φ(x) = ½x(1 + erf(x/√2))`, as HF's "gelu".
///
/// Backward: dinp = dout · (Φ(x) + x·φ(x)), φ the standard normal density (written).
public enum GELU {
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count n: Int) {
        let s: Float = 0.70710678118654752
        for i in 0..<n { let x = inp[i]; out[i] = 0.5 * x * (1 + erff(x * s)) }
    }

    public static func backward(dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, dout: UnsafePointer<Float>, count n: Int) {
        let s: Float = 0.70710678118654752
        let k: Float = 0.39894228040143268  // 1/√(2π)
        for i in 0..<n {
            let x = inp[i]
            let cdf = 0.5 * (1 + erff(x * s))
            let pdf = k * expf(-0.5 * x * x)
            dinp[i] = dout[i] * (cdf + x * pdf)
        }
    }
}
