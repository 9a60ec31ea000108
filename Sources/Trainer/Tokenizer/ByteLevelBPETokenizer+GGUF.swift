import Foundation

extension ByteLevelBPETokenizer {
    /// Reads the tokenizer a GGUF file carries when `tokenizer.ggml.model` is `gpt2` (byte-level
    /// BPE): `tokens` (an id's token is its index), `merges` ("a b", rank by position), the
    /// pre-tokenizer `tokenizer.ggml.pre` (llama.cpp's name for it), control and user-defined
    /// tokens (`token_type` 3 and 4) matched verbatim first as HF's added tokens are, BOS/EOS as
    /// `add_bos_token`/`add_eos_token` ask, the padding id, and for causal-LM tasks the EOS id and
    /// the chat template (`tokenizer.chat_template`). Pre-tokenizers and models it does
    /// not implement are refused by name.
    public init(gguf file: GGUFFile) throws(TrainerError) {
        func fail(_ message: String) -> TrainerError { .file(path: file.path, message: message) }
        let m = file.metadata
        let model = m["tokenizer.ggml.model"]?.string ?? "(missing)"
        guard model == "gpt2" else {
            throw fail("tokenizer.ggml.model \"\(model)\" is not a tokenizer autopeft reads from GGUF; it reads \"gpt2\" (byte-level BPE)")
        }
        func strings(_ key: String) throws(TrainerError) -> [String] {
            guard case .array(let a)? = m[key] else { throw fail("no \(key) array") }
            var out: [String] = []
            out.reserveCapacity(a.count)
            for v in a {
                guard let s = v.string else { throw fail("\(key) holds a value that is not a string") }
                out.append(s)
            }
            return out
        }
        let tokens = try strings("tokenizer.ggml.tokens")
        guard tokens.count < Int(Int32.max) else { throw fail("too many tokens") }
        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(tokens.count)
        for (id, t) in tokens.enumerated() where vocab[t] == nil { vocab[t] = Int32(id) }
        var merges: [UInt64: (rank: Int32, id: Int32)] = [:]
        for (rank, line) in try strings("tokenizer.ggml.merges").enumerated() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard Self.addMerge(parts, rank: rank, vocab: vocab, into: &merges) else {
                throw fail("tokenizer.ggml.merges[\(rank)] \"\(line)\" is not two tokens whose concatenation is a token too")
            }
        }
        let ids = Self.byteIds(vocab)
        let pre = m["tokenizer.ggml.pre"]?.string ?? "(missing)"
        guard let steps = Self.ggufPreTokenizers[pre] else {
            throw fail("tokenizer.ggml.pre \"\(pre)\" is not a pre-tokenizer autopeft implements; it reads "
                + Self.ggufPreTokenizers.keys.sorted().map { "\"\($0)\"" }.joined(separator: ", "))
        }
        var added: [AddedToken] = []
        if case .array(let types)? = m["tokenizer.ggml.token_type"] {
            guard types.count == tokens.count else { throw fail("tokenizer.ggml.token_type has \(types.count) entries for \(tokens.count) tokens") }
            for (id, t) in types.enumerated() where t.int == 3 || t.int == 4 {
                added.append(AddedToken(content: Array(tokens[id].unicodeScalars), id: Int32(id), leftStrip: false, rightStrip: false,
                                        singleWord: false))
            }
        }
        func special(_ key: String) throws(TrainerError) -> Int32? {
            guard let v = m["tokenizer.ggml." + key] else { return nil }
            guard let id = v.int, id >= 0, id < tokens.count else { throw fail("tokenizer.ggml.\(key) is not a token id") }
            return Int32(id)
        }
        func flag(_ key: String) -> Bool { if case .bool(true)? = m["tokenizer.ggml." + key] { return true }; return false }
        let bos = flag("add_bos_token") ? try special("bos_token_id") : nil
        let eos = flag("add_eos_token") ? try special("eos_token_id") : nil
        func around(_ segment: Int, type: Int32) -> [Template.Item] {
            (bos.map { [.special([$0], type: type)] } ?? []) + [.segment(segment, type: type)] + (eos.map { [.special([$0], type: type)] } ?? [])
        }
        let pad = try special("padding_token_id"), eosId = try special("eos_token_id")
        // A byte without a token is dropped, not made `unknown_token_id`: what transformers' tokenizer
        // built from the same file does (tools/make_smollm2_fixture.py, its third case).
        self.init(vocab: vocab, merges: merges, byteIds: ids, unknownId: nil, normalizeNFC: false, steps: steps, ignoreMerges: false,
                  addedTokens: added, template: Template(single: around(0, type: 0), pair: around(0, type: 0) + around(1, type: 1)),
                  padId: pad ?? eosId ?? 0)
        generation.bosIds = bos.map { [$0] } ?? []
        generation.eosId = eosId
        for key in ["eot_token_id", "eom_token_id"] { if let id = try special(key) { generation.otherStopIds.insert(id) } }
        if let b = try special("bos_token_id") { generation.bosToken = tokens[Int(b)] }
        if let eosId { generation.eosToken = tokens[Int(eosId)] }
        if let source = m["tokenizer.chat_template"]?.string {
            do { generation.chatTemplate = try ChatTemplate(source) } catch {
                generation.chatTemplateProblem = "\(file.path): tokenizer.chat_template: \(error.message)"
            }
        }
    }

    /// llama.cpp's pre-tokenizer names (`tokenizer.ggml.pre`) this reader implements, as the steps
    /// of HF's `tokenizer.json` for the same models.
    static let ggufPreTokenizers: [String: [PreTokenizerStep]] = [
        "gpt-2": [.byteLevel(addPrefixSpace: false, useRegex: true)],
        "smollm": [.digits(individual: true), .byteLevel(addPrefixSpace: false, useRegex: true)],
    ]
}
