import Foundation

/// Multi-head scaled dot-product attention with a key padding mask, an optional causal mask,
/// grouped-query heads, and dropout on the probabilities.
///
/// Shapes (row-major, head h owns columns h·D ..< (h+1)·D of a [*, H] row, H = heads·D):
///   q [B·Tq, H], k, v [B·Tk, Hkv]    keyValid [B·Tk] (1 = real token, 0 = padding)
///   Hkv = kvHeads·D; query head h reads key/value head h / (heads / kvHeads) (grouped-query
///   attention; kvHeads = heads is multi-head attention)
///   causal: query i sees keys j ≤ i + (Tk − Tq), so keys before the queries (a prefix) are all seen
///   probs [B, heads, Tq, Tk]         softmax(q kᵀ/√D + mask), saved for backward
///   mask  [B, heads, Tq, Tk]         dropout keep bytes (only when p > 0)
///   ctx   [B·Tq, H]                  dropout(probs) · v
/// Backward (with P = probs, Pd = dropout(P)):
///   dv = Pdᵀ dctx;  dPd = dctx vᵀ;  dP = dropout'(dPd);  dS = P ⊙ (dP − rowsum(dP ⊙ P))
///   dq = dS k / √D;  dk = dSᵀ q / √D      (written, not accumulated; a key/value head sums
///   over the query heads of its group, in head order). Masked probabilities are exactly 0, so
///   their dS is 0 and backward needs no mask.
public struct AttentionShape {
    public var batch: Int, queries: Int, keys: Int, heads: Int, headDim: Int
    public var kvHeads: Int
    public var causal: Bool
    public var hidden: Int { heads * headDim }
    public var kvHidden: Int { kvHeads * headDim }
    /// Query heads per key/value head.
    public var group: Int { heads / kvHeads }
    public var probsCount: Int { batch * heads * queries * keys }
    public init(batch: Int, queries: Int, keys: Int, heads: Int, headDim: Int, kvHeads: Int? = nil, causal: Bool = false) {
        self.batch = batch; self.queries = queries; self.keys = keys; self.heads = heads; self.headDim = headDim
        self.kvHeads = kvHeads ?? heads
        self.causal = causal
        precondition(self.kvHeads > 0 && heads % self.kvHeads == 0, "query heads must be a multiple of key/value heads")
    }

    /// The keys query row i may see: all, or the causal prefix.
    @inline(__always)
    func visibleKeys(_ i: Int) -> Int { causal ? min(keys, keys - queries + i + 1) : keys }
}

public enum Attention {
    /// Floats of backward scratch: one Tq×Tk block per worker.
    public static func scratchCount(_ s: AttentionShape) -> Int {
        let units = s.batch * s.kvHeads
        return s.queries * s.keys * Parallel.workerCount(units, parts: units)
    }

    public static func forward(ctx: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                               dropped: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<UInt8>?,
                               q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                               keyValid: UnsafePointer<Float>, shape s: AttentionShape,
                               dropout p: Float, rng: inout RandomSource) {
        let H = s.hidden, Hkv = s.kvHidden, D = s.headDim, Tq = s.queries, Tk = s.keys
        let scale = 1 / Float(D).squareRoot()
        // Each (b, h) draws its dropout mask from its own stream, so masks do not depend on threading.
        let streamBase = rng.next()
        let pairs = s.batch * s.heads
        // One block per (b, h) pair: each pair's calls are the same whoever runs it.
        Parallel.forBlocks(pairs, parts: pairs) { _, block in
            for pair in block {
                let b = pair / s.heads, h = pair % s.heads, kh = h / s.group
                let valid = keyValid + b * Tk
                var rng = RandomSource(seed: streamBase &+ UInt64(pair) &* 0x9E37_79B9_7F4A_7C15)
                let P = probs + ((b * s.heads + h) * Tq) * Tk
                let qb = q + b * Tq * H + h * D, kb = k + b * Tk * Hkv + kh * D, vb = v + b * Tk * Hkv + kh * D
                BLAS.gemm(transA: false, transB: true, m: Tq, n: Tk, k: D, alpha: scale, a: qb, lda: H, b: kb, ldb: Hkv, c: P, ldc: Tk)
                for i in 0..<Tq { maskedSoftmax(row: P + i * Tk, valid: valid, count: Tk, visible: s.visibleKeys(i)) }
                var src = UnsafePointer(P)
                if p > 0, let mask {
                    let off = ((b * s.heads + h) * Tq) * Tk
                    Dropout.forward(out: dropped + off, inp: P, mask: mask + off, count: Tq * Tk, p: p, rng: &rng)
                    src = UnsafePointer(dropped + off)
                }
                BLAS.gemm(transA: false, transB: false, m: Tq, n: D, k: Tk, a: src, lda: Tk, b: vb, ldb: Hkv,
                          c: ctx + b * Tq * H + h * D, ldc: H)
            }
        }
    }

    /// `scratch` needs `scratchCount(shape)` floats (Tq·Tk per worker thread).
    public static func backward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                dctx: UnsafePointer<Float>, probs: UnsafePointer<Float>, dropped: UnsafePointer<Float>,
                                mask: UnsafePointer<UInt8>?, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                shape s: AttentionShape, dropout p: Float, scratch: UnsafeMutablePointer<Float>) {
        let H = s.hidden, Hkv = s.kvHidden, D = s.headDim, Tq = s.queries, Tk = s.keys
        let scale = 1 / Float(D).squareRoot()
        // One block per (b, key/value head): its query heads add into its dk and dv in head order.
        let units = s.batch * s.kvHeads
        Parallel.forBlocks(units, parts: units) { w, block in
            let dP = scratch + w * Tq * Tk   // fully written by the gemm below before it is read
            for unit in block {
                let b = unit / s.kvHeads, kh = unit % s.kvHeads
                let colK = b * Tk * Hkv + kh * D
                for h in (kh * s.group)..<((kh + 1) * s.group) {
                    let off = ((b * s.heads + h) * Tq) * Tk
                    let P = probs + off
                    let Pd = (p > 0 && mask != nil) ? dropped + off : P
                    let colQ = b * Tq * H + h * D
                    let dc = dctx + colQ
                    let into: Float = h == kh * s.group ? 0 : 1
                    BLAS.gemm(transA: true, transB: false, m: Tk, n: D, k: Tq, a: Pd, lda: Tk, b: dc, ldb: H, beta: into,
                              c: dv + colK, ldc: Hkv)
                    BLAS.gemm(transA: false, transB: true, m: Tq, n: Tk, k: D, a: dc, lda: H, b: v + colK, ldb: Hkv, c: dP, ldc: Tk)
                    if p > 0, let mask { Dropout.backward(dinp: dP, dout: dP, mask: mask + off, count: Tq * Tk, p: p) }
                    for i in 0..<Tq {
                        let pr = P + i * Tk, dr = dP + i * Tk
                        var dot: Float = 0
                        for j in 0..<Tk { dot += pr[j] * dr[j] }
                        for j in 0..<Tk { dr[j] = pr[j] * (dr[j] - dot) }
                    }
                    BLAS.gemm(transA: false, transB: false, m: Tq, n: D, k: Tk, alpha: scale, a: dP, lda: Tk, b: k + colK, ldb: Hkv,
                              c: dq + colQ, ldc: H)
                    BLAS.gemm(transA: true, transB: false, m: Tk, n: D, k: Tq, alpha: scale, a: dP, lda: Tk, b: q + colQ, ldb: H,
                              beta: into, c: dk + colK, ldc: Hkv)
                }
            }
        }
    }
}

/// In-place softmax of one score row over the keys with `valid[j] != 0` among the first
/// `visible`; the others get exactly 0.
@inline(__always)
func maskedSoftmax(row: UnsafeMutablePointer<Float>, valid: UnsafePointer<Float>, count n: Int, visible: Int) {
    let m = min(visible, n)
    softmaxOverValid(row: row, valid: valid, count: m)
    if m < n { (row + m).update(repeating: 0, count: n - m) }
}

@inline(__always)
private func softmaxOverValid(row: UnsafeMutablePointer<Float>, valid: UnsafePointer<Float>, count n: Int) {
    var mx = -Float.infinity
    for j in 0..<n where valid[j] != 0 { mx = max(mx, row[j]) }
    var sum = Vec16()
    var j = 0
    while j < n {
        let m = min(16, n - j)
        let v = Vec16.load(valid + j, count: m)
        let e = vexp(Vec16.load(row + j, count: m) - mx).replacing(with: 0, where: v .== 0)
        e.store(row + j, count: m)
        sum += e
        j += 16
    }
    let inv = 1 / sum.sum()
    for j in 0..<n { row[j] *= inv }
}
