import Space

/// Sequence classification (or regression, `labels` 1) on a decoder, as HF's
/// `LlamaForSequenceClassification` computes it: `score` (labels × H, no bias) on the normed
/// hidden state of each row's last real token, with the plan's PEFT modules in the blocks. Only
/// the `ParameterBlock` trains: the modules and `score.weight`.
///
/// Backward: dW += dlogitsᵀ · pooled; d(pooled) = dlogits · W goes to each row's last real token,
/// then back through the blocks down to the lowest one holding a module.
public final class DecoderClassifier: SequenceClassifier {
    public let model: DecoderModel
    public let labels: Int
    let scoreWeight: Int
    var pooled = GrowableBuffer(), logitBuffer = GrowableBuffer(), dNormed = GrowableBuffer(), dPooled = GrowableBuffer()
    var lastLengths: [Int] = [], lastLength = 0

    public init(weights: DecoderWeights, plan: PEFTPlan, labels: Int) throws(TrainerError) {
        var offset = 0
        model = try DecoderModel(weights: weights, plan: plan) { block in
            offset = block.declare("score.weight", shape: [labels, weights.config.hiddenSize])
        }
        scoreWeight = offset
        self.labels = labels
    }

    public var block: ParameterBlock { model.block }
    public var trainableParameters: Int { block.count }
    public var totalParameters: Int { model.totalParameters }
    public var hiddenSize: Int { model.config.hiddenSize }
    public var lowestTrainableLayer: Int { model.lowestTrainableLayer }

    /// The modules as `DecoderModel.initialize` sets them, and `score` N(0, 0.02²) as HF initialises a Linear.
    public func initialize(seed: UInt64) throws(TrainerError) {
        try model.initialize(seed: seed)
        var rng = RandomSource(seed: seed, stream: "head")
        let w = block.value(scoreWeight)
        for j in 0..<(labels * model.config.hiddenSize) { w[j] = Float(0.02 * rng.nextGaussian()) }
    }

    /// Logits [B, labels] (valid until the next call); in training, the modules' dropout draws from
    /// `rng`. With `cache`, the blocks below `cache.layer` are skipped (`DecoderModel.forward`).
    @discardableResult
    public func forward(_ batch: TokenBatch, training: Bool, rng: inout RandomSource, cache: FrozenPrefixCache? = nil,
                        rows: [Int] = []) throws(TrainerError) -> UnsafeMutablePointer<Float> {
        let H = model.config.hiddenSize, B = batch.batch, T = batch.length
        // Backward follows a training forward only, down to the lowest block holding a module.
        let h = try model.forward(batch, training: training, rng: &rng, cache: cache, rows: rows,
                                  keepActivationsFrom: training ? model.lowestTrainableLayer : model.config.layers)
        lastLengths = batch.lengths
        lastLength = T
        let p = pooled.ensure(B * H)
        for b in 0..<B { (p + b * H).update(from: h + (b * T + max(batch.lengths[b], 1) - 1) * H, count: H) }
        let out = logitBuffer.ensure(B * labels)
        Linear.forward(out: out, inp: p, weight: block.value(scoreWeight), bias: nil, rows: B, inFeatures: H, outFeatures: labels)
        return out
    }

    public func forwardPrefix(_ batch: TokenBatch, upTo layer: Int) throws(TrainerError) -> UnsafeMutablePointer<Float> {
        try model.forwardPrefix(batch, upTo: layer)
    }

    /// Backward from dlogits [B, labels]; accumulates into `block.grads` (zero them per step).
    public func backward(dlogits: UnsafePointer<Float>) {
        let H = model.config.hiddenSize, B = lastLengths.count, T = lastLength
        Linear.backwardWeight(dweight: block.grad(scoreWeight), dbias: nil, dout: dlogits, inp: pooled.pointer, rows: B, inFeatures: H,
                              outFeatures: labels)
        guard model.lowestTrainableLayer < model.config.layers else { return }
        let dp = dPooled.ensure(B * H)
        Linear.backwardInput(dinp: dp, dout: dlogits, weight: block.value(scoreWeight), rows: B, inFeatures: H, outFeatures: labels,
                             accumulate: false)
        let dn = dNormed.ensure(B * T * H)
        dn.update(repeating: 0, count: B * T * H)
        for b in 0..<B { (dn + (b * T + max(lastLengths[b], 1) - 1) * H).update(from: dp + b * H, count: H) }
        model.backward(dNormed: dn, downTo: model.lowestTrainableLayer)
    }
}
