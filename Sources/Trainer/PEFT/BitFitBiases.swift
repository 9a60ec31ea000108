import Space

/// BitFit in one layer: trainable copies of chosen biases (linear maps' biases, LayerNorm shifts)
/// that replace the frozen ones.
///
/// Init: the pretrained values, so the layer starts unchanged. A linear map's bias b [out] enters
/// as y = x Wᵀ + b, so db += Σ_rows dy; a LayerNorm shift's gradient comes from LayerNorm's
/// backward (its dbeta). The layer does both through its attachments' bias sites.
final class BitFitBiases: PEFTModule {
    let layer: Int
    /// Offsets of this layer's trainable biases in the parameter block.
    let offsets: [(bias: BiasSite, offset: Int)]

    /// Declares the biases of layer `layer`, named as the model's own parameters.
    init(layer: Int, biases: [BiasSite], dims: ModelDimensions, block: ParameterBlock) {
        self.layer = layer
        offsets = biases.map { b in
            (b, block.declare("encoder.layer.\(layer).\(b.parameterPath)", shape: [dims.bitfitParameters(b)]))
        }
    }

    /// No random draws: after the layer's adapters and (IA)³ vectors.
    var initSlot: InitSlot { InitSlot(stream: .modules, layer: layer, rank: 3) }

    /// Copies the pretrained values in; an architecture without the bias is refused.
    func initialize(block: ParameterBlock, rng: inout RandomSource, host: (any AdapterHost)?) throws(TrainerError) {
        for (b, off) in offsets {
            guard let src = host?.frozenBias(b) else {
                throw .model("BitFit on \(b.rawValue) in layer \(layer): this model has no such bias")
            }
            block.value(off).update(from: src.pointer, count: src.count)
        }
    }
}

/// BitFit's trainer side: each chosen layer's chosen biases become trainable.
enum BitFitMethod: TrainerMethod {
    static func attach(_ plan: PEFTPlan, to layers: [any AdapterHost], dims: ModelDimensions,
                       block: ParameterBlock) -> [any PEFTModule] {
        guard let spec = plan.bitfit else { return [] }
        return spec.layers.resolve(count: layers.count).map { l in
            let m = BitFitBiases(layer: l, biases: spec.biases, dims: dims, block: block)
            for (b, off) in m.offsets { layers[l].attachments.biases[b] = off }
            return m
        }
    }
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
        case .gate: preconditionFailure("an encoder has no gate map; ModelDimensions.gatedFeedForward refuses the target")
        }
    }

    /// The pretrained value of a bias site.
    func bias(_ b: BiasSite) -> FloatBuffer {
        switch b {
        case .attentionNorm: return attentionNorm.beta
        case .outputNorm: return outputNorm.beta
        default: return linear(b.linearTarget!).bias
        }
    }
}
