/// Vectorised exp and erf on 16 lanes, for GELU and softmax (libm's scalar erff/expf
/// were 16% of a training step).
///
/// exp: x = k·ln2 + r with k = round(x/ln2) (ln2 split in a high and a low part, Cody–Waite),
/// e^r by its degree-7 Taylor polynomial on |r| ≤ ln2/2 (truncation < 1e-8 relative),
/// 2^k by writing k + 127 into the exponent bits. Inputs are clamped to [−87, 88].
/// erf: Abramowitz & Stegun 7.1.26, erf(x) = 1 − (a₁t + … + a₅t⁵)·e^(−x²), t = 1/(1 + p|x|),
/// max absolute error 1.5e-7; odd symmetry for x < 0.
public typealias Vec16 = SIMD16<Float>

@inline(__always)
public func vexp(_ x: Vec16) -> Vec16 {
    // Clamp with compares and selects: the stdlib's generic `clamped` runs lane by lane.
    var xc = x.replacing(with: 88, where: x .> 88)
    xc = xc.replacing(with: -87, where: xc .< -87)
    // k = round(x/ln2) without a float→int conversion: adding 1.5·2²³ leaves k in the low
    // mantissa bits (round to nearest even), and subtracting it back gives k as a float.
    let magic: Float = 12_582_912
    let t = xc * 1.4426950408889634 + magic
    let k = t - magic
    let r = xc - k * 0.693145751953125 - k * 1.428606765330187e-06
    var p = Vec16(repeating: 1.0 / 5040)
    p = p * r + 1.0 / 720
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    let ki = unsafeBitCast(t, to: SIMD16<Int32>.self) &- 0x4B40_0000  // bit pattern of 1.5·2²³
    return p * unsafeBitCast((ki &+ 127) &<< 23, to: Vec16.self)
}

@inline(__always)
public func verf(_ x: Vec16) -> Vec16 {
    let a = x.replacing(with: -x, where: x .< 0)
    let t = 1 / (1 + 0.3275911 * a)
    var y = Vec16(repeating: 1.061405429)
    y = y * t - 1.453152027
    y = y * t + 1.421413741
    y = y * t - 0.284496736
    y = y * t + 0.254829592
    y = y * t
    let e = Vec16(repeating: 1) - y * vexp(-a * a)
    return e.replacing(with: -e, where: x .< 0)
}

extension Vec16 {
    /// Loads 16 floats, or the first `count` of them with zeros after.
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, count: Int = 16) -> Vec16 {
        if count >= 16 { return UnsafeRawPointer(p).loadUnaligned(as: Vec16.self) }
        var v = Vec16()
        for i in 0..<count { v[i] = p[i] }
        return v
    }

    @inline(__always)
    func store(_ p: UnsafeMutablePointer<Float>, count: Int = 16) {
        if count >= 16 { UnsafeMutableRawPointer(p).storeBytes(of: self, as: Vec16.self); return }
        for i in 0..<count { p[i] = self[i] }
    }
}
