import JSONKit
import Foundation

/// Token ids and token-type ids of one encoded example (no padding).
public struct TokenEncoding: Equatable, Sendable {
    public var ids: [Int32]
    public var typeIds: [Int32]
    public init(ids: [Int32], typeIds: [Int32]) {
        self.ids = ids
        self.typeIds = typeIds
    }
}

/// What the trainer needs of a tokenizer: an example's text (one or two segments) as ids with the
/// model's special tokens, truncated to a length, and the id that pads a batch.
public protocol TextTokenizer: Sendable {
    /// `a` alone or the pair (`a`, `b`), with the model's template, truncated longest-first to
    /// `maxLength` tokens in all (special tokens included).
    func encode(_ a: String, _ b: String?, maxLength: Int) -> TokenEncoding
    /// The ids of a text without special tokens.
    func tokenize(_ text: String) -> [Int32]
    var padId: Int32 { get }
    /// What causal-LM tasks need: the end-of-sequence token, BOS, the chat template.
    var generation: GenerationTokens { get }
}

extension TextTokenizer {
    public var generation: GenerationTokens { GenerationTokens() }
}

/// A decoder tokenizer's tokens for causal-LM tasks: what starts a text, what ends a response,
/// and the chat template that renders conversations (with `bos_token` and `eos_token` as its
/// variables).
public struct GenerationTokens: Sendable {
    /// Ids put before a text as the tokenizer's own template does for one segment (Llama 3's BOS; none for SmolLM2).
    public var bosIds: [Int32] = []
    /// The id that ends a response: appended to a completion's response, and where generation stops.
    public var eosId: Int32?
    /// Other ids generation stops at (Llama 3's `<|eot_id|>` beside `<|end_of_text|>`): a GGUF file's
    /// `eot`/`eom` tokens, a folder's `generation_config.json` `eos_token_id` list.
    public var otherStopIds: Set<Int32> = []
    /// Where generation stops.
    public var stopIds: Set<Int32> { otherStopIds.union(eosId.map { [$0] } ?? []) }
    public var bosToken = "", eosToken = ""
    public var chatTemplate: ChatTemplate?
    /// Why the model's chat template could not be read, when it could not: only conversations need
    /// it, so the model still loads and the error comes when a conversation is rendered.
    public var chatTemplateProblem: String?
    public init() {}
}

/// The tokenizer of a model directory, by what `tokenizer.json`'s `model.type` says (or BERT's
/// `vocab.txt` without one).
public enum Tokenizers {
    public static let supported = ["WordPiece (BERT)", "byte-level BPE (RoBERTa, GPT-2, Llama 3, SmolLM, Qwen2)"]

    public static func load(directory: String) throws(TrainerError) -> any TextTokenizer {
        let path = directory + "/tokenizer.json"
        guard FileManager.default.fileExists(atPath: path) else { return try WordPieceTokenizer(directory: directory) }
        let root = try readJSONFile(path, what: "tokenizer.json")
        switch root["model"]?["type"] {
        case .string("WordPiece")?: return try WordPieceTokenizer(tokenizerJSON: path)
        case .string("BPE")?:
            var tokenizer = try ByteLevelBPETokenizer(tokenizerJSON: root, path: path)
            tokenizer.generation = try generationTokens(directory: directory, tokenizer: tokenizer)
            return tokenizer
        case let other:
            throw .file(path: path, message: "model.type \(other?.serialized() ?? "(missing)") is not a tokenizer autopeft reads; "
                + "it reads " + supported.joined(separator: " and "))
        }
    }

    /// BOS, EOS and the chat template of a model folder: `tokenizer_config.json`'s `bos_token`,
    /// `eos_token` and `chat_template` (a string, or a list of named templates whose "default" is
    /// taken), or `chat_template.jinja` beside it, as transformers saves them; the stop ids of
    /// `generation_config.json`.
    static func generationTokens(directory: String, tokenizer: ByteLevelBPETokenizer) throws(TrainerError) -> GenerationTokens {
        var g = GenerationTokens()
        g.bosIds = tokenizer.template.single.prefix { if case .special = $0 { return true }; return false }.flatMap { item -> [Int32] in
            if case .special(let ids, _) = item { return ids }
            return []
        }
        let configPath = directory + "/tokenizer_config.json"
        var source: String?
        if FileManager.default.fileExists(atPath: configPath) {
            let config = try readJSONFile(configPath, what: "tokenizer_config.json")
            func token(_ key: String) -> String? {
                switch config[key] {
                case .string(let s)?: return s
                case let v?: return v["content"]?.plainText
                case nil: return nil
                }
            }
            g.bosToken = token("bos_token") ?? ""
            g.eosToken = token("eos_token") ?? ""
            g.eosId = tokenizer.vocab[g.eosToken]
            switch config["chat_template"] {
            case .string(let s)?: source = s
            case .array(let named)?: source = named.first { $0["name"]?.plainText == "default" }?["template"]?.plainText
            default: break
            }
        }
        let generationConfig = directory + "/generation_config.json"
        if FileManager.default.fileExists(atPath: generationConfig) {
            switch try readJSONFile(generationConfig, what: "generation_config.json")["eos_token_id"] {
            case .number(let d, _)?: g.otherStopIds = [Int32(d)]
            case .array(let ids)?: g.otherStopIds = Set(ids.compactMap { if case .number(let d, _) = $0 { return Int32(d) }; return nil })
            default: break
            }
        }
        let jinja = directory + "/chat_template.jinja"
        if source == nil, let text = try? String(contentsOfFile: jinja, encoding: .utf8) { source = text }
        if let source {
            do { g.chatTemplate = try ChatTemplate(source) } catch {
                g.chatTemplateProblem = (FileManager.default.fileExists(atPath: jinja) ? jinja : configPath) + ": " + error.description
            }
        }
        return g
    }

    /// How many tokens of each segment `LongestFirst` truncation keeps within `budget` (what HF
    /// `tokenizers` does): the shorter keeps what it can; when both must shrink, the shorter (the
    /// first when equal) gets ⌊budget/2⌋ and the other the rest.
    public static func longestFirst(_ a: Int, _ b: Int, budget: Int) -> (Int, Int) {
        guard a + b > budget else { return (a, b) }
        var n1 = a, n2 = b
        let swapped = n1 > n2
        if swapped { swap(&n1, &n2) }
        n2 = n1 > budget ? n1 : max(n1, budget - n1)
        if n1 + n2 > budget { n1 = budget / 2; n2 = n1 + budget % 2 }
        if swapped { swap(&n1, &n2) }
        return (min(a, n1), min(b, n2))
    }
}
