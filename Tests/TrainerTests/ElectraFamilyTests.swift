import JSONKit
import XCTest
import Space
@testable import Trainer

/// The ELECTRA discriminator against HF transformers on a tiny random model
/// (Fixtures/electra-tiny, tools/make_electra_fixture.py): embeddings narrower than the hidden size
/// and projected up, then BERT's encoder, and its classification head (dense, GELU, out_proj).
final class ElectraFamilyTests: XCTestCase {
    func testTinyElectraMatchesTransformers() throws {
        let folder = Repo.fixtures + "/electra-tiny"
        let config = try BertConfig(contentsOf: folder + "/config.json")
        XCTAssertEqual(config.family, .electra)
        XCTAssertEqual([config.embeddingSize, config.hiddenSize], [16, 32])
        let file = try SafetensorsFile(path: folder + "/model.safetensors")
        let weights = try BertWeights(config: config, safetensors: file)
        XCTAssertNotNil(weights.embeddingProjection)
        let root = try JSONParser.parse(String(contentsOfFile: folder + "/cases.json", encoding: .utf8))
        func rows(_ key: String) -> [[Int32]] {
            guard case .array(let a)? = root[key] else { return [] }
            return a.map { row in
                guard case .array(let r) = row else { return [] }
                return r.compactMap { if case .number(let d, _) = $0 { return Int32(d) }; return nil }
            }
        }
        guard case .array(let ls)? = root["lengths"] else { return XCTFail("no lengths") }
        let n = ls.compactMap { if case .number(let d, _) = $0 { return Int(d) }; return nil }
        let encodings = zip(zip(rows("ids"), rows("types")), n).map { pair, k in
            TokenEncoding(ids: Array(pair.0.prefix(k)), typeIds: Array(pair.1.prefix(k)))
        }
        let batch = TokenBatch(encodings, padId: 0)
        let model = try BertClassifier(weights: weights, plan: PEFTPlan(), labels: 3, head: config.family.classifierHead)
        XCTAssertEqual(model.head, .dense)
        for (ours, theirs) in [("classifier.dense.weight", "classifier.dense.weight"), ("classifier.dense.bias", "classifier.dense.bias"),
                               ("classifier.weight", "classifier.out_proj.weight"), ("classifier.bias", "classifier.out_proj.bias")] {
            let v = try file.floats(theirs)
            model.block.value(model.block.view(named: ours)!.offset).update(from: v, count: v.count)
        }
        let reference = try SafetensorsFile(path: folder + "/reference.safetensors")
        var rng = RandomSource(seed: 0)
        let hidden = model.forwardPrefix(batch, upTo: config.layers, rng: &rng)
        var real: [Float] = []
        for b in 0..<batch.batch { real += Array(UnsafeBufferPointer(start: hidden + b * batch.length * 32, count: batch.lengths[b] * 32)) }
        let h = zip(real, try reference.floats("hidden")).map { abs($0 - $1) }.max() ?? 1
        let logits = model.forward(batch, training: false, rng: &rng)
        let l = zip(Array(UnsafeBufferPointer(start: logits, count: 6)), try reference.floats("logits")).map { abs($0 - $1) }.max() ?? 1
        print("electra-tiny parity: hidden max |diff| \(h), logits \(l)")
        XCTAssertEqual(real.count, try reference.floats("hidden").count)
        XCTAssertLessThanOrEqual(h, 2e-5)
        XCTAssertLessThanOrEqual(l, 2e-5)
        XCTAssertEqual(model.totalParameters - model.trainableParameters,
                       try file.tensors.keys.filter { $0.hasPrefix("electra.") }.map { try file.floats($0).count }.reduce(0, +),
                       "the frozen base counts every electra.* tensor")
    }
}
