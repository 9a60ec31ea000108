import Foundation

/// Hidden states entering layer L, computed once with dropout off in the frozen part.
///
/// When a candidate's lowest adapted layer is L, everything below L is frozen: in
/// eval mode the states entering L do not depend on the candidate, the epoch or the
/// batch (padding keys are masked, so a row's states do not depend on its batch-mates).
/// They are computed once per (model, rows, max length, L) and reused across epochs
/// and trials. The difference from training without the cache: dropout in the
/// embeddings and in layers below L is off (their output is deterministic); layers
/// from L up train with dropout as usual.
///
/// Storage: one Float32 block, rows concatenated ([Σ len_i, H]); `offsets[i]` is
/// row i's first token.
public final class FrozenPrefixCache {
    public let layer: Int
    public let hiddenSize: Int
    public let offsets: [Int]
    public let lengths: [Int]
    let storage: FloatBuffer

    /// Bytes the cache of these rows would take.
    public static func bytes(lengths: [Int], hiddenSize: Int) -> Int { lengths.reduce(0, +) * hiddenSize * 4 }

    /// Runs `model`'s embeddings and layers 0..<layer on every encoding (length-sorted batches).
    public init(model: BertClassifier, encodings: [WordPieceTokenizer.Encoding], layer: Int, padId: Int32, batchSize: Int = 64) {
        let H = model.config.hiddenSize
        self.layer = layer
        hiddenSize = H
        lengths = encodings.map(\.ids.count)
        var offs: [Int] = []
        var total = 0
        for n in lengths { offs.append(total); total += n }
        offsets = offs
        storage = FloatBuffer(count: total * H)
        let order = encodings.indices.sorted { lengths[$0] < lengths[$1] }
        var rng = RandomSource(seed: 0)
        for s in stride(from: 0, to: order.count, by: batchSize) {
            let idx = Array(order[s..<min(s + batchSize, order.count)])
            let batch = TokenBatch(idx.map { encodings[$0] }, padId: padId)
            let states = model.forwardPrefix(batch, upTo: layer, rng: &rng)
            for (r, i) in idx.enumerated() {
                (storage.pointer + offsets[i] * H).update(from: states + r * batch.length * H, count: lengths[i] * H)
            }
        }
    }

    /// Writes rows `rows` into `out` [B·T, H] padded to `length` (padding rows zeroed).
    func gather(rows: [Int], length T: Int, into out: UnsafeMutablePointer<Float>) {
        let H = hiddenSize
        for (b, i) in rows.enumerated() {
            let n = lengths[i]
            (out + b * T * H).update(from: storage.pointer + offsets[i] * H, count: n * H)
            if n < T { (out + (b * T + n) * H).update(repeating: 0, count: (T - n) * H) }
        }
    }
}
