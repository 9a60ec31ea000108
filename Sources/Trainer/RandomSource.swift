import Foundation

/// xoshiro256** seeded through SplitMix64: fast, reproducible across platforms.
///
/// Every random decision in training (data order, init, dropout) draws from a
/// `RandomSource` derived from the run's seed, so a seed fixes the run bit for bit.
public struct RandomSource: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        func splitmix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(&x); s1 = splitmix(&x); s2 = splitmix(&x); s3 = splitmix(&x)
    }

    /// An independent stream for a named purpose (e.g. "init", "dropout").
    public init(seed: UInt64, stream: String) {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in stream.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        self.init(seed: seed ^ h)
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
