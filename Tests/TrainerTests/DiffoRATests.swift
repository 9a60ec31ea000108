import XCTest
import Space
@testable import Trainer

/// The DiffoRA gate gradient γ(1 − γ)·⟨W̃, ∂L/∂(γW̃)⟩ against finite differences in the logit, for
/// each gated module kind, on a tiny random BERT.
final class DiffoRATests: XCTestCase {
    func testGateGradientMatchesFiniteDifferences() throws {
        var cfg = ModelGradientTests.tiny
        cfg.hiddenDropout = 0; cfg.attentionDropout = 0
        let plan = PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, targets: [.value, .output]), serialAdapter: AdapterSpec(size: 3),
                            parallelAdapter: AdapterSpec(size: 2, scale: 4), prefix: PrefixSpec(length: 2))
        let model = try BertClassifier(weights: BertWeights.random(config: cfg, seed: 4), plan: plan, labels: 2, head: .mean)
        try model.initialize(seed: 1)
        var r = RandomSource(seed: 8)
        for i in 0..<model.block.count { model.block.values[i] = Float(r.nextGaussian()) * 0.3 }
        let tilde = model.block.values.array
        let batch = ModelGradientTests.batch()
        let dlogits = FloatBuffer(count: batch.batch * 2)
        let groups: [(String, [String])] = [
            ("lora:value layer 1", ["encoder.layer.1.attention.self.value.lora_B"]),
            ("serial layer 2", ["encoder.layer.2.serial_adapter.up.weight", "encoder.layer.2.serial_adapter.up.bias"]),
            ("parallel layer 0", ["encoder.layer.0.parallel_adapter.up.weight", "encoder.layer.0.parallel_adapter.up.bias"]),
            ("prefix layer 1", ["encoder.layer.1.attention.prefix_key", "encoder.layer.1.attention.prefix_value"]),
        ]
        for (name, views) in groups {
            let found = views.compactMap { n in model.block.views.first { $0.name == n } }
            XCTAssertEqual(found.map(\.name), views, "\(name): every gated tensor is a trainable view of the model")
            guard found.count == views.count else { continue }
            let ranges = found.map { ($0.offset, $0.count) }
            func loss(logit: Float, _ d: UnsafeMutablePointer<Float>?) -> Double {
                let gamma = 1 / (1 + exp(-logit))
                let v = model.block.values.pointer
                for j in 0..<tilde.count { v[j] = tilde[j] }
                for (o, n) in ranges { for j in o..<(o + n) { v[j] = gamma * tilde[j] } }
                var rng = RandomSource(seed: 1)
                let out = model.forward(batch, training: false, rng: &rng)
                return Loss.crossEntropy(logits: out, targets: [1, 0, 1], classes: 2, dlogits: d)
            }
            for a: Float in [-0.7, 0, 1.2] {
                model.block.zeroGrads()
                _ = loss(logit: a, dlogits.pointer)
                model.backward(dlogits: dlogits.pointer)
                let analytic = Double(DiffoRAScorer.gateGradient(logit: a, tilde: tilde, grads: model.block.grads.pointer, ranges: ranges))
                func central(_ h: Float) -> Double { (loss(logit: a + h, nil) - loss(logit: a - h, nil)) / Double(2 * h) }
                let numeric = (4 * central(0.05) - central(0.1)) / 3
                XCTAssertEqual(analytic, numeric, accuracy: 2e-4 + 5e-3 * abs(numeric), "\(name) at a = \(a)")
                XCTAssertGreaterThan(abs(numeric), 1e-5, "\(name): the check measures something")
            }
        }
    }
}
