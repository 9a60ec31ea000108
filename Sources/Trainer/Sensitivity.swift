import Foundation
import Space

/// Accumulates s = Σ_b (∂L̄_b/∂W)² for every linear map of every layer (SPT's sensitivity): each
/// backward pass computes the batch's weight gradient doutᵀ·x into a scratch matrix and adds its
/// square.
public final class SensitivityAccumulator {
    public let layers: Int
    /// [layer][target] squared-gradient sums, row-major [out, in].
    public private(set) var sums: [[FloatBuffer]]
    let scratch: FloatBuffer

    public init(config: BertConfig) {
        layers = config.layers
        let dims = config.dimensions
        sums = (0..<config.layers).map { _ in LinearTarget.ungated.map { t in
            let (i, o) = dims.shape(of: t)
            return FloatBuffer(count: i * o)
        } }
        scratch = FloatBuffer(count: config.hiddenSize * config.intermediateSize)
    }

    func accumulate(layer: Int, target: LinearTarget, dout: UnsafePointer<Float>, x: UnsafePointer<Float>, rows n: Int,
                    inFeatures: Int, outFeatures: Int) {
        let count = inFeatures * outFeatures
        let g = scratch.pointer
        g.update(repeating: 0, count: count)
        Linear.backwardWeight(dweight: g, dbias: nil, dout: dout, inp: x, rows: n, inFeatures: inFeatures, outFeatures: outFeatures)
        let s = sums[layer][LinearTarget.ungated.firstIndex(of: target)!].pointer
        for j in 0..<count { s[j] += g[j] * g[j] }
    }

    /// Per matrix, how many of its parameters are in the global top-τ fraction of all the
    /// matrices' parameters by accumulated squared gradient.
    public func topCounts(tau: Double) -> [[Int]] {
        var all: [Float] = []
        all.reserveCapacity(sums.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } })
        for row in sums { for b in row { all.append(contentsOf: UnsafeBufferPointer(start: b.pointer, count: b.count)) } }
        let k = max(1, Int((tau * Double(all.count)).rounded()))
        // The k-th largest value by selection (average O(n)), then a count per matrix.
        let threshold = Self.kthLargest(&all, k)
        return sums.map { row in row.map { b in
            var c = 0
            for j in 0..<b.count where b.pointer[j] >= threshold { c += 1 }
            return c
        } }
    }

    static func kthLargest(_ a: inout [Float], _ k: Int) -> Float {
        var lo = 0, hi = a.count - 1, target = k - 1
        var rng = RandomSource(seed: 7, stream: "select")
        while lo < hi {
            let p = a[lo + Int(rng.next() % UInt64(hi - lo + 1))]
            var i = lo, j = hi
            while i <= j {
                while a[i] > p { i += 1 }
                while a[j] < p { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { return a[target] }
        }
        return a[target]
    }
}

/// SPT sensitivity scoring (docs/real-searches.md, "Sensitivity priors"): squared gradients of the mean loss over `batches`
/// batches of `batchSize` training rows, with a fresh head and dropout off, counted per weight
/// matrix against the global top-τ.
public enum SPTScorer {
    public static func score(tuner: FineTuner, batches: Int = 16, batchSize: Int = 32, tau: Double = 0.01,
                             progress: ((String) -> Void)? = nil) throws(TrainerError) -> SensitivityScores {
        let spec = tuner.config.task.spec
        let weights = try tuner.base.encoderWeights(for: "SPT sensitivity scoring")
        let model = try BertClassifier(weights: weights, plan: PEFTPlan(), labels: spec.labelCount, head: tuner.config.head)
        try model.initialize(seed: tuner.config.training.seed)
        let acc = SensitivityAccumulator(config: weights.config)
        model.collectSensitivity(acc)
        var rows = try tuner.trainingExamples()
        var rng = RandomSource(seed: tuner.config.training.seed, stream: "spt")
        rows.shuffle(using: &rng)
        let used = Array(rows.prefix(batches * batchSize))
        // Fewer rows than the batches ask for: as many batches as the rows fill (the last partial),
        // recorded as such.
        let batchesRun = min(batches, (used.count + batchSize - 1) / batchSize)
        if batchesRun < batches {
            progress?("SPT: \(used.count) training rows fill \(batchesRun) batches of \(batchSize), not \(batches)")
        }
        let enc = tuner.encode(used)
        let dlogits = FloatBuffer(count: batchSize * spec.labelCount)
        var noDropout = RandomSource(seed: 0, stream: "unused")
        let start = Date()
        for b in 0..<batchesRun {
            let idx = Array((b * batchSize)..<min((b + 1) * batchSize, used.count))
            let batch = TokenBatch(idx.map { enc[$0] }, padId: tuner.tokenizer.padId)
            model.block.zeroGrads()
            let logits = model.forward(batch, training: false, rng: &noDropout)
            _ = Loss.batch(logits: logits, indices: idx, examples: used, task: spec, dlogits: dlogits.pointer)
            model.backward(dlogits: dlogits.pointer)
            let elapsed = Date().timeIntervalSince(start)
            progress?(String(format: "SPT batch %d/%d (%.1f s, ETA %@)", b + 1, batchesRun, elapsed,
                             formatTimeLeft(elapsed: elapsed, done: b + 1, left: batchesRun - b - 1)))
        }
        let counts = acc.topCounts(tau: tau)
        return SensitivityScores(method: .spt, layers: acc.layers, targets: LinearTarget.ungated,
                                 scores: counts.map { $0.map(Double.init) },
                                 settings: ["tau": tau, "batches": Double(batchesRun), "batch_size": Double(batchSize),
                                            "seconds": Date().timeIntervalSince(start)])
    }
}
