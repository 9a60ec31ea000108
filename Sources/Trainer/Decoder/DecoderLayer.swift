import Space

/// One Llama-family block (pre-RMSNorm) with its saved activations.
///
/// Shapes, N = B·T tokens, H hidden, Q = heads·D query columns, K = kvHeads·D key/value columns,
/// I intermediate:
///   x [N, H] → n1 = RMSNorm(x) → q [N, Q], k, v [N, K] → rotary turn of q and k at positions first + t
///   → ctx [N, Q] = causal grouped-query attention → ao [N, H] (o_proj) → r1 = x + ao
///   → n2 = RMSNorm(r1) → gate, up [N, I] → s = silu(gate) ⊙ up → d [N, H] (down_proj) → out = r1 + d
/// No dropout: Llama-family configs train with none.
///
/// PEFT modules attach at the sites Llama has (`AdapterHost`): beside q, k, v, o, gate, up and down
/// (`LinearTarget` query, key, value, attentionOutput, gate, intermediate, output), trainable biases
/// where the family has biases (Qwen2's q, k, v), (IA)³ on k, v and the input of down, bottleneck
/// adapters on the feed-forward's output, and a prefix's keys and values before the attention's own
/// (the KV heads' width; positions from 0, or from P when shifted, as HF counts past keys).
public final class DecoderLayer: AdapterHost {
    public let index: Int
    let w: DecoderLayerWeights
    let config: DecoderConfig
    let rotary: RotaryEmbedding
    var attachments = LayerAttachments()

    /// The block's own activations, kept for backward; `saved` is what the last forward wrote into.
    private let own = DecoderActivations()
    private var saved: DecoderActivations
    private var first = 0

    /// Dequantized tiles of a quantized base, shared by the model's blocks.
    let tiles: SharedBuffer

    init(index: Int, weights: DecoderLayerWeights, config: DecoderConfig, rotary: RotaryEmbedding, tiles: SharedBuffer) {
        self.index = index
        self.w = weights
        self.config = config
        self.rotary = rotary
        self.tiles = tiles
        saved = own
    }

    /// The attention's shape: T queries over a prefix's P keys (all seen) and the T causal ones.
    func shape(batch B: Int, length T: Int) -> AttentionShape {
        AttentionShape(batch: B, queries: T, keys: (attachments.prefix?.length ?? 0) + T, heads: config.heads, headDim: config.headDim,
                       kvHeads: config.kvHeads, causal: true)
    }

    /// Llama's maps by the target names: up is `intermediate`, down is `output`.
    func frozenLinear(_ target: LinearTarget) -> LinearWeights {
        switch target {
        case .gate: return w.gate
        case .query: return w.query
        case .key: return w.key
        case .value: return w.value
        case .attentionOutput: return w.attentionOutput
        case .intermediate: return w.up
        case .output: return w.down
        }
    }


    /// A linear map's bias where the family has one; RMSNorm has no shift.
    func frozenBias(_ site: BiasSite) -> FloatBuffer? {
        guard let t = site.linearTarget else { return nil }
        let lw = frozenLinear(t)
        return lw.biasPointer == nil ? nil : lw.bias
    }

    /// y = x Wᵀ + b at `target`, then what is attached beside it adds its output.
    private func linear(_ target: LinearTarget, _ lw: LinearWeights, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                        rows n: Int, block: ParameterBlock, training: Bool, rng: inout RandomSource) {
        let bias = BiasSite(target).flatMap { attachments.biases[$0] }.map { UnsafePointer(block.value($0)) } ?? lw.biasPointer
        if let replaced = attachments.linear[target]?.lazy.compactMap(\.replacementWeight).first {
            Linear.forward(out: out, inp: inp, weight: replaced, bias: bias, rows: n, inFeatures: lw.inFeatures, outFeatures: lw.outFeatures)
        } else {
            lw.forward(out: out, inp: inp, bias: bias, rows: n, scratch: &tiles.buffer)
        }
        for m in attachments.linear[target] ?? [] { m.forward(y: out, x: inp, rows: n, block: block, training: training, rng: &rng) }
    }

    /// The input gradient of a map at `target` (written, or added when `accumulate`), and the
    /// gradients of what is attached there and of a trainable bias.
    private func linearBackward(_ target: LinearTarget, _ lw: LinearWeights, dout: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>, rows n: Int, accumulate: Bool, block: ParameterBlock) {
        attachments.linearBiasBackward(target, dout: dout, rows: n, columns: lw.outFeatures, block: block)
        if let replaced = attachments.linear[target]?.lazy.compactMap(\.replacementWeight).first {
            Linear.backwardInput(dinp: dx, dout: dout, weight: replaced, rows: n, inFeatures: lw.inFeatures, outFeatures: lw.outFeatures,
                                 accumulate: accumulate)
        } else {
            lw.backwardInput(dinp: dx, dout: dout, rows: n, accumulate: accumulate, scratch: &tiles.buffer)
        }
        for m in attachments.linear[target] ?? [] { m.backward(dy: dout, x: x, dx: dx, rows: n, block: block) }
    }

    /// Runs the block on x [B·T, H], writing out [B·T, H]; token t of each row sits at position
    /// `first + t`, and `keyValid` [B·T] marks real tokens (right padding). The activations go to
    /// `scratch` when given (a block backward will not reach, sharing one set with the others),
    /// else to the block's own, which `backward` reads.
    ///
    /// Generation passes `kv`: an empty cache takes the keys and values this call attends to (a
    /// prompt's, after a prefix's); a filled one puts its own before this call's tokens, which sit
    /// at each row's `positions[b]` (one row's slots past its length are marked invalid), and keeps
    /// the lot for the next call.
    func forward(x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, keyValid: UnsafePointer<Float>,
                 batch B: Int, length T: Int, first: Int, block: ParameterBlock, training: Bool, rng: inout RandomSource,
                 scratch: DecoderActivations? = nil, kv: KeyValueCache? = nil, positions: [Int]? = nil) {
        let c = config, H = c.hiddenSize, I = c.intermediateSize, N = B * T
        var shape = shape(batch: B, length: T)
        self.first = first
        let a = scratch ?? own
        saved = a
        let n1p = a.n1.ensure(N * H)
        RMSNorm.forward(out: n1p, rstd: a.rstd1.ensure(N), inp: x, gamma: w.attentionNorm.pointer, rows: N, channels: H,
                        eps: c.rmsNormEps)
        let qp = a.q.ensure(N * c.queryWidth), kp = a.k.ensure(N * c.kvWidth), vp = a.v.ensure(N * c.kvWidth)
        linear(.query, w.query, out: qp, inp: n1p, rows: N, block: block, training: training, rng: &rng)
        linear(.key, w.key, out: kp, inp: n1p, rows: N, block: block, training: training, rng: &rng)
        linear(.value, w.value, out: vp, inp: n1p, rows: N, block: block, training: training, rng: &rng)
        attachments.scales[.key]?.forward(kp, rows: N, block: block)
        attachments.scales[.value]?.forward(vp, rows: N, block: block)
        if let positions {
            for b in 0..<B {
                rotary.forward(qp + b * T * c.queryWidth, batch: 1, length: T, heads: c.heads, first: positions[b])
                rotary.forward(kp + b * T * c.kvWidth, batch: 1, length: T, heads: c.kvHeads, first: positions[b])
            }
        } else {
            rotary.forward(qp, batch: B, length: T, heads: c.heads, first: first)
            rotary.forward(kp, batch: B, length: T, heads: c.kvHeads, first: first)
        }
        // A prefix's keys and values go before the rotated rows as they are (HF's past keys: already
        // in the rotated space), visible to every query.
        var keys = UnsafePointer(kp), values = UnsafePointer(vp), valid = keyValid
        if let cache = kv, cache.slots > 0 {
            cache.append(keys: kp, values: vp, valid: keyValid, batch: B, length: T, width: c.kvWidth)
            shape.keys = cache.slots
            keys = UnsafePointer(cache.keys.pointer); values = UnsafePointer(cache.values.pointer); valid = UnsafePointer(cache.valid.pointer)
        } else {
            if attachments.prefix != nil {
                attachments.prefix!.forward(k: kp, v: vp, keyValid: keyValid, batch: B, length: T, hidden: c.kvWidth)
                let p = attachments.prefix!
                keys = UnsafePointer(p.keys.pointer); values = UnsafePointer(p.values.pointer); valid = UnsafePointer(p.valid.pointer)
            }
            kv?.fill(keys: keys, values: values, valid: valid, batch: B, length: shape.keys, width: c.kvWidth)
        }
        let cp = a.ctx.ensure(N * c.queryWidth)
        var unused = RandomSource(seed: 0)
        Attention.forward(ctx: cp, probs: a.probs.ensure(shape.probsCount), dropped: a.probs.pointer, mask: nil, q: qp, k: keys,
                          v: values, keyValid: valid, shape: shape, dropout: 0, rng: &unused)
        let r1p = a.r1.ensure(N * H)
        linear(.attentionOutput, w.attentionOutput, out: r1p, inp: cp, rows: N, block: block, training: training, rng: &rng)
        for j in 0..<(N * H) { r1p[j] += x[j] }
        let n2p = a.n2.ensure(N * H)
        RMSNorm.forward(out: n2p, rstd: a.rstd2.ensure(N), inp: r1p, gamma: w.mlpNorm.pointer, rows: N, channels: H, eps: c.rmsNormEps)
        let gp = a.gate.ensure(N * I), up_ = a.up.ensure(N * I), sp = a.s.ensure(N * I)
        linear(.gate, w.gate, out: gp, inp: n2p, rows: N, block: block, training: training, rng: &rng)
        linear(.intermediate, w.up, out: up_, inp: n2p, rows: N, block: block, training: training, rng: &rng)
        SwiGLU.forward(out: sp, gate: gp, up: up_, count: N * I)
        attachments.scales[.feedforward]?.forward(sp, rows: N, block: block)
        linear(.output, w.down, out: out, inp: sp, rows: N, block: block, training: training, rng: &rng)
        // Bottleneck adapters add to the feed-forward's output: a serial one reads that output, a
        // parallel one the feed-forward's input (the normed n2), before the residual.
        for m in attachments.sublayerAdapters { m.forward(x: m.readsSublayerInput ? n2p : out, y: out, rows: N, block: block) }
        for j in 0..<(N * H) { out[j] += r1p[j] }
    }

    /// The gradient of the block's input x from `dout` [N, H], written into `dx`.
    func backward(dout: UnsafePointer<Float>, x: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                  batch B: Int, length T: Int, block: ParameterBlock, scratch sc: inout DecoderScratch) {
        let c = config, H = c.hiddenSize, I = c.intermediateSize, N = B * T
        let shape = shape(batch: B, length: T)
        precondition(saved === own, "backward after a forward into shared activations")
        let a = own
        // out = r1 + y, y = down(s) and the adapters on it: dr1 = dout + RMSNorm'(gate' + up' + parallel adapters')
        var dy = dout
        let adapters = attachments.sublayerAdapters
        let dn2Adapters = adapters.contains { $0.readsSublayerInput } ? sc.adapterInput.ensure(N * H) : nil
        if !adapters.isEmpty {
            let d = sc.ffnOutput.ensure(N * H)
            d.update(from: dout, count: N * H)
            dn2Adapters?.update(repeating: 0, count: N * H)
            for m in adapters.reversed() { m.backward(dy: d, dx: m.readsSublayerInput ? dn2Adapters : d, rows: N, block: block) }
            dy = UnsafePointer(d)
        }
        let ds = sc.wide.ensure(N * I)
        linearBackward(.output, w.down, dout: dy, x: a.s.pointer, dx: ds, rows: N, accumulate: false, block: block)
        attachments.scales[.feedforward]?.backward(ds, rows: N, block: block)
        let dgate = sc.gate.ensure(N * I), dup = sc.up.ensure(N * I)
        SwiGLU.backward(dgate: dgate, dup: dup, dout: ds, gate: a.gate.pointer, up: a.up.pointer, count: N * I)
        let dn2 = sc.a.ensure(N * H)
        linearBackward(.gate, w.gate, dout: dgate, x: a.n2.pointer, dx: dn2, rows: N, accumulate: false, block: block)
        linearBackward(.intermediate, w.up, dout: dup, x: a.n2.pointer, dx: dn2, rows: N, accumulate: true, block: block)
        if let e = dn2Adapters { for j in 0..<(N * H) { dn2[j] += e[j] } }
        let dr1 = sc.b.ensure(N * H)
        RMSNorm.backward(dinp: dr1, dgamma: nil, dout: dn2, inp: a.r1.pointer, rstd: a.rstd2.pointer, gamma: w.mlpNorm.pointer,
                         rows: N, channels: H)
        for j in 0..<(N * H) { dr1[j] += dout[j] }
        // r1 = x + o_proj(ctx)
        let dctx = sc.q.ensure(N * c.queryWidth)
        linearBackward(.attentionOutput, w.attentionOutput, dout: dr1, x: a.ctx.pointer, dx: dctx, rows: N, accumulate: false, block: block)
        let dq = sc.dq.ensure(N * c.queryWidth), dk = sc.k.ensure(N * c.kvWidth), dv = sc.v.ensure(N * c.kvWidth)
        // With a prefix, keys and values have P more rows a batch row: their gradients split after.
        let prefix = attachments.prefix, P = prefix?.length ?? 0
        let dkf = prefix == nil ? dk : sc.kFull.ensure(B * (P + T) * c.kvWidth)
        let dvf = prefix == nil ? dv : sc.vFull.ensure(B * (P + T) * c.kvWidth)
        Attention.backward(dq: dq, dk: dkf, dv: dvf, dctx: dctx, probs: a.probs.pointer, dropped: a.probs.pointer, mask: nil,
                           q: a.q.pointer, k: prefix?.keys.pointer ?? a.k.pointer, v: prefix?.values.pointer ?? a.v.pointer,
                           shape: shape, dropout: 0, scratch: sc.attention.ensure(Attention.scratchCount(shape)))
        prefix?.backward(dKeys: dkf, dValues: dvf, dkRows: dk, dvRows: dv, batch: B, length: T, hidden: c.kvWidth)
        rotary.backward(dq, batch: B, length: T, heads: c.heads, first: first)
        rotary.backward(dk, batch: B, length: T, heads: c.kvHeads, first: first)
        attachments.scales[.key]?.backward(dk, rows: N, block: block)
        attachments.scales[.value]?.backward(dv, rows: N, block: block)
        let dn1 = sc.a.pointer
        linearBackward(.query, w.query, dout: dq, x: a.n1.pointer, dx: dn1, rows: N, accumulate: false, block: block)
        linearBackward(.key, w.key, dout: dk, x: a.n1.pointer, dx: dn1, rows: N, accumulate: true, block: block)
        linearBackward(.value, w.value, dout: dv, x: a.n1.pointer, dx: dn1, rows: N, accumulate: true, block: block)
        RMSNorm.backward(dinp: dx, dgamma: nil, dout: dn1, inp: x, rstd: a.rstd1.pointer, gamma: w.attentionNorm.pointer,
                         rows: N, channels: H)
        for j in 0..<(N * H) { dx[j] += dr1[j] }
    }
}

/// A block's forward activations: its own (kept for backward), or one set the blocks backward will
/// not reach share (eval, and the frozen blocks below the lowest trainable one).
final class DecoderActivations {
    var n1 = GrowableBuffer(), rstd1 = GrowableBuffer(), q = GrowableBuffer(), k = GrowableBuffer(), v = GrowableBuffer()
    var probs = GrowableBuffer(), ctx = GrowableBuffer(), r1 = GrowableBuffer()
    var n2 = GrowableBuffer(), rstd2 = GrowableBuffer(), gate = GrowableBuffer(), up = GrowableBuffer(), s = GrowableBuffer()
}

/// One block's keys and values of the tokens generated from so far, [B, slots, K] each and
/// `valid` [B, slots]: a prompt's (with a prefix's before it) and then each step's token.
final class KeyValueCache {
    var keys = GrowableBuffer(), values = GrowableBuffer(), valid = GrowableBuffer()
    private var nextKeys = GrowableBuffer(), nextValues = GrowableBuffer(), nextValid = GrowableBuffer()
    private(set) var slots = 0

    /// Takes `length` keys and values a row as the cache.
    func fill(keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>, valid m: UnsafePointer<Float>, batch B: Int, length: Int,
              width: Int) {
        keys.ensure(B * length * width).update(from: k, count: B * length * width)
        values.ensure(B * length * width).update(from: v, count: B * length * width)
        valid.ensure(B * length).update(from: m, count: B * length)
        slots = length
    }

    /// Puts `length` more keys and values a row after the cached ones.
    func append(keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>, valid m: UnsafePointer<Float>, batch B: Int, length: Int,
                width: Int) {
        let S = slots, next = S + length
        let nk = nextKeys.ensure(B * next * width), nv = nextValues.ensure(B * next * width), nm = nextValid.ensure(B * next)
        for b in 0..<B {
            (nk + b * next * width).update(from: keys.pointer + b * S * width, count: S * width)
            (nk + (b * next + S) * width).update(from: k + b * length * width, count: length * width)
            (nv + b * next * width).update(from: values.pointer + b * S * width, count: S * width)
            (nv + (b * next + S) * width).update(from: v + b * length * width, count: length * width)
            (nm + b * next).update(from: valid.pointer + b * S, count: S)
            (nm + b * next + S).update(from: m + b * length, count: length)
        }
        swap(&keys, &nextKeys); swap(&values, &nextValues); swap(&valid, &nextValid)
        slots = next
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
    var ffnOutput = GrowableBuffer(), adapterInput = GrowableBuffer(), kFull = GrowableBuffer(), vFull = GrowableBuffer()
}
