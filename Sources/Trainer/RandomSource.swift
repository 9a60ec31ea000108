import JSONKit
import Space
import Foundation

/// xoshiro256** seeded through SplitMix64: fast, reproducible across platforms.
///
/// Every random decision in training (data order, init, dropout) draws from a
/// `RandomSource` derived from the run's seed, so a seed fixes the run bit for bit.
public struct RandomSource: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        // The state is seeded by SplitMix64, as xoshiro's authors recommend.
        var x = SplitMix64(seed: seed)
        s0 = x.next(); s1 = x.next(); s2 = x.next(); s3 = x.next()
    }

    /// The generator's whole state, to save a run mid-way and continue it exactly.
    public var state: [UInt64] { [s0, s1, s2, s3] }

    /// A generator at a saved `state` (four words).
    public init?(state: [UInt64]) {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else { return nil }
        s0 = state[0]; s1 = state[1]; s2 = state[2]; s3 = state[3]
    }

    /// An independent stream for a named purpose (e.g. "init", "dropout").
    public init(seed: UInt64, stream: String) {
        self.init(seed: seed ^ FNV1a.hash(stream))
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 24 bits.
    @inline(__always)
    public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Standard normal by Box–Muller.
    public mutating func nextGaussian() -> Double {
        let u1 = Double((next() >> 11) + 1) * (1.0 / 9_007_199_254_740_993.0)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
