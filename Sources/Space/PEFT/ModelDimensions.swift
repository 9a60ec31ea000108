import JSONKit
import Foundation

/// The sizes of a model (an encoder or a decoder) that parameter counts depend on.
public struct ModelDimensions: Equatable, Sendable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    /// Key/value heads: fewer than `heads` in grouped-query attention (Llama-family decoders).
    public var kvHeads: Int
    /// Columns per head: `hiddenSize / heads` unless the config says otherwise (`head_dim`).
    public var headDim: Int
    /// Whether the classification head has a bias: an encoder's classifier does, a decoder's
    /// `score` does not (HF's `LlamaForSequenceClassification`).
    public var classifierBias: Bool
    /// Whether the feed-forward is gated (SwiGLU: a `gate` map beside `up`), as in decoders.
    public var gatedFeedForward: Bool

    public init(hiddenSize: Int, intermediateSize: Int, layers: Int, heads: Int, kvHeads: Int? = nil, headDim: Int? = nil,
                classifierBias: Bool = true, gatedFeedForward: Bool = false) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layers = layers
        self.heads = heads
        self.kvHeads = kvHeads ?? heads
        self.headDim = headDim ?? hiddenSize / max(heads, 1)
        self.classifierBias = classifierBias
        self.gatedFeedForward = gatedFeedForward
    }

    /// The linear maps of one block: the gate too when the feed-forward is gated.
    public var linearTargets: [LinearTarget] { gatedFeedForward ? LinearTarget.allCases : LinearTarget.ungated }

    /// `model_type`s of the decoder families (`DecoderFamily`): their `score` head has no bias, and
    /// their feed-forward is gated.
    public static let decoderModelTypes = Set(DecoderFamily.allCases.map(\.rawValue))

    /// (input features, output features) of a linear target: queries take heads · head dimension
    /// columns, keys and values kvHeads · head dimension (the hidden size in an encoder).
    public func shape(of target: LinearTarget) -> (inFeatures: Int, outFeatures: Int) {
        switch target {
        case .query: return (hiddenSize, heads * headDim)
        case .key, .value: return (hiddenSize, kvHeads * headDim)
        case .attentionOutput: return (heads * headDim, hiddenSize)
        case .intermediate, .gate: return (hiddenSize, intermediateSize)
        case .output: return (intermediateSize, hiddenSize)
        }
    }
}

extension ModelDimensions {
    /// Reads the sizes from a Hugging Face `config.json` (`hidden_size`, `intermediate_size`,
    /// `num_hidden_layers`, `num_attention_heads`), ignoring every other key.
    public init(configFile path: String) throws(ConfigError) {
        let data: Data
        do { data = try SystemErrors.readFile(path) } catch { throw ConfigError(file: path, path: "", message: "cannot read the model's config.json: " + error.reason) }
        let value: JSONValue
        do { value = try JSONParser.parse(bytes: [UInt8](data)) } catch {
            throw ConfigError(file: path, path: "", message: "not valid JSON: \(error)")
        }
        let r = JSONReader(value, file: path)
        let decoder = Self.decoderModelTypes.contains(try r.optional("model_type")?.string() ?? "bert")
        self.init(hiddenSize: try r.required("hidden_size").int(in: 1...1_000_000, what: "a hidden size"),
                  intermediateSize: try r.required("intermediate_size").int(in: 1...10_000_000, what: "an intermediate size"),
                  layers: try r.required("num_hidden_layers").int(in: 1...4096, what: "a layer count"),
                  heads: try r.required("num_attention_heads").int(in: 1...4096, what: "a head count"),
                  kvHeads: try r.optional("num_key_value_heads")?.int(in: 1...4096, what: "a head count"),
                  headDim: try r.optional("head_dim")?.int(in: 1...65536, what: "a head dimension"),
                  classifierBias: !decoder, gatedFeedForward: decoder)
    }
}

/// The decoder families that share Llama's block (pre-RMSNorm, rotary positions, grouped-query
/// causal attention, SwiGLU feed-forward), by `config.json`'s `model_type` or GGUF's
/// `general.architecture`. Their differences are options of one block:
/// - `llama`: no biases (or all four attention biases with `attention_bias`);
/// - `mistral`: Llama's block; its sliding window is refused when shorter than the positions;
/// - `qwen2`: biases on the query, key and value maps.
/// Here, beside the model sizes, because a space's parameter counts depend on the family too.
public enum DecoderFamily: String, CaseIterable, Sendable {
    case llama, mistral, qwen2
}
