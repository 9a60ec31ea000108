// bench-trainer: one measurement per process (so peak RSS is per configuration), one JSON line on stdout.
//
//   bench-trainer step --seq 64 [--batch 32] [--steps 10] [--warmup 3] [--threads 2] [--model DIR]
//
// Mirrors ../shared/peers/torch_peft_throughput.py: all-MiniLM-L6-v2, two labels, pooler head,
// LoRA r=8 alpha 16 dropout 0 on query+value, AdamW lr 5e-4, random token ids in [1000, 30000)
// with [CLS] first and [SEP] last, every token real; median step time over the timed steps.
import JSONKit
import Foundation
import Space
import Trainer

BLASKernel.ensureBestKernel()

func fail(_ s: String) -> Never {
    FileHandle.standardError.write(Data(("bench-trainer: " + s + "\n").utf8))
    exit(2)
}

var args = Array(CommandLine.arguments.dropFirst())
let usage = "usage: bench-trainer step --seq N [--batch 32] [--steps 10] [--warmup 3] [--threads 2] [--model DIR]\n"
    + "       bench-trainer decoder-step --seq N [--batch 8] [--steps 10] [--warmup 3] [--threads 2] [--gguf FILE] [--base q4_1|fp32]"
guard let command = args.first, ["step", "decoder-step"].contains(command) else { fail(usage) }
args.removeFirst()
var opts: [String: String] = [:]
while args.count >= 2, args[0].hasPrefix("--") { opts[String(args[0].dropFirst(2))] = args[1]; args.removeFirst(2) }
@MainActor func int(_ k: String, _ d: Int) -> Int {
    guard let v = opts[k] else { return d }
    guard let n = Int(v), n > 0 else { fail("--\(k) expects a positive integer, got \"\(v)\"") }
    return n
}
let seq = int("seq", 64), batchSize = int("batch", command == "step" ? 32 : 8), steps = int("steps", 10), warmup = int("warmup", 3)
let threads = int("threads", 2)
let modelDir = opts["model"] ?? "models/all-MiniLM-L6-v2"
BLAS.setThreads(threads)
if command == "decoder-step" {
    do { print(try decoderStep(opts, seq: seq, batchSize: batchSize, steps: steps, warmup: warmup, threads: threads).serialized()) }
    catch { fail("\(error)") }
    exit(0)
}

do {
    let cfg = try BertConfig(contentsOf: modelDir + "/config.json")
    guard seq >= 2, seq <= cfg.maxPositions else { fail("--seq must be in 2...\(cfg.maxPositions) for this model, got \(seq)") }
    let weights = try BertWeights(config: cfg, safetensors: SafetensorsFile(path: modelDir + "/model.safetensors"))
    let plan = PEFTPlan(lora: LoRASpec(rank: 8, alpha: 16, dropout: 0, targets: [.query, .value]))
    let model = try BertClassifier(weights: weights, plan: plan, labels: 2, head: .pooler)
    try model.initialize(seed: 0)
    var rng = RandomSource(seed: 1234)
    let encs = (0..<batchSize).map { _ -> WordPieceTokenizer.Encoding in
        var ids = (0..<seq).map { _ in Int32(1000 + rng.next() % 29000) }
        ids[0] = 101
        ids[seq - 1] = 102
        return .init(ids: ids, typeIds: [Int32](repeating: 0, count: seq))
    }
    let batch = TokenBatch(encs, padId: 0)
    let labels = (0..<batchSize).map { _ in Int(rng.next() % 2) }
    let adam = AdamW(parameterCount: model.block.count, weightDecay: 0.01)
    let dlogits = FloatBuffer(count: batchSize * 2)
    var times: [Double] = []
    var losses: [Double] = []
    for i in 0..<(warmup + steps) {
        let t0 = Date()
        model.block.zeroGrads()
        let logits = model.forward(batch, training: true, rng: &rng)
        losses.append(Loss.crossEntropy(logits: logits, targets: labels, classes: 2, dlogits: dlogits.pointer))
        model.backward(dlogits: dlogits.pointer)
        adam.update(model.block, learningRate: 5e-4)
        if i >= warmup { times.append(Date().timeIntervalSince(t0)) }
    }
    let med = times.sorted()[times.count / 2]
    let out: JSONValue = .object([
        ("impl", .string("autopeft")), ("mode", .string("train")), ("peft", .string("lora_r8_qv")), ("precision", .string("fp32")),
        ("batch", .number(batchSize)), ("seq_len", .number(seq)), ("threads", .number(threads)),
        ("step_s_median", .number(med)), ("examples_per_s", .number(Double(batchSize) / med)),
        ("peak_rss_mib", .number(peakRSSMiB())), ("trainable_params", .number(model.trainableParameters)),
        ("first_loss", .number(losses.first ?? .nan)), ("last_loss", .number(losses.last ?? .nan)),
        ("blas_core", .string(BLAS.coreName)),
    ])
    print(out.serialized())
} catch {
    fail("\(error)")
}
