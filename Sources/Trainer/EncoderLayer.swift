import Space

/// One BERT layer (post-LayerNorm) with its PEFT modules and saved activations.
///
/// Shapes, N = B·T tokens, H hidden, I intermediate:
///   x [N, H] → q, k, v [N, H] → ctx [N, H] → ao [N, H] (attention.output.dense, dropped in place → aoD)
///   res1 = aoD + x → h1 = LN1(res1) [N, H] → inter [N, I] → g = GELU(inter) [N, I]
///   fo [N, H] (output.dense, dropped → foD) → res2 = foD + h1 → out = LN2(res2) [N, H]
public final class EncoderLayer {
    public let index: Int
    let w: LayerWeights
    let config: BertConfig
    /// LoRA modules of this layer, by target.
    public private(set) var lora: [LinearTarget: LoRALinear] = [:]

    // Saved activations (grow-only; sized for the largest batch seen).
    var q = GrowableBuffer(), k = GrowableBuffer(), v = GrowableBuffer()
    var probs = GrowableBuffer(), dropped = GrowableBuffer()
    let attnMask = MaskBuffer()
    var ctx = GrowableBuffer(), ao = GrowableBuffer(), res1 = GrowableBuffer(), h1 = GrowableBuffer()
    let aoMask = MaskBuffer(), foMask = MaskBuffer()
    var mean1 = GrowableBuffer(), rstd1 = GrowableBuffer(), mean2 = GrowableBuffer(), rstd2 = GrowableBuffer()
    var inter = GrowableBuffer(), g = GrowableBuffer(), fo = GrowableBuffer(), res2 = GrowableBuffer()
    private var trainingPass = false

    init(index: Int, weights: LayerWeights, config: BertConfig) {
        self.index = index
        self.w = weights
        self.config = config
    }

    func addLoRA(_ m: LoRALinear) { lora[m.target] = m }

    /// Whether any module of this layer trains.
    public var hasTrainable: Bool { !lora.isEmpty }

    private func linear(_ target: LinearTarget, _ lw: LinearWeights, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                        n: Int, block: ParameterBlock, training: Bool, rng: inout RandomSource) {
        Linear.forward(out: out, inp: inp, weight: lw.weight.pointer, bias: lw.bias.pointer, rows: n,
                       inFeatures: lw.inFeatures, outFeatures: lw.outFeatures)
        lora[target]?.forward(y: out, x: inp, rows: n, block: block, training: training, rng: &rng)
    }

    /// Runs the layer on x [B·T, H], writing out [B·T, H].
    func forward(x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, keyValid: UnsafePointer<Float>,
                 batch B: Int, length T: Int, block: ParameterBlock, training: Bool, rng: inout RandomSource) {
        let H = config.hiddenSize, I = config.intermediateSize, N = B * T
        let shape = AttentionShape(batch: B, queries: T, keys: T, heads: config.heads, headDim: config.headDim)
        trainingPass = training
        let pHidden = training ? config.hiddenDropout : 0
        let pAttn = training ? config.attentionDropout : 0

        let qp = q.ensure(N * H), kp = k.ensure(N * H), vp = v.ensure(N * H)
        linear(.query, w.query, out: qp, inp: x, n: N, block: block, training: training, rng: &rng)
        linear(.key, w.key, out: kp, inp: x, n: N, block: block, training: training, rng: &rng)
        linear(.value, w.value, out: vp, inp: x, n: N, block: block, training: training, rng: &rng)

        let pp = probs.ensure(shape.probsCount)
        let dp = dropped.ensure(pAttn > 0 ? shape.probsCount : 1)
        let cp = ctx.ensure(N * H)
        Attention.forward(ctx: cp, probs: pp, dropped: dp, mask: pAttn > 0 ? attnMask.ensure(shape.probsCount) : nil,
                          q: qp, k: kp, v: vp, keyValid: keyValid, shape: shape, dropout: pAttn, rng: &rng)

        let aop = ao.ensure(N * H)
        linear(.attentionOutput, w.attentionOutput, out: aop, inp: cp, n: N, block: block, training: training, rng: &rng)
        if pHidden > 0 { Dropout.forward(out: aop, inp: aop, mask: aoMask.ensure(N * H), count: N * H, p: pHidden, rng: &rng) }
        let r1 = res1.ensure(N * H)
        for j in 0..<(N * H) { r1[j] = aop[j] + x[j] }
        let h1p = h1.ensure(N * H)
        LayerNorm.forward(out: h1p, mean: mean1.ensure(N), rstd: rstd1.ensure(N), inp: r1, gamma: w.attentionNorm.gamma.pointer,
                          beta: w.attentionNorm.beta.pointer, rows: N, channels: H, eps: config.layerNormEps)

        let ip = inter.ensure(N * I), gp = g.ensure(N * I)
        linear(.intermediate, w.intermediate, out: ip, inp: h1p, n: N, block: block, training: training, rng: &rng)
        GELU.forward(out: gp, inp: ip, count: N * I)
        let fop = fo.ensure(N * H)
        linear(.output, w.output, out: fop, inp: gp, n: N, block: block, training: training, rng: &rng)
        if pHidden > 0 { Dropout.forward(out: fop, inp: fop, mask: foMask.ensure(N * H), count: N * H, p: pHidden, rng: &rng) }
        let r2 = res2.ensure(N * H)
        for j in 0..<(N * H) { r2[j] = fop[j] + h1p[j] }
        LayerNorm.forward(out: out, mean: mean2.ensure(N), rstd: rstd2.ensure(N), inp: r2, gamma: w.outputNorm.gamma.pointer,
                          beta: w.outputNorm.beta.pointer, rows: N, channels: H, eps: config.layerNormEps)
    }

    /// Backward through the layer. `dout` [N, H] is the gradient of the output; on return,
    /// when `dx` is non-nil it holds the gradient of the input x (written, not accumulated).
    /// Parameter gradients of this layer's modules are accumulated into `block`.
    func backward(dout: UnsafePointer<Float>, x: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                  batch B: Int, length T: Int, block: ParameterBlock, scratch s: inout BackwardScratch) {
        let H = config.hiddenSize, I = config.intermediateSize, N = B * T
        let shape = AttentionShape(batch: B, queries: T, keys: T, heads: config.heads, headDim: config.headDim)
        let pHidden = trainingPass ? config.hiddenDropout : 0
        let pAttn = trainingPass ? config.attentionDropout : 0

        // out = LN2(res2), res2 = drop(fo) + h1
        let dres2 = s.a.ensure(N * H)
        LayerNorm.backward(dinp: dres2, dgamma: nil, dbeta: nil, dout: dout, inp: res2.pointer, mean: mean2.pointer,
                           rstd: rstd2.pointer, gamma: w.outputNorm.gamma.pointer, rows: N, channels: H)
        let dh1 = s.b.ensure(N * H)
        dh1.update(from: dres2, count: N * H)
        let dfo = dres2
        if pHidden > 0 { Dropout.backward(dinp: dfo, dout: dfo, mask: foMask.pointer, count: N * H, p: pHidden) }
        // fo = g Woutᵀ (+ LoRA)
        let dg = s.c.ensure(N * I)
        Linear.backwardInput(dinp: dg, dout: dfo, weight: w.output.weight.pointer, rows: N, inFeatures: I, outFeatures: H, accumulate: false)
        lora[.output]?.backward(dy: dfo, x: g.pointer, dx: dg, rows: N, block: block)
        GELU.backward(dinp: dg, inp: inter.pointer, dout: dg, count: N * I)
        // inter = h1 Wiᵀ (+ LoRA)
        Linear.backwardInput(dinp: dh1, dout: dg, weight: w.intermediate.weight.pointer, rows: N, inFeatures: H, outFeatures: I, accumulate: true)
        lora[.intermediate]?.backward(dy: dg, x: h1.pointer, dx: dh1, rows: N, block: block)
        // h1 = LN1(res1), res1 = drop(ao) + x
        let dres1 = s.a.pointer
        LayerNorm.backward(dinp: dres1, dgamma: nil, dbeta: nil, dout: dh1, inp: res1.pointer, mean: mean1.pointer,
                           rstd: rstd1.pointer, gamma: w.attentionNorm.gamma.pointer, rows: N, channels: H)
        if let dx { dx.update(from: dres1, count: N * H) }
        let dao = dres1
        if pHidden > 0 { Dropout.backward(dinp: dao, dout: dao, mask: aoMask.pointer, count: N * H, p: pHidden) }
        // ao = ctx Woᵀ (+ LoRA)
        let dctx = s.b.pointer
        Linear.backwardInput(dinp: dctx, dout: dao, weight: w.attentionOutput.weight.pointer, rows: N, inFeatures: H, outFeatures: H, accumulate: false)
        lora[.attentionOutput]?.backward(dy: dao, x: ctx.pointer, dx: dctx, rows: N, block: block)
        // attention
        let dq = s.q.ensure(N * H), dk = s.k.ensure(N * H), dv = s.v.ensure(N * H)
        Attention.backward(dq: dq, dk: dk, dv: dv, dctx: dctx, probs: probs.pointer, dropped: dropped.pointer,
                           mask: pAttn > 0 ? attnMask.pointer : nil, q: q.pointer, k: k.pointer, v: v.pointer,
                           shape: shape, dropout: pAttn, scratch: s.attn.ensure(Attention.scratchCount(shape)))
        // q, k, v = x W{q,k,v}ᵀ (+ LoRA)
        for (t, d, lw) in [(LinearTarget.query, dq, w.query), (.key, dk, w.key), (.value, dv, w.value)] {
            if let dx { Linear.backwardInput(dinp: dx, dout: d, weight: lw.weight.pointer, rows: N, inFeatures: H, outFeatures: H, accumulate: true) }
            lora[t]?.backward(dy: d, x: x, dx: dx, rows: N, block: block)
        }
    }
}

/// Gradient buffers shared by all layers' backward passes.
struct BackwardScratch {
    var a = GrowableBuffer(), b = GrowableBuffer(), c = GrowableBuffer()
    var q = GrowableBuffer(), k = GrowableBuffer(), v = GrowableBuffer()
    var attn = GrowableBuffer()
}
