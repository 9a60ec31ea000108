import Foundation

/// LayerNorm over the last dimension: `out = (x − μ) · rstd · γ + β`, rstd = 1/√(σ² + ε).
///
/// Shapes: inp, out [N, C]; mean, rstd [N] (saved for backward); γ, β [C].
/// Backward: with x̂ = (x − μ)·rstd and g = dout ⊙ γ,
///   dinp = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂))   (written, not accumulated)
///   dγ += Σ_rows dout ⊙ x̂,  dβ += Σ_rows dout        (only when asked)
public enum LayerNorm {
    public static func forward(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                               inp: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                               rows n: Int, channels c: Int, eps: Float) {
        for i in 0..<n {
            let x = inp + i * c
            var s: Float = 0
            for j in 0..<c { s += x[j] }
            let m = s / Float(c)
            var v: Float = 0
            for j in 0..<c { let d = x[j] - m; v += d * d }
            let r = 1 / (v / Float(c) + eps).squareRoot()
            let o = out + i * c
            for j in 0..<c { o[j] = (x[j] - m) * r * gamma[j] + beta[j] }
            mean[i] = m
            rstd[i] = r
        }
    }

    public static func backward(dinp: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>?, dbeta: UnsafeMutablePointer<Float>?,
                                dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                gamma: UnsafePointer<Float>, rows n: Int, channels c: Int) {
        for i in 0..<n {
            let x = inp + i * c, d = dout + i * c, dx = dinp + i * c
            let m = mean[i], r = rstd[i]
            var sg: Float = 0, sgx: Float = 0
            for j in 0..<c {
                let xh = (x[j] - m) * r
                let g = d[j] * gamma[j]
                sg += g
                sgx += g * xh
            }
            sg /= Float(c)
            sgx /= Float(c)
            for j in 0..<c {
                let xh = (x[j] - m) * r
                dx[j] = r * (d[j] * gamma[j] - sg - xh * sgx)
            }
            if let dgamma { for j in 0..<c { dgamma[j] += d[j] * (x[j] - m) * r } }
            if let dbeta { for j in 0..<c { dbeta[j] += d[j] } }
        }
    }
}
