import Foundation

/// AdamW (Loshchilov & Hutter) over a `ParameterBlock`, as `torch.optim.AdamW`:
/// decoupled decay `p −= lr·λ·p`, then `p −= lr · m̂ / (√v̂ + ε)` with bias-corrected moments.
public final class AdamW {
    public var beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8
    public var weightDecay: Float
    private let m: FloatBuffer, v: FloatBuffer
    public private(set) var step = 0

    public init(parameterCount: Int, weightDecay: Float) {
        self.weightDecay = weightDecay
        m = FloatBuffer(count: parameterCount)
        v = FloatBuffer(count: parameterCount)
    }

    /// The moments and step count, to save a run mid-way.
    public var state: (m: [Float], v: [Float], step: Int) { (m.array, v.array, step) }

    /// Continues from a saved state; false when its size does not match.
    public func restore(m saved: [Float], v savedV: [Float], step savedStep: Int) -> Bool {
        guard saved.count == m.count, savedV.count == v.count, savedStep >= 0 else { return false }
        saved.withUnsafeBufferPointer { m.pointer.update(from: $0.baseAddress!, count: saved.count) }
        savedV.withUnsafeBufferPointer { v.pointer.update(from: $0.baseAddress!, count: savedV.count) }
        step = savedStep
        return true
    }

    public func update(_ block: ParameterBlock, learningRate lr: Float) {
        step += 1
        let bc1 = 1 - powf(beta1, Float(step)), bc2 = 1 - powf(beta2, Float(step))
        let p = block.values.pointer, g = block.grads.pointer, mp = m.pointer, vp = v.pointer
        let decay = 1 - lr * weightDecay
        let stepSize = lr / bc1, rbc2 = 1 / bc2.squareRoot()
        let b1 = beta1, b2 = beta2, e = eps
        for i in 0..<block.count {
            let gi = g[i]
            mp[i] = b1 * mp[i] + (1 - b1) * gi
            vp[i] = b2 * vp[i] + (1 - b2) * gi * gi
            p[i] = p[i] * decay - stepSize * mp[i] / ((vp[i]).squareRoot() * rbc2 + e)
        }
    }
}

/// Scales gradients so that their global L2 norm is at most `maxNorm`; returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ block: ParameterBlock, maxNorm: Float) -> Float {
    let g = block.grads.pointer
    var s = 0.0
    for i in 0..<block.count { s += Double(g[i]) * Double(g[i]) }
    let norm = Float(s.squareRoot())
    if norm > maxNorm {
        let k = maxNorm / (norm + 1e-6)
        for i in 0..<block.count { g[i] *= k }
    }
    return norm
}

/// Linear warm-up then linear decay to zero (HF `get_linear_schedule_with_warmup`).
/// Step s (0-based, the s-th optimiser update) uses `base · factor(s)`.
public struct LinearSchedule: Sendable {
    public let base: Double, warmup: Int, total: Int
    public init(base: Double, warmupFraction: Double, totalSteps: Int) {
        self.base = base
        total = totalSteps
        warmup = Int(warmupFraction * Double(totalSteps))
    }
    public func learningRate(step s: Int) -> Double {
        if s < warmup { return base * Double(s) / Double(max(1, warmup)) }
        return base * max(0, Double(total - s) / Double(max(1, total - warmup)))
    }
}
