/// RMSNorm over the last dimension (Llama's): `out = x · rstd · γ`, rstd = 1/√(mean(x²) + ε).
///
/// Shapes: inp, out [N, C]; rstd [N] (saved for backward); γ [C].
/// Backward: with x̂ = x·rstd and g = dout ⊙ γ,
///   dinp = rstd · (g − x̂ · mean(g ⊙ x̂))   (written, not accumulated)
///   dγ  += Σ_rows dout ⊙ x̂                 (only when asked)
/// HF computes the mean of squares in float32 and multiplies by γ after the cast back: the same here.
public enum RMSNorm {
    public static func forward(out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               gamma: UnsafePointer<Float>, rows n: Int, channels c: Int, eps: Float) {
        Parallel.forRows(n, minimum: 64) { rows in for i in rows {
            let x = inp + i * c, o = out + i * c
            var s = Vec16()
            var j = 0
            while j < c { let m = min(16, c - j); let v = Vec16.load(x + j, count: m); s += v * v; j += 16 }
            let r = 1 / (s.sum() / Float(c) + eps).squareRoot()
            j = 0
            while j < c {
                let m = min(16, c - j)
                (Vec16.load(x + j, count: m) * r * Vec16.load(gamma + j, count: m)).store(o + j, count: m)
                j += 16
            }
            rstd[i] = r
        } }
    }

    public static func backward(dinp: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>?,
                                dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                gamma: UnsafePointer<Float>, rows n: Int, channels c: Int) {
        Parallel.forRows(n, minimum: 64) { rows in for i in rows {
            let x = inp + i * c, d = dout + i * c, dx = dinp + i * c, r = rstd[i]
            var sgx = Vec16()
            var j = 0
            while j < c {
                let m = min(16, c - j)
                sgx += Vec16.load(d + j, count: m) * Vec16.load(gamma + j, count: m) * Vec16.load(x + j, count: m) * r
                j += 16
            }
            let mgx = sgx.sum() / Float(c)
            j = 0
            while j < c {
                let m = min(16, c - j)
                let xh = Vec16.load(x + j, count: m) * r
                (r * (Vec16.load(d + j, count: m) * Vec16.load(gamma + j, count: m) - xh * mgx)).store(dx + j, count: m)
                j += 16
            }
        } }
        // The parameter gradient sums over rows: one pass, single-threaded, so the order is fixed.
        guard let dgamma else { return }
        for i in 0..<n {
            let x = inp + i * c, d = dout + i * c, r = rstd[i]
            for j in 0..<c { dgamma[j] += d[j] * x[j] * r }
        }
    }
}
