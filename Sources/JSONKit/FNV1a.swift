/// 64-bit FNV-1a, the project's one non-cryptographic hash: study identities, frozen-prefix cache
/// keys and headers, named random streams, activation signatures and probe digests. `mix(_:)`
/// folds a whole 64-bit word in one step (as the cache keys always have); `mix(bytes:)` is the
/// classic byte-wise FNV-1a. Changing either would change every recorded hash.
public struct FNV1a: Sendable {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    static let prime: UInt64 = 0x0000_0100_0000_01B3

    public init() {}

    public mutating func mix(_ word: UInt64) { value = (value ^ word) &* Self.prime }

    public mutating func mix<S: Sequence>(bytes: S) where S.Element == UInt8 {
        for b in bytes { value = (value ^ UInt64(b)) &* Self.prime }
    }

    /// The byte-wise hash of a string's UTF-8.
    public static func hash(_ text: String) -> UInt64 {
        var h = FNV1a()
        h.mix(bytes: text.utf8)
        return h.value
    }
}
