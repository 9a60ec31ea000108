import Foundation

/// One frozen linear map: `y = x Wᵀ + b`, weight [out, in] row-major as HF stores it, in Float32
/// or kept in a GGUF block format (`quantized`; decoders only, whose `weight` is then empty).
public final class LinearWeights {
    public let weight: FloatBuffer  // [outFeatures, inFeatures]; empty when `quantized`
    public let bias: FloatBuffer    // [outFeatures]
    public let quantized: QuantizedMatrix?
    public let inFeatures: Int
    public let outFeatures: Int

    /// `bias` is empty for a map without one (Llama's).
    public init(weight: [Float], bias: [Float], inFeatures: Int, outFeatures: Int) {
        self.weight = FloatBuffer(weight)
        self.bias = FloatBuffer(bias)
        quantized = nil
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    /// A map whose weight stays in its blocks, dequantized a tile at a time where it is used.
    public init(quantized: QuantizedMatrix, bias: [Float]) {
        weight = FloatBuffer(count: 0)
        self.bias = FloatBuffer(bias)
        self.quantized = quantized
        inFeatures = quantized.columns
        outFeatures = quantized.rows
    }

    /// W [out, in] in fp32, whichever way it is held (a quantized map dequantized whole: PiSSA's
    /// factors and residual are taken from it).
    public func denseWeight() -> [Float] { quantized?.dequantized() ?? weight.array }

    /// out[n, out] = inp[n, in] · Wᵀ + b, whichever way W is held, with `bias` (the frozen one, a
    /// trainable one in its place, or none); `scratch` holds dequantized tiles.
    func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, bias: UnsafePointer<Float>?, rows n: Int,
                 scratch: inout GrowableBuffer) {
        if let quantized { quantized.forward(out: out, inp: inp, bias: bias, rows: n, scratch: &scratch) }
        else { Linear.forward(out: out, inp: inp, weight: weight.pointer, bias: bias, rows: n, inFeatures: inFeatures,
                              outFeatures: outFeatures) }
    }

    /// dinp (+)= dout · W, whichever way W is held.
    func backwardInput(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, rows n: Int, accumulate: Bool,
                       scratch: inout GrowableBuffer) {
        if let quantized { quantized.backwardInput(dinp: dinp, dout: dout, rows: n, accumulate: accumulate, scratch: &scratch) }
        else { Linear.backwardInput(dinp: dinp, dout: dout, weight: weight.pointer, rows: n, inFeatures: inFeatures,
                                    outFeatures: outFeatures, accumulate: accumulate) }
    }

    /// Bytes the frozen weight and bias take.
    public var byteCount: Int { (quantized?.byteCount ?? 4 * weight.count) + 4 * bias.count }

    /// The bias, or nil for a map without one.
    public var biasPointer: UnsafePointer<Float>? { bias.count == outFeatures ? UnsafePointer(bias.pointer) : nil }
}

/// A LayerNorm's affine parameters, both [hidden].
public final class LayerNormWeights {
    public let gamma: FloatBuffer
    public let beta: FloatBuffer
    public init(gamma: [Float], beta: [Float]) {
        self.gamma = FloatBuffer(gamma)
        self.beta = FloatBuffer(beta)
    }
}

/// The frozen weights of one encoder layer.
public final class LayerWeights {
    public let query, key, value, attentionOutput, intermediate, output: LinearWeights
    public let attentionNorm, outputNorm: LayerNormWeights

    public init(query: LinearWeights, key: LinearWeights, value: LinearWeights, attentionOutput: LinearWeights,
                intermediate: LinearWeights, output: LinearWeights,
                attentionNorm: LayerNormWeights, outputNorm: LayerNormWeights) {
        self.query = query; self.key = key; self.value = value
        self.attentionOutput = attentionOutput; self.intermediate = intermediate; self.output = output
        self.attentionNorm = attentionNorm; self.outputNorm = outputNorm
    }
}

/// All frozen weights of a BERT-family encoder (and its pooler, when the checkpoint has one).
public final class BertWeights {
    public let config: BertConfig
    public let wordEmbeddings: FloatBuffer      // [vocab, H]
    public let positionEmbeddings: FloatBuffer  // [maxPositions, H]
    public let typeEmbeddings: FloatBuffer      // [typeVocab, H]
    public let embeddingNorm: LayerNormWeights
    /// Narrower embeddings' map to the hidden size [H, E] (ELECTRA's `embeddings_project`); nil when E = H.
    public let embeddingProjection: LinearWeights?
    public let layers: [LayerWeights]
    public let pooler: LinearWeights?           // [H, H]

    public init(config: BertConfig, wordEmbeddings: [Float], positionEmbeddings: [Float], typeEmbeddings: [Float],
                embeddingNorm: LayerNormWeights, embeddingProjection: LinearWeights? = nil, layers: [LayerWeights],
                pooler: LinearWeights?) {
        self.config = config
        self.wordEmbeddings = FloatBuffer(wordEmbeddings)
        self.positionEmbeddings = FloatBuffer(positionEmbeddings)
        self.typeEmbeddings = FloatBuffer(typeEmbeddings)
        self.embeddingNorm = embeddingNorm
        self.embeddingProjection = embeddingProjection
        self.layers = layers
        self.pooler = pooler
    }

    /// Loads `model.safetensors` with tensor names as HF writes them, with or without the family's
    /// prefix (`bert.`, `roberta.`, `electra.`).
    public convenience init(config c: BertConfig, safetensors file: SafetensorsFile) throws(TrainerError) {
        let family = c.family.rawValue + "."
        let prefix = file.tensors[family + "embeddings.word_embeddings.weight"] != nil ? family : ""
        let H = c.hiddenSize, I = c.intermediateSize, E = c.embeddingSize
        func lin(_ name: String, _ inF: Int, _ outF: Int) throws(TrainerError) -> LinearWeights {
            LinearWeights(weight: try file.floats(prefix + name + ".weight", shape: [outF, inF]),
                          bias: try file.floats(prefix + name + ".bias", shape: [outF]), inFeatures: inF, outFeatures: outF)
        }
        func norm(_ name: String, width: Int? = nil) throws(TrainerError) -> LayerNormWeights {
            // Old BERT checkpoints name LayerNorm parameters gamma/beta.
            let w = file.tensors[prefix + name + ".weight"] != nil ? ".weight" : ".gamma"
            let b = file.tensors[prefix + name + ".bias"] != nil ? ".bias" : ".beta"
            return LayerNormWeights(gamma: try file.floats(prefix + name + w, shape: [width ?? H]),
                                    beta: try file.floats(prefix + name + b, shape: [width ?? H]))
        }
        var layers: [LayerWeights] = []
        for l in 0..<c.layers {
            let p = "encoder.layer.\(l)."
            layers.append(LayerWeights(
                query: try lin(p + "attention.self.query", H, H),
                key: try lin(p + "attention.self.key", H, H),
                value: try lin(p + "attention.self.value", H, H),
                attentionOutput: try lin(p + "attention.output.dense", H, H),
                intermediate: try lin(p + "intermediate.dense", H, I),
                output: try lin(p + "output.dense", I, H),
                attentionNorm: try norm(p + "attention.output.LayerNorm"),
                outputNorm: try norm(p + "output.LayerNorm")))
        }
        let pooler = file.tensors[prefix + "pooler.dense.weight"] != nil ? try lin("pooler.dense", H, H) : nil
        self.init(config: c,
                  wordEmbeddings: try file.floats(prefix + "embeddings.word_embeddings.weight", shape: [c.vocabSize, E]),
                  positionEmbeddings: try file.floats(prefix + "embeddings.position_embeddings.weight", shape: [c.maxPositions, E]),
                  typeEmbeddings: try file.floats(prefix + "embeddings.token_type_embeddings.weight", shape: [c.typeVocabSize, E]),
                  embeddingNorm: try norm("embeddings.LayerNorm", width: E),
                  embeddingProjection: E == H ? nil : try lin("embeddings_project", E, H), layers: layers, pooler: pooler)
    }

    /// A model with random weights (normal, std 0.02; LayerNorm γ near 1), for gradient checks.
    public static func random(config c: BertConfig, seed: UInt64, withPooler: Bool = true) -> BertWeights {
        var rng = RandomSource(seed: seed, stream: "random-model")
        func v(_ n: Int, _ std: Double = 0.02, _ mean: Double = 0) -> [Float] {
            (0..<n).map { _ in Float(mean + std * rng.nextGaussian()) }
        }
        let H = c.hiddenSize, I = c.intermediateSize, E = c.embeddingSize
        func lin(_ i: Int, _ o: Int) -> LinearWeights { LinearWeights(weight: v(o * i, 0.3), bias: v(o, 0.1), inFeatures: i,
                                                                      outFeatures: o) }
        func norm(_ width: Int? = nil) -> LayerNormWeights {
            LayerNormWeights(gamma: v(width ?? H, 0.1, 1), beta: v(width ?? H, 0.1))
        }
        let layers = (0..<c.layers).map { _ in
            LayerWeights(query: lin(H, H), key: lin(H, H), value: lin(H, H), attentionOutput: lin(H, H),
                         intermediate: lin(H, I), output: lin(I, H), attentionNorm: norm(), outputNorm: norm())
        }
        // Drawn after the layers, so that a model without a projection draws as it always did.
        let word = v(c.vocabSize * E, 0.5), position = v(c.maxPositions * E, 0.5), type = v(c.typeVocabSize * E, 0.5)
        let embeddingNorm = norm(E), pooler = withPooler ? lin(H, H) : nil
        return BertWeights(config: c, wordEmbeddings: word, positionEmbeddings: position, typeEmbeddings: type,
                           embeddingNorm: embeddingNorm, embeddingProjection: E == H ? nil : lin(E, H), layers: layers,
                           pooler: pooler)
    }
}
