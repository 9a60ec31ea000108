import XCTest
import Space
@testable import Trainer

/// SPT's squared weight gradients against central finite differences on a tiny random BERT.
final class SensitivityTests: XCTestCase {
    func testSquaredWeightGradientsMatchFiniteDifferences() throws {
        var cfg = ModelGradientTests.tiny
        cfg.hiddenDropout = 0; cfg.attentionDropout = 0
        let weights = BertWeights.random(config: cfg, seed: 5)
        let model = try BertClassifier(weights: weights, plan: PEFTPlan(), labels: 2, head: .mean)
        try model.initialize(seed: 2)
        let acc = SensitivityAccumulator(config: cfg)
        model.collectSensitivity(acc)
        let batch = ModelGradientTests.batch()
        let dlogits = FloatBuffer(count: batch.batch * 2)
        func loss(_ d: UnsafeMutablePointer<Float>?) -> Double {
            var rng = RandomSource(seed: 1)
            let logits = model.forward(batch, training: false, rng: &rng)
            return Loss.crossEntropy(logits: logits, targets: [1, 0, 1], classes: 2, dlogits: d)
        }
        model.block.zeroGrads()
        _ = loss(dlogits.pointer)
        model.backward(dlogits: dlogits.pointer)
        var checked = 0, nonzero = 0
        XCTAssertEqual(acc.sums.count, cfg.layers, "one row of sums per layer")
        for l in 0..<cfg.layers {
            XCTAssertEqual(acc.sums[l].count, LinearTarget.ungated.count, "layer \(l): one sum per linear map")
            guard acc.sums[l].count == LinearTarget.ungated.count else { continue }
            for (j, t) in LinearTarget.ungated.enumerated() {
                let w = model.layers[l].weights(t).weight
                XCTAssertEqual(acc.sums[l][j].count, w.count, "layer \(l) \(t): a squared gradient per weight")
                guard acc.sums[l][j].count == w.count else { continue }
                let s = acc.sums[l][j].pointer
                var rng = RandomSource(seed: UInt64(l * 10 + j))
                for _ in 0..<10 {
                    let i = Int(rng.next() % UInt64(w.count))
                    let old = w.pointer[i]
                    func central(_ h: Float) -> Double {
                        w.pointer[i] = old + h; let lp = loss(nil)
                        w.pointer[i] = old - h; let lm = loss(nil)
                        w.pointer[i] = old
                        return (lp - lm) / (Double(old + h) - Double(old - h))
                    }
                    let numeric = (4 * central(1e-2) - central(2e-2)) / 3
                    let analytic = Double(s[i]).squareRoot()
                    XCTAssertEqual(analytic, abs(numeric), accuracy: 5e-4 + 5e-3 * abs(numeric), "layer \(l) \(t)[\(i)]")
                    checked += 1
                    if abs(numeric) > 1e-5 { nonzero += 1 }
                }
            }
        }
        XCTAssertGreaterThan(nonzero, checked / 2, "most sampled gradients are non-zero: the check measures something")
        // A second identical batch doubles the sums (they accumulate over batches).
        let before = acc.sums[1][2].array
        model.block.zeroGrads()
        _ = loss(dlogits.pointer)
        model.backward(dlogits: dlogits.pointer)
        for (a, b) in zip(acc.sums[1][2].array, before) { XCTAssertEqual(a, 2 * b, accuracy: 1e-6 * max(1, abs(b))) }
    }

    func testTopCountsSelectTheGlobalTopFraction() {
        var values = (0..<1000).map { Float(($0 * 7919) % 1000) }
        let k = SensitivityAccumulator.kthLargest(&values, 10)
        XCTAssertEqual(k, 990)
        var v2 = [Float](repeating: 3, count: 50) + [5, 1]
        XCTAssertEqual(SensitivityAccumulator.kthLargest(&v2, 1), 5)
        XCTAssertEqual(SensitivityAccumulator.kthLargest(&v2, 2), 3)
        XCTAssertEqual(SensitivityAccumulator.kthLargest(&v2, 52), 1)
    }
}
