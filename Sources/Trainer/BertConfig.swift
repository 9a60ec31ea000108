import JSONKit
import Foundation
import Space

/// The encoder families that share BERT's block (post-LayerNorm, exact GELU, absolute positions),
/// by `config.json`'s `model_type`. ELECTRA (its discriminator) is BERT's encoder under narrower
/// embeddings projected to the hidden size (`embedding_size`, `embeddings_project`), with a
/// classification head whose dense layer is followed by GELU.
public enum EncoderFamily: String, CaseIterable, Sendable {
    case bert, roberta, electra

    /// The family's sequence-classification class in `transformers`, which exports load into.
    public var sequenceClassifierClass: String {
        switch self {
        case .bert: return "BertForSequenceClassification"
        case .roberta: return "RobertaForSequenceClassification"
        case .electra: return "ElectraForSequenceClassification"
        }
    }

    /// The head that class computes: BERT's pooler and a linear classifier, RoBERTa's and
    /// ELECTRA's classification head (a dense layer and tanh, or GELU, on the first token, then `out_proj`).
    public var classifierHead: HeadInput { self == .bert ? .pooler : .dense }

    /// The activation after a `dense` head's layer: tanh (RoBERTa's), GELU (ELECTRA's).
    public var denseHeadUsesGELU: Bool { self == .electra }
}

/// The fields of a Hugging Face BERT-family `config.json` that the encoder needs.
public struct BertConfig: Equatable, Sendable {
    public var family: EncoderFamily = .bert
    /// The position of the first token: 0 in BERT; RoBERTa counts real tokens from
    /// `pad_token_id + 1` (its position ids are `padding_idx + 1 + t`).
    public var positionBase = 0
    /// Positions a text may take: `maxPositions − positionBase`.
    public var usablePositions: Int { maxPositions - positionBase }
    public var vocabSize: Int
    public var hiddenSize: Int
    /// The embeddings' width: the hidden size, or narrower (ELECTRA's `embedding_size`, projected up).
    public var embeddingSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var typeVocabSize: Int
    public var layerNormEps: Float
    public var hiddenDropout: Float
    public var attentionDropout: Float
    public var classifierDropout: Float?

    public init(vocabSize: Int, hiddenSize: Int, layers: Int, heads: Int, intermediateSize: Int,
                maxPositions: Int, typeVocabSize: Int = 2, layerNormEps: Float = 1e-12,
                hiddenDropout: Float = 0.1, attentionDropout: Float = 0.1, classifierDropout: Float? = nil) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.embeddingSize = hiddenSize
        self.layers = layers
        self.heads = heads
        self.intermediateSize = intermediateSize
        self.maxPositions = maxPositions
        self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps
        self.hiddenDropout = hiddenDropout
        self.attentionDropout = attentionDropout
        self.classifierDropout = classifierDropout
    }

    public var headDim: Int { hiddenSize / heads }
    public var dimensions: ModelDimensions {
        ModelDimensions(hiddenSize: hiddenSize, intermediateSize: intermediateSize, layers: layers, heads: heads)
    }

    /// Reads `config.json`; unknown keys are ignored (HF configs carry many), but the
    /// ones used are checked, and an activation other than exact GELU is refused.
    public init(contentsOf path: String) throws(TrainerError) {
        let root = try readJSONFile(path, what: "config.json")
        let r = JSONReader(root, file: path)
        do throws(ConfigError) {
            let family = try Self.readFamily(r)
            if let act = try r.optional("hidden_act")?.string(), act != "gelu" {
                throw r.error("hidden_act \"\(act)\" is not supported; expected \"gelu\" (exact erf GELU)", at: "hidden_act")
            }
            if let pe = try r.optional("position_embedding_type")?.string(), pe != "absolute" {
                throw r.error("position_embedding_type \"\(pe)\" is not supported; expected \"absolute\"", at: "position_embedding_type")
            }
            self.init(
                vocabSize: try r.required("vocab_size").int(in: 1...10_000_000),
                hiddenSize: try r.required("hidden_size").int(in: 1...65536),
                layers: try r.required("num_hidden_layers").int(in: 1...1024),
                heads: try r.required("num_attention_heads").int(in: 1...1024),
                intermediateSize: try r.required("intermediate_size").int(in: 1...1_000_000),
                maxPositions: try r.required("max_position_embeddings").int(in: 1...1_000_000),
                typeVocabSize: try r.optional("type_vocab_size")?.int(in: 1...1024) ?? 2,
                layerNormEps: Float(try r.optional("layer_norm_eps")?.double() ?? 1e-12),
                hiddenDropout: Float(try r.optional("hidden_dropout_prob")?.double(in: 0...0.99) ?? 0.1),
                attentionDropout: Float(try r.optional("attention_probs_dropout_prob")?.double(in: 0...0.99) ?? 0.1),
                classifierDropout: (try r.optional("classifier_dropout")?.double(in: 0...0.99)).map { Float($0) }
            )
            self.family = family
            embeddingSize = try r.optional("embedding_size")?.int(in: 1...65536) ?? hiddenSize
            if family == .roberta { positionBase = try (r.optional("pad_token_id")?.int(in: 0...10_000_000) ?? 1) + 1 }
            if usablePositions < 3 {
                throw r.error("max_position_embeddings \(maxPositions) leaves fewer than 3 positions for text", at: "max_position_embeddings")
            }
        } catch { throw .config(error) }
        guard hiddenSize % heads == 0 else {
            throw .file(path: path, message: "hidden_size \(hiddenSize) is not divisible by num_attention_heads \(heads)")
        }
    }

    /// `model_type` (BERT when absent); an unsupported one is refused with the supported list,
    /// and XLM-R with the reason.
    static func readFamily(_ r: JSONReader) throws(ConfigError) -> EncoderFamily {
        guard let mt = try r.optional("model_type")?.string() else { return .bert }
        if let f = EncoderFamily(rawValue: mt) { return f }
        // Decoders load before this (`BaseModel.load`), but a user reads one list.
        let supported = BaseModel.supportedFamilies.map { "\"\($0)\"" }.joined(separator: ", ")
        if mt == "xlm-roberta" {
            throw r.error("model_type \"xlm-roberta\" needs a SentencePiece Unigram tokenizer, which autopeft does not implement; "
                + "supported: \(supported)", at: "model_type")
        }
        throw r.error("model_type \"\(mt)\" is not supported; supported: \(supported)", at: "model_type")
    }
}
