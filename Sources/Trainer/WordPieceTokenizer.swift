import JSONKit
import Foundation
import Space

/// BERT's tokenizer: normalisation, pre-tokenisation on whitespace and punctuation,
/// greedy longest-match-first WordPiece, and the `[CLS] a [SEP] b [SEP]` template.
///
/// Follows Hugging Face `tokenizers` (BertNormalizer, BertPreTokenizer, WordPiece,
/// TemplateProcessing, LongestFirst truncation) token for token; the test suite
/// checks this on a committed fixture made by `tools/make_fixtures.py`.
public struct WordPieceTokenizer: TextTokenizer {
    public typealias Encoding = TokenEncoding

    public let vocab: [String: Int32]
    public let lowercase: Bool
    public let stripAccents: Bool
    public let handleChineseChars: Bool
    public let maxInputCharsPerWord: Int
    public let unkId: Int32, clsId: Int32, sepId: Int32, padId: Int32
    /// Added tokens matched verbatim in the raw text before normalisation, as HF does for
    /// `added_tokens` with `normalized: false` (BERT's [PAD], [UNK], [CLS], [SEP], [MASK]).
    public let addedTokens: [(text: [Unicode.Scalar], id: Int32)]

    public init(vocab: [String: Int32], lowercase: Bool = true, stripAccents: Bool? = nil,
                handleChineseChars: Bool = true, maxInputCharsPerWord: Int = 100,
                addedTokens: [String]? = nil) throws(TrainerError) {
        func id(_ t: String) throws(TrainerError) -> Int32 {
            guard let i = vocab[t] else { throw .model("the vocabulary has no \(t) token") }
            return i
        }
        self.vocab = vocab
        self.lowercase = lowercase
        self.stripAccents = stripAccents ?? lowercase  // HF: accents follow lowercasing unless set
        self.handleChineseChars = handleChineseChars
        self.maxInputCharsPerWord = maxInputCharsPerWord
        unkId = try id("[UNK]"); clsId = try id("[CLS]"); sepId = try id("[SEP]"); padId = try id("[PAD]")
        let added = addedTokens ?? ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].filter { vocab[$0] != nil }
        self.addedTokens = added.compactMap { t in vocab[t].map { (Array(t.unicodeScalars), $0) } }
            .sorted { $0.text.count > $1.text.count }  // longest first
    }

    /// Loads from a model directory: `tokenizer.json` when present, otherwise `vocab.txt`
    /// (with `tokenizer_config.json`'s `do_lower_case`/`strip_accents` when present).
    public init(directory: String) throws(TrainerError) {
        let fm = FileManager.default
        let tj = directory + "/tokenizer.json"
        if fm.fileExists(atPath: tj) {
            try self.init(tokenizerJSON: tj)
            return
        }
        let vt = directory + "/vocab.txt"
        guard fm.fileExists(atPath: vt) else {
            throw .file(path: directory, message: "no tokenizer.json or vocab.txt in the model directory")
        }
        var lower = true, strip: Bool? = nil, chinese = true
        if let text = try? String(contentsOfFile: directory + "/tokenizer_config.json", encoding: .utf8),
           let cfg = try? JSONParser.parse(text) {
            if case .bool(let b)? = cfg["do_lower_case"] { lower = b }
            if case .bool(let b)? = cfg["strip_accents"] { strip = b }
            if case .bool(let b)? = cfg["tokenize_chinese_chars"] { chinese = b }
        }
        let vocab = try WordPieceTokenizer.readVocab(vt)
        do { try self.init(vocab: vocab, lowercase: lower, stripAccents: strip, handleChineseChars: chinese) }
        catch .model(let reason) { throw .file(path: vt, message: reason) }
    }

    /// One token a line; the line number (from 0) is the id.
    public static func readVocab(_ path: String) throws(TrainerError) -> [String: Int32] {
        let data: Data
        do { data = try SystemErrors.readFile(path) } catch { throw .file(path: path, message: "cannot read vocabulary: " + error.reason) }
        guard let text = String(validating: data, as: UTF8.self) else { throw .file(path: path, message: "the vocabulary is not valid UTF-8") }
        var vocab: [String: Int32] = [:]
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        for (i, l) in lines.enumerated() {
            let token = l.hasSuffix("\r") ? String(l.dropLast()) : String(l)
            if vocab[token] == nil { vocab[token] = Int32(i) }
        }
        return vocab
    }

    init(tokenizerJSON path: String) throws(TrainerError) {
        let root = try readJSONFile(path, what: "tokenizer.json")
        guard let model = root["model"], case .string("WordPiece")? = model["type"], case .object(let vm)? = model["vocab"] else {
            throw .file(path: path, message: "model.type must be \"WordPiece\" with a vocab object")
        }
        var vocab: [String: Int32] = [:]
        for (k, v) in vm {
            // Checked: an id out of Int32's range must be refused, not trapped on.
            guard case .number(let d, _) = v, let id = Int32(exactly: d), id >= 0 else {
                throw .file(path: path, message: "model.vocab[\"\(k)\"] must be a token id (an integer from 0 to \(Int32.max)), "
                    + "got \(v.serialized())")
            }
            vocab[k] = id
        }
        var lower = true, strip: Bool? = nil, chinese = true, maxChars = 100
        var added: [String] = []
        if case .array(let items)? = root["added_tokens"] {
            for item in items {
                // Tokens that HF normalises before matching are left to the ordinary path.
                if case .string(let content)? = item["content"], item["normalized"] != .bool(true) { added.append(content) }
            }
        }
        if let n = root["normalizer"] {
            if case .bool(let b)? = n["lowercase"] { lower = b }
            if case .bool(let b)? = n["strip_accents"] { strip = b }
            if case .bool(let b)? = n["handle_chinese_chars"] { chinese = b }
        }
        if let m = model["max_input_chars_per_word"] {
            guard case .number(let d, _) = m, let n = Int(exactly: d), n >= 1 else {
                throw .file(path: path, message: "model.max_input_chars_per_word must be a positive integer, got \(m.serialized())")
            }
            maxChars = n
        }
        do {
            try self.init(vocab: vocab, lowercase: lower, stripAccents: strip, handleChineseChars: chinese,
                          maxInputCharsPerWord: maxChars, addedTokens: added)
        } catch .model(let reason) { throw .file(path: path, message: reason) }
    }

    // MARK: Normalisation

    static func isControl(_ u: Unicode.Scalar) -> Bool {
        if u == "\t" || u == "\n" || u == "\r" { return false }
        switch u.properties.generalCategory {
        case .control, .format, .privateUse, .unassigned, .surrogate: return true
        default: return false
        }
    }

    static func isWhitespace(_ u: Unicode.Scalar) -> Bool {
        u == "\t" || u == "\n" || u == "\r" || u.properties.isWhitespace
    }

    static func isChinese(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
        default: return false
        }
    }

    static func isPunctuation(_ u: Unicode.Scalar) -> Bool {
        if u.isASCII {
            let v = u.value
            return (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v)
        }
        switch u.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    /// BertNormalizer: clean text, space out CJK characters, strip accents, lowercase.
    public func normalize(_ text: String) -> String {
        var s = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            if u.value == 0 || u.value == 0xFFFD || WordPieceTokenizer.isControl(u) { continue }
            if WordPieceTokenizer.isWhitespace(u) { s.append(" "); continue }
            if handleChineseChars && WordPieceTokenizer.isChinese(u) { s.append(" "); s.append(u); s.append(" "); continue }
            s.append(u)
        }
        var out = String(s)
        if stripAccents {
            var t = String.UnicodeScalarView()
            for u in out.decomposedStringWithCanonicalMapping.unicodeScalars where u.properties.generalCategory != .nonspacingMark {
                t.append(u)
            }
            out = String(t)
        }
        if lowercase {
            var t = String.UnicodeScalarView()
            for u in out.unicodeScalars {
                if u.isASCII {
                    let b = UInt8(u.value)  // ASCII: fits
                    t.append(Unicode.Scalar(b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? b + 32 : b))
                }
                else { t.append(contentsOf: u.properties.lowercaseMapping.unicodeScalars) }
            }
            out = String(t)
        }
        return out
    }

    /// BertPreTokenizer: split on whitespace (removed) and punctuation (kept as single-character words).
    public func preTokenize(_ normalized: String) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var cur: [Unicode.Scalar] = []
        for u in normalized.unicodeScalars {
            if u.properties.isWhitespace || WordPieceTokenizer.isWhitespace(u) {
                if !cur.isEmpty { words.append(cur); cur = [] }
            } else if WordPieceTokenizer.isPunctuation(u) {
                if !cur.isEmpty { words.append(cur); cur = [] }
                words.append([u])
            } else {
                cur.append(u)
            }
        }
        if !cur.isEmpty { words.append(cur) }
        return words
    }

    /// Greedy longest-match-first WordPiece for one word; the whole word becomes [UNK]
    /// when it is longer than `maxInputCharsPerWord` or any piece is missing.
    public func wordPiece(_ word: [Unicode.Scalar], into out: inout [Int32]) {
        if word.count > maxInputCharsPerWord { out.append(unkId); return }
        var pieces: [Int32] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32? = nil
            while start < end {
                var sv = String.UnicodeScalarView()
                if start > 0 { sv.append("#"); sv.append("#") }
                sv.append(contentsOf: word[start..<end])
                if let id = vocab[String(sv)] { found = id; break }
                end -= 1
            }
            guard let id = found else { out.append(unkId); return }
            pieces.append(id)
            start = end
        }
        out.append(contentsOf: pieces)
    }

    /// The WordPiece ids of a text, without the template's special tokens. Added tokens
    /// written literally in the text (e.g. "[MASK]") become their ids, as in HF.
    public func tokenize(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        let scalars = Array(text.unicodeScalars)
        var segmentStart = 0, i = 0
        func flush(_ end: Int) {
            guard end > segmentStart else { return }
            var seg = String.UnicodeScalarView()
            seg.append(contentsOf: scalars[segmentStart..<end])
            for w in preTokenize(normalize(String(seg))) { wordPiece(w, into: &ids) }
        }
        while i < scalars.count {
            if let match = addedTokens.first(where: { t in
                t.text.first == scalars[i] && i + t.text.count <= scalars.count && scalars[i..<(i + t.text.count)].elementsEqual(t.text)
            }) {
                flush(i)
                ids.append(match.id)
                i += match.text.count
                segmentStart = i
            } else {
                i += 1
            }
        }
        flush(scalars.count)
        return ids
    }

    /// `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]` (type ids 0 for a, 1 for b and its [SEP]),
    /// truncated longest-first to `maxLength` tokens in all.
    public func encode(_ a: String, _ b: String? = nil, maxLength: Int) -> Encoding {
        var ta = tokenize(a)
        guard let b else {
            let keep = max(0, maxLength - 2)
            if ta.count > keep { ta.removeLast(ta.count - keep) }
            return Encoding(ids: [clsId] + ta + [sepId], typeIds: [Int32](repeating: 0, count: ta.count + 2))
        }
        var tb = tokenize(b)
        let budget = max(0, maxLength - 3)
        let (n1, n2) = Tokenizers.longestFirst(ta.count, tb.count, budget: budget)
        ta.removeLast(ta.count - n1)
        tb.removeLast(tb.count - n2)
        let ids = [clsId] + ta + [sepId] + tb + [sepId]
        let types = [Int32](repeating: 0, count: ta.count + 2) + [Int32](repeating: 1, count: tb.count + 1)
        return Encoding(ids: ids, typeIds: types)
    }
}
