/// What the trainer trains, evaluates and caches, whatever the task: a frozen model with a plan's
/// PEFT modules (and a head, when the task has one) in one `ParameterBlock`.
/// `SequenceClassifier` (classification and regression) and `DecoderLanguageModel` (causal-LM
/// tasks) are the two kinds.
public protocol TrainableModel: AnyObject {
    /// Everything that trains: the modules and the head.
    var block: ParameterBlock { get }
    var hiddenSize: Int { get }
    /// The lowest layer holding a module (the layer count when only the head trains): backward
    /// stops there, and a frozen-prefix cache may hold the states entering it.
    var lowestTrainableLayer: Int { get }
    var trainableParameters: Int { get }
    /// The frozen base's parameters plus the trainable ones.
    var totalParameters: Int { get }

    /// Initialises the trainable block from `seed`.
    func initialize(seed: UInt64) throws(TrainerError)
    /// The hidden states entering `layer` [B·T, H], without dropout: what a frozen-prefix cache holds.
    func forwardPrefix(_ batch: TokenBatch, upTo layer: Int) throws(TrainerError) -> UnsafeMutablePointer<Float>
}

/// A frozen model with a plan's PEFT modules and a trained head, scoring sequences: what the
/// trainer trains for classification and regression, whatever the family.
/// `BertClassifier` (encoders) and `DecoderClassifier` (decoders) are the two.
public protocol SequenceClassifier: TrainableModel {
    /// Outputs per row: classes, or 1 for regression.
    var labels: Int { get }

    /// Logits [B, labels] (valid until the next call). With `cache` (and `rows`, the batch's row
    /// indices into it), the layers below `cache.layer` are skipped: their output comes from it.
    func forward(_ batch: TokenBatch, training: Bool, rng: inout RandomSource, cache: FrozenPrefixCache?,
                 rows: [Int]) throws(TrainerError) -> UnsafeMutablePointer<Float>
    /// Backward from dlogits [B, labels] of the last forward; accumulates into `block`'s gradients.
    func backward(dlogits: UnsafePointer<Float>)
}

extension TrainableModel {
    /// The blocks the modules attach to (a candidate archive reads PiSSA residuals from them).
    var hosts: [any AdapterHost] {
        switch self {
        case let encoder as BertClassifier: return encoder.layers
        case let decoder as DecoderClassifier: return decoder.model.layers
        case let decoder as DecoderLanguageModel: return decoder.model.layers
        default: return []
        }
    }
}

extension BertClassifier: SequenceClassifier {
    public var hiddenSize: Int { config.hiddenSize }

    public func forwardPrefix(_ batch: TokenBatch, upTo layer: Int) throws(TrainerError) -> UnsafeMutablePointer<Float> {
        var unused = RandomSource(seed: 0)
        return forwardPrefix(batch, upTo: layer, rng: &unused)
    }
}
