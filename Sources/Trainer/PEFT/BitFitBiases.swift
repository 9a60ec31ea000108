import Space

/// BitFit in one layer: trainable copies of chosen biases (linear maps' biases, LayerNorm shifts)
/// that replace the frozen ones.
///
/// Init: the pretrained values, so the layer starts unchanged. A linear map's bias b [out] enters
/// as y = x Wᵀ + b, so db += Σ_rows dy; a LayerNorm shift's gradient comes from LayerNorm's
/// backward (its dbeta), which the layer points at `gradient(of:)`.
struct BitFitBiases {
    /// Offsets of this layer's trainable biases in the parameter block.
    private(set) var offsets: [BitFitSpec.Bias: Int] = [:]

    /// No trainable biases: the layer has no BitFit.
    init() {}

    /// Declares the biases of layer `layer`, named as the model's own parameters.
    init(layer: Int, biases: [BitFitSpec.Bias], dims: ModelDimensions, block: ParameterBlock) {
        for b in biases { offsets[b] = block.declare("encoder.layer.\(layer).\(b.parameterPath)", shape: [dims.bitfitParameters(b)]) }
    }

    /// Copies the pretrained values in.
    func initialize(block: ParameterBlock, pretrained: LayerWeights) {
        for (b, off) in offsets {
            let src = pretrained.bias(b)
            block.value(off).update(from: src.pointer, count: src.count)
        }
    }

    /// The bias to use for `bias`: the trainable copy when there is one, else `frozen`.
    func value(_ bias: BitFitSpec.Bias, frozen: FloatBuffer, block: ParameterBlock) -> UnsafePointer<Float> {
        offsets[bias].map { UnsafePointer(block.value($0)) } ?? UnsafePointer(frozen.pointer)
    }

    /// Where `bias`'s gradient accumulates; nil when it is frozen.
    func gradient(of bias: BitFitSpec.Bias, block: ParameterBlock) -> UnsafeMutablePointer<Float>? {
        offsets[bias].map { block.grad($0) }
    }

    /// db += Σ_rows dout for a linear map's trainable bias (nothing when it is frozen).
    func backward(_ target: LinearTarget, dout: UnsafePointer<Float>, rows n: Int, columns c: Int, block: ParameterBlock) {
        guard let db = gradient(of: BitFitSpec.Bias(target), block: block) else { return }
        for i in 0..<n { let r = dout + i * c; for j in 0..<c { db[j] += r[j] } }
    }
}

extension BitFitSpec.Bias {
    /// The bias of a linear map.
    init(_ target: LinearTarget) { self.init(rawValue: target.rawValue)! }
}

extension LayerWeights {
    /// The weights of one of the layer's linear maps.
    func linear(_ t: LinearTarget) -> LinearWeights {
        switch t {
        case .query: return query
        case .key: return key
        case .value: return value
        case .attentionOutput: return attentionOutput
        case .intermediate: return intermediate
        case .output: return output
        }
    }

    /// The pretrained value of a bias BitFit can train.
    func bias(_ b: BitFitSpec.Bias) -> FloatBuffer {
        switch b {
        case .attentionNorm: return attentionNorm.beta
        case .outputNorm: return outputNorm.beta
        default: return linear(b.linearTarget!).bias
        }
    }
}
