import XCTest
import Foundation
import JSONKit
import Space
@testable import Trainer
import TestSupport

/// Causal-LM tasks on a decoder (issue 40), against transformers on a tiny quantized Llama with
/// SmolLM2's chat template (Fixtures/causal-lm, made by tools/make_causal_lm_fixture.py): the
/// tokens a row becomes and which the loss counts, the loss, greedy generation; then train,
/// predict, export and search on such a task from the command line.
final class CausalLMTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/causal-lm").path

    /// The fixture's reference cases: file, row, ids, counted, summed loss, greedy continuation.
    func references() throws -> [[String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.fixture + "/reference.json"))
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try XCTUnwrap(root["cases"] as? [[String: Any]])
    }

    func runConfig(_ train: String, plan: String = #"{"lora": {"rank": 4, "targets": ["query", "value"]}}"#,
                   task extra: String = "", format: String = "jsonl", training: String = #""epochs": 1"#) throws -> RunConfig {
        let text = """
        {"model": "\(Self.fixture)/chat-tiny.gguf",
         "task": {"format": "\(format)", "type": "causal_lm", "train": "\(train)", "dev": "\(train)"\(extra)},
         "peft": \(plan), "training": {\(training)}}
        """
        return try RunConfig(reading: JSONReader(try JSONParser.parse(text), file: "run.json"), baseDirectory: Self.fixture)
    }

    /// Every row of qa.jsonl and chat.jsonl: the same ids and counted tokens as transformers'
    /// tokenizer and chat template give, and the same summed loss as LlamaForCausalLM with labels
    /// (a LoRA whose B is zero leaves the base unchanged).
    func testTokensCountedTokensAndLossMatchTransformers() throws {
        let cases = try references()
        XCTAssertEqual(cases.count, 16)
        for file in ["qa.jsonl", "chat.jsonl"] {
            let tuner = try FineTuner(config: try runConfig(Self.fixture + "/" + file))
            let model = try XCTUnwrap(try tuner.makeModel() as? DecoderLanguageModel)
            try model.initialize(seed: 0)
            let rows = try tuner.trainingExamples()
            let encodings = try tuner.languageModelingEncodings(rows)
            var worst = 0.0
            for c in cases where c["file"] as? String == file {
                let i = try XCTUnwrap(c["row"] as? Int)
                XCTAssertEqual(encodings[i].ids.map(Int.init), c["ids"] as? [Int], "\(file) row \(i): ids")
                XCTAssertEqual(encodings[i].counted, c["counted"] as? [Bool], "\(file) row \(i): counted tokens")
                var rng = RandomSource(seed: 0)
                let loss = try model.loss(TokenBatch([encodings[i].tokens], padId: 2), counted: encodings[i].counted, backward: false,
                                          rng: &rng)
                XCTAssertEqual(loss.tokens, c["tokens"] as? Int, "\(file) row \(i)")
                let want = try XCTUnwrap(c["sum_loss"] as? Double)
                worst = max(worst, abs(loss.negativeLogLikelihood - want) / max(want, 1))
            }
            print("causal LM, \(file): summed loss against transformers, worst relative difference \(worst)")
            // Float32 through 2 quantized blocks and a 1500-token head: measured 1e-7-1e-6.
            XCTAssertLessThan(worst, 1e-5, file)
        }
    }

    /// Greedy generation with the key/value cache, four prompts of different lengths at once,
    /// gives transformers' `generate` tokens.
    func testGenerationMatchesTransformers() throws {
        let cases = try references().filter { $0["greedy"] != nil }
        XCTAssertEqual(cases.count, 4)
        let tuner = try FineTuner(config: try runConfig(Self.fixture + "/qa.jsonl", plan: "{}"))
        let model = try XCTUnwrap(try tuner.makeModel() as? DecoderLanguageModel)
        let prompts = try tuner.trainingExamples().prefix(4).enumerated().map { i, e in try tuner.languageModelingEncoder.prompt(e, row: i + 1) }
        let generated = try model.model.generate(Array(prompts), maxNewTokens: 8)
        for (k, c) in cases.enumerated() { XCTAssertEqual(generated[k].map(Int.init), c["greedy"] as? [Int], "prompt \(k)") }
    }

    /// `autopeft train` on a causal-LM task learns the rows it is shown (loss down, exact match
    /// up), `predict` prints the generations, and `export` writes a CAUSAL_LM adapter.
    func testTrainPredictAndExportACausalLMTask() throws {
        let dir = scratchDirectory("causal-lm")
        let run = dir + "/run.json"
        try """
        {"model": "\(Self.fixture)/chat-tiny.gguf",
         "task": {"format": "jsonl", "type": "causal_lm", "train": "\(Self.fixture)/qa.jsonl", "dev": "\(Self.fixture)/qa.jsonl",
                  "max_new_tokens": 4},
         "peft": {"lora": {"rank": 8, "targets": ["query", "value", "output"]}},
         "training": {"epochs": 30, "batch_size": 4, "learning_rate": 0.01, "warmup_fraction": 0}}
        """.write(toFile: run, atomically: true, encoding: .utf8)
        let untrained = try FineTuner(config: try RunConfig(contentsOf: run))
        let base = try untrained.makeModel()
        try base.initialize(seed: 0)
        let before = try untrained.metrics(model: base, examples: try untrained.devExamples())
        let t = try runAutopeft(["train", run, "--save", dir + "/candidate", "--threads", "1"])
        XCTAssertEqual(t.code, 0, t.err)
        let result = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(t.out.utf8)) as? [String: Any])
        let metrics = try XCTUnwrap(result["metrics"] as? [String: Double])
        print("causal LM train: before \(before), after \(metrics)")
        XCTAssertEqual(result["metric"] as? String, "exact_match")
        XCTAssertLessThan(try XCTUnwrap(metrics["loss"]), before["loss"]! / 2, "the loss on the rows shown halves")
        XCTAssertEqual(before["exact_match"], 0)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(metrics["exact_match"]), 0.5)
        XCTAssertEqual(metrics["perplexity"]!, exp(metrics["loss"]!), accuracy: 1e-3 * metrics["perplexity"]!)

        let p = try runAutopeft(["predict", dir + "/candidate", "--data", Self.fixture + "/qa.jsonl", "--threads", "1"])
        XCTAssertEqual(p.code, 0, p.err)
        let lines = p.out.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(lines.count, 12)
        XCTAssertTrue(lines.allSatisfy { $0["generation"] is String }, p.out)
        XCTAssertTrue(p.err.contains("exact_match \(String(format: "%.4f", metrics["exact_match"]!))"), p.err)

        let e = try runAutopeft(["export", dir + "/candidate", "--out", dir + "/adapter"])
        XCTAssertEqual(e.code, 0, e.err)
        let cfg = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/adapter/adapter_config.json")))
                                as? [String: Any])
        XCTAssertEqual(cfg["task_type"] as? String, "CAUSAL_LM")
        XCTAssertTrue(cfg["modules_to_save"] is NSNull)
        let readme = try String(contentsOfFile: dir + "/adapter/README.md", encoding: .utf8)
        XCTAssertTrue(readme.contains("LlamaForCausalLM"), readme)
    }

    /// A study on a causal-LM task scored by its dev loss minimises the loss: the objective's goal,
    /// the trials' scores and the front say so, and the trainable parameters are the modules alone.
    func testASearchOnACausalLMTaskMinimisesTheLoss() throws {
        let dir = scratchDirectory("causal-lm-search")
        try """
        {"name": "causal-lm-search", "model": "\(Self.fixture)/chat-tiny.gguf",
         "task": {"format": "jsonl", "type": "causal_lm", "metric": "loss", "train": "\(Self.fixture)/chat.jsonl",
                  "dev": "\(Self.fixture)/chat.jsonl"},
         "training": {"epochs": 4, "batch_size": 2, "learning_rate": 0.01, "seed": 0},
         "search": {"trials": 4, "initial": 2, "seed": 0, "reference_point": {"score": 20}},
         "space": {"lora": {"rank": [0, 2, 4], "targets": {"type": "subset", "of": ["q_proj", "v_proj", "down_proj"], "min": 1}}},
         "baselines": [{"name": "LoRA r2 q,v", "peft": {"lora": {"rank": 2, "alpha": 4, "targets": ["query", "value"]}}}]}
        """.write(toFile: dir + "/space.json", atomically: true, encoding: .utf8)
        let s = try runAutopeft(["search", dir + "/space.json", "--out", dir + "/study", "--threads", "1"])
        XCTAssertEqual(s.code, 0, s.err)
        let records = try String(contentsOfFile: dir + "/study/journal.jsonl", encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let finished = records.filter { $0["op"] as? String == "trial_finished" }.compactMap { $0["values"] as? [String: Any] }
        XCTAssertEqual(finished.count, 4)
        // LoRA r2 on q (64 → 64) and v (64 → 2 KV heads × 16) in 2 blocks: 2 · (2·(64+64) + 2·(64+32)) = 896, no head.
        XCTAssertEqual(finished.first?["trainable_params"] as? Double, 896)
        let losses = finished.compactMap { $0["score"] as? Double }
        XCTAssertTrue(losses.allSatisfy { $0 > 0 && $0 < 20 }, "\(losses)")
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(s.out.utf8)) as? [String: Any])
        let front = try XCTUnwrap(summary["front"] as? [[String: Any]])
        let frontLosses = front.compactMap { ($0["values"] as? [String: Any])?["score"] as? Double }
        XCTAssertEqual(frontLosses.min(), losses.min(), "the lowest loss is on the front")
        // Minimised: no front point has a higher loss than another with as few parameters.
        let points = front.compactMap { f -> (Double, Double)? in
            guard let v = f["values"] as? [String: Any], let l = v["score"] as? Double, let p = v["trainable_params"] as? Double else { return nil }
            return (l, p)
        }
        for a in points { for b in points where b.1 <= a.1 && b.0 < a.0 { XCTFail("\(a) is dominated by \(b) when the loss is minimised") } }
    }

    /// `export --merged` folds LoRA (on PiSSA's residual too) and (IA)³ into the weights: the merged
    /// folder, read as a plain model with no module, gives the candidate's logits; what does not
    /// fold (a prefix) is refused with the reason.
    func testAMergedExportGivesTheCandidatesLogitsWithoutModules() throws {
        let dir = scratchDirectory("causal-lm-merged")
        let plans = [("lora-ia3", #"{"lora": {"rank": 4, "targets": ["q_proj", "v_proj", "down_proj"]}, "ia3": {"sites": ["key", "value", "feedforward"]}}"#),
                     ("pissa", #"{"lora": {"rank": 2, "targets": ["q_proj", "gate_proj"], "init": "pissa"}}"#)]
        for (name, plan) in plans {
            let config = try runConfig(Self.fixture + "/qa.jsonl", plan: plan)
            let tuner = try FineTuner(config: config)
            let model = try XCTUnwrap(try tuner.makeModel() as? DecoderLanguageModel)
            try model.initialize(seed: 1)
            var r = RandomSource(seed: 4)
            for i in 0..<model.block.count { model.block.values[i] += Float(r.nextGaussian()) * 0.1 }
            try CandidateArchive.save(model, config: config, result: nil, to: dir + "/" + name)
            let e = try runAutopeft(["export", dir + "/" + name, "--out", dir + "/" + name + "-merged", "--merged"])
            XCTAssertEqual(e.code, 0, e.err)
            let folder = dir + "/" + name + "-merged"
            let mergedConfig = try DecoderConfig(contentsOf: folder + "/config.json")
            XCTAssertEqual(mergedConfig, model.model.config, name)
            let merged = try DecoderModel(weights: try DecoderWeights(config: mergedConfig, safetensors: SafetensorsFile(path: folder + "/model.safetensors")))
            let encodings = try tuner.languageModelingEncodings(try tuner.trainingExamples()).prefix(4).map(\.tokens)
            let batch = TokenBatch(Array(encodings), padId: 2)
            let V = mergedConfig.vocabSize, N = batch.batch * batch.length
            let ours = FloatBuffer(count: N * V), theirs = FloatBuffer(count: N * V)
            model.model.logits(try model.model.forward(batch), rows: N, into: ours.pointer)
            merged.logits(try merged.forward(batch), rows: N, into: theirs.pointer)
            var worst: Float = 0
            for b in 0..<batch.batch { for t in 0..<batch.lengths[b] { for j in 0..<V {
                worst = max(worst, abs(ours[(b * batch.length + t) * V + j] - theirs[(b * batch.length + t) * V + j]))
            } } }
            print("merged export (\(name)): max |Δlogit| against the candidate \(worst)")
            // Float32 sums of W + s·B·A in another order than the modules' own products: measured 2.2e-6.
            XCTAssertLessThan(worst, 2e-5, name)
        }
        let prefix = try runConfig(Self.fixture + "/qa.jsonl", plan: #"{"prefix": {"length": 2}}"#)
        let model = try FineTuner(config: prefix).makeModel()
        try model.initialize(seed: 0)
        try CandidateArchive.save(model, config: prefix, result: nil, to: dir + "/prefix")
        let e = try runAutopeft(["export", dir + "/prefix", "--out", dir + "/prefix-merged", "--merged"])
        XCTAssertNotEqual(e.code, 0)
        XCTAssertTrue(e.err.contains("folds into its weights") && e.err.contains("prefix"), e.err)
    }

    /// What a causal-LM task cannot be is refused before training, naming the file, line or field.
    func testBadCausalLMInputIsRefusedByName() throws {
        let dir = scratchDirectory("causal-lm-errors")
        func refusal(_ body: () throws -> Void) -> String {
            do { try body(); return "(accepted)" } catch { return "\(error)" }
        }
        XCTAssertTrue(refusal { _ = try runConfig(Self.fixture + "/qa.jsonl", task: #", "metric": "exact_match""#) }
            .contains("max_new_tokens"))
        let tsv = refusal { _ = try runConfig(Self.fixture + "/qa.jsonl", format: "tsv") }
        XCTAssertTrue(tsv.contains("task.format") && tsv.contains("jsonl"), tsv)
        let bad = dir + "/bad.jsonl"
        try "{\"prompt\": \"a\", \"response\": \"b\"}\n{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n"
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let noAssistant = refusal { _ = try FineTuner(config: try runConfig(bad)).trainingExamples() }
        XCTAssertTrue(noAssistant.contains("bad.jsonl:2") && noAssistant.contains("assistant"), noAssistant)
        try "{\"prompt\": 3}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        XCTAssertTrue(refusal { _ = try FineTuner(config: try runConfig(bad)).trainingExamples() }.contains("bad.jsonl:1"))
        // An encoder cannot run a causal-LM task.
        let encoder = try RepositoryData.requireModel()
        var config = try runConfig(Self.fixture + "/qa.jsonl")
        config.model = encoder
        config.plan = PEFTPlan()
        XCTAssertTrue(refusal { _ = try FineTuner(config: config).makeModel() }.contains("needs a decoder"))
    }
}
