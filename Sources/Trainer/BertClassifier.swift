import JSONKit
import Foundation
import Space

/// A frozen BERT-family encoder, its PEFT modules and a trained head, with explicit backward.
///
/// Only the `ParameterBlock` trains: LoRA matrices and the classifier (`labels × H` + bias).
/// Backward stops at the lowest layer holding a trainable module: below it nothing is computed.
/// Logits [B, labels]; for regression `labels == 1` and the logit is the prediction.
public final class BertClassifier {
    public let weights: BertWeights
    public var config: BertConfig { weights.config }
    public let plan: PEFTPlan
    public let labels: Int
    public let head: HeadInput
    public let block = ParameterBlock()
    public let layers: [EncoderLayer]
    /// The lowest layer whose input gradient chain is needed; `config.layers` when only the head trains.
    public internal(set) var lowestTrainableLayer: Int
    let classifierW: Int, classifierB: Int
    /// The `dense` head's own layer (offsets of its weight [H, H] and bias [H]); nil for the others.
    let denseW: Int?, denseB: Int?

    // Activations: hidden[l] is the input of layer l; hidden[L] the last hidden state [B·T, H].
    var hidden: [GrowableBuffer]
    var embSum = GrowableBuffer(), embMean = GrowableBuffer(), embRstd = GrowableBuffer(), embNormed = GrowableBuffer()
    let embMask = MaskBuffer()
    var features = GrowableBuffer()    // head input after pooling/pooler, before dropout [B, H]
    var featuresD = GrowableBuffer()   // after dropout [B, H]
    let featMask = MaskBuffer()
    var denseIn = GrowableBuffer()     // the dense head's input: the first token after dropout [B, H]
    var densePre = GrowableBuffer()    // the dense layer's output before GELU (ELECTRA's head) [B, H]
    let denseInMask = MaskBuffer()
    public private(set) var logits = GrowableBuffer()  // [B, labels]
    var valid = GrowableBuffer()
    var dHidden = GrowableBuffer(), dHiddenNext = GrowableBuffer()
    var scratch = BackwardScratch()
    var lastBatch = 0, lastLength = 0, lastTraining = false, lastLengths: [Int] = []

    /// The PEFT modules attached to the layers (and the model-level ones), in declaration order.
    let modules: [any PEFTModule]
    /// Prefix tuning's prefixes (flat or through its MLP); nil without prefix tuning.
    var prefixTuning: PrefixTuning? { modules.lazy.compactMap { $0 as? PrefixTuning }.first }

    public init(weights: BertWeights, plan: PEFTPlan, labels: Int, head: HeadInput) throws(TrainerError) {
        let c = weights.config
        do { try plan.validate(for: c.dimensions) } catch { throw .config(error) }
        // A shifted prefix (HF BERT's past positions) and at least [CLS] x [SEP] must fit.
        if let p = plan.prefix, p.positionOffset > c.usablePositions - 3 {
            throw .config(ConfigError(path: "peft.prefix.length", message: "prefix length \(p.length) leaves no room for text: this "
                + "model has \(c.usablePositions) positions for text, so at most \(c.usablePositions - 3)"))
        }
        if head == .pooler && weights.pooler == nil {
            throw .model("head \"pooler\" needs pooler.dense weights, which this checkpoint lacks; use \"cls\" or \"mean\"")
        }
        self.weights = weights
        self.plan = plan
        self.labels = labels
        self.head = head
        layers = weights.layers.enumerated().map { EncoderLayer(index: $0.offset, weights: $0.element, config: c) }
        modules = TrainerMethods.attach(plan, to: layers, dims: c.dimensions, block: block)
        classifierW = block.declare("classifier.weight", shape: [labels, c.hiddenSize])
        classifierB = block.declare("classifier.bias", shape: [labels])
        denseW = head.trainsDenseLayer ? block.declare("classifier.dense.weight", shape: [c.hiddenSize, c.hiddenSize]) : nil
        denseB = head.trainsDenseLayer ? block.declare("classifier.dense.bias", shape: [c.hiddenSize]) : nil
        block.seal()
        for m in modules { m.bind(to: layers, block: block) }
        lowestTrainableLayer = plan.lowestAdaptedLayer(layers: c.layers) ?? c.layers
        hidden = (0...c.layers).map { _ in GrowableBuffer() }
    }

    /// Initialises the trainable block: LoRA as PEFT does (or PiSSA), adapters near identity,
    /// (IA)³ vectors at 1, BitFit biases at their pretrained values, prefixes N(0, 1) as PEFT's
    /// embedding, the classifier N(0, 0.02²) with zero bias as HF does.
    public func initialize(seed: UInt64) throws(TrainerError) {
        let H = config.hiddenSize
        try initializeModules(modules, hosts: layers, block: block, seed: seed) { rng in
            let w = block.value(classifierW)
            for j in 0..<(labels * H) { w[j] = Float(0.02 * rng.nextGaussian()) }
            block.value(classifierB).update(repeating: 0, count: labels)
            if let denseW, let denseB {   // as HF initialises a Linear: N(0, 0.02²), zero bias
                let d = block.value(denseW)
                for j in 0..<(H * H) { d[j] = Float(0.02 * rng.nextGaussian()) }
                block.value(denseB).update(repeating: 0, count: H)
            }
        }
    }

    /// Which ReLU units of the adapters were active in the last forward (see `BottleneckAdapter`).
    public var activationSignature: UInt64 {
        layers.reduce(0) { h, l in
            l.attachments.sublayerAdapters.reduce(h) { ($0 &* 31) ^ $1.activationSignature }
        }
    }

    /// Where token positions start: the family's first position (`BertConfig.positionBase`), after
    /// a shifted prefix (`PrefixSpec.positions`: HF counts a prefix as past tokens, as PEFT does).
    public var positionOffset: Int { config.positionBase + (plan.prefix?.positionOffset ?? 0) }

    /// The count of trainable scalars the trainer allocated (must equal the plan's analytic count).
    public var trainableParameters: Int { block.count }

    /// All parameters: frozen base plus trainable block.
    public var totalParameters: Int {
        let c = config, H = c.hiddenSize, I = c.intermediateSize, E = c.embeddingSize
        let perLayer = 4 * (H * H + H) + (H * I + I) + (I * H + H) + 4 * H
        let base = (c.vocabSize + c.maxPositions + c.typeVocabSize) * E + 2 * E + (E == H ? 0 : E * H + H) + c.layers * perLayer
        return base + (weights.pooler != nil ? H * H + H : 0) + block.count
    }

    /// From now on, backward runs through every layer and accumulates squared weight gradients
    /// of all frozen linear maps into `acc` (SPT scoring).
    public func collectSensitivity(_ acc: SensitivityAccumulator) {
        lowestTrainableLayer = 0
        for l in layers { l.sensitivity = acc }
    }

    /// Forward pass; returns logits [B, labels] (valid until the next call).
    ///
    /// With `cache` (and `rows`, the batch's row indices into it), the embeddings and the
    /// layers below `cache.layer` are skipped: their output comes from the cache.
    @discardableResult
    public func forward(_ batch: TokenBatch, training: Bool, rng: inout RandomSource,
                        cache: FrozenPrefixCache? = nil, rows: [Int] = []) -> UnsafeMutablePointer<Float> {
        let c = config, H = c.hiddenSize, B = batch.batch, T = batch.length, N = B * T
        precondition(T + positionOffset <= c.maxPositions, "batch length exceeds max positions; the data loader truncates")
        precondition(cache.map { $0.layer <= lowestTrainableLayer } ?? true, "a cache above the lowest trainable layer")
        lastBatch = B; lastLength = T; lastTraining = training; lastLengths = batch.lengths
        let vp = valid.ensure(N)
        batch.valid.withUnsafeBufferPointer { vp.update(from: $0.baseAddress!, count: N) }
        for m in modules { m.forward(block: block) }
        let start: Int
        if let cache {
            cache.gather(rows: rows, length: T, into: hidden[cache.layer].ensure(N * H))
            start = cache.layer
        } else {
            embed(batch, training: training, rng: &rng)
            start = 0
        }
        for l in start..<c.layers {
            layers[l].forward(x: hidden[l].pointer, out: hidden[l + 1].ensure(N * H), keyValid: vp, batch: B, length: T,
                              block: block, training: training, rng: &rng)
        }
        return headForward(batch, training: training, rng: &rng)
    }

    /// The hidden states entering layer `layer` [B·T, H], in eval mode (no dropout).
    public func forwardPrefix(_ batch: TokenBatch, upTo layer: Int, rng: inout RandomSource) -> UnsafeMutablePointer<Float> {
        let H = config.hiddenSize, B = batch.batch, T = batch.length, N = B * T
        let vp = valid.ensure(N)
        batch.valid.withUnsafeBufferPointer { vp.update(from: $0.baseAddress!, count: N) }
        embed(batch, training: false, rng: &rng)
        for l in 0..<layer {
            layers[l].forward(x: hidden[l].pointer, out: hidden[l + 1].ensure(N * H), keyValid: vp, batch: B, length: T,
                              block: block, training: false, rng: &rng)
        }
        return hidden[layer].pointer
    }

    /// Embeddings: LN(word + position + type), then dropout in training, then (narrower
    /// embeddings) the projection to the hidden size; writes hidden[0].
    func embed(_ batch: TokenBatch, training: Bool, rng: inout RandomSource) {
        let c = config, H = c.hiddenSize, E = c.embeddingSize, B = batch.batch, T = batch.length, N = B * T
        let pHidden = training ? c.hiddenDropout : 0
        let sum = embSum.ensure(N * E)
        for b in 0..<B {
            for t in 0..<T {
                let row = sum + (b * T + t) * E
                let we = weights.wordEmbeddings.pointer + Int(batch.ids[b * T + t]) * E
                let pe = weights.positionEmbeddings.pointer + (t + positionOffset) * E
                let te = weights.typeEmbeddings.pointer + Int(batch.typeIds[b * T + t]) * E
                for j in 0..<E { row[j] = we[j] + pe[j] + te[j] }
            }
        }
        let projection = weights.embeddingProjection
        let normed = projection == nil ? hidden[0].ensure(N * H) : embNormed.ensure(N * E)
        LayerNorm.forward(out: normed, mean: embMean.ensure(N), rstd: embRstd.ensure(N), inp: sum,
                          gamma: weights.embeddingNorm.gamma.pointer, beta: weights.embeddingNorm.beta.pointer,
                          rows: N, channels: E, eps: c.layerNormEps)
        if pHidden > 0 { Dropout.forward(out: normed, inp: normed, mask: embMask.ensure(N * E), count: N * E, p: pHidden, rng: &rng) }
        if let projection {
            Linear.forward(out: hidden[0].ensure(N * H), inp: normed, weight: projection.weight.pointer, bias: projection.bias.pointer,
                           rows: N, inFeatures: E, outFeatures: H)
        }
    }

    /// Pooling (or the pooler), dropout and the classifier on the last hidden state.
    func headForward(_ batch: TokenBatch, training: Bool, rng: inout RandomSource) -> UnsafeMutablePointer<Float> {
        let c = config, H = c.hiddenSize, B = batch.batch, T = batch.length
        let last = hidden[c.layers].pointer
        let f = features.ensure(B * H)
        switch head {
        case .cls, .pooler, .dense:
            for b in 0..<B { (f + b * H).update(from: last + b * T * H, count: H) }
            if head == .pooler, let p = weights.pooler {
                let pre = featuresD.ensure(B * H)
                Linear.forward(out: pre, inp: f, weight: p.weight.pointer, bias: p.bias.pointer, rows: B, inFeatures: H, outFeatures: H)
                for j in 0..<(B * H) { f[j] = tanhf(pre[j]) }
            }
            if let denseW, let denseB {
                let pDense = training ? (c.classifierDropout ?? c.hiddenDropout) : 0
                let x = denseIn.ensure(B * H)
                if pDense > 0 { Dropout.forward(out: x, inp: f, mask: denseInMask.ensure(B * H), count: B * H, p: pDense, rng: &rng) }
                else { x.update(from: f, count: B * H) }
                if c.family.denseHeadUsesGELU {
                    let pre = densePre.ensure(B * H)
                    Linear.forward(out: pre, inp: x, weight: block.value(denseW), bias: block.value(denseB), rows: B, inFeatures: H,
                                   outFeatures: H)
                    GELU.forward(out: f, inp: pre, count: B * H)
                } else {
                    Linear.forward(out: f, inp: x, weight: block.value(denseW), bias: block.value(denseB), rows: B, inFeatures: H,
                                   outFeatures: H)
                    for j in 0..<(B * H) { f[j] = tanhf(f[j]) }
                }
            }
        case .last:
            for b in 0..<B { (f + b * H).update(from: last + (b * T + max(batch.lengths[b], 1) - 1) * H, count: H) }
        case .mean:
            for b in 0..<B {
                let fr = f + b * H
                fr.update(repeating: 0, count: H)
                let n = batch.lengths[b]
                for t in 0..<n { let r = last + (b * T + t) * H; for j in 0..<H { fr[j] += r[j] } }
                let inv = 1 / Float(max(n, 1))
                for j in 0..<H { fr[j] *= inv }
            }
        }
        let pCls = training ? (c.classifierDropout ?? c.hiddenDropout) : 0
        let fd = featuresD.ensure(B * H)
        if pCls > 0 { Dropout.forward(out: fd, inp: f, mask: featMask.ensure(B * H), count: B * H, p: pCls, rng: &rng) }
        else { fd.update(from: f, count: B * H) }
        let out = logits.ensure(B * labels)
        Linear.forward(out: out, inp: fd, weight: block.value(classifierW), bias: block.value(classifierB),
                       rows: B, inFeatures: H, outFeatures: labels)
        return out
    }

    /// Backward from dlogits [B, labels]; accumulates into `block.grads` (zero them per step).
    public func backward(dlogits: UnsafePointer<Float>) {
        let c = config, H = c.hiddenSize, B = lastBatch, T = lastLength, N = B * T, L = c.layers
        let pCls = lastTraining ? (c.classifierDropout ?? c.hiddenDropout) : 0
        Linear.backwardWeight(dweight: block.grad(classifierW), dbias: block.grad(classifierB), dout: dlogits,
                              inp: featuresD.pointer, rows: B, inFeatures: H, outFeatures: labels)
        guard lowestTrainableLayer < L || head.trainsDenseLayer else { return }
        // d(features) = dlogits · W, through dropout and the pooler/pooling into the last hidden state.
        let df = scratch.c.ensure(B * H)
        Linear.backwardInput(dinp: df, dout: dlogits, weight: block.value(classifierW), rows: B, inFeatures: H,
                             outFeatures: labels, accumulate: false)
        if pCls > 0 { Dropout.backward(dinp: df, dout: df, mask: featMask.pointer, count: B * H, p: pCls) }
        if let denseW, let denseB {   // f = tanh(dense(x)) (or GELU), x = dropout(h[first])
            let f = features.pointer
            if c.family.denseHeadUsesGELU { GELU.backward(dinp: df, inp: densePre.pointer, dout: df, count: B * H) }
            else { for j in 0..<(B * H) { df[j] *= 1 - f[j] * f[j] } }
            Linear.backwardWeight(dweight: block.grad(denseW), dbias: block.grad(denseB), dout: df, inp: denseIn.pointer,
                                  rows: B, inFeatures: H, outFeatures: H)
            guard lowestTrainableLayer < L else { return }
            let dx = scratch.a.ensure(B * H)
            Linear.backwardInput(dinp: dx, dout: df, weight: block.value(denseW), rows: B, inFeatures: H, outFeatures: H,
                                 accumulate: false)
            if pCls > 0 { Dropout.backward(dinp: dx, dout: dx, mask: denseInMask.pointer, count: B * H, p: pCls) }
            df.update(from: dx, count: B * H)
        }
        var dh = dHidden.ensure(N * H)
        dh.update(repeating: 0, count: N * H)
        switch head {
        case .pooler:
            let f = features.pointer
            for j in 0..<(B * H) { df[j] *= 1 - f[j] * f[j] }
            let dcls = scratch.a.ensure(B * H)
            Linear.backwardInput(dinp: dcls, dout: df, weight: weights.pooler!.weight.pointer, rows: B, inFeatures: H,
                                 outFeatures: H, accumulate: false)
            for b in 0..<B { (dh + b * T * H).update(from: dcls + b * H, count: H) }
        case .cls, .dense:
            for b in 0..<B { (dh + b * T * H).update(from: df + b * H, count: H) }
        case .last:
            for b in 0..<B { (dh + (b * T + max(lastLengths[b], 1) - 1) * H).update(from: df + b * H, count: H) }
        case .mean:
            for b in 0..<B {
                let n = lastLengths[b], inv = 1 / Float(max(n, 1))
                for t in 0..<n { let r = dh + (b * T + t) * H; for j in 0..<H { r[j] = df[b * H + j] * inv } }
            }
        }
        var dnext = dHiddenNext.ensure(N * H)
        for l in stride(from: L - 1, through: lowestTrainableLayer, by: -1) {
            let needInput = l > lowestTrainableLayer
            layers[l].backward(dout: dh, x: hidden[l].pointer, dx: needInput ? dnext : nil, batch: B, length: T,
                               block: block, scratch: &scratch)
            swap(&dh, &dnext)
        }
        for m in modules { m.backward(block: block) }
    }
}
