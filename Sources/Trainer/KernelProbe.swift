import Space

/// A fixed computation whose result must not depend on the BLAS kernel: one training step
/// (forward with dropout, backward, AdamW) of a seeded tiny BERT with LoRA, then eval logits.
/// `autopeft doctor` prints it; a test compares it across `OPENBLAS_CORETYPE` values.
public enum KernelProbe {
    public static func logits() throws(TrainerError) -> [Float] {
        let cfg = BertConfig(vocabSize: 500, hiddenSize: 96, layers: 2, heads: 4, intermediateSize: 384, maxPositions: 64)
        let plan = PEFTPlan(lora: LoRASpec(rank: 4, alpha: 8, dropout: 0.1, targets: [.query, .value, .output]))
        let model = try BertClassifier(weights: BertWeights.random(config: cfg, seed: 11), plan: plan, labels: 3, head: .mean)
        try model.initialize(seed: 0)
        var r = RandomSource(seed: 5)
        let encs = (0..<8).map { b in
            WordPieceTokenizer.Encoding(ids: (0..<(20 + 4 * b)).map { _ in Int32(r.next() % 500) }, typeIds: [Int32](repeating: 0, count: 20 + 4 * b))
        }
        let batch = TokenBatch(encs, padId: 0)
        var rng = RandomSource(seed: 1)
        let d = FloatBuffer(count: 24)
        model.forward(batch, training: true, rng: &rng)
        _ = Loss.crossEntropy(logits: model.logits.pointer, targets: (0..<8).map { $0 % 3 }, classes: 3, dlogits: d.pointer)
        model.backward(dlogits: d.pointer)
        AdamW(parameterCount: model.block.count, weightDecay: 0.01).update(model.block, learningRate: 1e-2)
        return Array(UnsafeBufferPointer(start: model.forward(batch, training: false, rng: &rng), count: 24))
    }
}
