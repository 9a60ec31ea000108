import XCTest
@testable import Trainer

/// Metrics against values computed by hand.
final class MetricsTests: XCTestCase {
    // pred/gold: tp = 3 (0,1,4), fp = 1 (2), fn = 1 (5), tn = 2 (3,6)
    let pred = [1, 1, 1, 0, 1, 0, 0], gold = [1, 1, 0, 0, 1, 1, 0]

    func testAccuracyAndF1() {
        XCTAssertEqual(Metrics.accuracy(pred, gold), 5.0 / 7.0, accuracy: 1e-12)
        XCTAssertEqual(Metrics.f1(pred, gold), 0.75, accuracy: 1e-12)  // 2·3 / (2·3 + 1 + 1)
    }

    func testMatthewsCorrelationAgainstHandValues() {
        // (tp·tn − fp·fn)/√((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (6 − 1)/√(4·4·3·3) = 5/12
        XCTAssertEqual(Metrics.matthews(pred, gold), 5.0 / 12.0, accuracy: 1e-12)
        XCTAssertEqual(Metrics.matthews([1, 1, 1], [1, 0, 1]), 0, "undefined (constant prediction) is 0")
        XCTAssertEqual(Metrics.matthews([0, 1, 2, 2], [0, 1, 2, 2]), 1, accuracy: 1e-12)
    }

    func testPearsonAndSpearmanWithTies() {
        XCTAssertEqual(Metrics.pearson([1, 2, 3], [2, 4, 6]), 1, accuracy: 1e-12)
        // x = [1,2,3,4], y = [1,3,2,4]: means 2.5; Σdxdy = 2.25+0.25+0.25+2.25... = 4; Σdx² = 5 → 0.8
        XCTAssertEqual(Metrics.pearson([1, 2, 3, 4], [1, 3, 2, 4]), 0.8, accuracy: 1e-12)
        XCTAssertEqual(Metrics.ranks([10, 20, 20, 30]), [1, 2.5, 2.5, 4])
        // ranks x = [1, 2.5, 2.5, 4], y = [1, 2, 3, 4]: Σdxdy = 2.25+0+0+2.25 = 4.5, Σdx² = 4.5, Σdy² = 5
        XCTAssertEqual(Metrics.spearman([10, 20, 20, 30], [1, 2, 3, 4]), 4.5 / (4.5 * 5).squareRoot(), accuracy: 1e-12)
    }

    func testLossesAgainstHandValues() {
        // CE of logits [0, ln 3] with target 1: −log(3/4); dlogits = (softmax − onehot)/B = [1/4, −1/4].
        let logits: [Float] = [0, Float(log(3.0))]
        let d = FloatBuffer(count: 2)
        let ce = logits.withUnsafeBufferPointer { Loss.crossEntropy(logits: $0.baseAddress!, targets: [1], classes: 2, dlogits: d.pointer) }
        XCTAssertEqual(ce, -log(0.75), accuracy: 1e-6)
        XCTAssertEqual(d[0], 0.25, accuracy: 1e-6)
        XCTAssertEqual(d[1], -0.25, accuracy: 1e-6)
        let p: [Float] = [1, 3]
        let mse = p.withUnsafeBufferPointer { Loss.meanSquaredError(predictions: $0.baseAddress!, targets: [0, 1], dlogits: d.pointer) }
        XCTAssertEqual(mse, (1 + 4) / 2.0, accuracy: 1e-9)
        XCTAssertEqual(d[1], 2 * 2 / 2.0, accuracy: 1e-6)
    }

    /// Predicting one class everywhere, the best class, against closed forms: accuracy is the
    /// majority share; binary F1 predicting the positive class is 2p / (1 + p) (precision p,
    /// recall 1); no constant for regression. And on the real MRPC dev set (279 of 408 positive),
    /// the 0.8122 at which half-epoch MRPC runs sit.
    func testConstantPredictionScore() throws {
        func rows(_ labels: [Int]) -> [Example] { labels.map { Example(textA: "x", label: .classIndex($0)) } }
        let sst2 = try XCTUnwrap(TaskSpec.glue("sst2")), mrpc = try XCTUnwrap(TaskSpec.glue("mrpc"))
        XCTAssertEqual(FineTuner.constantPredictionScore(examples: rows([0, 0, 1]), task: sst2) ?? .nan, 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(FineTuner.constantPredictionScore(examples: rows([1, 1, 1, 0]), task: mrpc) ?? .nan, 2 * 0.75 / 1.75,
                       accuracy: 1e-12)
        XCTAssertNil(FineTuner.constantPredictionScore(examples: [Example(textA: "x", label: .value(1))], task: try XCTUnwrap(TaskSpec.glue("stsb"))))
        let glue = try Repo.requireGLUE()
        let dev = try DatasetReader.read(glue + "/MRPC/dev.tsv", task: mrpc)
        let p = Double(dev.filter { $0.label == .classIndex(1) }.count) / Double(dev.count)
        XCTAssertEqual(dev.count, 408)
        XCTAssertEqual(FineTuner.constantPredictionScore(examples: dev, task: mrpc) ?? .nan, 2 * p / (1 + p), accuracy: 1e-12)
        XCTAssertEqual(FineTuner.constantPredictionScore(examples: dev, task: mrpc) ?? .nan, 0.8122, accuracy: 5e-5)
    }
}
