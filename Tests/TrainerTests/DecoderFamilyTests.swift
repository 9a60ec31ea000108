import JSONKit
import XCTest
import TestSupport
import Space
@testable import Trainer

/// The Llama-family block against HF transformers on tiny random models
/// (tools/make_llama_fixture.py): Llama with grouped-query attention and its own head, Qwen2 with
/// q/k/v biases, one key/value head and a tied head.
final class DecoderFamilyTests: XCTestCase {
    /// The fixture's model, its right-padded batch, and the reference rows of its real tokens.
    func load(_ name: String) throws -> (model: DecoderModel, batch: TokenBatch, logits: [Float], hidden: [Float]) {
        let folder = Repo.fixtures + "/" + name
        let config = try DecoderConfig(contentsOf: folder + "/config.json")
        let weights = try DecoderWeights(config: config, safetensors: SafetensorsFile(path: folder + "/model.safetensors"))
        let root = try JSONParser.parse(String(contentsOfFile: folder + "/cases.json", encoding: .utf8))
        guard case .array(let rows)? = root["ids"], case .array(let lengths)? = root["lengths"] else {
            throw XCTSkip("the fixture has no cases")
        }
        func ints(_ v: JSONValue) -> [Int32] {
            guard case .array(let a) = v else { return [] }
            return a.compactMap { if case .number(let d, _) = $0 { return Int32(d) }; return nil }
        }
        let encodings = zip(rows, ints(.array(lengths))).map { row, n -> TokenEncoding in
            let ids = Array(ints(row).prefix(Int(n)))
            return TokenEncoding(ids: ids, typeIds: [Int32](repeating: 0, count: ids.count))
        }
        let reference = try SafetensorsFile(path: folder + "/reference.safetensors")
        return (try DecoderModel(weights: weights), TokenBatch(encodings, padId: 0), try reference.floats("logits"),
                try reference.floats("hidden"))
    }

    /// Rows of the real tokens of `batch`, in order, from a [B·T, width] buffer.
    func realRows(_ p: UnsafePointer<Float>, batch: TokenBatch, width: Int) -> [Float] {
        var out: [Float] = []
        for b in 0..<batch.batch { for t in 0..<batch.lengths[b] {
            out += Array(UnsafeBufferPointer(start: p + (b * batch.length + t) * width, count: width))
        } }
        return out
    }

    /// Every trainable tensor of `model` (its values perturbed from their initialisation, as at
    /// initialisation some gradients vanish) against central differences of L = Σ normed·w over each
    /// row's last real token (what a classifier reads: over all 11 tokens the Float32 forward's
    /// roundoff, about 2e-5 in L, is as large as the differences measure); ε 4e-2, as the roundoff
    /// divided by 2ε reaches 4e-4 at ε = 1e-2. `pattern` skips perturbations that cross a ReLU kink.
    func checkLastTokenGradients(_ model: DecoderModel, batch: TokenBatch, seed: UInt64, name: String,
                                 pattern: (() -> UInt64)? = nil, allowZero: (String) -> Bool = { _ in false },
                                 file: StaticString = #filePath, line: UInt = #line) {
        var r = RandomSource(seed: 3)
        for i in 0..<model.block.count { model.block.values[i] += Float(r.nextGaussian()) * 0.2 }
        let H = model.config.hiddenSize, N = batch.batch * batch.length
        var w = randomFloats(N * H, seed: seed)
        for b in 0..<batch.batch { for t in 0..<batch.length where t != batch.lengths[b] - 1 { for j in 0..<H { w[(b * batch.length + t) * H + j] = 0 } } }
        func loss() -> Double {
            var rng = RandomSource(seed: 11)
            return dot(try! model.forward(batch, training: true, rng: &rng), w)
        }
        model.block.zeroGrads()
        _ = loss()
        w.withUnsafeBufferPointer { _ = model.backward(dNormed: $0.baseAddress!) }
        let analytic = model.block.grads.array
        XCTAssertGreaterThan(model.block.views.count, 0, file: file, line: line)
        for view in model.block.views {
            checkGradient("\(name).\(view.name)", param: model.block.value(view.offset), count: view.count,
                          analytic: Array(analytic[view.offset..<(view.offset + view.count)]), eps: 4e-2, atol: 2e-4, samples: 24,
                          allowZero: allowZero(view.name), pattern: pattern, file: file, line: line) { loss() }
        }
    }

    func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        XCTAssertEqual(a.count, b.count)
        return zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
    }

    func testTinyDecodersMatchTransformers() throws {
        for name in ["llama-tiny", "qwen2-tiny"] {
            let (model, batch, logits, hidden) = try load(name)
            let c = model.config
            let h = try model.forward(batch)
            let out = FloatBuffer(count: batch.batch * batch.length * c.vocabSize)
            model.logits(h, rows: batch.batch * batch.length, into: out.pointer)
            let dh = maxDifference(realRows(h, batch: batch, width: c.hiddenSize), hidden)
            let dl = maxDifference(realRows(out.pointer, batch: batch, width: c.vocabSize), logits)
            print("\(name) forward parity: max |diff| hidden \(dh), logits \(dl) (largest |logit| \(logits.map(abs).max() ?? 0))")
            XCTAssertLessThanOrEqual(dh, 1e-5, name)
            XCTAssertLessThanOrEqual(dl, 1e-5, name)
        }
        let llama = try DecoderConfig(contentsOf: Repo.fixtures + "/llama-tiny/config.json")
        XCTAssertEqual([llama.heads, llama.kvHeads, llama.headDim], [4, 2, 8])
        XCTAssertFalse(llama.tiedEmbeddings)
        let qwen = try DecoderConfig(contentsOf: Repo.fixtures + "/qwen2-tiny/config.json")
        XCTAssertEqual(qwen.family, .qwen2)
        XCTAssertTrue(qwen.tiedEmbeddings && qwen.qkvBias && !qwen.outputBias)
    }

    /// Backward through the final norm and every block to the embeddings, against finite differences
    /// of L = Σ normed·w over the embedding rows the batch uses (a token's row gathers the gradient of
    /// each of its occurrences).
    func testBackwardThroughTheBlocksMatchesFiniteDifferences() throws {
        for name in ["llama-tiny", "qwen2-tiny"] {
            let (model, batch, _, _) = try load(name)
            let c = model.config, H = c.hiddenSize, N = batch.batch * batch.length
            let w = randomFloats(N * H, seed: 41)
            var mask = w
            for b in 0..<batch.batch { for t in batch.lengths[b]..<batch.length { for j in 0..<H { mask[(b * batch.length + t) * H + j] = 0 } } }
            func loss() -> Double { dot(try! model.forward(batch), mask) }
            _ = loss()
            let dh0 = mask.withUnsafeBufferPointer { model.backward(dNormed: $0.baseAddress!) }
            var analytic = [Float](repeating: 0, count: c.vocabSize * H)
            for r in 0..<N where batch.valid[r] != 0 {
                let id = Int(batch.ids[r])
                for j in 0..<H { analytic[id * H + j] += dh0[r * H + j] }
            }
            // Only the rows of tokens the batch holds carry a gradient: check those.
            let used = Array(Set((0..<N).filter { batch.valid[$0] != 0 }.map { Int(batch.ids[$0]) })).sorted()
            let rows = FloatBuffer(count: used.count * H)
            for (k, id) in used.enumerated() { (rows.pointer + k * H).update(from: model.weights.embeddings.weight.pointer + id * H, count: H) }
            func rowsLoss() -> Double {
                for (k, id) in used.enumerated() { (model.weights.embeddings.weight.pointer + id * H).update(from: rows.pointer + k * H, count: H) }
                return loss()
            }
            checkGradient("\(name).embeddings", param: rows.pointer, count: rows.count,
                          analytic: used.flatMap { Array(analytic[($0 * H)..<($0 * H + H)]) }, loss: rowsLoss)
        }
    }

    /// The same Llama written as llama.cpp's converter writes it (query/key rows permuted, attention
    /// in Q4_1/Q4_0/Q8_0): its logits match transformers' after its own GGUF load, and the query
    /// rows put back match the safetensors' within Q4_1's rounding (a row left permuted would not).
    func testAGGUFLlamaMatchesTransformersGGUFLoad() throws {
        let folder = Repo.fixtures + "/llama-tiny"
        let file = try GGUFFile(path: folder + "/llama-tiny.gguf")
        let config = try DecoderConfig(gguf: file)
        let safetensors = try DecoderConfig(contentsOf: folder + "/config.json")
        XCTAssertEqual(config, safetensors)
        let weights = try DecoderWeights(config: config, gguf: file)
        let (_, batch, _, _) = try load("llama-tiny")
        let model = try DecoderModel(weights: weights)
        let h = try model.forward(batch)
        let out = FloatBuffer(count: batch.batch * batch.length * config.vocabSize)
        model.logits(h, rows: batch.batch * batch.length, into: out.pointer)
        let reference = try SafetensorsFile(path: folder + "/gguf-reference.safetensors").floats("logits")
        let d = maxDifference(realRows(out.pointer, batch: batch, width: config.vocabSize), reference)
        print("llama-tiny.gguf forward parity with transformers' GGUF load: logits max |diff| \(d)")
        XCTAssertLessThanOrEqual(d, 1e-5)

        let original = try SafetensorsFile(path: folder + "/model.safetensors").floats("model.layers.0.self_attn.q_proj.weight")
        let restored = weights.layers[0].query.weight.array
        let permuted = try file.floats("blk.0.attn_q.weight")
        // Q4_1 rounds to 1/15 of a block's range: within that of the original, not of a permuted row.
        let range = (original.max() ?? 0) - (original.min() ?? 0)
        XCTAssertLessThanOrEqual(maxDifference(restored, original), range / 15)
        XCTAssertGreaterThan(maxDifference(permuted, original), range / 4)
    }

    /// Kept in its blocks (QLoRA's base), the GGUF Llama computes what it computes dequantized up
    /// front, forward and backward, with the quantized maps holding their block bytes only.
    func testAQuantizedBaseComputesWhatTheDequantizedOneDoes() throws {
        let file = try GGUFFile(path: Repo.fixtures + "/llama-tiny/llama-tiny.gguf")
        let config = try DecoderConfig(gguf: file)
        let (_, batch, _, _) = try load("llama-tiny")
        let N = batch.batch * batch.length, H = config.hiddenSize
        var results: [(hidden: [Float], dEmbedded: [Float], bytes: Int)] = []
        for keep in [false, true] {
            let weights = try DecoderWeights(config: config, gguf: file, keepQuantized: keep)
            let q = weights.layers[0].query
            XCTAssertEqual(q.quantized != nil, keep)
            let model = try DecoderModel(weights: weights)
            let h = Array(UnsafeBufferPointer(start: try model.forward(batch), count: N * H))
            let w = randomFloats(N * H, seed: 43)
            let d = w.withUnsafeBufferPointer { model.backward(dNormed: $0.baseAddress!) }
            let bytes = weights.layers.reduce(0) { $0 + [$1.query, $1.key, $1.value, $1.attentionOutput].reduce(0) { $0 + $1.byteCount } }
            results.append((h, Array(UnsafeBufferPointer(start: d, count: N * H)), bytes))
        }
        XCTAssertLessThanOrEqual(maxDifference(results[1].hidden, results[0].hidden), 1e-5)
        XCTAssertLessThanOrEqual(maxDifference(results[1].dEmbedded, results[0].dEmbedded), 1e-4)
        print("attention maps of llama-tiny.gguf: \(results[0].bytes) bytes in Float32, \(results[1].bytes) kept quantized")
        XCTAssertLessThan(results[1].bytes * 4, results[0].bytes, "Q4_1/Q4_0/Q8_0 against Float32")
    }

    /// PEFT methods attached to the decoder's blocks through the seam (`AdapterHost`): LoRA on the six
    /// maps that have target names (q, k, v, o, up, down; the key and value maps narrower than the
    /// hidden size under grouped-query attention), (IA)³ on keys, values and the input of down, and
    /// BitFit on Qwen2's q/k/v biases. Every trainable tensor's gradient against finite differences
    /// of L = Σ normed·w, from randomised module values. ε is 4e-2 (Richardson removes the truncation
    /// error): with every module on, the Float32 forward's roundoff in L, divided by 2ε, reaches
    /// 4e-4 at ε = 1e-2, where the estimates scattered on both sides of the analytic values (each
    /// module alone passes at 1e-2 too).
    func testPEFTModulesOnDecoderBlocksMatchFiniteDifferences() throws {
        let all = LinearTarget.allCases   // the gate too: a decoder's feed-forward is gated
        for name in ["llama-tiny", "qwen2-tiny"] {
            let folder = Repo.fixtures + "/" + name
            let config = try DecoderConfig(contentsOf: folder + "/config.json")
            let weights = try DecoderWeights(config: config, safetensors: SafetensorsFile(path: folder + "/model.safetensors"))
            var plan = PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, targets: all), ia3: IA3Spec(sites: IA3Spec.Site.allCases))
            if config.qkvBias { plan.bitfit = BitFitSpec(biases: [.query, .key, .value], layers: .only([1])) }
            let model = try DecoderModel(weights: weights, plan: plan)
            try model.initialize(seed: 1)
            XCTAssertEqual(model.block.count, plan.moduleParameters(dims: config.dimensions),
                           "\(name): the trainer allocates what the plan counts")
            let (_, batch, _, _) = try load(name)
            checkLastTokenGradients(model, batch: batch, seed: 45, name: name, allowZero: { $0.contains("key.bias") })
        }
    }

    /// Serial and parallel bottleneck adapters on a decoder's feed-forward (a serial one reads its
    /// output, a parallel one its normed input), with LoRA beside: gradients against central
    /// differences at the step the block check above uses (a smaller one drowns in the Float32
    /// forward's roundoff, about 2e-3 of the gradient at 2e-3), skipping perturbations that cross
    /// an adapter's ReLU kink.
    func testBottleneckAdaptersOnDecoderBlocksMatchFiniteDifferences() throws {
        let folder = Repo.fixtures + "/llama-tiny"
        let config = try DecoderConfig(contentsOf: folder + "/config.json")
        let weights = try DecoderWeights(config: config, safetensors: SafetensorsFile(path: folder + "/model.safetensors"))
        var plan = PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, targets: [.query, .gate]))
        plan.serialAdapter = AdapterSpec(size: 4)
        plan.parallelAdapter = AdapterSpec(size: 3, layers: .only([1]))
        let model = try DecoderModel(weights: weights, plan: plan)
        try model.initialize(seed: 1)
        XCTAssertEqual(model.block.count, plan.moduleParameters(dims: config.dimensions), "the trainer allocates what the plan counts")
        let (_, batch, _, _) = try load("llama-tiny")
        XCTAssertTrue(model.block.views.contains { $0.name.contains("adapter") }, "\(model.block.views.map(\.name))")
        checkLastTokenGradients(model, batch: batch, seed: 46, name: "llama-tiny", pattern: { model.activationSignature })
    }

    /// Classification on a decoder as HF's LlamaForSequenceClassification computes it (the last
    /// real token's normed state through `score`): logits against transformers with the fixture's
    /// score weight, then every trainable tensor's cross-entropy gradient (LoRA on q and v, the
    /// score head) against finite differences.
    func testDecoderClassifierMatchesTransformersAndFiniteDifferences() throws {
        let folder = Repo.fixtures + "/llama-tiny"
        let config = try DecoderConfig(contentsOf: folder + "/config.json")
        let weights = try DecoderWeights(config: config, safetensors: SafetensorsFile(path: folder + "/model.safetensors"))
        let reference = try SafetensorsFile(path: folder + "/classifier.safetensors")
        let (_, batch, _, _) = try load("llama-tiny")
        let frozen = try DecoderClassifier(weights: weights, plan: PEFTPlan(), labels: 3)
        let score = try reference.floats("score.weight")
        XCTAssertEqual(frozen.block.count, score.count, "only the score head trains")
        frozen.block.values.pointer.update(from: score, count: score.count)
        var rng = RandomSource(seed: 11)
        let logits = try frozen.forward(batch, training: false, rng: &rng)
        let want = try reference.floats("logits")
        let d = maxDifference(Array(UnsafeBufferPointer(start: logits, count: 6)), want)
        print("llama-tiny sequence classification parity: logits max |diff| \(d)")
        XCTAssertLessThanOrEqual(d, 1e-5)

        let plan = PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, targets: [.query, .value], layers: .only([1])))
        let model = try DecoderClassifier(weights: weights, plan: plan, labels: 3)
        try model.initialize(seed: 1)
        var r = RandomSource(seed: 5)
        for i in 0..<model.block.count { model.block.values[i] = Float(r.nextGaussian()) * 0.2 }
        let targets = [2, 0]
        let dlogits = FloatBuffer(count: 2 * 3)
        func loss(_ dl: UnsafeMutablePointer<Float>?) -> Double {
            var rng = RandomSource(seed: 11)
            return Loss.crossEntropy(logits: try! model.forward(batch, training: true, rng: &rng), targets: targets, classes: 3,
                                     dlogits: dl)
        }
        model.block.zeroGrads()
        _ = loss(dlogits.pointer)
        model.backward(dlogits: dlogits.pointer)
        let analytic = model.block.grads.array
        for view in model.block.views {
            checkGradient("classifier.\(view.name)", param: model.block.value(view.offset), count: view.count,
                          analytic: Array(analytic[view.offset..<(view.offset + view.count)]), atol: 2e-4, samples: 24) { loss(nil) }
        }
    }

    /// What a decoder block does not run is refused by name, and greedy decoding without a prompt
    /// is an error, not a read before the buffer.
    func testAnEmptyPromptIsRefused() throws {
        let folder = Repo.fixtures + "/llama-tiny"
        let config = try DecoderConfig(contentsOf: folder + "/config.json")
        let weights = try DecoderWeights(config: config, safetensors: SafetensorsFile(path: folder + "/model.safetensors"))
        XCTAssertThrowsError(try DecoderModel(weights: weights).greedy([], steps: 3)) {
            XCTAssertTrue("\($0)".contains("at least one token"), "\($0)")
        }
    }

    /// Prefix tuning on decoder blocks: keys and values as wide as the KV heads (2 of 4 heads here),
    /// flat or through the MLP, positions from 0 or shifted: gradients against central differences.
    func testPrefixesOnDecoderBlocksMatchFiniteDifferences() throws {
        let folder = Repo.fixtures + "/llama-tiny"
        let config = try DecoderConfig(contentsOf: folder + "/config.json")
        let weights = try DecoderWeights(config: config, safetensors: SafetensorsFile(path: folder + "/model.safetensors"))
        let (_, batch, _, _) = try load("llama-tiny")
        for (name, prefix) in [("flat", PrefixSpec(length: 3)), ("mlp shifted", PrefixSpec(length: 2, layers: .only([1]), projection: 5,
                                                                                                 positions: .shifted))] {
            let plan = PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, targets: [.value]), prefix: prefix)
            let model = try DecoderModel(weights: weights, plan: plan)
            try model.initialize(seed: 1)
            XCTAssertEqual(model.block.count, plan.moduleParameters(dims: config.dimensions), "\(name): the trainer allocates what the plan counts")
            XCTAssertTrue(model.block.views.contains { $0.name.contains("prefix") }, "\(model.block.views.map(\.name))")
            checkLastTokenGradients(model, batch: batch, seed: 47, name: name)
        }
    }

    /// A shifted prefix on a GQA decoder computes what HF computes with PEFT's prefix tuning: past keys
    /// and values (as wide as the 2 KV heads) before the real tokens, whose positions start at P
    /// (Fixtures/llama-tiny/prefix.safetensors, tools/make_decoder_prefix_fixture.py).
    func testAShiftedPrefixOnADecoderMatchesHFPEFT() throws {
        let folder = Repo.fixtures + "/llama-tiny"
        let config = try DecoderConfig(contentsOf: folder + "/config.json")
        let weights = try DecoderWeights(config: config, safetensors: SafetensorsFile(path: folder + "/model.safetensors"))
        let reference = try SafetensorsFile(path: folder + "/prefix.safetensors")
        let table = try reference.floats("table"), K = config.kvWidth, P = 3
        let model = try DecoderClassifier(weights: weights, plan: PEFTPlan(prefix: PrefixSpec(length: P, positions: .shifted)), labels: 3)
        let score = try SafetensorsFile(path: folder + "/classifier.safetensors").floats("score.weight")
        model.block.value(model.block.view(named: "score.weight")!.offset).update(from: score, count: score.count)
        for l in 0..<config.layers {
            for (part, shift) in [("prefix_key", 0), ("prefix_value", K)] {
                let dst = model.block.value(model.block.view(named: "encoder.layer.\(l).attention.\(part)")!.offset)
                for t in 0..<P { for j in 0..<K { dst[t * K + j] = table[t * config.layers * 2 * K + l * 2 * K + shift + j] } }
            }
        }
        let (_, batch, _, _) = try load("llama-tiny")
        var rng = RandomSource(seed: 0)
        let logits = try model.forward(batch, training: false, rng: &rng)
        let d = maxDifference(Array(UnsafeBufferPointer(start: logits, count: 6)), try reference.floats("logits"))
        print("llama-tiny prefix (shifted) against HF PEFT's prefix cache: logits max |diff| \(d)")
        XCTAssertLessThanOrEqual(d, 1e-5)
        // From position 0 the same prefix computes something else: the rotations differ.
        let zero = try DecoderClassifier(weights: weights, plan: PEFTPlan(prefix: PrefixSpec(length: P)), labels: 3)
        zero.block.values.pointer.update(from: model.block.values.pointer, count: model.block.count)
        let z = try zero.forward(batch, training: false, rng: &rng)
        XCTAssertGreaterThan(maxDifference(Array(UnsafeBufferPointer(start: z, count: 6)), try reference.floats("logits")), 1e-3)
    }

    /// Where a model is and what it is: a Hugging Face folder of a decoder family, a GGUF file, a
    /// folder of one GGUF file; a folder of two is refused by name, as is an encoder head on a decoder.
    func testModelSourcesAndTheDecoderHead() throws {
        let folder = Repo.fixtures + "/llama-tiny"
        XCTAssertEqual(try ModelSource.locate(folder), .huggingFace(directory: folder))
        XCTAssertEqual(try ModelSource.locate(folder + "/llama-tiny.gguf"), .gguf(file: folder + "/llama-tiny.gguf"))
        XCTAssertTrue(ModelSource.isDecoder(folder))
        XCTAssertFalse(ModelSource.isDecoder(Repo.fixtures + "/roberta-tiny"))
        XCTAssertEqual(BaseModel.defaultHead(model: folder), .last)
        XCTAssertEqual(BaseModel.defaultHead(model: Repo.fixtures + "/roberta-tiny"), .pooler)
        // The space's count of a head and the trainer's agree on which families have a bias.
        XCTAssertEqual(ModelDimensions.decoderModelTypes, Set(DecoderFamily.allCases.map(\.rawValue)))
        XCTAssertFalse(try ModelDimensions(configFile: folder + "/config.json").classifierBias)
        XCTAssertEqual(try ModelSource.dimensions(folder + "/llama-tiny.gguf"), try ModelDimensions(configFile: folder + "/config.json"))

        let two = scratchDirectory("model-source")
        let gguf = try Data(contentsOf: URL(fileURLWithPath: folder + "/llama-tiny.gguf"))
        for name in ["a.gguf", "b.gguf"] { try gguf.write(to: URL(fileURLWithPath: two + "/" + name)) }
        XCTAssertThrowsError(try ModelSource.locate(two)) { XCTAssertTrue("\($0)".contains("2 .gguf files (a.gguf, b.gguf)"), "\($0)") }
        try FileManager.default.removeItem(atPath: two + "/b.gguf")
        XCTAssertEqual(try ModelSource.locate(two), .gguf(file: two + "/a.gguf"))

        let weights = try DecoderWeights(config: try DecoderConfig(contentsOf: folder + "/config.json"),
                                         safetensors: SafetensorsFile(path: folder + "/model.safetensors"))
        XCTAssertThrowsError(try BaseModel.decoder(weights).classifier(plan: PEFTPlan(), labels: 2, head: .cls)) {
            XCTAssertTrue("\($0)".contains("expected \"last\""), "\($0)")
        }
        // Llama's module names name the same targets; the gate only where the feed-forward is gated.
        XCTAssertEqual(["q_proj", "self_attn.k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "mlp.down_proj"].map(LinearTarget.init(name:)),
                       [.query, .key, .value, .attentionOutput, .gate, .intermediate, .output])
        let gate = PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, targets: [.gate]))
        XCTAssertNoThrow(try gate.validate(for: weights.config.dimensions))
        let encoder = ModelDimensions(hiddenSize: 32, intermediateSize: 48, layers: 2, heads: 4)
        XCTAssertThrowsError(try gate.validate(for: encoder)) {
            XCTAssertTrue("\($0)".contains("which this model has not; expected one of query, key, value, attention.output, "
                + "intermediate, output"), "\($0)")
        }
        let classifier = try BaseModel.decoder(weights).classifier(plan: PEFTPlan(), labels: 2, head: .last)
        XCTAssertEqual(classifier.trainableParameters, PEFTPlan().trainableParameters(dims: weights.config.dimensions, labels: 2))
        XCTAssertEqual(classifier.trainableParameters, 2 * 32, "score.weight only")
    }
}
