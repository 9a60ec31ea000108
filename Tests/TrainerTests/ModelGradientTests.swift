import XCTest
import Space
@testable import Trainer

/// Whole-model gradient checks on a tiny random BERT: LoRA on every target, each head,
/// classification and regression, with dropout on (the same seeded masks in every pass).
final class ModelGradientTests: XCTestCase {
    static let tiny = BertConfig(vocabSize: 40, hiddenSize: 8, layers: 3, heads: 2, intermediateSize: 12,
                                 maxPositions: 16, typeVocabSize: 2, layerNormEps: 1e-5, hiddenDropout: 0.1, attentionDropout: 0.1)

    static func batch() -> TokenBatch {
        let encs: [WordPieceTokenizer.Encoding] = [
            .init(ids: [1, 5, 9, 13, 2, 7, 2], typeIds: [0, 0, 0, 0, 0, 1, 1]),
            .init(ids: [1, 22, 31, 2], typeIds: [0, 0, 0, 0]),
            .init(ids: [1, 4, 4, 17, 39, 2], typeIds: [0, 0, 0, 0, 0, 0]),
        ]
        return TokenBatch(encs, padId: 0)
    }

    func check(plan: PEFTPlan, head: HeadInput, labels: Int, dropout: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws {
        var cfg = Self.tiny
        if !dropout { cfg.hiddenDropout = 0; cfg.attentionDropout = 0 }
        let weights = BertWeights.random(config: cfg, seed: 7)
        let model = try BertClassifier(weights: weights, plan: plan, labels: labels, head: head)
        try model.initialize(seed: 1)
        // B starts at zero, which would make A's gradient vanish: randomise the whole block (small
        // values: at 0.5 some points had softmax so peaked that no ε resolved the curvature).
        var r = RandomSource(seed: 3)
        for i in 0..<model.block.count { model.block.values[i] = Float(r.nextGaussian()) * 0.2 }
        let batch = Self.batch()
        let targetsC = [1, 0, labels - 1]
        let targetsR: [Float] = [0.3, -1.2, 2.0]
        let dlogits = FloatBuffer(count: batch.batch * labels)
        func loss(_ d: UnsafeMutablePointer<Float>?) -> Double {
            var rng = RandomSource(seed: 11)
            let logits = model.forward(batch, training: true, rng: &rng)
            return labels == 1 ? Loss.meanSquaredError(predictions: logits, targets: targetsR, dlogits: d)
                               : Loss.crossEntropy(logits: logits, targets: targetsC, classes: labels, dlogits: d)
        }
        model.block.zeroGrads()
        _ = loss(dlogits.pointer)
        model.backward(dlogits: dlogits.pointer)
        let analytic = model.block.grads.array
        for view in model.block.views {
            checkGradient("\(head).\(view.name)", param: model.block.value(view.offset), count: view.count,
                          analytic: Array(analytic[view.offset..<(view.offset + view.count)]), samples: 24,
                          file: file, line: line) { loss(nil) }
        }
    }

    func testLoRAOnEachTargetAlone() throws {
        for t in LinearTarget.allCases {
            try check(plan: PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, dropout: 0.2, targets: [t], layers: .only([1, 2]))),
                      head: .pooler, labels: 2)
        }
    }

    func testLoRAOnAllTargetsAllLayersEachHead() throws {
        let plan = PEFTPlan(lora: LoRASpec(rank: 3, alpha: 3, dropout: 0.1, targets: LinearTarget.allCases, layers: .all))
        for head in HeadInput.allCases { try check(plan: plan, head: head, labels: 3) }
    }

    func testRegressionHeadOnly() throws {
        try check(plan: PEFTPlan(), head: .mean, labels: 1)
        try check(plan: PEFTPlan(lora: LoRASpec(rank: 2, alpha: 2, targets: [.value], layers: .only([2]))), head: .cls, labels: 1, dropout: false)
    }

    /// Backward stops at the lowest adapted layer: the gradients of a plan in layers 1-2 do not
    /// depend on whether layer 0's backward ran (it must not), and equal finite differences above.
    func testLowestTrainableLayerIsWhereBackwardStops() throws {
        let plan = PEFTPlan(lora: LoRASpec(rank: 2, alpha: 2, targets: [.query], layers: .only([2])))
        let model = try BertClassifier(weights: BertWeights.random(config: Self.tiny, seed: 7), plan: plan, labels: 2, head: .pooler)
        XCTAssertEqual(model.lowestTrainableLayer, 2)
        let headOnly = try BertClassifier(weights: BertWeights.random(config: Self.tiny, seed: 7), plan: PEFTPlan(), labels: 2, head: .pooler)
        XCTAssertEqual(headOnly.lowestTrainableLayer, 3)
    }

    /// The analytic count of trainable scalars equals what the trainer allocates, for random plans.
    func testAnalyticParameterCountEqualsAllocated() throws {
        var rng = RandomSource(seed: 21)
        let weights = BertWeights.random(config: Self.tiny, seed: 7)
        for trial in 0..<200 {
            let targets = LinearTarget.allCases.filter { _ in rng.next() % 2 == 0 }
            let layers = (0..<3).filter { _ in rng.next() % 2 == 0 }
            let labels = Int(rng.next() % 3) + 1
            let plan = targets.isEmpty || layers.isEmpty ? PEFTPlan()
                : PEFTPlan(lora: LoRASpec(rank: Int(rng.next() % 8) + 1, alpha: 8, targets: targets, layers: .only(layers)))
            let model = try BertClassifier(weights: weights, plan: plan, labels: labels, head: .cls)
            XCTAssertEqual(model.trainableParameters, plan.trainableParameters(dims: Self.tiny.dimensions, labels: labels), "plan \(trial): \(plan)")
        }
    }
}
