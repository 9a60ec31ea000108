/// Greedy decoding of a batch of prompts with a key/value cache: the prompts run once (right
/// padded, their padding marked invalid in the cache), then each step runs one token a row at
/// that row's own position and attends to the cache. A row stops at a `stop` token (kept in
/// its output); the batch stops when every row has, or after `maxNewTokens`.
extension DecoderModel {
    public func generate(_ prompts: [[Int32]], maxNewTokens: Int, stop: Set<Int32> = []) throws(TrainerError) -> [[Int32]] {
        guard !prompts.isEmpty, maxNewTokens > 0 else { return prompts.map { _ in [] } }
        guard prompts.allSatisfy({ !$0.isEmpty }) else { throw .model("generation needs a prompt of at least one token in every row") }
        let c = config, H = c.hiddenSize, V = c.vocabSize, B = prompts.count
        let offset = plan.prefix?.positionOffset ?? 0
        let longest = prompts.map(\.count).max() ?? 0
        guard longest + maxNewTokens + offset <= c.maxPositions else {
            throw .model("a prompt of \(longest) tokens and \(maxNewTokens) new ones exceed the model's \(c.maxPositions) positions")
        }
        let caches = layers.map { _ in KeyValueCache() }
        var unused = RandomSource(seed: 0)
        let batch = TokenBatch(prompts.map { TokenEncoding(ids: $0, typeIds: [Int32](repeating: 0, count: $0.count)) }, padId: 0)
        try embed(batch)
        for m in modules { m.forward(block: block) }
        let T = batch.length
        runBlocks(0..<c.layers, batch: B, length: T, keyValid: valid.pointer, first: offset, training: false, rng: &unused,
                  keepFrom: c.layers, kv: caches)
        let last = FloatBuffer(count: B * H)
        for b in 0..<B { (last.pointer + b * H).update(from: hidden[c.layers].pointer + (b * T + prompts[b].count - 1) * H, count: H) }
        let logits = FloatBuffer(count: B * V), stepValid = FloatBuffer([Float](repeating: 1, count: B))
        var next = nextTokens(last.pointer, rows: B, logits: logits.pointer)
        var out = [[Int32]](repeating: [], count: B), done = [Bool](repeating: false, count: B)
        var positions = prompts.map { $0.count + offset }
        for step in 0..<maxNewTokens {
            for b in 0..<B where !done[b] {
                out[b].append(next[b])
                if stop.contains(next[b]) { done[b] = true }
            }
            if step == maxNewTokens - 1 || !done.contains(false) { break }
            let h0 = hidden[0].ensure(B * H)
            for b in 0..<B {
                guard next[b] >= 0 && Int(next[b]) < V else { throw .model("token id \(next[b]) is outside the vocabulary of \(V)") }
                weights.embedding(Int(next[b]), into: h0 + b * H)
            }
            runBlocks(0..<c.layers, batch: B, length: 1, keyValid: stepValid.pointer, first: 0, training: false, rng: &unused,
                      keepFrom: c.layers, kv: caches, positions: positions)
            next = nextTokens(hidden[c.layers].pointer, rows: B, logits: logits.pointer)
            for b in 0..<B { positions[b] += 1 }
        }
        return out
    }

    /// The final norm, the output head and the most likely token (the first of equals) for each of
    /// `rows` last hidden states.
    private func nextTokens(_ h: UnsafePointer<Float>, rows: Int, logits: UnsafeMutablePointer<Float>) -> [Int32] {
        let c = config, H = c.hiddenSize, V = c.vocabSize
        let n = normed.ensure(rows * H)
        RMSNorm.forward(out: n, rstd: finalRstd.ensure(rows), inp: h, gamma: weights.finalNorm.pointer, rows: rows, channels: H,
                        eps: c.rmsNormEps)
        self.logits(n, rows: rows, into: logits)
        return (0..<rows).map { b in
            let row = logits + b * V
            var best = 0
            for j in 1..<V where row[j] > row[best] { best = j }
            return Int32(best)
        }
    }
}
