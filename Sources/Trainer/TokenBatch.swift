/// A padded batch of encoded examples: B rows of T tokens (T = the longest row in this batch).
public struct TokenBatch {
    public let batch: Int
    public let length: Int
    public var ids: [Int32]        // [B·T], padding id where invalid
    public var typeIds: [Int32]    // [B·T]
    public var valid: [Float]      // [B·T], 1 for real tokens
    public var lengths: [Int]      // [B]

    /// Pads `encodings` to their longest length with `padId`.
    public init(_ encodings: [WordPieceTokenizer.Encoding], padId: Int32) {
        batch = encodings.count
        length = encodings.map(\.ids.count).max() ?? 0
        ids = [Int32](repeating: padId, count: batch * length)
        typeIds = [Int32](repeating: 0, count: batch * length)
        valid = [Float](repeating: 0, count: batch * length)
        lengths = encodings.map(\.ids.count)
        for (b, e) in encodings.enumerated() {
            for t in 0..<e.ids.count {
                ids[b * length + t] = e.ids[t]
                typeIds[b * length + t] = e.typeIds[t]
                valid[b * length + t] = 1
            }
        }
    }
}
