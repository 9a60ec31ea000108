import XCTest
import Space
@testable import Trainer

/// One pooler-head regression step on the real model against HF transformers + PEFT
/// (fixture and script: tools/make_regression_step_fixture.py): logits, MSE loss and the
/// gradient of every LoRA and classifier tensor, each named with its max difference.
final class RegressionStepGoldenTests: XCTestCase {
    func testPoolerRegressionStepMatchesPEFT() throws {
        let dir = try Repo.requireModel()
        let glue = try Repo.requireGLUE()
        let fx = try SafetensorsFile(path: Repo.fixtures + "/regression_step.safetensors")
        let cfg = try BertConfig(contentsOf: dir + "/config.json")
        let weights = try BertWeights(config: cfg, safetensors: SafetensorsFile(path: dir + "/model.safetensors"))
        let model = try BertClassifier(weights: weights, plan: PEFTPlan(lora: LoRASpec(rank: 8, alpha: 16, targets: [.query, .value])),
                                       labels: 1, head: .pooler)
        for v in model.block.views {
            let values = try fx.floats("value:" + v.name, shape: v.shape)
            values.withUnsafeBufferPointer { model.block.value(v.offset).update(from: $0.baseAddress!, count: v.count) }
        }
        let rows = try DatasetReader.read(glue + "/STS-B/train.tsv", task: TaskSpec.glue("stsb")!).prefix(8)
        let tok = try WordPieceTokenizer(directory: dir)
        let batch = TokenBatch(rows.map { tok.encode($0.textA, $0.textB, maxLength: 128) }, padId: tok.padId)
        let labels = try fx.floats("labels")
        var rng = RandomSource(seed: 0)
        let logits = model.forward(batch, training: false, rng: &rng)
        let refLogits = try fx.floats("logits")
        for i in 0..<8 { XCTAssertEqual(logits[i], refLogits[i], accuracy: 1e-4, "logit \(i)") }
        let d = FloatBuffer(count: 8)
        let loss = Loss.meanSquaredError(predictions: logits, targets: labels, dlogits: d.pointer)
        XCTAssertEqual(loss, Double(try fx.floats("loss")[0]), accuracy: 1e-4 * max(1, loss))
        model.block.zeroGrads()
        model.backward(dlogits: d.pointer)
        var worst = (name: "", diff: Float(0), scale: Float(0))
        for v in model.block.views {
            let ref = try fx.floats("grad:" + v.name, shape: v.shape)
            let scale = ref.map(abs).max() ?? 0
            let diff = (0..<v.count).map { abs(model.block.grad(v.offset)[$0] - ref[$0]) }.max() ?? 0
            XCTAssertLessThanOrEqual(diff, 1e-3 * max(scale, 1e-3), "\(v.name): max |diff| \(diff), max |grad| \(scale)")
            if diff / max(scale, 1e-12) > worst.diff / max(worst.scale, 1e-12) { worst = (v.name, diff, scale) }
        }
        print("regression step golden: loss \(loss); worst relative gradient diff \(worst.diff / max(worst.scale, 1e-12)) in \(worst.name)")
        // Five AdamW steps with clipping, as torch.optim.AdamW and clip_grad_norm_.
        let adam = AdamW(parameterCount: model.block.count, weightDecay: 0.01)
        for step in 1...5 {
            clipGradientNorm(model.block, maxNorm: 1)
            adam.update(model.block, learningRate: 5e-3)
            model.block.zeroGrads()
            let l = Loss.meanSquaredError(predictions: model.forward(batch, training: false, rng: &rng), targets: labels,
                                          dlogits: d.pointer)
            model.backward(dlogits: d.pointer)
            let ref = Double(try fx.floats("loss_after_\(step)")[0])
            XCTAssertEqual(l, ref, accuracy: 1e-3 * max(1, ref), "loss after step \(step)")
            print("after step \(step): loss \(l), PEFT \(ref)")
        }
        for v in model.block.views {
            let ref = try fx.floats("after5:" + v.name, shape: v.shape)
            let diff = (0..<v.count).map { abs(model.block.value(v.offset)[$0] - ref[$0]) }.max() ?? 0
            XCTAssertLessThanOrEqual(diff, 5e-4, "\(v.name) after 5 steps")  // float accumulation over 5 steps (values ~0.1)
        }
    }
}
