import XCTest
import Space
@testable import Trainer

/// Results do not depend on the worker count: a training step on 1 and 2 workers gives
/// bit-identical logits and gradients (GEMMs split by rows, attention by (batch, head),
/// dropout streams per pair).
final class ParallelTests: XCTestCase {
    override func tearDown() { BLAS.setThreads(1) }

    func step(workers: Int) throws -> ([Float], [Float]) {
        BLAS.setThreads(workers)
        let cfg = BertConfig(vocabSize: 300, hiddenSize: 64, layers: 2, heads: 4, intermediateSize: 256, maxPositions: 128)
        let plan = PEFTPlan(lora: LoRASpec(rank: 4, alpha: 8, dropout: 0.1, targets: LinearTarget.allCases))
        let model = try BertClassifier(weights: BertWeights.random(config: cfg, seed: 3), plan: plan, labels: 2, head: .pooler)
        try model.initialize(seed: 0)
        var r = RandomSource(seed: 2)
        let encs = (0..<16).map { b in
            WordPieceTokenizer.Encoding(ids: (0..<(40 + b * 5)).map { _ in Int32(r.next() % 300) }, typeIds: [Int32](repeating: 0, count: 40 + b * 5))
        }
        let batch = TokenBatch(encs, padId: 0)
        var rng = RandomSource(seed: 9)
        model.block.zeroGrads()
        let logits = Array(UnsafeBufferPointer(start: model.forward(batch, training: true, rng: &rng), count: 32))
        let d = FloatBuffer(count: 32)
        _ = Loss.crossEntropy(logits: model.logits.pointer, targets: (0..<16).map { $0 % 2 }, classes: 2, dlogits: d.pointer)
        model.backward(dlogits: d.pointer)
        return (logits, model.block.grads.array)
    }

    func testOneAndTwoWorkersAgreeBitForBit() throws {
        let (l1, g1) = try step(workers: 1)
        let (l2, g2) = try step(workers: 2)
        XCTAssertEqual(l1, l2)
        XCTAssertEqual(g1, g2)
    }
}
