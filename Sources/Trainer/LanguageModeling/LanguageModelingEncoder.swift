/// A causal-LM row as tokens: the ids, and which of them the loss counts (token t is predicted
/// from position t − 1, so a counted token at 0 counts nothing).
public struct LanguageModelingEncoding: Equatable, Sendable {
    public var ids: [Int32]
    public var counted: [Bool]
    public var tokens: TokenEncoding { TokenEncoding(ids: ids, typeIds: [Int32](repeating: 0, count: ids.count)) }
    /// How many tokens the loss counts (the first token never is).
    public var countedTokens: Int { counted.dropFirst().filter { $0 }.count }
}

/// Turns causal-LM rows into tokens, as chat fine-tuning tools do:
/// - a completion: the tokenizer's BOS (if it adds one), the prompt, then the response and EOS,
///   which the loss counts;
/// - a conversation: rendered with the chat template; for each assistant turn k, the rendering
///   of the turns before it with the generation prompt, then of the turns through it, and the
///   difference (the turn's content and its end-of-turn tokens) is what the loss counts. The
///   pieces are tokenized apart, so a token never straddles the boundary of what is counted.
/// Too long for `maxLength`: the prompt loses tokens from its start (the recent context stays);
/// a response longer than everything loses its end.
public struct LanguageModelingEncoder: Sendable {
    public let tokenizer: any TextTokenizer
    public let maxLength: Int

    public init(tokenizer: any TextTokenizer, maxLength: Int) {
        self.tokenizer = tokenizer
        self.maxLength = maxLength
    }

    var generation: GenerationTokens { tokenizer.generation }

    /// The row's tokens for training and loss; `row` names the row in errors (its 1-based index).
    public func encode(_ example: Example, row: Int) throws(TrainerError) -> LanguageModelingEncoding {
        guard case .sequence(let r) = example.label else { throw .model("row \(row) is not a causal-LM row") }
        var pieces: [(ids: [Int32], counted: Bool)] = []
        switch r {
        case .completion(let prompt, let response):
            pieces.append((generation.bosIds + tokenizer.tokenize(prompt), false))
            guard let response else { break }
            guard let eos = generation.eosId else {
                throw .model("the tokenizer names no end-of-sequence token, which a response must end with")
            }
            pieces.append((tokenizer.tokenize(response) + [eos], true))
        case .conversation(let messages):
            var done = ""
            for k in messages.indices where messages[k].role == "assistant" {
                let before = try render(Array(messages[..<k]), generationPrompt: true, row: row)
                let through = try render(Array(messages[...k]), generationPrompt: false, row: row)
                guard let context = Self.suffix(of: before, after: done), let turn = Self.suffix(of: through, after: before) else {
                    throw .model("row \(row): the chat template does not render a conversation's turns as prefixes of it (needed to "
                        + "find the assistant's tokens)")
                }
                pieces.append((tokenizer.tokenize(context), false))
                pieces.append((tokenizer.tokenize(turn), true))
                done = through
            }
            if pieces.isEmpty { pieces.append((tokenizer.tokenize(try render(messages, generationPrompt: true, row: row)), false)) }
        }
        return fit(pieces)
    }

    /// The tokens generation continues from: the prompt (with BOS), or the conversation before
    /// its last assistant turn with the generation prompt (the whole conversation when unlabelled).
    public func prompt(_ example: Example, row: Int) throws(TrainerError) -> [Int32] {
        guard case .sequence(let r) = example.label else { throw .model("row \(row) is not a causal-LM row") }
        let ids: [Int32]
        switch r {
        case .completion(let prompt, _): ids = generation.bosIds + tokenizer.tokenize(prompt)
        case .conversation(let messages):
            let context = messages.last?.role == "assistant" ? Array(messages.dropLast()) : messages
            ids = tokenizer.tokenize(try render(context, generationPrompt: true, row: row))
        }
        return Array(ids.suffix(maxLength))
    }

    func render(_ messages: [ChatMessage], generationPrompt: Bool, row: Int) throws(TrainerError) -> String {
        guard let template = generation.chatTemplate else {
            throw .model("row \(row) is a conversation, but " + (generation.chatTemplateProblem.map { "the model's chat template cannot be "
                + "rendered: " + $0 } ?? "the model's tokenizer has no chat template to render it"))
        }
        do {
            return try template.render(messages, addGenerationPrompt: generationPrompt, bosToken: generation.bosToken,
                                       eosToken: generation.eosToken)
        } catch {
            throw .model("row \(row): \(error)")
        }
    }

    /// `text` after `prefix`, by Unicode scalars; nil when `text` does not start with it.
    static func suffix(of text: String, after prefix: String) -> String? {
        let t = text.unicodeScalars, p = prefix.unicodeScalars
        guard t.starts(with: p) else { return nil }
        return String(String.UnicodeScalarView(t.dropFirst(p.count)))
    }

    /// The pieces joined, cut to `maxLength`: uncounted tokens from the start first, then the end.
    func fit(_ pieces: [(ids: [Int32], counted: Bool)]) -> LanguageModelingEncoding {
        var ids: [Int32] = [], counted: [Bool] = []
        for p in pieces {
            ids += p.ids
            counted += [Bool](repeating: p.counted, count: p.ids.count)
        }
        var excess = ids.count - maxLength
        if excess > 0 {
            let leading = counted.prefix { !$0 }.count
            let drop = min(excess, max(leading - 1, 0))  // keep one token of context to predict from
            ids.removeFirst(drop)
            counted.removeFirst(drop)
            excess -= drop
        }
        if excess > 0 {
            ids.removeLast(excess)
            counted.removeLast(excess)
        }
        return LanguageModelingEncoding(ids: ids, counted: counted)
    }
}
