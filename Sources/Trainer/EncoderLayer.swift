import Space

/// One BERT layer (post-LayerNorm) with the PEFT modules attached to it and saved activations.
///
/// Shapes, N = B·T tokens, H hidden, I intermediate, P prefix length:
///   x [N, H] → q, k, v [N, H] (k, v scaled at their scale sites)
///   → with a prefix, keys/values [B·(P+T), H] = [prefix; k] per row
///   → ctx [N, H] → ao [N, H] (attention.output.dense, dropped in place)
///   res1 = ao + x → h1 = LN1(res1) → inter [N, I] → g = GELU(inter) (scaled at the feed-forward site) [N, I]
///   → fo [N, H] (output.dense, dropped) → fo += each sublayer adapter (reading fo, or h1)
///   res2 = fo + h1 → out = LN2(res2) [N, H]
/// Beside each of the six linear maps, attached modules add to its output; any bias and LayerNorm
/// shift may be replaced by a trainable one (`LayerAttachments`).
public final class EncoderLayer: AdapterHost {
    public let index: Int
    let w: LayerWeights
    let config: BertConfig
    /// The PEFT modules attached to this layer, by site (`TrainerMethod`s attach them).
    var attachments = LayerAttachments()
    /// The prefix prepended to this layer's keys and values, if any.
    var prefix: LayerPrefix? { attachments.prefix }

    // Saved activations (grow-only; sized for the largest batch seen).
    var q = GrowableBuffer(), k = GrowableBuffer(), v = GrowableBuffer()
    var probs = GrowableBuffer(), dropped = GrowableBuffer()
    let attnMask = MaskBuffer()
    var ctx = GrowableBuffer(), ao = GrowableBuffer(), res1 = GrowableBuffer(), h1 = GrowableBuffer()
    let aoMask = MaskBuffer(), foMask = MaskBuffer()
    var mean1 = GrowableBuffer(), rstd1 = GrowableBuffer(), mean2 = GrowableBuffer(), rstd2 = GrowableBuffer()
    var inter = GrowableBuffer(), g = GrowableBuffer(), fo = GrowableBuffer(), res2 = GrowableBuffer()
    private var trainingPass = false
    /// When set (sensitivity scoring), every linear map's weight gradient is computed and its
    /// square accumulated, even though the weights are frozen.
    var sensitivity: SensitivityAccumulator?
    /// Backward passes run through this layer since it was built: backward stops at the lowest
    /// trainable layer, and a test checks that by counting here.
    private(set) var backwardPasses = 0

    init(index: Int, weights: LayerWeights, config: BertConfig) {
        self.index = index
        self.w = weights
        self.config = config
    }

    func weights(_ t: LinearTarget) -> LinearWeights { w.linear(t) }
    func frozenLinear(_ target: LinearTarget) -> LinearWeights { w.linear(target) }
    func frozenBias(_ site: BiasSite) -> FloatBuffer? { w.bias(site) }

    private func linear(_ target: LinearTarget, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                        n: Int, block: ParameterBlock, training: Bool, rng: inout RandomSource) {
        let lw = weights(target)
        Linear.forward(out: out, inp: inp, weight: attachments.weight(target, frozen: lw.weight.pointer),
                       bias: attachments.bias(BiasSite(target), frozen: lw.bias, block: block), rows: n,
                       inFeatures: lw.inFeatures, outFeatures: lw.outFeatures)
        for m in attachments.linear[target] ?? [] { m.forward(y: out, x: inp, rows: n, block: block, training: training, rng: &rng) }
    }

    private func linearBackward(_ target: LinearTarget, dout: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>?, accumulate: Bool, n: Int, block: ParameterBlock) {
        let lw = weights(target)
        attachments.linearBiasBackward(target, dout: dout, rows: n, columns: lw.outFeatures, block: block)
        sensitivity?.accumulate(layer: index, target: target, dout: dout, x: x, rows: n, inFeatures: lw.inFeatures,
                                outFeatures: lw.outFeatures)
        if let dx {
            Linear.backwardInput(dinp: dx, dout: dout, weight: attachments.weight(target, frozen: lw.weight.pointer), rows: n,
                                 inFeatures: lw.inFeatures, outFeatures: lw.outFeatures, accumulate: accumulate)
        }
        for m in attachments.linear[target] ?? [] { m.backward(dy: dout, x: x, dx: dx, rows: n, block: block) }
    }

    /// Runs the layer on x [B·T, H], writing out [B·T, H].
    func forward(x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, keyValid: UnsafePointer<Float>,
                 batch B: Int, length T: Int, block: ParameterBlock, training: Bool, rng: inout RandomSource) {
        let H = config.hiddenSize, I = config.intermediateSize, N = B * T, P = prefix?.length ?? 0
        let shape = AttentionShape(batch: B, queries: T, keys: T + P, heads: config.heads, headDim: config.headDim)
        trainingPass = training
        let pHidden = training ? config.hiddenDropout : 0
        let pAttn = training ? config.attentionDropout : 0

        let qp = q.ensure(N * H), kp = k.ensure(N * H), vp = v.ensure(N * H)
        linear(.query, out: qp, inp: x, n: N, block: block, training: training, rng: &rng)
        linear(.key, out: kp, inp: x, n: N, block: block, training: training, rng: &rng)
        linear(.value, out: vp, inp: x, n: N, block: block, training: training, rng: &rng)
        attachments.scales[.key]?.forward(kp, rows: N, block: block)
        attachments.scales[.value]?.forward(vp, rows: N, block: block)
        var keys = UnsafePointer(kp), values = UnsafePointer(vp), valid = keyValid
        if attachments.prefix != nil {
            attachments.prefix!.forward(k: kp, v: vp, keyValid: keyValid, batch: B, length: T, hidden: H)
            let p = attachments.prefix!
            keys = UnsafePointer(p.keys.pointer); values = UnsafePointer(p.values.pointer)
            valid = UnsafePointer(p.valid.pointer)
        }

        let pp = probs.ensure(shape.probsCount)
        let dp = dropped.ensure(pAttn > 0 ? shape.probsCount : 1)
        let cp = ctx.ensure(N * H)
        Attention.forward(ctx: cp, probs: pp, dropped: dp, mask: pAttn > 0 ? attnMask.ensure(shape.probsCount) : nil,
                          q: qp, k: keys, v: values, keyValid: valid, shape: shape, dropout: pAttn, rng: &rng)

        let aop = ao.ensure(N * H)
        linear(.attentionOutput, out: aop, inp: cp, n: N, block: block, training: training, rng: &rng)
        if pHidden > 0 { Dropout.forward(out: aop, inp: aop, mask: aoMask.ensure(N * H), count: N * H, p: pHidden, rng: &rng) }
        let r1 = res1.ensure(N * H)
        for j in 0..<(N * H) { r1[j] = aop[j] + x[j] }
        let h1p = h1.ensure(N * H)
        let beta1 = attachments.bias(.attentionNorm, frozen: w.attentionNorm.beta, block: block)
        LayerNorm.forward(out: h1p, mean: mean1.ensure(N), rstd: rstd1.ensure(N), inp: r1, gamma: w.attentionNorm.gamma.pointer,
                          beta: beta1, rows: N, channels: H, eps: config.layerNormEps)

        let ip = inter.ensure(N * I), gp = g.ensure(N * I)
        linear(.intermediate, out: ip, inp: h1p, n: N, block: block, training: training, rng: &rng)
        GELU.forward(out: gp, inp: ip, count: N * I)
        attachments.scales[.feedforward]?.forward(gp, rows: N, block: block)
        let fop = fo.ensure(N * H)
        linear(.output, out: fop, inp: gp, n: N, block: block, training: training, rng: &rng)
        if pHidden > 0 { Dropout.forward(out: fop, inp: fop, mask: foMask.ensure(N * H), count: N * H, p: pHidden, rng: &rng) }
        for a in attachments.sublayerAdapters { a.forward(x: a.readsSublayerInput ? h1p : fop, y: fop, rows: N, block: block) }
        let r2 = res2.ensure(N * H)
        for j in 0..<(N * H) { r2[j] = fop[j] + h1p[j] }
        let beta2 = attachments.bias(.outputNorm, frozen: w.outputNorm.beta, block: block)
        LayerNorm.forward(out: out, mean: mean2.ensure(N), rstd: rstd2.ensure(N), inp: r2, gamma: w.outputNorm.gamma.pointer,
                          beta: beta2, rows: N, channels: H, eps: config.layerNormEps)
    }

    /// Backward through the layer. `dout` [N, H] is the gradient of the output; on return,
    /// when `dx` is non-nil it holds the gradient of the input x (written, not accumulated).
    /// Parameter gradients of this layer's modules are accumulated into `block`.
    func backward(dout: UnsafePointer<Float>, x: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                  batch B: Int, length T: Int, block: ParameterBlock, scratch s: inout BackwardScratch) {
        backwardPasses += 1
        let H = config.hiddenSize, I = config.intermediateSize, N = B * T, P = prefix?.length ?? 0
        let shape = AttentionShape(batch: B, queries: T, keys: T + P, heads: config.heads, headDim: config.headDim)
        let pHidden = trainingPass ? config.hiddenDropout : 0
        let pAttn = trainingPass ? config.attentionDropout : 0

        // out = LN2(res2), res2 = fo + h1, fo = drop(dense(g)) (+ each sublayer adapter)
        let dres2 = s.a.ensure(N * H)
        LayerNorm.backward(dinp: dres2, dgamma: nil, dbeta: attachments.biasGradient(.outputNorm, block: block), dout: dout,
                           inp: res2.pointer, mean: mean2.pointer, rstd: rstd2.pointer, gamma: w.outputNorm.gamma.pointer,
                           rows: N, channels: H)
        let dh1 = s.b.ensure(N * H)
        dh1.update(from: dres2, count: N * H)
        let dfo = dres2
        for a in attachments.sublayerAdapters.reversed() {
            a.backward(dy: dfo, dx: a.readsSublayerInput ? dh1 : dfo, rows: N, block: block)
        }
        if pHidden > 0 { Dropout.backward(dinp: dfo, dout: dfo, mask: foMask.pointer, count: N * H, p: pHidden) }
        let dg = s.c.ensure(N * I)
        linearBackward(.output, dout: dfo, x: g.pointer, dx: dg, accumulate: false, n: N, block: block)
        attachments.scales[.feedforward]?.backward(dg, rows: N, block: block)
        GELU.backward(dinp: dg, inp: inter.pointer, dout: dg, count: N * I)
        linearBackward(.intermediate, dout: dg, x: h1.pointer, dx: dh1, accumulate: true, n: N, block: block)
        // h1 = LN1(res1), res1 = drop(ao) + x
        let dres1 = s.a.pointer
        LayerNorm.backward(dinp: dres1, dgamma: nil, dbeta: attachments.biasGradient(.attentionNorm, block: block), dout: dh1,
                           inp: res1.pointer, mean: mean1.pointer, rstd: rstd1.pointer, gamma: w.attentionNorm.gamma.pointer,
                           rows: N, channels: H)
        if let dx { dx.update(from: dres1, count: N * H) }
        let dao = dres1
        if pHidden > 0 { Dropout.backward(dinp: dao, dout: dao, mask: aoMask.pointer, count: N * H, p: pHidden) }
        let dctx = s.b.pointer
        linearBackward(.attentionOutput, dout: dao, x: ctx.pointer, dx: dctx, accumulate: false, n: N, block: block)
        // attention (keys and values include the prefix rows when there is one)
        let dq = s.q.ensure(N * H), dk = s.k.ensure(N * H), dv = s.v.ensure(N * H)
        let prefix = attachments.prefix, hasPrefix = prefix != nil
        let dkf = hasPrefix ? s.kFull.ensure(B * (P + T) * H) : dk, dvf = hasPrefix ? s.vFull.ensure(B * (P + T) * H) : dv
        Attention.backward(dq: dq, dk: dkf, dv: dvf, dctx: dctx, probs: probs.pointer, dropped: dropped.pointer,
                           mask: pAttn > 0 ? attnMask.pointer : nil, q: q.pointer,
                           k: prefix?.keys.pointer ?? k.pointer, v: prefix?.values.pointer ?? v.pointer,
                           shape: shape, dropout: pAttn, scratch: s.attn.ensure(Attention.scratchCount(shape)))
        prefix?.backward(dKeys: dkf, dValues: dvf, dkRows: dk, dvRows: dv, batch: B, length: T, hidden: H)
        attachments.scales[.key]?.backward(dk, rows: N, block: block)
        attachments.scales[.value]?.backward(dv, rows: N, block: block)
        // q, k, v = x W{q,k,v}ᵀ + b (+ LoRA); dx already holds the residual path's gradient.
        for (t, d) in [(LinearTarget.query, dq), (.key, dk), (.value, dv)] {
            linearBackward(t, dout: d, x: x, dx: dx, accumulate: true, n: N, block: block)
        }
    }
}

/// Gradient buffers shared by all layers' backward passes.
struct BackwardScratch {
    var a = GrowableBuffer(), b = GrowableBuffer(), c = GrowableBuffer()
    var q = GrowableBuffer(), k = GrowableBuffer(), v = GrowableBuffer()
    var kFull = GrowableBuffer(), vFull = GrowableBuffer()
    var attn = GrowableBuffer()
}
