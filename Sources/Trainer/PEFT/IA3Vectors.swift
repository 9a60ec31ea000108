import Space

/// (IA)³ in one layer: learned vectors that scale keys, values and the FFN's inner activation.
///
/// Shapes: l_k, l_v [H], l_ff [I]; the scaled activation x [N, c] (c = H or I) is kept unscaled
/// in `raw` for backward. Init: every l = 1, so the layer starts unchanged.
/// Forward: x ← x ⊙ l (column-wise). Backward with d [N, c]: dl += Σ_rows d ⊙ raw; d ← d ⊙ l.
struct IA3Vectors {
    /// Offsets of this layer's vectors in the parameter block, by site.
    private(set) var offsets: [IA3Spec.Site: Int] = [:]
    private var widths: [IA3Spec.Site: Int] = [:]
    private var raw: [IA3Spec.Site: GrowableBuffer] = [:]

    /// No vectors: the layer has no (IA)³.
    init() {}

    /// Declares the vectors of `sites` in layer `layer`, named as PEFT names them.
    init(layer: Int, sites: [IA3Spec.Site], dims: ModelDimensions, block: ParameterBlock) {
        for s in sites {
            let n = dims.ia3Parameters(s)
            offsets[s] = block.declare("encoder.layer.\(layer).\(s.modulePath).ia3_l", shape: [n])
            widths[s] = n
            raw[s] = GrowableBuffer()
        }
    }

    /// Sets every vector to 1.
    func initialize(block: ParameterBlock) {
        for (s, off) in offsets { block.value(off).update(repeating: 1, count: widths[s]!) }
    }

    /// Scales `x` [rows, width] by the site's vector, if this layer has one.
    mutating func forward(_ site: IA3Spec.Site, _ x: UnsafeMutablePointer<Float>, rows n: Int, block: ParameterBlock) {
        guard let off = offsets[site], let c = widths[site] else { return }
        let keep = raw[site]!.ensure(n * c)
        keep.update(from: x, count: n * c)
        let l = block.value(off)
        for i in 0..<n { let r = x + i * c; for j in 0..<c { r[j] *= l[j] } }
    }

    /// dl += Σ_rows d ⊙ raw, then d ← d ⊙ l, if this layer has a vector at `site`.
    func backward(_ site: IA3Spec.Site, _ d: UnsafeMutablePointer<Float>, rows n: Int, block: ParameterBlock) {
        guard let off = offsets[site], let c = widths[site] else { return }
        let l = block.value(off), dl = block.grad(off), x0 = raw[site]!.pointer
        for i in 0..<n {
            let r = d + i * c, x = x0 + i * c
            for j in 0..<c { dl[j] += r[j] * x[j]; r[j] *= l[j] }
        }
    }
}
