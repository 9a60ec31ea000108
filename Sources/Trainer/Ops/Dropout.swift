/// Inverted dropout: keep an element with probability 1 − p and scale it by 1/(1 − p).
///
/// The keep mask is stored as bytes [n] so that backward applies the same mask.
public enum Dropout {
    /// Draws a mask and applies it in place (`x` may equal `out`).
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, mask: UnsafeMutablePointer<UInt8>,
                               count n: Int, p: Float, rng: inout RandomSource) {
        let scale = 1 / (1 - p)
        // Four 16-bit uniforms per 64-bit draw: keep when u ≥ p·65536 (resolution 1/65536).
        let threshold = UInt64((p * 65536).rounded())
        var i = 0
        while i < n {
            var r = rng.next()
            for _ in 0..<min(4, n - i) {
                let keep: UInt8 = (r & 0xFFFF) >= threshold ? 1 : 0
                mask[i] = keep
                out[i] = keep == 1 ? inp[i] * scale : 0
                r >>= 16
                i += 1
            }
        }
    }

    /// dinp = dout ⊙ mask / (1 − p) (in place allowed).
    public static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, mask: UnsafePointer<UInt8>,
                                count n: Int, p: Float) {
        let scale = 1 / (1 - p)
        for i in 0..<n { dinp[i] = mask[i] == 1 ? dout[i] * scale : 0 }
    }
}

/// A grow-only byte buffer for dropout masks.
public final class MaskBuffer {
    public private(set) var pointer: UnsafeMutablePointer<UInt8>
    public private(set) var capacity: Int
    public init() { pointer = .allocate(capacity: 1); capacity = 1 }
    deinit { pointer.deallocate() }
    public func ensure(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        if n > capacity { pointer.deallocate(); pointer = .allocate(capacity: n); capacity = n }
        return pointer
    }
}
