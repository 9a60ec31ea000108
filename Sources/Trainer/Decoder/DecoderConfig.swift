import JSONKit
import Foundation
import Space

/// The fields of a decoder's `config.json` (or GGUF metadata) that the block needs.
public struct DecoderConfig: Equatable, Sendable {
    public var family: DecoderFamily
    public var vocabSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var rmsNormEps: Float
    public var ropeTheta: Double
    /// The output head is the token embedding (no `lm_head.weight`).
    public var tiedEmbeddings: Bool
    /// Biases on the query, key and value maps (Qwen2; Llama with `attention_bias`).
    public var qkvBias: Bool
    /// A bias on the attention output map (Llama with `attention_bias`).
    public var outputBias: Bool

    public init(family: DecoderFamily = .llama, vocabSize: Int, hiddenSize: Int, layers: Int, heads: Int, kvHeads: Int,
                headDim: Int? = nil, intermediateSize: Int, maxPositions: Int, rmsNormEps: Float = 1e-5, ropeTheta: Double = 10000,
                tiedEmbeddings: Bool = false, qkvBias: Bool = false, outputBias: Bool = false) {
        self.family = family
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim ?? hiddenSize / heads
        self.intermediateSize = intermediateSize
        self.maxPositions = maxPositions
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.tiedEmbeddings = tiedEmbeddings
        self.qkvBias = qkvBias
        self.outputBias = outputBias
    }

    /// Query columns (heads · head dimension) and key/value columns (KV heads · head dimension).
    public var queryWidth: Int { heads * headDim }
    public var kvWidth: Int { kvHeads * headDim }

    public var dimensions: ModelDimensions {
        ModelDimensions(hiddenSize: hiddenSize, intermediateSize: intermediateSize, layers: layers, heads: heads, kvHeads: kvHeads,
                        headDim: headDim, classifierBias: false, gatedFeedForward: true)
    }

    /// Reads `config.json`. Unknown keys are ignored (HF configs carry many); the ones that would
    /// change the computation and are not implemented are refused by name.
    public init(contentsOf path: String) throws(TrainerError) {
        let root = try readJSONFile(path, what: "config.json")
        let r = JSONReader(root, file: path)
        do throws(ConfigError) {
            let type = try r.required("model_type").string()
            guard let family = DecoderFamily(rawValue: type) else {
                throw r.error("model_type \"\(type)\" is not a decoder autopeft knows; expected one of "
                    + DecoderFamily.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "), at: "model_type")
            }
            if let act = try r.optional("hidden_act")?.string(), act != "silu" {
                throw r.error("hidden_act \"\(act)\" is not supported; expected \"silu\" (SwiGLU)", at: "hidden_act")
            }
            if try r.optional("mlp_bias")?.bool() == true { throw r.error("mlp_bias true is not supported", at: "mlp_bias") }
            let hidden = try r.required("hidden_size").int(in: 1...65536)
            let heads = try r.required("num_attention_heads").int(in: 1...1024)
            let attentionBias = try r.optional("attention_bias")?.bool() ?? false
            self.init(family: family, vocabSize: try r.required("vocab_size").int(in: 1...10_000_000), hiddenSize: hidden,
                      layers: try r.required("num_hidden_layers").int(in: 1...1024), heads: heads,
                      kvHeads: try r.optional("num_key_value_heads")?.int(in: 1...1024) ?? heads,
                      headDim: try r.optional("head_dim")?.int(in: 2...65536),
                      intermediateSize: try r.required("intermediate_size").int(in: 1...1_000_000),
                      maxPositions: try r.required("max_position_embeddings").int(in: 1...10_000_000),
                      rmsNormEps: Float(try r.optional("rms_norm_eps")?.double(in: 0...1) ?? 1e-6),
                      ropeTheta: try Self.ropeTheta(r),
                      tiedEmbeddings: try r.optional("tie_word_embeddings")?.bool() ?? false,
                      qkvBias: family == .qwen2 || attentionBias, outputBias: family != .qwen2 && attentionBias)
            if family == .mistral, let w = try r.optional("sliding_window"), case .number = w.value {
                let window = try w.int(in: 1...10_000_000)
                if window < maxPositions {
                    throw r.error("a sliding window of \(window) positions (shorter than max_position_embeddings \(maxPositions)) is "
                        + "not supported", at: "sliding_window")
                }
            }
            try check(r)
        } catch { throw .config(error) }
    }

    /// The rotary base: `rope_theta`, or transformers 5's `rope_parameters.rope_theta`. Scaled
    /// rotary embeddings (`rope_scaling` or a `rope_type` other than "default") are refused by name.
    static func ropeTheta(_ r: JSONReader) throws(ConfigError) -> Double {
        var theta = try r.optional("rope_theta")?.double(in: 1...1e12)
        for key in ["rope_scaling", "rope_parameters"] {
            guard let p = try r.optional(key), case .object = p.value else { continue }
            let ropeType = try p.optional("rope_type")?.string(), legacyType = try p.optional("type")?.string()
            if let type = ropeType ?? legacyType, type != "default" {
                throw r.error("rope type \"\(type)\" is not supported; expected \"default\"", at: key + ".rope_type")
            }
            if let t = try p.optional("rope_theta")?.double(in: 1...1e12) { theta = t }
        }
        return theta ?? 10000
    }

    /// Checks what the block's shapes need.
    func check(_ r: JSONReader) throws(ConfigError) {
        guard heads % kvHeads == 0 else {
            throw r.error("num_attention_heads \(heads) is not a multiple of num_key_value_heads \(kvHeads)", at: "num_key_value_heads")
        }
        guard headDim % 2 == 0 else { throw r.error("the head dimension \(headDim) is odd; rotary embeddings need it even", at: "head_dim") }
    }
}

extension DecoderConfig {
    /// Reads the hyperparameters a GGUF file carries (`<arch>.block_count`, …). The head is tied
    /// when the file has no `output.weight`.
    public init(gguf file: GGUFFile) throws(TrainerError) {
        func fail(_ message: String) -> TrainerError { .file(path: file.path, message: message) }
        guard let arch = file.metadata["general.architecture"]?.string else { throw fail("no general.architecture") }
        guard let family = DecoderFamily(rawValue: arch) else {
            throw fail("architecture \"\(arch)\" is not a decoder autopeft knows; expected one of "
                + DecoderFamily.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))
        }
        func int(_ key: String, default value: Int? = nil) throws(TrainerError) -> Int {
            guard let v = file.metadata[arch + "." + key] else {
                if let value { return value }
                throw fail("missing metadata \"\(arch).\(key)\"")
            }
            guard let n = v.int, n > 0 else { throw fail("metadata \"\(arch).\(key)\" is not a positive integer") }
            return n
        }
        func double(_ key: String, default value: Double) throws(TrainerError) -> Double {
            guard let v = file.metadata[arch + "." + key] else { return value }
            guard let x = v.double, x.isFinite, x > 0 else { throw fail("metadata \"\(arch).\(key)\" is not a positive number") }
            return x
        }
        if let type = file.metadata[arch + ".rope.scaling.type"]?.string, type != "none" {
            throw fail("rope scaling \"\(type)\" is not supported")
        }
        let hidden = try int("embedding_length"), heads = try int("attention.head_count")
        let vocab: Int
        if case .array(let tokens)? = file.metadata["tokenizer.ggml.tokens"] { vocab = try int("vocab_size", default: tokens.count) }
        else { vocab = try int("vocab_size") }
        self.init(family: family, vocabSize: vocab, hiddenSize: hidden, layers: try int("block_count"), heads: heads,
                  kvHeads: try int("attention.head_count_kv", default: heads),
                  headDim: try int("rope.dimension_count", default: hidden / heads),
                  intermediateSize: try int("feed_forward_length"), maxPositions: try int("context_length"),
                  rmsNormEps: Float(try double("attention.layer_norm_rms_epsilon", default: 1e-5)),
                  ropeTheta: try double("rope.freq_base", default: 10000),
                  tiedEmbeddings: file.tensors["output.weight"] == nil,
                  qkvBias: file.tensors["blk.0.attn_q.bias"] != nil, outputBias: file.tensors["blk.0.attn_output.bias"] != nil)
        guard heads % kvHeads == 0, headDim % 2 == 0 else {
            throw fail("\(heads) heads over \(kvHeads) key/value heads of dimension \(headDim): expected a multiple, and an even dimension")
        }
    }
}
