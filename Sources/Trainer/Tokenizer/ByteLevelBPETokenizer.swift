import JSONKit
import Foundation

/// Byte-level BPE, as Hugging Face `tokenizers` runs it from a `tokenizer.json` (GPT-2, RoBERTa,
/// Llama 3, SmolLM, Qwen2): added tokens split off first, an optional NFC normaliser, the
/// pre-tokenizer steps (regex splits, digits, ByteLevel with its GPT-2 regex and prefix space),
/// each piece's UTF-8 bytes mapped to printable characters and merged by rank, then the
/// post-processor's template (RoBERTa's `<s> A </s></s> B </s>`, or a `TemplateProcessing`).
///
/// A family whose pre-tokenizer is another regex needs no code here: its `Split` step carries the
/// pattern. Anything this reader does not implement is refused by its JSON path, never guessed.
public struct ByteLevelBPETokenizer: TextTokenizer {
    /// One step of the pre-tokenizer, applied to every piece the steps before it made.
    enum PreTokenizerStep: Sendable {
        /// Matches and the text between them become pieces (`Isolated`), or only the text between
        /// them (`Removed`).
        case split(Pattern, keepMatches: Bool)
        /// Digits apart from the rest; each digit alone when `individual`.
        case digits(individual: Bool)
        /// A space in front of a piece that has none (`addPrefixSpace`), then GPT-2's regex split
        /// (`useRegex`). The byte mapping itself happens after every step.
        case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    }

    /// A compiled regular expression (ICU's, as `tokenizers` uses Oniguruma: the patterns these
    /// families ship are in the syntax both share). Matching is thread-safe.
    final class Pattern: @unchecked Sendable {
        let expression: NSRegularExpression
        init(_ pattern: String) throws { expression = try NSRegularExpression(pattern: pattern) }

        /// The matched ranges and the gaps between them, in order, as (text, matched).
        func pieces(_ text: String) -> [(Substring, Bool)] {
            let ns = NSRange(text.startIndex..., in: text)
            var out: [(Substring, Bool)] = [], last = text.startIndex
            for m in expression.matches(in: text, range: ns) {
                guard let r = Range(m.range, in: text), !r.isEmpty else { continue }
                if last < r.lowerBound { out.append((text[last..<r.lowerBound], false)) }
                out.append((text[r], true))
                last = r.upperBound
            }
            if last < text.endIndex { out.append((text[last...], false)) }
            return out
        }
    }

    /// GPT-2's pre-tokenizer regex, which `ByteLevel` uses when `use_regex` is true.
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// A token matched verbatim in the raw text before anything else (`added_tokens`).
    struct AddedToken: Sendable {
        var content: [Unicode.Scalar]
        var id: Int32
        var leftStrip: Bool, rightStrip: Bool, singleWord: Bool
    }

    /// What the post-processor adds around the segments: each item a special token's ids or a
    /// segment, with its type id.
    struct Template: Sendable {
        enum Item: Sendable { case special([Int32], type: Int32), segment(Int, type: Int32) }
        var single: [Item], pair: [Item]

        func specialCount(pair isPair: Bool) -> Int {
            (isPair ? pair : single).reduce(0) { n, item in if case .special(let ids, _) = item { return n + ids.count }; return n }
        }

        static let none = Template(single: [.segment(0, type: 0)], pair: [.segment(0, type: 0), .segment(1, type: 1)])
    }

    public let vocab: [String: Int32]
    /// (left id, right id) packed in 64 bits → (rank, merged id).
    let merges: [UInt64: (rank: Int32, id: Int32)]
    /// Each byte's id: the id of its printable stand-in character; −1 when the vocabulary has no
    /// such token (SmolLM2's lacks 21, bytes no UTF-8 text holds and rare control characters).
    let byteIds: [Int32]
    /// What a byte without a token becomes: the unknown token when the tokenizer has one, as in
    /// `tokenizers`' BPE; without one the byte is dropped, as there.
    let unknownId: Int32?
    let normalizeNFC: Bool
    let steps: [PreTokenizerStep]
    /// Llama 3: a piece already in the vocabulary is taken whole, before any merge.
    let ignoreMerges: Bool
    let addedTokens: [AddedToken]
    let template: Template
    public let padId: Int32
    public var generation = GenerationTokens()

    // MARK: Encoding

    public func encode(_ a: String, _ b: String? = nil, maxLength: Int) -> TokenEncoding {
        var segments = [tokenize(a)]
        if let b { segments.append(tokenize(b)) }
        let budget = max(0, maxLength - template.specialCount(pair: b != nil))
        if segments.count == 2 {
            let (n1, n2) = Tokenizers.longestFirst(segments[0].count, segments[1].count, budget: budget)
            segments[0].removeLast(segments[0].count - n1)
            segments[1].removeLast(segments[1].count - n2)
        } else if segments[0].count > budget {
            segments[0].removeLast(segments[0].count - budget)
        }
        var ids: [Int32] = [], types: [Int32] = []
        for item in b == nil ? template.single : template.pair {
            switch item {
            case let .special(s, type): ids += s; types += Array(repeating: type, count: s.count)
            case let .segment(k, type): ids += segments[k]; types += Array(repeating: type, count: segments[k].count)
            }
        }
        return TokenEncoding(ids: ids, typeIds: types)
    }

    public func tokenize(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        for (segment, added) in splitOnAddedTokens(text) {
            if let added { ids.append(added); continue }
            let normalized = normalizeNFC ? segment.precomposedStringWithCanonicalMapping : segment
            for piece in preTokenize(normalized) { merge(Array(piece.utf8), into: &ids) }
        }
        return ids
    }

    /// The raw text cut around added tokens: (text, nil) segments and ("", id) tokens.
    func splitOnAddedTokens(_ text: String) -> [(String, Int32?)] {
        guard !addedTokens.isEmpty else { return [(text, nil)] }
        let s = Array(text.unicodeScalars)
        var out: [(String, Int32?)] = [], start = 0, i = 0
        func flush(_ end: Int) {
            if end > start { var v = String.UnicodeScalarView(); v.append(contentsOf: s[start..<end]); out.append((String(v), nil)) }
        }
        while i < s.count {
            guard let t = addedTokens.first(where: { t in
                t.content.first == s[i] && i + t.content.count <= s.count && s[i..<(i + t.content.count)].elementsEqual(t.content)
                    && (!t.singleWord || (!Self.isWordCharacter(i > 0 ? s[i - 1] : nil)
                                          && !Self.isWordCharacter(i + t.content.count < s.count ? s[i + t.content.count] : nil)))
            }) else { i += 1; continue }
            var left = i, right = i + t.content.count
            if t.leftStrip { while left > start && s[left - 1].properties.isWhitespace { left -= 1 } }
            if t.rightStrip { while right < s.count && s[right].properties.isWhitespace { right += 1 } }
            flush(left)
            out.append(("", t.id))
            i = right
            start = right
        }
        flush(s.count)
        return out
    }

    private static func isWordCharacter(_ u: Unicode.Scalar?) -> Bool {
        guard let u else { return false }
        return u.properties.isAlphabetic || u.properties.numericType != nil || u == "_"
    }

    /// The pieces of a segment after every pre-tokenizer step.
    func preTokenize(_ text: String) -> [String] {
        var pieces = [text]
        for step in steps {
            var next: [String] = []
            for p in pieces {
                switch step {
                case let .split(pattern, keep):
                    for (t, matched) in pattern.pieces(p) where keep || !matched { next.append(String(t)) }
                case .digits(let individual):
                    next += Self.splitDigits(p, individual: individual)
                case let .byteLevel(prefix, regex):
                    let q = prefix && !p.hasPrefix(" ") ? " " + p : p
                    if regex { next += Self.gpt2.pieces(q).map { String($0.0) } } else { next.append(q) }
                }
            }
            pieces = next
        }
        return pieces.filter { !$0.isEmpty }
    }

    private static let gpt2 = try! Pattern(gpt2Pattern)  // a constant pattern: checked by the tests

    static func splitDigits(_ text: String, individual: Bool) -> [String] {
        var out: [String] = [], current = String.UnicodeScalarView(), inDigits = false
        for u in text.unicodeScalars {
            let digit = u.properties.numericType == .decimal
            if !current.isEmpty && (digit != inDigits || (digit && individual)) { out.append(String(current)); current = .init() }
            current.append(u)
            inDigits = digit
        }
        if !current.isEmpty { out.append(String(current)) }
        return out
    }

    /// BPE over one piece's bytes: the adjacent pair of lowest rank merges first (the leftmost of
    /// equals), until no pair has a rank.
    func merge(_ bytes: [UInt8], into out: inout [Int32]) {
        if ignoreMerges, let whole = vocab[String(String.UnicodeScalarView(bytes.map { Self.byteCharacters[Int($0)] }))] {
            out.append(whole)
            return
        }
        var symbols = bytes.compactMap { b -> Int32? in byteIds[Int(b)] >= 0 ? byteIds[Int(b)] : unknownId }
        while symbols.count > 1 {
            var best: (rank: Int32, at: Int, id: Int32)?
            for i in 0..<(symbols.count - 1) {
                if let m = merges[Self.pairKey(symbols[i], symbols[i + 1])], best == nil || m.rank < best!.rank {
                    best = (m.rank, i, m.id)
                }
            }
            guard let (_, at, id) = best else { break }
            symbols[at] = id
            symbols.remove(at: at + 1)
        }
        out += symbols
    }

    static func pairKey(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b)) }

    /// GPT-2's byte → printable character map: printable Latin-1 bytes stand for themselves, the
    /// other 68 bytes take U+0100 onwards in byte order.
    static let byteCharacters: [Unicode.Scalar] = {
        var map = [Unicode.Scalar](repeating: " ", count: 256), next: UInt32 = 256
        for b in 0..<256 {
            if (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b) {
                map[b] = Unicode.Scalar(UInt8(b))
            } else {
                map[b] = Unicode.Scalar(next)!  // U+0100…U+0143: valid scalars
                next += 1
            }
        }
        return map
    }()
}
