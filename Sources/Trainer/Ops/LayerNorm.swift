/// LayerNorm over the last dimension: `out = (x − μ) · rstd · γ + β`, rstd = 1/√(σ² + ε).
///
/// Shapes: inp, out [N, C]; mean, rstd [N] (saved for backward); γ, β [C].
/// Backward: with x̂ = (x − μ)·rstd and g = dout ⊙ γ,
///   dinp = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂))   (written, not accumulated)
///   dγ += Σ_rows dout ⊙ x̂,  dβ += Σ_rows dout        (only when asked)
/// Rows are reduced 16 lanes at a time (float sums do not auto-vectorise).
public enum LayerNorm {
    public static func forward(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                               inp: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                               rows n: Int, channels c: Int, eps: Float) {
        Parallel.forRows(n, minimum: 64) { rows in for i in rows {
            let x = inp + i * c, o = out + i * c
            var s = Vec16()
            var j = 0
            while j < c { let m = min(16, c - j); s += Vec16.load(x + j, count: m); j += 16 }
            let mu = s.sum() / Float(c)
            var v = Vec16()
            j = 0
            while j < c {
                let m = min(16, c - j)
                let d = (Vec16.load(x + j, count: m) - mu).replacing(with: 0, where: laneIndex .>= Int32(m))
                v += d * d
                j += 16
            }
            let r = 1 / (v.sum() / Float(c) + eps).squareRoot()
            j = 0
            while j < c {
                let m = min(16, c - j)
                ((Vec16.load(x + j, count: m) - mu) * r * Vec16.load(gamma + j, count: m) + Vec16.load(beta + j, count: m)).store(o
                    + j, count: m)
                j += 16
            }
            mean[i] = mu
            rstd[i] = r
        } }
    }

    public static func backward(dinp: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>?,
                                dbeta: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                                mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                gamma: UnsafePointer<Float>, rows n: Int, channels c: Int) {
        Parallel.forRows(n, minimum: 64) { rows in for i in rows {
            let x = inp + i * c, d = dout + i * c, dx = dinp + i * c
            let mu = mean[i], r = rstd[i]
            var sg = Vec16(), sgx = Vec16()
            var j = 0
            while j < c {
                let m = min(16, c - j)
                let xh = (Vec16.load(x + j, count: m) - mu) * r
                let g = Vec16.load(d + j, count: m) * Vec16.load(gamma + j, count: m)  // zero past m
                sg += g
                sgx += g * xh
                j += 16
            }
            let mg = sg.sum() / Float(c), mgx = sgx.sum() / Float(c)
            j = 0
            while j < c {
                let m = min(16, c - j)
                let xh = (Vec16.load(x + j, count: m) - mu) * r
                let g = Vec16.load(d + j, count: m) * Vec16.load(gamma + j, count: m)
                (r * (g - mg - xh * mgx)).store(dx + j, count: m)
                j += 16
            }
        } }
        // Parameter gradients sum over rows: one pass, single-threaded, so the order is fixed.
        guard dgamma != nil || dbeta != nil else { return }
        for i in 0..<n {
            let x = inp + i * c, d = dout + i * c, mu = mean[i], r = rstd[i]
            if let dgamma { for j in 0..<c { dgamma[j] += d[j] * (x[j] - mu) * r } }
            if let dbeta { for j in 0..<c { dbeta[j] += d[j] } }
        }
    }
}

/// 0, 1, …, 15: masks the lanes of a partial vector.
let laneIndex = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
