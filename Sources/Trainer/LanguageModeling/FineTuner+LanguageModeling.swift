import Foundation

/// A causal-LM run's data, metrics and generations (the training loop is the shared one).
extension FineTuner {
    /// The encoder of the run's rows: the task's max length, capped by the model's positions
    /// (less a shifted prefix).
    var languageModelingEncoder: LanguageModelingEncoder {
        LanguageModelingEncoder(tokenizer: tokenizer,
                                maxLength: min(config.task.maxLength, base.textPositions - (config.plan.prefix?.positionOffset ?? 0)))
    }

    public func languageModelingEncodings(_ examples: [Example]) throws(TrainerError) -> [LanguageModelingEncoding] {
        let encoder = languageModelingEncoder
        var out: [LanguageModelingEncoding] = []
        out.reserveCapacity(examples.count)
        for (i, e) in examples.enumerated() { out.append(try encoder.encode(e, row: i + 1)) }
        return out
    }

    /// `loss`, `perplexity` and `token_accuracy` over every counted token of `examples` (batches
    /// sorted by length), and `exact_match` of greedy generations when the task sets `max_new_tokens`.
    public func evaluate(languageModel model: DecoderLanguageModel, examples: [Example],
                         useCache: Bool = false) throws(TrainerError) -> [String: Double] {
        let enc = try languageModelingEncodings(examples)
        let tokens = enc.map(\.tokens)
        let cache = useCache ? try prefixCache(model: model, encodings: tokens) : nil
        let order = enc.indices.sorted { enc[$0].ids.count < enc[$1].ids.count }
        var total = DecoderLanguageModel.TokenLoss()
        var rng = RandomSource(seed: 0)
        for s in stride(from: 0, to: order.count, by: config.training.evalBatchSize) {
            let idx = Array(order[s..<min(s + config.training.evalBatchSize, order.count)])
            let batch = TokenBatch(idx.map { tokens[$0] }, padId: tokenizer.padId)
            let counted = LanguageModelingObjective.mask(idx.map { enc[$0].counted }, length: batch.length)
            total = total + (try model.loss(batch, counted: counted, backward: false, rng: &rng, cache: cache, rows: idx))
        }
        guard total.tokens > 0 else { throw .model("the dev rows hold no response tokens to score") }
        var metrics = ["loss": total.mean, "perplexity": exp(total.mean), "token_accuracy": Double(total.correct) / Double(total.tokens)]
        if let settings = config.task.spec.languageModeling, settings.maxNewTokens > 0 {
            let generated = try generate(model: model, examples: examples)
            let matches = zip(generated, examples).filter { g, e in
                guard case .sequence(let row) = e.label, let reference = row.reference else { return false }
                return Self.exactMatchForm(g) == Self.exactMatchForm(reference)
            }.count
            metrics["exact_match"] = Double(matches) / Double(examples.count)
        }
        return metrics
    }

    /// What exact match compares: the text with surrounding whitespace trimmed.
    static func exactMatchForm(_ text: String) -> String { text.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Greedy generations (the task's `max_new_tokens`, stopping at a stop id, which is left out), in
    /// the examples' order; prompts of like length are decoded together. With `progress`, rows
    /// done and the time left.
    public func generate(model: DecoderLanguageModel, examples: [Example], progress: ProgressSink? = nil) throws(TrainerError) -> [String] {
        guard let bpe = tokenizer as? ByteLevelBPETokenizer else { throw .model("generation needs a byte-level BPE tokenizer") }
        let decoder = TokenDecoder(bpe)
        let encoder = languageModelingEncoder
        var prompts: [[Int32]] = []
        for (i, e) in examples.enumerated() { prompts.append(try encoder.prompt(e, row: i + 1)) }
        let steps = config.task.spec.languageModeling?.maxNewTokens ?? 0
        let stop = tokenizer.generation.stopIds
        let order = prompts.indices.sorted { prompts[$0].count < prompts[$1].count }
        var out = [String](repeating: "", count: examples.count)
        let start = Date()
        for s in stride(from: 0, to: order.count, by: config.training.evalBatchSize) {
            let idx = Array(order[s..<min(s + config.training.evalBatchSize, order.count)])
            let ids = try model.model.generate(idx.map { prompts[$0] }, maxNewTokens: steps, stop: stop)
            for (r, i) in idx.enumerated() { out[i] = decoder.decode(ids[r], skip: stop) }
            let done = s + idx.count, elapsed = Date().timeIntervalSince(start)
            progress?.report(String(format: "rows %d/%d  %.1f rows/s  ETA %@", done, order.count, Double(done) / elapsed,
                                    formatTimeLeft(elapsed: elapsed, done: done, left: order.count - done)))
        }
        return out
    }
}
