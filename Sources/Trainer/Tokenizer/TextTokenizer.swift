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
        case .string("BPE")?: return try ByteLevelBPETokenizer(tokenizerJSON: root, path: path)
        case let other:
            throw .file(path: path, message: "model.type \(other?.serialized() ?? "(missing)") is not a tokenizer autopeft reads; "
                + "it reads " + supported.joined(separator: " and "))
        }
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
