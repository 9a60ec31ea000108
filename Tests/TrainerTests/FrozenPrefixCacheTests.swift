import XCTest
import TestSupport
import Space
@testable import Trainer

final class FrozenPrefixCacheTests: XCTestCase {
    /// With the cache, logits equal a full forward (eval mode), and gradients equal a full
    /// backward when the model has no dropout; rows are gathered in any batch composition.
    func testCachedForwardAndBackwardEqualTheFullPass() throws {
        var cfg = ModelGradientTests.tiny
        cfg.hiddenDropout = 0
        cfg.attentionDropout = 0
        let plan = PEFTPlan(lora: LoRASpec(rank: 2, alpha: 2, targets: [.query, .output], layers: .only([2])))
        let model = try BertClassifier(weights: BertWeights.random(config: cfg, seed: 7), plan: plan, labels: 2, head: .mean)
        try model.initialize(seed: 1)
        var r = RandomSource(seed: 3)
        for i in 0..<model.block.count { model.block.values[i] = Float(r.nextGaussian()) * 0.5 }
        let batch = ModelGradientTests.batch()
        let encs = (0..<batch.batch).map { b in
            WordPieceTokenizer.Encoding(ids: Array(batch.ids[(b * batch.length)..<(b * batch.length + batch.lengths[b])]),
                                        typeIds: Array(batch.typeIds[(b * batch.length)..<(b * batch.length + batch.lengths[b])]))
        }
        // The cache holds the rows in another order and batch size than they are used in.
        let stored = [encs[2], encs[0], encs[1]]
        let cache = try FrozenPrefixCache(model: model, encodings: stored, layer: 2, padId: 0, batchSize: 2)
        var rng = RandomSource(seed: 1)
        let d = FloatBuffer(count: 6)
        model.block.zeroGrads()
        let full = Array(UnsafeBufferPointer(start: model.forward(batch, training: true, rng: &rng), count: 6))
        _ = Loss.crossEntropy(logits: model.logits.pointer, targets: [0, 1, 1], classes: 2, dlogits: d.pointer)
        model.backward(dlogits: d.pointer)
        let fullGrads = model.block.grads.array
        model.block.zeroGrads()
        let cached = Array(UnsafeBufferPointer(start: model.forward(batch, training: true, rng: &rng, cache: cache,
                                                                    rows: [1, 2, 0]), count: 6))
        _ = Loss.crossEntropy(logits: model.logits.pointer, targets: [0, 1, 1], classes: 2, dlogits: d.pointer)
        model.backward(dlogits: d.pointer)
        for (a, b) in zip(full, cached) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        for (a, b) in zip(fullGrads, model.block.grads.array) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(a))) }
    }
}

final class FrozenPrefixCacheFileTests: XCTestCase {
    /// Runs of one test share data files and model path, so their cache keys agree.
    var base: FineTuner!
    override func setUpWithError() throws { base = try syntheticTunerForCache(layers: [1]) }

    func tuner(cacheDir: String?, precision: FrozenPrefixCache.Precision = .fp32, cache: Bool = true) throws -> FineTuner {
        var cfg = base.config
        cfg.training.epochs = 2
        cfg.training.cacheDirectory = cacheDir
        cfg.training.cachePrecision = precision
        cfg.training.frozenPrefixCache = cache
        return FineTuner(config: cfg, base: base.base, tokenizer: base.tokenizer)
    }

    func testFileIsWrittenOnceThenReusedWithIdenticalResults() throws {
        let dir = scratchDirectory("trainer") + "/cache"
        let (a, ma) = try tuner(cacheDir: dir).run()
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        XCTAssertEqual(files.count, 2, "one train and one dev cache: \(files)")
        let stamp = try files.map { try FileManager.default.attributesOfItem(atPath: dir + "/" + $0)[.modificationDate] as? Date }
        let (b, mb) = try tuner(cacheDir: dir).run()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), files.sorted(), "no new cache files")
        XCTAssertEqual(try files.map { try FileManager.default.attributesOfItem(atPath: dir + "/"
            + $0)[.modificationDate] as? Date }, stamp,
                       "the second run maps the files instead of rewriting them")
        XCTAssertEqual(a.score, b.score)
        XCTAssertEqual(ma.block.values.array, mb.block.values.array)
        let (c, _) = try tuner(cacheDir: nil).run()
        XCTAssertEqual(a.score, c.score, "a mapped cache equals an in-memory one")
    }

    func testHalfPrecisionStaysClose() throws {
        let (a, ma) = try tuner(cacheDir: nil).run()
        let (b, mb) = try tuner(cacheDir: nil, precision: .fp16).run()
        XCTAssertEqual(a.score, b.score, accuracy: 0.05)
        let diff = zip(ma.block.values.array, mb.block.values.array).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(diff, 1e-2)
    }

    func testStaleFileIsRefused() throws {
        let dir = scratchDirectory("trainer") + "/cache"
        _ = try tuner(cacheDir: dir).run()
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) {
            XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/" + f, contents: Data(repeating: 7, count: 4096)))
        }
        XCTAssertThrowsError(try tuner(cacheDir: dir).run()) { e in
            XCTAssertTrue("\(e)".contains("does not match these rows"), "\(e)")
        }
    }

    /// Over `cache_limit_mib` the cache is skipped with a note, and training is exactly the run
    /// without a cache.
    func testCacheOverTheLimitIsSkippedAndTrainingIsUnchanged() throws {
        final class Lines: ProgressSink, @unchecked Sendable {
            var lines: [String] = []
            func report(_ line: String) { lines.append(line) }
        }
        let off = try tuner(cacheDir: nil, cache: false)
        let (a, ma) = try off.run()
        var cfg = base.config
        cfg.training.epochs = 2
        cfg.training.cacheLimitMiB = 0
        let limited = FineTuner(config: cfg, base: base.base, tokenizer: base.tokenizer)
        let sink = Lines()
        limited.progress = sink
        let (b, mb) = try limited.run()
        XCTAssertTrue(sink.lines.contains { $0.contains("frozen-prefix cache skipped")
            && $0.contains("exceeds cache_limit_mib 0") }, "\(sink.lines)")
        XCTAssertFalse(sink.lines.contains { $0.hasPrefix("frozen-prefix cache: ") }, "no cache was built")
        XCTAssertEqual(a.score, b.score)
        XCTAssertEqual(ma.block.values.array, mb.block.values.array, "bit for bit the run without a cache")
    }
}
