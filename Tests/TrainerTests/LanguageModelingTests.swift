import XCTest
import TestSupport
import Space
@testable import Trainer

/// Causal-LM fine-tuning on the tiny Llama (tools/make_llama_fixture.py): the loss on counted
/// tokens and its gradients against central differences, and batched generation with a
/// key/value cache against decoding that runs the whole sequence again at every step.
final class LanguageModelingTests: XCTestCase {
    func weights() throws -> DecoderWeights {
        let folder = Repo.fixtures + "/llama-tiny"
        let config = try DecoderConfig(contentsOf: folder + "/config.json")
        return try DecoderWeights(config: config, safetensors: SafetensorsFile(path: folder + "/model.safetensors"))
    }

    /// Two right-padded rows and which tokens the loss counts (a prompt's are not).
    func batch() -> (TokenBatch, [Bool]) {
        let rows: [[Int32]] = [[5, 17, 33, 2, 60, 41, 9], [12, 3, 3, 50]]
        let counted: [[Bool]] = [[false, false, false, true, true, true, true], [false, false, true, true]]
        let batch = TokenBatch(rows.map { TokenEncoding(ids: $0, typeIds: [Int32](repeating: 0, count: $0.count)) }, padId: 0)
        return (batch, LanguageModelingObjective.mask(counted, length: batch.length))
    }

    /// The mean cross-entropy over the 6 counted tokens, by hand from the model's full logits
    /// (log-softmax in Double), against `loss`: the gather, the head and the mask.
    func testTheLossIsTheMeanCrossEntropyOfCountedTokens() throws {
        let model = try DecoderLanguageModel(weights: try weights(), plan: PEFTPlan())
        let (batch, counted) = batch()
        var rng = RandomSource(seed: 0)
        let got = try model.loss(batch, counted: counted, backward: false, rng: &rng)
        let V = model.model.config.vocabSize, T = batch.length
        let h = try model.model.forward(batch)
        let logits = FloatBuffer(count: batch.batch * T * V)
        model.model.logits(h, rows: batch.batch * T, into: logits.pointer)
        var sum = 0.0, n = 0
        for b in 0..<batch.batch {
            for t in 0..<(batch.lengths[b] - 1) where counted[b * T + t + 1] {
                let row = (0..<V).map { Double(logits[(b * T + t) * V + $0]) }
                let m = row.max()!
                sum += m + log(row.map { exp($0 - m) }.reduce(0, +)) - row[Int(batch.ids[b * T + t + 1])]
                n += 1
            }
        }
        XCTAssertEqual(got.tokens, 6, "row 0 counts 4 tokens, row 1 two")
        XCTAssertEqual(n, got.tokens)
        XCTAssertEqual(got.mean, sum / Double(n), accuracy: 1e-5)
    }

    /// Gradients of the mean loss through LoRA (q, v, gate), serial adapters and prefixes (from 0
    /// and shifted) against central differences; the head is the model's own, frozen.
    func testLossGradientsMatchFiniteDifferences() throws {
        let w = try weights()
        let (batch, counted) = batch()
        // The serial adapter rides with the first prefix only: with the shifted one, perturbations of the
        // LoRA below it moved its ReLU units across zero at most sampled coordinates.
        for (name, prefix) in [("prefix from 0", PrefixSpec(length: 2)), ("shifted prefix", PrefixSpec(length: 2, positions: .shifted))] {
            var plan = PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, targets: [.query, .value, .gate]), prefix: prefix)
            if prefix.positions != .shifted { plan.serialAdapter = AdapterSpec(size: 3, layers: .only([1])) }
            let model = try DecoderLanguageModel(weights: w, plan: plan)
            try model.initialize(seed: 1)
            var r = RandomSource(seed: 3)
            for i in 0..<model.block.count { model.block.values[i] += Float(r.nextGaussian()) * 0.2 }
            func loss() -> Double {
                var rng = RandomSource(seed: 11)
                return try! model.loss(batch, counted: counted, backward: false, rng: &rng).mean
            }
            model.block.zeroGrads()
            var rng = RandomSource(seed: 11)
            _ = try model.loss(batch, counted: counted, backward: true, rng: &rng)
            let analytic = model.block.grads.array
            for view in model.block.views {
                checkGradient("\(name).\(view.name)", param: model.block.value(view.offset), count: view.count,
                              analytic: Array(analytic[view.offset..<(view.offset + view.count)]), eps: 4e-2, atol: 2e-4, samples: 16,
                              pattern: { model.model.activationSignature }) { loss() }
            }
        }
    }

    /// Batched generation with the cache gives, row by row, what greedy decoding without one gives
    /// (prompts of different lengths decoded together; modules and prefixes trained to non-zero values).
    func testCachedGenerationEqualsRecomputedGreedyDecoding() throws {
        let w = try weights()
        let prompts: [[Int32]] = [[5, 17, 33], [12, 3, 3, 50, 8, 1], [40]]
        for prefix in [nil, PrefixSpec(length: 2), PrefixSpec(length: 3, positions: .shifted)] {
            var plan = PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, targets: [.query, .key, .output]), prefix: prefix)
            plan.parallelAdapter = AdapterSpec(size: 3)
            let model = try DecoderLanguageModel(weights: w, plan: plan)
            try model.initialize(seed: 2)
            var r = RandomSource(seed: 5)
            for i in 0..<model.block.count { model.block.values[i] += Float(r.nextGaussian()) * 0.3 }
            let cached = try model.model.generate(prompts, maxNewTokens: 9)
            for (b, p) in prompts.enumerated() {
                XCTAssertEqual(cached[b], try model.model.greedy(p, steps: 9), "row \(b), prefix \(String(describing: prefix))")
            }
            XCTAssertGreaterThan(Set(cached.flatMap { $0 }).count, 2, "the continuations vary")
            let stopped = try model.model.generate(prompts, maxNewTokens: 9, stop: [cached[1][2]])
            XCTAssertEqual(stopped[1], Array(cached[1].prefix(through: cached[1].firstIndex(of: cached[1][2])!)), "a row stops at a stop token")
        }
    }

    /// A cache longer than the model's positions is refused before anything runs.
    func testGenerationBeyondThePositionsIsRefused() throws {
        let model = try DecoderLanguageModel(weights: try weights(), plan: PEFTPlan())
        XCTAssertThrowsError(try model.model.generate([[Int32](repeating: 5, count: 30)], maxNewTokens: 5)) {
            XCTAssertTrue("\($0)".contains("exceed the model's 32 positions"), "\($0)")
        }
    }
}
