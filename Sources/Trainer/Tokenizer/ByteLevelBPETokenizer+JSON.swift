import JSONKit
import Foundation

extension ByteLevelBPETokenizer {
    /// Reads a `tokenizer.json` whose `model.type` is `BPE`. Errors name the file and the JSON path.
    init(tokenizerJSON root: JSONValue, path: String) throws(TrainerError) {
        do { try self.init(reading: JSONReader(root, file: path)) } catch { throw .config(error) }
    }

    private init(reading r: JSONReader) throws(ConfigError) {
        let model = try r.required("model")
        let vocab = try Self.readVocab(model.required("vocab"))
        if try model.optional("byte_fallback")?.bool() == true {
            throw model.error("byte_fallback is SentencePiece-style BPE, not byte-level; autopeft does not read it", at: "model.byte_fallback")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = try model.optional(key), try !v.string().isEmpty {
                throw v.error("a subword prefix or suffix is not byte-level BPE; autopeft does not read it")
            }
        }
        byteIds = Self.byteIds(vocab)
        unknownId = try model.optional("unk_token").map { r throws(ConfigError) in
            let token = try r.string()
            guard let id = vocab[token] else { throw r.error("unk_token \"\(token)\" is not in the vocabulary") }
            return id
        }
        self.vocab = vocab
        merges = try Self.readMerges(model.required("merges"), vocab: vocab)
        ignoreMerges = try model.optional("ignore_merges")?.bool() ?? false
        normalizeNFC = try Self.readNormalizer(r.optional("normalizer"))
        steps = try Self.readPreTokenizer(r.optional("pre_tokenizer"))
        addedTokens = try Self.readAddedTokens(r.optional("added_tokens"))
        template = try Self.readPostProcessor(r.optional("post_processor"), vocab: vocab)
        padId = try Self.readPadId(r, vocab: vocab)
    }

    static func readVocab(_ r: JSONReader) throws(ConfigError) -> [String: Int32] {
        guard case .object(let members) = r.value else { throw r.error("expected an object of token → id") }
        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(members.count)
        for (token, v) in members {
            guard case .number(let d, _) = v, let id = Int32(exactly: d), id >= 0 else {
                throw r.error("expected a token id (an integer from 0 to \(Int32.max)), got \(v.kindDescription)", at: "\(r.path)[\"\(token)\"]")
            }
            vocab[token] = id
        }
        return vocab
    }

    /// `["a b", …]` (older files) or `[["a", "b"], …]`; rank is the position.
    static func readMerges(_ r: JSONReader, vocab: [String: Int32]) throws(ConfigError) -> [UInt64: (rank: Int32, id: Int32)] {
        var merges: [UInt64: (rank: Int32, id: Int32)] = [:]
        for (rank, item) in try r.array().enumerated() {
            let parts: [String]
            switch item.value {
            case .string(let s): parts = s.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            case .array(let a): parts = a.compactMap { if case .string(let s) = $0 { return s }; return nil }
            default: parts = []
            }
            guard addMerge(parts, rank: rank, vocab: vocab, into: &merges) else {
                throw item.error("expected a merge of two vocabulary tokens whose concatenation is one too (\"a b\" or [\"a\", \"b\"])")
            }
        }
        return merges
    }

    /// Adds the merge of `parts` (two tokens) at `rank`; false when they are not two vocabulary
    /// tokens whose concatenation is one too. The first listing of a pair is its rank, as in `tokenizers`.
    static func addMerge(_ parts: [String], rank: Int, vocab: [String: Int32],
                         into merges: inout [UInt64: (rank: Int32, id: Int32)]) -> Bool {
        guard parts.count == 2, let a = vocab[parts[0]], let b = vocab[parts[1]], let merged = vocab[parts[0] + parts[1]] else {
            return false
        }
        if merges[pairKey(a, b)] == nil { merges[pairKey(a, b)] = (Int32(rank), merged) }
        return true
    }

    /// Each byte's id (its printable stand-in's), −1 where the vocabulary has no such token.
    static func byteIds(_ vocab: [String: Int32]) -> [Int32] { byteCharacters.map { vocab[String($0)] ?? -1 } }

    /// null, `NFC`, or a `Sequence` of those: whether to apply NFC.
    static func readNormalizer(_ r: JSONReader?) throws(ConfigError) -> Bool {
        guard let r else { return false }
        switch try r.required("type").string() {
        case "NFC": return true
        case "Sequence":
            var nfc = false
            for n in try r.required("normalizers").array() { nfc = try readNormalizer(n) || nfc }
            return nfc
        case let other:
            throw r.error("normalizer \"\(other)\" is not one autopeft implements for byte-level BPE (it reads NFC)", at: r.path + ".type")
        }
    }

    static func readPreTokenizer(_ r: JSONReader?) throws(ConfigError) -> [PreTokenizerStep] {
        guard let r else { return [] }
        switch try r.required("type").string() {
        case "Sequence":
            var steps: [PreTokenizerStep] = []
            for p in try r.required("pretokenizers").array() { steps += try readPreTokenizer(p) }
            return steps
        case "ByteLevel":
            return [.byteLevel(addPrefixSpace: try r.optional("add_prefix_space")?.bool() ?? true,
                               useRegex: try r.optional("use_regex")?.bool() ?? true)]
        case "Digits":
            return [.digits(individual: try r.optional("individual_digits")?.bool() ?? false)]
        case "Split":
            let p = try r.required("pattern")
            let source: String
            if let re = try p.optional("Regex") { source = try re.string() }
            else { source = NSRegularExpression.escapedPattern(for: try p.required("String").string()) }
            if try r.optional("invert")?.bool() == true { throw r.error("an inverted split is not implemented", at: r.path + ".invert") }
            let behavior = try r.required("behavior")
            let keep: Bool
            switch try behavior.string() {
            case "Isolated": keep = true
            case "Removed": keep = false
            case let other: throw behavior.error("split behavior \"\(other)\" is not implemented (Isolated and Removed are)")
            }
            do { return [.split(try Pattern(source), keepMatches: keep)] }
            catch { throw p.error("the pattern does not compile: \(error)") }
        case let other:
            throw r.error("pre-tokenizer \"\(other)\" is not one autopeft implements (it reads Sequence, ByteLevel, Digits, Split)",
                          at: r.path + ".type")
        }
    }

    static func readAddedTokens(_ r: JSONReader?) throws(ConfigError) -> [AddedToken] {
        guard let r else { return [] }
        var out: [AddedToken] = []
        for t in try r.array() {
            let content = try t.required("content").string()
            guard !content.isEmpty else { throw t.error("an added token needs content", at: t.path + ".content") }
            out.append(AddedToken(content: Array(content.unicodeScalars), id: Int32(try t.required("id").int(in: 0...Int(Int32.max))),
                                  leftStrip: try t.optional("lstrip")?.bool() ?? false, rightStrip: try t.optional("rstrip")?.bool() ?? false,
                                  singleWord: try t.optional("single_word")?.bool() ?? false))
        }
        return out.sorted { $0.content.count > $1.content.count }  // the longest match wins
    }

    /// RoBERTa's processor, `TemplateProcessing`, `ByteLevel` (offsets only), or a `Sequence`.
    static func readPostProcessor(_ r: JSONReader?, vocab: [String: Int32]) throws(ConfigError) -> Template {
        guard let r else { return .none }
        switch try r.required("type").string() {
        case "ByteLevel": return .none
        case "Sequence":
            var found = Template.none
            for p in try r.required("processors").array() {
                let t = try readPostProcessor(p, vocab: vocab)
                if t.specialCount(pair: false) + t.specialCount(pair: true) > 0 { found = t }
            }
            return found
        case "RobertaProcessing":
            func special(_ key: String) throws(ConfigError) -> Int32 {
                let pair = try r.required(key).array()
                guard pair.count == 2 else { throw r.error("expected [token, id]", at: r.path + "." + key) }
                return Int32(try pair[1].int(in: 0...Int(Int32.max)))
            }
            let cls = try special("cls"), sep = try special("sep")
            return Template(single: [.special([cls], type: 0), .segment(0, type: 0), .special([sep], type: 0)],
                            pair: [.special([cls], type: 0), .segment(0, type: 0), .special([sep, sep], type: 0),
                                   .segment(1, type: 0), .special([sep], type: 0)])
        case "TemplateProcessing":
            var specials: [String: [Int32]] = [:]
            if let s = try r.optional("special_tokens"), case .object(let members) = s.value {
                for (name, _) in members {
                    let ids = try s.required(name).required("ids").array()
                    var list: [Int32] = []
                    for id in ids { list.append(Int32(try id.int(in: 0...Int(Int32.max)))) }
                    specials[name] = list
                }
            }
            func items(_ key: String) throws(ConfigError) -> [Template.Item] {
                var out: [Template.Item] = []
                for item in try r.required(key).array() {
                    if let s = try item.optional("SpecialToken") {
                        let name = try s.required("id").string()
                        guard let ids = specials[name] ?? vocab[name].map({ [$0] }) else {
                            throw s.error("special token \"\(name)\" is in neither special_tokens nor the vocabulary")
                        }
                        out.append(.special(ids, type: Int32(try s.optional("type_id")?.int(in: 0...1000) ?? 0)))
                    } else {
                        let q = try item.required("Sequence")
                        let k = try q.required("id").choice(["A", "B"]) == "A" ? 0 : 1
                        out.append(.segment(k, type: Int32(try q.optional("type_id")?.int(in: 0...1000) ?? 0)))
                    }
                }
                return out
            }
            return Template(single: try items("single"), pair: try items("pair"))
        case let other:
            throw r.error("post-processor \"\(other)\" is not one autopeft implements (it reads RobertaProcessing, "
                + "TemplateProcessing, ByteLevel, Sequence)", at: r.path + ".type")
        }
    }

    /// `padding.pad_id` when the file sets padding, else `<pad>`, else `<|endoftext|>`, else 0:
    /// padded positions are masked, so the id only has to exist.
    static func readPadId(_ r: JSONReader, vocab: [String: Int32]) throws(ConfigError) -> Int32 {
        if let p = try r.optional("padding"), let id = try p.optional("pad_id") { return Int32(try id.int(in: 0...Int(Int32.max))) }
        return vocab["<pad>"] ?? vocab["<|endoftext|>"] ?? 0
    }
}
