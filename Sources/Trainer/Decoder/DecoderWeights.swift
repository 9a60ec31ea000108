import Foundation

/// The frozen weights of one decoder block.
public final class DecoderLayerWeights {
    public let query, key, value, attentionOutput, gate, up, down: LinearWeights
    /// RMSNorm scales [H]: before attention (`input_layernorm`) and before the MLP (`post_attention_layernorm`).
    public let attentionNorm, mlpNorm: FloatBuffer

    public init(query: LinearWeights, key: LinearWeights, value: LinearWeights, attentionOutput: LinearWeights,
                gate: LinearWeights, up: LinearWeights, down: LinearWeights, attentionNorm: [Float], mlpNorm: [Float]) {
        self.query = query; self.key = key; self.value = value; self.attentionOutput = attentionOutput
        self.gate = gate; self.up = up; self.down = down
        self.attentionNorm = FloatBuffer(attentionNorm)
        self.mlpNorm = FloatBuffer(mlpNorm)
    }
}

/// All frozen weights of a Llama-family decoder.
public final class DecoderWeights {
    public let config: DecoderConfig
    /// The token embeddings [vocab, H], a row per token: Float32, or kept in its GGUF blocks.
    public let embeddings: LinearWeights
    public let layers: [DecoderLayerWeights]
    public let finalNorm: FloatBuffer    // [H]
    /// The output head [vocab, H] when it is not the embedding (`tiedEmbeddings`).
    public let lmHead: LinearWeights?

    public init(config: DecoderConfig, embeddings: LinearWeights, layers: [DecoderLayerWeights], finalNorm: [Float],
                lmHead: LinearWeights?) {
        self.config = config
        self.embeddings = embeddings
        self.layers = layers
        self.finalNorm = FloatBuffer(finalNorm)
        self.lmHead = lmHead
    }

    /// The output head's map h [n, H] → logits [n, vocab]: its own, or the embedding's.
    public var outputHead: LinearWeights { lmHead ?? embeddings }

    /// Writes token `id`'s embedding row [H] into `dst`.
    func embedding(_ id: Int, into dst: UnsafeMutablePointer<Float>) {
        let H = config.hiddenSize
        if let q = embeddings.quantized { q.dequantize(rows: id..<(id + 1), columns: 0..<H, into: dst) }
        else { dst.update(from: embeddings.weight.pointer + id * H, count: H) }
    }

    /// Loads `model.safetensors` with HF's names (`model.layers.<i>.self_attn.q_proj.weight`, …).
    public convenience init(config c: DecoderConfig, safetensors file: SafetensorsFile) throws(TrainerError) {
        let H = c.hiddenSize, I = c.intermediateSize
        func lin(_ name: String, _ inF: Int, _ outF: Int, bias: Bool) throws(TrainerError) -> LinearWeights {
            LinearWeights(weight: try file.floats(name + ".weight", shape: [outF, inF]),
                          bias: bias ? try file.floats(name + ".bias", shape: [outF]) : [], inFeatures: inF, outFeatures: outF)
        }
        var layers: [DecoderLayerWeights] = []
        for l in 0..<c.layers {
            let p = "model.layers.\(l)."
            layers.append(DecoderLayerWeights(
                query: try lin(p + "self_attn.q_proj", H, c.queryWidth, bias: c.qkvBias),
                key: try lin(p + "self_attn.k_proj", H, c.kvWidth, bias: c.qkvBias),
                value: try lin(p + "self_attn.v_proj", H, c.kvWidth, bias: c.qkvBias),
                attentionOutput: try lin(p + "self_attn.o_proj", c.queryWidth, H, bias: c.outputBias),
                gate: try lin(p + "mlp.gate_proj", H, I, bias: false), up: try lin(p + "mlp.up_proj", H, I, bias: false),
                down: try lin(p + "mlp.down_proj", I, H, bias: false),
                attentionNorm: try file.floats(p + "input_layernorm.weight", shape: [H]),
                mlpNorm: try file.floats(p + "post_attention_layernorm.weight", shape: [H])))
        }
        func table(_ name: String) throws(TrainerError) -> LinearWeights {
            LinearWeights(weight: try file.floats(name, shape: [c.vocabSize, H]), bias: [], inFeatures: H, outFeatures: c.vocabSize)
        }
        self.init(config: c, embeddings: try table("model.embed_tokens.weight"), layers: layers,
                  finalNorm: try file.floats("model.norm.weight", shape: [H]), lmHead: c.tiedEmbeddings ? nil : try table("lm_head.weight"))
    }

    /// Loads a GGUF file's tensors (`blk.<i>.attn_q.weight`, …). llama.cpp's converter reorders the
    /// rows of each query and key head for its rotary layout (pairs of adjacent columns); `hfRows`
    /// puts them back in HF's (halves), as transformers' GGUF loader does. With `keepQuantized`,
    /// the blocks' quantized linear maps stay in their blocks (`QuantizedMatrix`; rows are whole
    /// blocks, so the rows move as they are); everything else is dequantized to Float32.
    public convenience init(config c: DecoderConfig, gguf file: GGUFFile, keepQuantized: Bool = false) throws(TrainerError) {
        let H = c.hiddenSize, I = c.intermediateSize
        func tensor(_ name: String, shape: [Int]) throws(TrainerError) -> [Float] {
            guard let t = file.tensors[name] else { throw .file(path: file.path, message: "missing tensor \"\(name)\"") }
            guard t.shape == shape else {
                throw .file(path: file.path, message: "tensor \"\(name)\" has shape \(t.shape), expected \(shape)")
            }
            return try file.floats(name)
        }
        func lin(_ name: String, _ inF: Int, _ outF: Int, bias: Bool, heads: Int? = nil) throws(TrainerError) -> LinearWeights {
            var b = bias ? try tensor(name + ".bias", shape: [outF]) : []
            if let heads, bias { b = Self.hfRows(b, heads: heads, columns: 1) }
            if keepQuantized, file.tensors[name + ".weight"]?.shape == [outF, inF], var q = try file.quantized(name + ".weight") {
                if let heads { q = q.withRows(Self.hfRowOrder(rows: outF, heads: heads)) }
                return LinearWeights(quantized: q, bias: b)
            }
            var w = try tensor(name + ".weight", shape: [outF, inF])
            if let heads { w = Self.hfRows(w, heads: heads, columns: inF) }
            return LinearWeights(weight: w, bias: b, inFeatures: inF, outFeatures: outF)
        }
        var layers: [DecoderLayerWeights] = []
        for l in 0..<c.layers {
            let p = "blk.\(l)."
            layers.append(DecoderLayerWeights(
                query: try lin(p + "attn_q", H, c.queryWidth, bias: c.qkvBias, heads: c.heads),
                key: try lin(p + "attn_k", H, c.kvWidth, bias: c.qkvBias, heads: c.kvHeads),
                value: try lin(p + "attn_v", H, c.kvWidth, bias: c.qkvBias),
                attentionOutput: try lin(p + "attn_output", c.queryWidth, H, bias: c.outputBias),
                gate: try lin(p + "ffn_gate", H, I, bias: false), up: try lin(p + "ffn_up", H, I, bias: false),
                down: try lin(p + "ffn_down", I, H, bias: false),
                attentionNorm: try tensor(p + "attn_norm.weight", shape: [H]), mlpNorm: try tensor(p + "ffn_norm.weight", shape: [H])))
        }
        // The embedding and the head are [vocab, H] tables read (or multiplied) a row at a time: kept quantized as the maps.
        func table(_ name: String) throws(TrainerError) -> LinearWeights {
            if keepQuantized, file.tensors[name]?.shape == [c.vocabSize, H], let q = try file.quantized(name) {
                return LinearWeights(quantized: q, bias: [])
            }
            return LinearWeights(weight: try tensor(name, shape: [c.vocabSize, H]), bias: [], inFeatures: H, outFeatures: c.vocabSize)
        }
        self.init(config: c, embeddings: try table("token_embd.weight"), layers: layers,
                  finalNorm: try tensor("output_norm.weight", shape: [H]), lmHead: c.tiedEmbeddings ? nil : try table("output.weight"))
    }

    /// Undoes llama.cpp's row order of a query or key map: within each head of R rows, GGUF row
    /// 2i + s holds HF row s·R/2 + i (s ∈ {0, 1}). Element k of the result is the GGUF row that
    /// HF row k is.
    static func hfRowOrder(rows: Int, heads: Int) -> [Int] {
        let rowsPerHead = rows / heads, half = rowsPerHead / 2
        var order = [Int](repeating: 0, count: rows)
        for h in 0..<heads { for i in 0..<half { for s in 0..<2 { order[h * rowsPerHead + s * half + i] = h * rowsPerHead + 2 * i + s } } }
        return order
    }

    /// `w` [rows, columns] with its rows in HF's order (`hfRowOrder`).
    static func hfRows(_ w: [Float], heads: Int, columns: Int) -> [Float] {
        let order = hfRowOrder(rows: w.count / columns, heads: heads)
        var out = w
        for (to, from) in order.enumerated() { for j in 0..<columns { out[to * columns + j] = w[from * columns + j] } }
        return out
    }
}
