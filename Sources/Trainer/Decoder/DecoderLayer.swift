/// One Llama-family block (pre-RMSNorm) with its saved activations.
///
/// Shapes, N = B·T tokens, H hidden, Q = heads·D query columns, K = kvHeads·D key/value columns,
/// I intermediate:
///   x [N, H] → n1 = RMSNorm(x) → q [N, Q], k, v [N, K] → rotary turn of q and k at positions first + t
///   → ctx [N, Q] = causal grouped-query attention → ao [N, H] (o_proj) → r1 = x + ao
///   → n2 = RMSNorm(r1) → gate, up [N, I] → s = silu(gate) ⊙ up → d [N, H] (down_proj) → out = r1 + d
/// No dropout: Llama-family configs train with none.
public final class DecoderLayer {
    public let index: Int
    let w: DecoderLayerWeights
    let config: DecoderConfig
    let rotary: RotaryEmbedding

    var n1 = GrowableBuffer(), rstd1 = GrowableBuffer(), q = GrowableBuffer(), k = GrowableBuffer(), v = GrowableBuffer()
    var probs = GrowableBuffer(), ctx = GrowableBuffer(), r1 = GrowableBuffer()
    var n2 = GrowableBuffer(), rstd2 = GrowableBuffer(), gate = GrowableBuffer(), up = GrowableBuffer(), s = GrowableBuffer()
    private var first = 0

    /// Dequantized tiles of a quantized base, shared by the model's blocks.
    let tiles: SharedBuffer

    init(index: Int, weights: DecoderLayerWeights, config: DecoderConfig, rotary: RotaryEmbedding, tiles: SharedBuffer) {
        self.index = index
        self.w = weights
        self.config = config
        self.rotary = rotary
        self.tiles = tiles
    }

    func shape(batch B: Int, length T: Int) -> AttentionShape {
        AttentionShape(batch: B, queries: T, keys: T, heads: config.heads, headDim: config.headDim, kvHeads: config.kvHeads,
                       causal: true)
    }

    private func linear(_ lw: LinearWeights, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows n: Int) {
        lw.forward(out: out, inp: inp, rows: n, scratch: &tiles.buffer)
    }

    private func linearBackward(_ lw: LinearWeights, dout: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, rows n: Int,
                                accumulate: Bool) {
        lw.backwardInput(dinp: dx, dout: dout, rows: n, accumulate: accumulate, scratch: &tiles.buffer)
    }

    /// Runs the block on x [B·T, H], writing out [B·T, H]; token t of each row sits at position
    /// `first + t`, and `keyValid` [B·T] marks real tokens (right padding).
    func forward(x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, keyValid: UnsafePointer<Float>,
                 batch B: Int, length T: Int, first: Int) {
        let c = config, H = c.hiddenSize, I = c.intermediateSize, N = B * T
        let shape = shape(batch: B, length: T)
        self.first = first
        let n1p = n1.ensure(N * H)
        RMSNorm.forward(out: n1p, rstd: rstd1.ensure(N), inp: x, gamma: w.attentionNorm.pointer, rows: N, channels: H,
                        eps: c.rmsNormEps)
        let qp = q.ensure(N * c.queryWidth), kp = k.ensure(N * c.kvWidth), vp = v.ensure(N * c.kvWidth)
        linear(w.query, out: qp, inp: n1p, rows: N)
        linear(w.key, out: kp, inp: n1p, rows: N)
        linear(w.value, out: vp, inp: n1p, rows: N)
        rotary.forward(qp, batch: B, length: T, heads: c.heads, first: first)
        rotary.forward(kp, batch: B, length: T, heads: c.kvHeads, first: first)
        let cp = ctx.ensure(N * c.queryWidth)
        var unused = RandomSource(seed: 0)
        Attention.forward(ctx: cp, probs: probs.ensure(shape.probsCount), dropped: probs.pointer, mask: nil, q: qp, k: kp, v: vp,
                          keyValid: keyValid, shape: shape, dropout: 0, rng: &unused)
        let r1p = r1.ensure(N * H)
        linear(w.attentionOutput, out: r1p, inp: cp, rows: N)
        for j in 0..<(N * H) { r1p[j] += x[j] }
        let n2p = n2.ensure(N * H)
        RMSNorm.forward(out: n2p, rstd: rstd2.ensure(N), inp: r1p, gamma: w.mlpNorm.pointer, rows: N, channels: H, eps: c.rmsNormEps)
        let gp = gate.ensure(N * I), up_ = up.ensure(N * I), sp = s.ensure(N * I)
        linear(w.gate, out: gp, inp: n2p, rows: N)
        linear(w.up, out: up_, inp: n2p, rows: N)
        SwiGLU.forward(out: sp, gate: gp, up: up_, count: N * I)
        linear(w.down, out: out, inp: sp, rows: N)
        for j in 0..<(N * H) { out[j] += r1p[j] }
    }

    /// The gradient of the block's input x from `dout` [N, H], written into `dx`.
    func backward(dout: UnsafePointer<Float>, x: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                  batch B: Int, length T: Int, scratch sc: inout DecoderScratch) {
        let c = config, H = c.hiddenSize, I = c.intermediateSize, N = B * T
        let shape = shape(batch: B, length: T)
        // out = r1 + down(s): dr1 = dout + RMSNorm'(gate' + up')
        let ds = sc.wide.ensure(N * I)
        linearBackward(w.down, dout: dout, dx: ds, rows: N, accumulate: false)
        let dgate = sc.gate.ensure(N * I), dup = sc.up.ensure(N * I)
        SwiGLU.backward(dgate: dgate, dup: dup, dout: ds, gate: gate.pointer, up: up.pointer, count: N * I)
        let dn2 = sc.a.ensure(N * H)
        linearBackward(w.gate, dout: dgate, dx: dn2, rows: N, accumulate: false)
        linearBackward(w.up, dout: dup, dx: dn2, rows: N, accumulate: true)
        let dr1 = sc.b.ensure(N * H)
        RMSNorm.backward(dinp: dr1, dgamma: nil, dout: dn2, inp: r1.pointer, rstd: rstd2.pointer, gamma: w.mlpNorm.pointer,
                         rows: N, channels: H)
        for j in 0..<(N * H) { dr1[j] += dout[j] }
        // r1 = x + o_proj(ctx)
        let dctx = sc.q.ensure(N * c.queryWidth)
        linearBackward(w.attentionOutput, dout: dr1, dx: dctx, rows: N, accumulate: false)
        let dq = sc.dq.ensure(N * c.queryWidth), dk = sc.k.ensure(N * c.kvWidth), dv = sc.v.ensure(N * c.kvWidth)
        Attention.backward(dq: dq, dk: dk, dv: dv, dctx: dctx, probs: probs.pointer, dropped: probs.pointer, mask: nil,
                           q: q.pointer, k: k.pointer, v: v.pointer, shape: shape, dropout: 0,
                           scratch: sc.attention.ensure(Attention.scratchCount(shape)))
        rotary.backward(dq, batch: B, length: T, heads: c.heads, first: first)
        rotary.backward(dk, batch: B, length: T, heads: c.kvHeads, first: first)
        let dn1 = sc.a.pointer
        linearBackward(w.query, dout: dq, dx: dn1, rows: N, accumulate: false)
        linearBackward(w.key, dout: dk, dx: dn1, rows: N, accumulate: true)
        linearBackward(w.value, dout: dv, dx: dn1, rows: N, accumulate: true)
        RMSNorm.backward(dinp: dx, dgamma: nil, dout: dn1, inp: x, rstd: rstd1.pointer, gamma: w.attentionNorm.pointer,
                         rows: N, channels: H)
        for j in 0..<(N * H) { dx[j] += dr1[j] }
    }
}

/// A scratch buffer several objects share (one runs at a time).
final class SharedBuffer {
    var buffer = GrowableBuffer()
}

/// Gradient buffers shared by all decoder blocks' backward passes.
struct DecoderScratch {
    var a = GrowableBuffer(), b = GrowableBuffer(), wide = GrowableBuffer(), gate = GrowableBuffer(), up = GrowableBuffer()
    var q = GrowableBuffer(), dq = GrowableBuffer(), k = GrowableBuffer(), v = GrowableBuffer(), attention = GrowableBuffer()
}
