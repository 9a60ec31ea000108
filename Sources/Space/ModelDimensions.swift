/// The sizes of a BERT-family encoder that parameter counts depend on.
public struct ModelDimensions: Equatable, Sendable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int

    public init(hiddenSize: Int, intermediateSize: Int, layers: Int, heads: Int) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layers = layers
        self.heads = heads
    }

    /// (input features, output features) of a linear target.
    public func shape(of target: LinearTarget) -> (inFeatures: Int, outFeatures: Int) {
        switch target {
        case .query, .key, .value, .attentionOutput: return (hiddenSize, hiddenSize)
        case .intermediate: return (hiddenSize, intermediateSize)
        case .output: return (intermediateSize, hiddenSize)
        }
    }
}
