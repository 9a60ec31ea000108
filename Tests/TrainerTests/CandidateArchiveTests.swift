import JSONKit
import XCTest
import TestSupport
import Space
@testable import Trainer

/// Writes a BertWeights model as an HF directory (config.json, model.safetensors with `bert.` names, vocab.txt).
func writeHFModel(_ w: BertWeights, vocab: [String: Int32], to dir: String) throws {
    let c = w.config, H = c.hiddenSize, I = c.intermediateSize
    var t: [(name: String, shape: [Int], values: [Float])] = [
        ("bert.embeddings.word_embeddings.weight", [c.vocabSize, H], w.wordEmbeddings.array),
        ("bert.embeddings.position_embeddings.weight", [c.maxPositions, H], w.positionEmbeddings.array),
        ("bert.embeddings.token_type_embeddings.weight", [c.typeVocabSize, H], w.typeEmbeddings.array),
        ("bert.embeddings.LayerNorm.weight", [H], w.embeddingNorm.gamma.array), ("bert.embeddings.LayerNorm.bias", [H],
                                                                                 w.embeddingNorm.beta.array),
    ]
    for (l, lw) in w.layers.enumerated() {
        let p = "bert.encoder.layer.\(l)."
        for (name, x, i, o) in [("attention.self.query", lw.query, H, H), ("attention.self.key", lw.key, H, H),
                                ("attention.self.value", lw.value, H, H),
                                ("attention.output.dense", lw.attentionOutput, H, H), ("intermediate.dense", lw.intermediate, H,
                                                                                       I), ("output.dense", lw.output, I, H)] {
            t.append((p + name + ".weight", [o, i], x.weight.array))
            t.append((p + name + ".bias", [o], x.bias.array))
        }
        for (name, n) in [("attention.output.LayerNorm", lw.attentionNorm), ("output.LayerNorm", lw.outputNorm)] {
            t.append((p + name + ".weight", [H], n.gamma.array))
            t.append((p + name + ".bias", [H], n.beta.array))
        }
    }
    if let pool = w.pooler { t += [("bert.pooler.dense.weight", [H, H], pool.weight.array),
                                   ("bert.pooler.dense.bias", [H], pool.bias.array)] }
    try SafetensorsWriter.encode(t).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
    let cfg = """
    {"model_type": "bert", "vocab_size": \(c.vocabSize), "hidden_size": \(H), "num_hidden_layers": \(c.layers), "num_attention_heads": \(c.heads),
     "intermediate_size": \(I), "max_position_embeddings": \(c.maxPositions), "type_vocab_size": \(c.typeVocabSize),
     "layer_norm_eps": \(c.layerNormEps), "hidden_act": "gelu", "hidden_dropout_prob": \(c.hiddenDropout), "attention_probs_dropout_prob": \(c.attentionDropout)}
    """
    try cfg.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
    let lines = vocab.sorted { $0.value < $1.value }.map(\.key).joined(separator: "\n") + "\n"
    try lines.write(toFile: dir + "/vocab.txt", atomically: true, encoding: .utf8)
}

final class CandidateArchiveTests: XCTestCase {
    func testSaveLoadPredictGivesTheSameOutputs() throws {
        let base = try syntheticTuner(epochs: 2)
        let modelDir = scratchDirectory("trainer")
        try writeHFModel(base.base.encoderWeights(for: "the test"), vocab: try XCTUnwrap(base.tokenizer as? WordPieceTokenizer).vocab, to: modelDir)
        var cfg = base.config
        cfg.model = modelDir
        cfg.plan = PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, dropout: 0.1, targets: [.query, .output], layers: .only([1]),
                                           initialization: .pissa),
                            serialAdapter: AdapterSpec(size: 4), parallelAdapter: AdapterSpec(size: 2, scale: 4),
                            prefix: PrefixSpec(length: 2, layers: .all,
                                               projection: 3), ia3: IA3Spec(), bitfit: BitFitSpec(biases: [.value]))
        let tuner = try FineTuner(config: cfg)
        let (result, model) = try tuner.run()
        let dev = try tuner.devExamples()
        let before = try tuner.predict(model: model, examples: dev)
        let dir = scratchDirectory("trainer") + "/candidate"
        try CandidateArchive.save(model, config: cfg, result: result, to: dir)
        let (loadedConfig, loadedTuner, loaded) = try CandidateArchive.load(dir)
        XCTAssertEqual(loadedConfig, cfg, "run.json round-trips")
        XCTAssertEqual(try loadedTuner.predict(model: loaded, examples: dev), before)
    }

    func testPlanJSONRoundTrips() throws {
        let plan = PEFTPlan(lora: LoRASpec(rank: 4, alpha: 8, dropout: 0.1, targets: [.key], layers: .only([0, 2]), initialization: .pissa),
                            serialAdapter: AdapterSpec(perLayer: [0, 8, 16]), parallelAdapter: AdapterSpec(size: 3,
                                layers: .only([1]), scale: 2),
                            prefix: PrefixSpec(length: 5,
                                               projection: 7), ia3: IA3Spec(sites: [.value]), bitfit: BitFitSpec(biases: [.outputNorm], layers: .only([2])))
        let text = plan.json.serialized()
        XCTAssertEqual(try PEFTPlan(reading: JSONReader(try JSONParser.parse(text), path: "peft")), plan)
    }
}

/// `predict` on unlabeled data: a candidate saved for each GLUE task gives the same outputs for
/// the same texts read from the task's labelled layout and from its official test layout.
final class UnlabeledPredictionTests: XCTestCase {
    func testEveryGLUETestLayoutPredictsLikeItsLabelledLayout() throws {
        let words = FineTunerTests.words
        var vocab: [String: Int32] = ["[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3]
        for w in words { vocab[w] = Int32(vocab.count) }
        let modelDir = scratchDirectory("trainer")
        let cfg = BertConfig(vocabSize: vocab.count, hiddenSize: 16, layers: 2, heads: 2, intermediateSize: 32, maxPositions: 32,
                             layerNormEps: 1e-5)
        try writeHFModel(BertWeights.random(config: cfg, seed: 5), vocab: vocab, to: modelDir)
        var rng = RandomSource(seed: 4)
        let texts = (0..<8).map { _ in
            ((0..<5).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " "),
             (0..<4).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " "))
        }
        for layout in GLUELayouts.all {
            let dir = scratchDirectory("trainer")
            try layout.labelledFile(texts).write(toFile: dir + "/dev.tsv", atomically: true, encoding: .utf8)
            try layout.unlabeledFile(texts).write(toFile: dir + "/test.tsv", atomically: true, encoding: .utf8)
            var t = TrainingSettings()
            t.epochs = 1
            t.batchSize = 4
            let spec = TaskSpec.glue(layout.task)!
            let run = RunConfig(model: modelDir, task: TaskSource(spec: spec, train: dir + "/dev.tsv", dev: dir + "/dev.tsv",
                                                                  maxLength: 16),
                                plan: PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, dropout: 0,
                                                              targets: [.query, .value])), head: .mean, training: t)
            let (result, model) = try FineTuner(config: run).run()
            try CandidateArchive.save(model, config: run, result: result, to: dir + "/candidate")
            let (_, tuner, loaded) = try CandidateArchive.load(dir + "/candidate")
            let labelled = try DatasetReader.read(dir + "/dev.tsv", task: spec, requireLabels: false)
            let unlabeled = try DatasetReader.read(dir + "/test.tsv", task: spec, requireLabels: false)
            XCTAssertEqual(unlabeled.count, texts.count, layout.task)
            let a = try tuner.predict(model: loaded, examples: labelled), b = try tuner.predict(model: loaded, examples: unlabeled)
            XCTAssertEqual(a, b, "\(layout.task): outputs for the same texts")
            XCTAssertEqual(a.first?.count, spec.labelCount, layout.task)
        }
    }
}
