import XCTest
import TestSupport
import Space
@testable import Trainer

/// End-to-end training on a tiny random model and a synthetic task written to disk.
final class FineTunerTests: XCTestCase {
    static let words = ["good", "great", "fine", "bad", "awful", "poor", "the", "movie", "was", "plot", "acting", "very", "quite"]

    /// Label 1 when the sentence holds a positive word: learnable from token identity alone.
    static func writeTask(rows: Int, seed: UInt64, to path: String) {
        var rng = RandomSource(seed: seed)
        var text = "sentence\tlabel\n"
        for _ in 0..<rows {
            let positive = rng.next() % 2 == 0
            let cue = positive ? words[Int(rng.next() % 3)] : words[3 + Int(rng.next() % 3)]
            var ws = (0..<Int(3 + rng.next() % 5)).map { _ in words[6 + Int(rng.next() % 7)] }
            ws.insert(cue, at: Int(rng.next() % UInt64(ws.count + 1)))
            text += ws.joined(separator: " ") + "\t\(positive ? 1 : 0)\n"
        }
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)), path)
    }

    func tuner(seed: UInt64 = 0, epochs: Int = 30, lr: Double = 1e-2, plan: PEFTPlan? = nil) throws -> FineTuner {
        try syntheticTuner(seed: seed, epochs: epochs, lr: lr, plan: plan)
    }

    func testLearnsASeparableTask() throws {
        let (r, _) = try tuner().run()
        XCTAssertGreaterThan(r.score, 0.9, "accuracy on the synthetic task")
        XCTAssertEqual(r.steps, 30 * 16)
        XCTAssertEqual(r.trainExamples, 256)
        XCTAssertTrue(r.finalLoss.isFinite)
    }

    func testSameSeedGivesTheSameRunToTheLastBit() throws {
        let (a, ma) = try tuner(seed: 3, epochs: 1).run()
        let (b, mb) = try tuner(seed: 3, epochs: 1).run()
        XCTAssertEqual(a.score, b.score)
        XCTAssertEqual(a.finalLoss, b.finalLoss)
        XCTAssertEqual(ma.block.values.array, mb.block.values.array)
        let (_, mc) = try tuner(seed: 4, epochs: 1).run()
        XCTAssertNotEqual(ma.block.values.array, mc.block.values.array, "another seed changes init, order and dropout")
    }

    /// A shifted prefix longer than the model's positions allow is refused with its path, not
    /// trapped on; a prefix whose tokens take no positions (the default) needs none.
    func testAPrefixTooLongForThePositionsIsRefused() throws {
        XCTAssertThrowsError(try tuner(epochs: 1, plan: PEFTPlan(prefix: PrefixSpec(length: 30, positions: .shifted))).run()) { e in
            XCTAssertTrue("\(e)".contains("peft.prefix.length: prefix length 30 leaves no room for text"), "\(e)")
        }
        XCTAssertNoThrow(try tuner(epochs: 1, plan: PEFTPlan(prefix: PrefixSpec(length: 29, positions: .shifted))).run(),
                         "32 positions hold 29 and 3 tokens")
        XCTAssertNoThrow(try tuner(epochs: 1, plan: PEFTPlan(prefix: PrefixSpec(length: 40))).run(), "the prefix takes no positions")
    }

    /// Positions from 0 and shifted differ only in where the real tokens' position embeddings
    /// start (0, or the prefix length P): the same seed trains to other weights.
    func testPrefixPositionsStartAtZeroUnlessShifted() throws {
        let (_, zero) = try tuner(epochs: 1, plan: PEFTPlan(prefix: PrefixSpec(length: 4))).run()
        let (_, shifted) = try tuner(epochs: 1, plan: PEFTPlan(prefix: PrefixSpec(length: 4, positions: .shifted))).run()
        XCTAssertEqual(try XCTUnwrap(zero as? BertClassifier).positionOffset, 0)
        XCTAssertEqual(try XCTUnwrap(shifted as? BertClassifier).positionOffset, 4)
        XCTAssertNotEqual(zero.block.values.array, shifted.block.values.array, "other positions, other training")
    }

    func testDivergenceIsReportedNotHidden() throws {
        XCTAssertThrowsError(try tuner(epochs: 1, lr: 1e9).run()) { e in
            XCTAssertTrue("\(e)".contains("lower the learning rate"), "\(e)")
        }
    }

    func testLengthGroupedBatchesCoverEveryRowOnce() {
        var rng = RandomSource(seed: 1)
        let lengths = (0..<1000).map { _ in Int(rng.next() % 60) + 3 }
        let batches = FineTuner.epochBatches(lengths: lengths, batchSize: 32, grouping: true, rng: &rng)
        XCTAssertEqual(batches.flatMap { $0 }.sorted(), Array(0..<1000))
        // Grouping cuts padding: the padded token count is far below that of random batches.
        func padded(_ bs: [[Int]]) -> Int { bs.reduce(0) { $0 + $1.count * ($1.map { lengths[$0] }.max() ?? 0) } }
        let plain = FineTuner.epochBatches(lengths: lengths, batchSize: 32, grouping: false, rng: &rng)
        XCTAssertLessThan(Double(padded(batches)), 0.7 * Double(padded(plain)))
    }
}

/// A fine-tuner for the synthetic task on a tiny random model (files written to a temporary folder).
func syntheticTuner(seed: UInt64 = 0, epochs: Int = 30, lr: Double = 1e-2, plan: PEFTPlan? = nil,
                    in folder: String? = nil) throws -> FineTuner {
    let dir = folder ?? scratchDirectory("trainer")
    FineTunerTests.writeTask(rows: 256, seed: 1, to: dir + "/train.tsv")
    FineTunerTests.writeTask(rows: 96, seed: 2, to: dir + "/dev.tsv")
    var vocab: [String: Int32] = ["[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3]
    for w in FineTunerTests.words { vocab[w] = Int32(vocab.count) }
    let cfg = BertConfig(vocabSize: vocab.count, hiddenSize: 16, layers: 2, heads: 2, intermediateSize: 32, maxPositions: 32,
                         layerNormEps: 1e-5)
    var t = TrainingSettings()
    t.epochs = epochs
    t.batchSize = 16
    t.learningRate = lr
    t.seed = seed
    let run = RunConfig(model: dir, task: TaskSource(spec: TaskSpec.glue("sst2")!, train: dir + "/train.tsv", dev: dir
        + "/dev.tsv", maxLength: 16),
                        plan: plan ?? PEFTPlan(lora: LoRASpec(rank: 4, alpha: 8, dropout: 0.1, targets: [.query, .value, .intermediate])),
                        head: .mean, training: t)
    return FineTuner(config: run, weights: BertWeights.random(config: cfg, seed: 5), tokenizer: try WordPieceTokenizer(vocab: vocab))
}


/// The synthetic task with LoRA in `layers` only (so the frozen-prefix cache applies).
func syntheticTunerForCache(layers: [Int]) throws -> FineTuner {
    try syntheticTuner(plan: PEFTPlan(lora: LoRASpec(rank: 4, alpha: 8, dropout: 0.1, targets: [.query, .value], layers: .only(layers))))
}
