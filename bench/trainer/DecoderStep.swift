// bench-trainer decoder-step: issue 40's step benchmark on SmolLM2-135M-Instruct.
//
// Mirrors bench/decoder/peer_step.py: sequence classification (2 labels, `score` on the last token),
// LoRA r=8 alpha 16 dropout 0 on q_proj and v_proj in every block, AdamW lr 5e-4, random token ids
// in [100, 49000), every token real; median step time (forward, loss, backward, update) over the
// timed steps. `--base q4_1` keeps the GGUF's quantized maps in their blocks (QLoRA's base);
// `--base fp32` dequantizes them at load, as the peer does.
import JSONKit
import Foundation
import Space
import Trainer

func decoderStep(_ opts: [String: String], seq: Int, batchSize: Int, steps: Int, warmup: Int, threads: Int) throws -> JSONValue {
    let path = opts["gguf"] ?? "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
    let base = opts["base"] ?? "q4_1"
    guard ["q4_1", "fp32"].contains(base) else { fail("--base expects q4_1 or fp32, got \"\(base)\"") }
    let file = try GGUFFile(path: path)
    let config = try DecoderConfig(gguf: file)
    guard seq >= 2, seq <= config.maxPositions else { fail("--seq must be in 2...\(config.maxPositions), got \(seq)") }
    let weights = try DecoderWeights(config: config, gguf: file, keepQuantized: base == "q4_1")
    let plan = PEFTPlan(lora: LoRASpec(rank: 8, alpha: 16, dropout: 0, targets: [.query, .value]))
    let model = try DecoderClassifier(weights: weights, plan: plan, labels: 2)
    try model.initialize(seed: 0)
    var rng = RandomSource(seed: 1234)
    let encs = (0..<batchSize).map { _ in
        TokenEncoding(ids: (0..<seq).map { _ in Int32(100 + rng.next() % 48900) }, typeIds: [Int32](repeating: 0, count: seq))
    }
    let batch = TokenBatch(encs, padId: 0)
    let labels = (0..<batchSize).map { _ in Int(rng.next() % 2) }
    let adam = AdamW(parameterCount: model.block.count, weightDecay: 0.01)
    let dlogits = FloatBuffer(count: batchSize * 2)
    var times: [Double] = [], losses: [Double] = []
    for i in 0..<(warmup + steps) {
        let t0 = Date()
        model.block.zeroGrads()
        let logits = try model.forward(batch, training: true, rng: &rng)
        losses.append(Loss.crossEntropy(logits: logits, targets: labels, classes: 2, dlogits: dlogits.pointer))
        model.backward(dlogits: dlogits.pointer)
        adam.update(model.block, learningRate: 5e-4)
        if i >= warmup { times.append(Date().timeIntervalSince(t0)) }
    }
    let med = times.sorted()[times.count / 2]
    return .object([
        ("impl", .string("autopeft")), ("mode", .string("train")), ("peft", .string("lora_r8_qv")), ("base", .string(base)),
        ("batch", .number(batchSize)), ("seq_len", .number(seq)), ("threads", .number(threads)),
        ("step_s_median", .number(med)), ("examples_per_s", .number(Double(batchSize) / med)),
        ("peak_rss_mib", .number(peakRSSMiB())), ("trainable_params", .number(model.trainableParameters)),
        ("first_loss", .number(losses.first ?? .nan)), ("last_loss", .number(losses.last ?? .nan)),
        ("blas_core", .string(BLAS.coreName)),
    ])
}
