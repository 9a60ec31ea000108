import XCTest
import Foundation
import JSONKit
import Space
import Search
import Trainer
import TestSupport

/// Issue 40's end-to-end check on a decoder: a tiny random Llama in one GGUF file, its base in Q4_1
/// and Q8_0 blocks and its tokenizer in the metadata (Fixtures/decoder-search, made by
/// tools/make_decoder_search_fixture.py), goes from the space file through search, report,
/// reevaluate, export and predict, as a user's SmolLM2 would, and the export gives what HF PEFT
/// computed when it loaded it (tools/make_decoder_search_export.sh).
final class DecoderSearchTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/decoder-search").path

    func testSpaceToSearchToReportToReevaluateToExportToHFPEFTLogitsOnAQuantizedDecoder() throws {
        let glue = try RepositoryData.requireGLUE()
        let d = Self.fixture, study = scratchDirectory("decoder-search") + "/study"
        let s = try runAutopeft(["search", d + "/space.json", "--out", study, "--threads", "1"])
        XCTAssertEqual(s.code, 0, s.err)
        for f in ["report.md", "report.html", "trials.csv", "pareto.svg", "journal.jsonl"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: study + "/" + f), "search wrote no \(f)")
        }
        let records = try journal(study)
        // The sizes come from the GGUF metadata; a decoder's score head has no bias.
        let dims = try XCTUnwrap(records.first?["model_dimensions"] as? [String: Any])
        XCTAssertEqual(dims["num_key_value_heads"] as? Int, 2)
        XCTAssertEqual(dims["classifier_bias"] as? Bool, false)
        // LoRA r2 on q (64 → 64) and v (64 → 2 KV heads × 16) in 2 blocks, and score (2 × 64, no bias):
        // 2 · (2·(64+64) + 2·(64+32)) + 128 = 1024, counted by hand here.
        let finished = records.filter { $0["op"] as? String == "trial_finished" }
        XCTAssertEqual(finished.count, 6)
        let baseline = try XCTUnwrap(finished.first { $0["id"] as? Int == 0 }?["values"] as? [String: Any])
        XCTAssertEqual(baseline["trainable_params"] as? Double, 1024)

        let r = try runAutopeft(["reevaluate", study, "--seeds", "2", "--threads", "1"])
        XCTAssertEqual(r.code, 0, r.err)
        // The trial the fixture exported was exported here too, for HF PEFT, with Llama's module names;
        // autopeft's logits against HF PEFT's (LlamaForSequenceClassification on transformers'
        // dequantized load of the same GGUF file, the export loaded by PEFT).
        let (candidate, tensors, worst) = try checkExportAgainstFixture(
            study: study, fixture: d, keys: ["peft_type", "task_type", "r", "lora_alpha", "target_modules", "modules_to_save"])
        let exported = String(candidate.split(separator: "-").last!)
        XCTAssertTrue(tensors.contains("base_model.model.score.weight"), "\(tensors.sorted())")
        XCTAssertTrue(tensors.contains { $0.hasPrefix("base_model.model.model.layers.0.self_attn.") }, "\(tensors.sorted())")
        print("decoder end to end: trial \(exported) exported, max |autopeft − HF PEFT| = \(worst)")
        // Every kept candidate: the trainer allocated what the search counted, and predict, from the
        // archive alone, scores the dev rows as the run did.
        let exports = try FileManager.default.contentsOfDirectory(atPath: study + "/exports").filter { $0.hasPrefix("trial-") }
        XCTAssertFalse(exports.isEmpty)
        let devRows = try String(contentsOfFile: glue + "/SST-2/dev.tsv", encoding: .utf8).split(separator: "\n").prefix(65)
        let dev = scratchDirectory("decoder-search") + "/dev64.tsv"
        try (devRows.joined(separator: "\n") + "\n").write(toFile: dev, atomically: true, encoding: .utf8)
        for name in exports {
            let candidate = study + "/exports/" + name
            let result = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: candidate + "/result.json")))
                                       as? [String: Any])
            let trial = Int(name.dropFirst("trial-".count))! - 1
            let values = try XCTUnwrap(finished.first { $0["id"] as? Int == trial }?["values"] as? [String: Any])
            XCTAssertEqual(values["trainable_params"] as? Double, result["trainable_params"] as? Double, name)
            let p = try runAutopeft(["predict", candidate, "--data", dev, "--threads", "1"])
            XCTAssertEqual(p.code, 0, p.err)
            XCTAssertEqual(p.out.split(separator: "\n").count, 64)
            let accuracy = try XCTUnwrap(p.err.range(of: #"accuracy [0-9.]+"#, options: .regularExpression).map { Double(p.err[$0].dropFirst(9)) } ?? nil)
            XCTAssertEqual(accuracy, try XCTUnwrap(result["score"] as? Double), accuracy: 1e-4, "\(name): predict against the run's dev score")
        }
    }

    /// (IA)³ on a decoder trains, exports to HF PEFT (k_proj and v_proj outputs, down_proj's input)
    /// and gives what HF PEFT computes with that export (Fixtures/decoder-ia3, made by
    /// tools/make_decoder_ia3_fixture.sh); with the vectors back at 1 the logits are others, so the
    /// match is the adapter's.
    func testIA3OnADecoderExportsToHFPEFT() throws {
        try RepositoryData.requireGLUE()
        let d = URL(fileURLWithPath: Self.fixture).deletingLastPathComponent().appendingPathComponent("decoder-ia3").path
        let dir = scratchDirectory("decoder-ia3")
        let t = try runAutopeft(["train", d + "/run.json", "--save", dir + "/candidate", "--threads", "1"])
        XCTAssertEqual(t.code, 0, t.err)
        let e = try runAutopeft(["export", dir + "/candidate", "--out", dir + "/export"])
        XCTAssertEqual(e.code, 0, e.err)
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/export/adapter_config.json")))
                                   as? [String: Any])
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/export/adapter_config.json")))
                                     as? [String: Any])
        for key in ["peft_type", "task_type", "target_modules", "feedforward_modules", "modules_to_save"] {
            XCTAssertEqual("\(config[key] ?? "")", "\(expected[key] ?? "")", key)
        }
        let ours = try SafetensorsFile(path: dir + "/export/adapter_model.safetensors")
        let theirs = try SafetensorsFile(path: d + "/export/adapter_model.safetensors")
        XCTAssertEqual(Set(ours.tensors.keys), Set(theirs.tensors.keys))
        XCTAssertTrue(ours.tensors.keys.contains("base_model.model.model.layers.1.mlp.down_proj.ia3_l"), "\(ours.tensors.keys.sorted())")
        for name in theirs.tensors.keys.sorted() {
            XCTAssertEqual(ours.tensors[name]?.shape, theirs.tensors[name]?.shape, name)
            let u = try ours.floats(name), v = try theirs.floats(name)
            XCTAssertLessThanOrEqual(zip(u, v).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 1, 1e-4, name)
        }
        func logits(_ candidate: String) throws -> [[Double]] {
            let p = try runAutopeft(["predict", candidate, "--data", Self.fixture + "/rows.tsv", "--threads", "1"])
            XCTAssertEqual(p.code, 0, p.err)
            return try p.out.split(separator: "\n").map { row in
                try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(row.utf8)) as? [String: Any])?["logits"] as? [Double])
            }
        }
        func worst(_ a: [[Double]], _ b: [[Double]]) -> Double { zip(a, b).flatMap { zip($0, $1).map { abs($0 - $1) } }.max() ?? .infinity }
        let hf = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/hf.json"))) as? [String: Any])
        let reference = try XCTUnwrap(hf["logits"] as? [[Double]])
        let trained = try logits(dir + "/candidate")
        XCTAssertEqual(trained.count, 8)
        XCTAssertLessThanOrEqual(worst(trained, reference), 1e-4, "max |autopeft − HF PEFT| over 8 rows (HF: \(hf["versions"] ?? ""))")
        // The same candidate with every (IA)³ vector at 1: the frozen base and the trained score.
        let (_, _, model) = try CandidateArchive.load(dir + "/candidate")
        for view in model.block.views where view.name.hasSuffix("ia3_l") {
            model.block.value(view.offset).update(repeating: 1, count: view.count)
        }
        try CandidateArchive.save(model, config: try RunConfig(contentsOf: dir + "/candidate/run.json"), result: nil, to: dir + "/ones")
        XCTAssertGreaterThan(worst(try logits(dir + "/ones"), reference), 1e-3, "the match is the trained vectors'")
        print("decoder (IA)³ export: max |autopeft − HF PEFT| = \(worst(trained, reference))")
    }

    /// The sensitivity priors score encoders only so far: on a decoder each method is refused by name.
    func testSensitivityScoringOnADecoderIsRefusedByName() throws {
        try RepositoryData.requireGLUE()
        for (method, name) in [("spt", "SPT sensitivity scoring"), ("diffora", "the DiffoRA supernet")] {
            let r = try runAutopeft(["score", Self.fixture + "/space.json", "--method", method, "--out", scratchDirectory("decoder-score"),
                                     "--threads", "1"])
            XCTAssertEqual(r.code, 2, "\(method): a model the method does not take is bad input")
            XCTAssertTrue(r.err.contains("\(name) works on encoders (BERT, RoBERTa, ELECTRA) only so far"), "\(method): \(r.err)")
        }
    }

    /// The GGUF file read as transformers reads it: its tokenizer gives the same ids for SST-2
    /// sentences, and the quantized base the same normed last hidden state at the last token
    /// (reference.json, from transformers' dequantizing GGUF loader).
    func testTheGGUFTokenizerAndQuantizedBaseMatchTransformers() throws {
        let (model, tokenizer, _) = try BaseModel.load(Self.fixture + "/decoder-tiny.gguf")
        guard case .decoder(let weights) = model else { return XCTFail("a GGUF file loads as a decoder") }
        let reference = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.fixture + "/reference.json")))
                                      as? [String: Any])
        let texts = try XCTUnwrap(reference["texts"] as? [String]), ids = try XCTUnwrap(reference["ids"] as? [[Int]])
        let hidden = try XCTUnwrap(reference["last_hidden"] as? [[Double]])
        let encodings = texts.map { tokenizer.encode($0, nil, maxLength: 128) }
        XCTAssertEqual(encodings.map { $0.ids.map(Int.init) }, ids)
        let decoder = try DecoderModel(weights: weights)
        let batch = TokenBatch(encodings, padId: tokenizer.padId)
        let h = try decoder.forward(batch)
        var worst = 0.0
        for (b, row) in hidden.enumerated() {
            let last = h + (b * batch.length + batch.lengths[b] - 1) * weights.config.hiddenSize
            for (j, x) in row.enumerated() { worst = max(worst, abs(Double(last[j]) - x)) }
        }
        XCTAssertLessThanOrEqual(worst, 1e-4, "max |autopeft − transformers| (\(reference["versions"] ?? ""))")
        print("decoder-tiny.gguf: max |autopeft − transformers| over the last hidden states = \(worst)")
    }

    /// PiSSA on a quantized base: its factors come from the dequantized map and the residual takes
    /// the map's place, so the model at initialisation computes what the frozen base computes.
    func testPiSSAOnAQuantizedBaseStartsAtTheBase() throws {
        let (model, tokenizer, _) = try BaseModel.load(Self.fixture + "/decoder-tiny.gguf")
        guard case .decoder(let weights) = model else { return XCTFail("a GGUF file loads as a decoder") }
        let batch = TokenBatch(["a gripping, funny film", "dull"].map { tokenizer.encode($0, nil, maxLength: 32) }, padId: tokenizer.padId)
        let base = try DecoderModel(weights: weights)
        let frozen = Array(UnsafeBufferPointer(start: try base.forward(batch), count: batch.batch * batch.length * 64))
        let plan = PEFTPlan(lora: LoRASpec(rank: 4, alpha: 8, targets: [.query, .gate, .output], initialization: .pissa))
        let pissa = try DecoderModel(weights: weights, plan: plan)
        try pissa.initialize(seed: 0)
        XCTAssertGreaterThan(pissa.block.values.array.map(abs).max() ?? 0, 0.01, "PiSSA's factors are not zero")
        let started = Array(UnsafeBufferPointer(start: try pissa.forward(batch), count: frozen.count))
        let worst = zip(frozen, started).map { abs($0 - $1) }.max() ?? 1
        XCTAssertLessThanOrEqual(worst, 1e-4, "PiSSA at initialisation against the frozen quantized base")
    }

    /// A decoder's frozen blocks have no dropout, so the frozen-prefix cache changes nothing: the run
    /// with LoRA in block 1 only trains to the same weights and score with the states entering block
    /// 1 cached as without.
    func testTheFrozenPrefixCacheOnADecoderTrainsAsWithout() throws {
        let glue = try RepositoryData.requireGLUE()
        func run(cache: Bool) throws -> (TrainResult, [Float]) {
            let text = """
                {"model": "\(Self.fixture)/decoder-tiny.gguf",
                 "task": {"format": "glue", "name": "sst2", "train": "\(glue)/SST-2/train.tsv", "dev": "\(glue)/SST-2/dev.tsv", "max_length": 32},
                 "peft": {"lora": {"rank": 4, "targets": ["query", "value"], "layers": [1]}},
                 "training": {"epochs": 2, "batch_size": 16, "learning_rate": 0.01, "train_examples": 128, "dev_examples": 64,
                              "frozen_prefix_cache": \(cache)}}
                """
            let doc = try JSONParser.parse(text)
            let config = try RunConfig(reading: JSONReader(doc, file: "decoder-run.json"), baseDirectory: "")
            XCTAssertEqual(config.head, .last, "a decoder's default head")
            let tuner = try FineTuner(config: config)
            let lines = Lines()
            tuner.progress = lines
            let (result, model) = try tuner.run()
            XCTAssertEqual(lines.text.contains("frozen-prefix cache: layers 0-0"), cache, lines.text)
            XCTAssertEqual(model.lowestTrainableLayer, 1)
            return (result, model.block.values.array)
        }
        let (a, wa) = try run(cache: true), (b, wb) = try run(cache: false)
        let diff = zip(wa, wb).map { abs($0 - $1) }.max() ?? 1
        print("decoder frozen-prefix cache: max |weights with − without| = \(diff), scores \(a.score) and \(b.score)")
        XCTAssertEqual(a.score, b.score)
        XCTAssertEqual(a.finalLoss, b.finalLoss, accuracy: 1e-5)
        XCTAssertLessThanOrEqual(diff, 1e-5, "trained weights with and without the cache")
    }

    func journal(_ study: String) throws -> [[String: Any]] {
        try String(contentsOfFile: study + "/journal.jsonl", encoding: .utf8).split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}

private final class Lines: ProgressSink {
    var text = ""
    func report(_ line: String) { text += line + "\n" }
}

/// The SmolLM2 study's space file reads with the model's sizes from its GGUF metadata, and counts
/// the baselines' trainable parameters as computed by hand here (30 blocks, hidden 576, 3 KV heads
/// of 64, FFN 1536; the score head 2 × 576 without a bias), which is also what the trainer
/// allocated in results/decoder (461,952 for LoRA r8 q,v).
final class SmolLM2SpaceTests: XCTestCase {
    func testTheSmolLM2SpaceCountsItsBaselinesByHand() throws {
        try RepositoryData.requireSmolLM2()
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../spaces/smollm2-sst2.json")
            .standardizedFileURL.path
        let spec = try StudySpec(file: file, modelReader: ModelSource.dimensions)
        let dims = try XCTUnwrap(spec.problem.dimensions)
        XCTAssertEqual([dims.layers, dims.hiddenSize, dims.kvHeads * dims.headDim, dims.intermediateSize], [30, 576, 192, 1536])
        XCTAssertTrue(dims.gatedFeedForward)
        XCTAssertFalse(dims.classifierBias)
        let qv = 30 * 8 * ((576 + 576) + (576 + 192)) + 2 * 576
        let all = 30 * 16 * ((576 + 576) + 2 * (576 + 192) + (576 + 576) + 2 * (576 + 1536) + (1536 + 576)) + 2 * 576
        XCTAssertEqual(qv, 461_952)
        let counted = spec.baselines.map { spec.knownValues($0.candidate)[1] }
        XCTAssertEqual(spec.objectives.map(\.name), ["score", "trainable_params"])
        XCTAssertEqual(counted, [Double(qv), Double(all)])
    }
}
