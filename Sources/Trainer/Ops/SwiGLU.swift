/// Llama's gated feed-forward activation: `out = silu(gate) ⊙ up`, silu(x) = x·σ(x).
///
/// Shapes: gate, up, out [N·I] (elementwise).
/// Backward (written, not accumulated):
///   dup   = dout ⊙ silu(gate)
///   dgate = dout ⊙ up ⊙ σ(gate)·(1 + gate·(1 − σ(gate)))
public enum SwiGLU {
    public static func forward(out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        Parallel.forRows((n + 15) / 16, minimum: 1024) { chunks in
            var i = chunks.lowerBound * 16
            while i < min(n, chunks.upperBound * 16) {
                let m = min(16, n - i)
                let g = Vec16.load(gate + i, count: m)
                (g * sigmoid(g) * Vec16.load(up + i, count: m)).store(out + i, count: m)
                i += 16
            }
        }
    }

    /// `dgate` and `dup` may not alias `dout`; `gate` and `up` are the forward's inputs.
    public static func backward(dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        Parallel.forRows((n + 15) / 16, minimum: 1024) { chunks in
            var i = chunks.lowerBound * 16
            while i < min(n, chunks.upperBound * 16) {
                let m = min(16, n - i)
                let g = Vec16.load(gate + i, count: m), d = Vec16.load(dout + i, count: m)
                let s = sigmoid(g)
                (d * g * s).store(dup + i, count: m)
                (d * Vec16.load(up + i, count: m) * s * (1 + g * (1 - s))).store(dgate + i, count: m)
                i += 16
            }
        }
    }

    /// σ(x) = 1/(1 + e^(−x)) on 16 lanes (`vexp` clamps, so large |x| saturates to 0 or 1).
    @inline(__always)
    static func sigmoid(_ x: Vec16) -> Vec16 { 1 / (1 + vexp(-x)) }
}
