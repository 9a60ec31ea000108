import Foundation

/// Rotary position embeddings as HF's Llama applies them ("rotate half"): in each head of D
/// columns, column i < D/2 pairs with column i + D/2 and the pair turns by θ = p·base^(−2i/D)
/// at position p:
///   out[i]       = x[i]·cos θ − x[i + D/2]·sin θ
///   out[i + D/2] = x[i + D/2]·cos θ + x[i]·sin θ
/// Backward turns the gradient back by −θ (a rotation's transpose), in place.
/// θ is computed as HF computes it, in float32: base^(−2i/D) in float, times the position in float.
public struct RotaryEmbedding {
    public let headDim: Int
    /// cos θ and sin θ, [positions, D/2].
    let cos: [Float], sin: [Float]
    public let positions: Int

    public init(headDim: Int, base: Double, positions: Int) {
        precondition(headDim % 2 == 0, "rotary embeddings need an even head dimension")
        let half = headDim / 2
        let inverse = (0..<half).map { i in 1 / Float(pow(Float(base), Float(2 * i) / Float(headDim))) }
        var c = [Float](repeating: 0, count: positions * half), s = c
        for p in 0..<positions {
            for i in 0..<half {
                let theta = Double(Float(p) * inverse[i])
                c[p * half + i] = Float(Foundation.cos(theta))
                s[p * half + i] = Float(Foundation.sin(theta))
            }
        }
        self.headDim = headDim
        self.positions = positions
        cos = c
        sin = s
    }

    /// Turns x [B·T, heads·D] in place; row b·T + t sits at position `first + t`.
    public func forward(_ x: UnsafeMutablePointer<Float>, batch B: Int, length T: Int, heads: Int, first: Int) {
        rotate(x, batch: B, length: T, heads: heads, first: first, sign: 1)
    }

    /// The gradient of `forward`'s input from its output's, in place.
    public func backward(_ d: UnsafeMutablePointer<Float>, batch B: Int, length T: Int, heads: Int, first: Int) {
        rotate(d, batch: B, length: T, heads: heads, first: first, sign: -1)
    }

    private func rotate(_ x: UnsafeMutablePointer<Float>, batch B: Int, length T: Int, heads: Int, first: Int, sign: Float) {
        precondition(first + T <= positions, "positions beyond the rotary table")
        let D = headDim, half = D / 2, width = heads * D
        cos.withUnsafeBufferPointer { cosp in sin.withUnsafeBufferPointer { sinp in
            let cs = cosp.baseAddress!, sn = sinp.baseAddress!
            Parallel.forRows(B * T, minimum: 16) { rows in for r in rows {
                let p = first + r % T
                let c = cs + p * half, s = sn + p * half
                for h in 0..<heads {
                    let a = x + r * width + h * D, b = a + half
                    for i in 0..<half {
                        let x1 = a[i], x2 = b[i], si = sign * s[i]
                        a[i] = x1 * c[i] - x2 * si
                        b[i] = x2 * c[i] + x1 * si
                    }
                }
            } }
        } }
    }
}
