import Foundation
import Space

/// Causal-LM fine-tuning on a decoder, the loss HF's `LlamaForCausalLM` computes with labels:
/// position t predicts token t + 1 through the frozen output head; cross-entropy is averaged
/// over the tokens a batch counts (`LanguageModelingEncoding.counted`). Only the plan's modules
/// train; the head (tied or not, quantized or not) stays frozen.
///
/// Backward: dlogits = (softmax − onehot) / M over the M counted positions, d(normed) = dlogits · W
/// at those positions and 0 elsewhere, then back through the blocks. The head's logits are taken
/// 64 positions at a time, so a batch's [M, vocab] never lives whole.
public final class DecoderLanguageModel: TrainableModel {
    public let model: DecoderModel
    var gathered = GrowableBuffer(), logitRows = GrowableBuffer(), dGathered = GrowableBuffer(), dNormed = GrowableBuffer()
    static let chunk = 64

    public init(weights: DecoderWeights, plan: PEFTPlan) throws(TrainerError) {
        model = try DecoderModel(weights: weights, plan: plan)
    }

    public var block: ParameterBlock { model.block }
    public var hiddenSize: Int { model.config.hiddenSize }
    public var lowestTrainableLayer: Int { model.lowestTrainableLayer }
    public var trainableParameters: Int { block.count }
    public var totalParameters: Int { model.totalParameters }
    public func initialize(seed: UInt64) throws(TrainerError) { try model.initialize(seed: seed) }
    public func forwardPrefix(_ batch: TokenBatch, upTo layer: Int) throws(TrainerError) -> UnsafeMutablePointer<Float> {
        try model.forwardPrefix(batch, upTo: layer)
    }

    /// The loss terms of a batch: summed negative log-likelihood (nats) over `tokens` counted
    /// tokens, and how many of them the head's top logit predicts.
    public struct TokenLoss: Sendable {
        public var negativeLogLikelihood = 0.0
        public var tokens = 0
        public var correct = 0
        public var mean: Double { negativeLogLikelihood / Double(max(tokens, 1)) }
        static func + (a: TokenLoss, b: TokenLoss) -> TokenLoss {
            TokenLoss(negativeLogLikelihood: a.negativeLogLikelihood + b.negativeLogLikelihood, tokens: a.tokens + b.tokens,
                      correct: a.correct + b.correct)
        }
    }

    /// Runs the batch and scores the positions whose next token is counted; `counted` [B·T] marks
    /// the tokens (row-major, as the batch pads). With `backward`, the gradient of the mean over
    /// those tokens accumulates into `block` (a training forward: dropout draws from `rng`).
    public func loss(_ batch: TokenBatch, counted: [Bool], backward: Bool, rng: inout RandomSource, cache: FrozenPrefixCache? = nil,
                     rows: [Int] = []) throws(TrainerError) -> TokenLoss {
        let c = model.config, H = c.hiddenSize, V = c.vocabSize, B = batch.batch, T = batch.length
        let trains = backward && model.lowestTrainableLayer < c.layers
        let h = try model.forward(batch, training: backward, rng: &rng, cache: cache, rows: rows,
                                  keepActivationsFrom: trains ? model.lowestTrainableLayer : c.layers)
        var positions: [Int] = [], targets: [Int] = []
        for b in 0..<B {
            for t in 0..<max(batch.lengths[b] - 1, 0) where counted[b * T + t + 1] {
                positions.append(b * T + t)
                targets.append(Int(batch.ids[b * T + t + 1]))
            }
        }
        var result = TokenLoss()
        result.tokens = positions.count
        guard !positions.isEmpty else { return result }
        let dn = trains ? dNormed.ensure(B * T * H) : nil
        dn?.update(repeating: 0, count: B * T * H)
        let scale = 1 / Double(positions.count)
        for start in stride(from: 0, to: positions.count, by: Self.chunk) {
            let part = start..<min(start + Self.chunk, positions.count), M = part.count
            let g = gathered.ensure(Self.chunk * H), logits = logitRows.ensure(Self.chunk * V)
            for (r, p) in part.enumerated() { (g + r * H).update(from: h + positions[p] * H, count: H) }
            model.logits(g, rows: M, into: logits)
            for (r, p) in part.enumerated() {
                let row = logits + r * V, target = targets[p]
                var best = 0, top = row[0]
                for j in 1..<V where row[j] > top { best = j; top = row[j] }
                var sum = 0.0
                for j in 0..<V { sum += Double(expf(row[j] - top)) }
                let logZ = Double(top) + Foundation.log(sum)
                result.negativeLogLikelihood += logZ - Double(row[target])
                if best == target { result.correct += 1 }
                if trains {
                    for j in 0..<V { row[j] = Float((Foundation.exp(Double(row[j]) - logZ) - (j == target ? 1 : 0)) * scale) }
                }
            }
            guard let dn else { continue }
            let dg = dGathered.ensure(Self.chunk * H)
            model.weights.outputHead.backwardInput(dinp: dg, dout: logits, rows: M, accumulate: false, scratch: &model.tiles.buffer)
            for (r, p) in part.enumerated() { (dn + positions[p] * H).update(from: dg + r * H, count: H) }
        }
        if let dn { model.backward(dNormed: dn, downTo: model.lowestTrainableLayer) }
        return result
    }
}
