/// Exact GELU, `x · Φ(x) = ½x(1 + erf(x/√2))`, as HF's "gelu" (erf within 1.5e-7, see `verf`).
///
/// Backward: dinp = dout · (Φ(x) + x·φ(x)), φ the standard normal density (written).
public enum GELU {
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count n: Int) {
        Parallel.forRows((n + 15) / 16, minimum: 1024) { chunks in
        var i = chunks.lowerBound * 16
        while i < min(n, chunks.upperBound * 16) {
            let m = min(16, n - i)
            let x = Vec16.load(inp + i, count: m)
            (0.5 * x * (1 + verf(x * 0.70710678118654752))).store(out + i, count: m)
            i += 16
        }
        }
    }

    public static func backward(dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, dout: UnsafePointer<Float>, count n: Int) {
        Parallel.forRows((n + 15) / 16, minimum: 1024) { chunks in
        var i = chunks.lowerBound * 16
        while i < min(n, chunks.upperBound * 16) {
            let m = min(16, n - i)
            let x = Vec16.load(inp + i, count: m)
            let cdf = 0.5 * (1 + verf(x * 0.70710678118654752))
            let pdf = 0.39894228040143268 * vexp(-0.5 * x * x)
            (Vec16.load(dout + i, count: m) * (cdf + x * pdf)).store(dinp + i, count: m)
            i += 16
        }
        }
    }
}
