import JSONKit
import XCTest
import TestSupport
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
        return (DecoderModel(weights: weights), TokenBatch(encodings, padId: 0), try reference.floats("logits"),
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
            for (k, id) in used.enumerated() { (rows.pointer + k * H).update(from: model.weights.embeddings.pointer + id * H, count: H) }
            func rowsLoss() -> Double {
                for (k, id) in used.enumerated() { (model.weights.embeddings.pointer + id * H).update(from: rows.pointer + k * H, count: H) }
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
        let model = DecoderModel(weights: weights)
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
            let model = DecoderModel(weights: weights)
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
}
