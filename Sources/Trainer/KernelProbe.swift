import JSONKit
import Space

/// Fixed computations whose results must not depend on the BLAS kernel or on the worker count.
/// `autopeft doctor` prints them; tests compare them across `OPENBLAS_CORETYPE` values (in
/// subprocesses, since OpenBLAS reads the variable once when it loads) and worker counts.
public enum KernelProbe {
    /// One training step (forward with dropout, backward, AdamW) of a seeded tiny BERT with LoRA,
    /// then eval logits. Kernels may differ here in the last bits (a tolerance, stated by the test).
    public static func logits() throws(TrainerError) -> [Float] {
        let cfg = BertConfig(vocabSize: 500, hiddenSize: 96, layers: 2, heads: 4, intermediateSize: 384, maxPositions: 64)
        let plan = PEFTPlan(lora: LoRASpec(rank: 4, alpha: 8, dropout: 0.1, targets: [.query, .value, .output]))
        let model = try BertClassifier(weights: BertWeights.random(config: cfg, seed: 11), plan: plan, labels: 3, head: .mean)
        try model.initialize(seed: 0)
        var r = RandomSource(seed: 5)
        let encs = (0..<8).map { b in
            WordPieceTokenizer.Encoding(ids: (0..<(20 + 4 * b)).map { _ in Int32(r.next() % 500) },
                                        typeIds: [Int32](repeating: 0, count: 20 + 4 * b))
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

    /// The training-step logits and every trainable gradient of a seeded tiny BERT, computed by
    /// `workers` workers (the previous worker count is restored). Sized so that every split runs:
    /// GEMMs cut by rows and (LoRA's rank-16 A gradients) by columns, attention by (batch, head)
    /// pairs, LayerNorm and GELU by rows, with dropout everywhere. Bit-identical for any `workers`
    /// under one kernel is the contract (`Parallel`).
    public static func trainingStep(workers: Int) throws(TrainerError) -> (logits: [Float], gradients: [Float]) {
        let before = Parallel.workers
        BLAS.setThreads(workers)
        defer { BLAS.setThreads(before) }
        let cfg = BertConfig(vocabSize: 300, hiddenSize: 128, layers: 2, heads: 4, intermediateSize: 512, maxPositions: 128)
        let plan = PEFTPlan(lora: LoRASpec(rank: 16, alpha: 32, dropout: 0.1, targets: LinearTarget.ungated))
        let model = try BertClassifier(weights: BertWeights.random(config: cfg, seed: 3), plan: plan, labels: 2, head: .pooler)
        try model.initialize(seed: 0)
        var r = RandomSource(seed: 2)
        let encs = (0..<16).map { b in
            WordPieceTokenizer.Encoding(ids: (0..<(40 + b * 5)).map { _ in Int32(r.next() % 300) },
                                        typeIds: [Int32](repeating: 0, count: 40 + b * 5))
        }
        let batch = TokenBatch(encs, padId: 0)
        var rng = RandomSource(seed: 9)
        model.block.zeroGrads()
        let logits = Array(UnsafeBufferPointer(start: model.forward(batch, training: true, rng: &rng), count: 32))
        let d = FloatBuffer(count: 32)
        _ = Loss.crossEntropy(logits: model.logits.pointer, targets: (0..<16).map { $0 % 2 }, classes: 2, dlogits: d.pointer)
        model.backward(dlogits: d.pointer)
        return (logits, model.block.grads.array)
    }

    /// A 64-bit FNV-1a digest of the values' bit patterns, in hex: equal digests mean equal bits.
    public static func digest(_ values: [Float]) -> String {
        var h = FNV1a()
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { h.mix(bytes: $0) } }
        return String(h.value, radix: 16)
    }
}
