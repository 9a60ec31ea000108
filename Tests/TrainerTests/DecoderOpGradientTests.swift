import XCTest
@testable import Trainer

/// The decoder block's ops (RMSNorm, SwiGLU, rotary embeddings, causal grouped-query attention)
/// against central finite differences of L = Σ out·w at tiny shapes, as `OpGradientTests`.
final class DecoderOpGradientTests: XCTestCase {
    func testRMSNorm() {
        let n = 4, c = 20   // 20 columns: one full 16-lane step and a partial one
        let x = FloatBuffer(randomFloats(n * c, seed: 21, scale: 2)), g = FloatBuffer(randomFloats(c, seed: 22))
        let out = FloatBuffer(count: n * c), rstd = FloatBuffer(count: n), dout = randomFloats(n * c, seed: 23)
        func loss() -> Double {
            RMSNorm.forward(out: out.pointer, rstd: rstd.pointer, inp: x.pointer, gamma: g.pointer, rows: n, channels: c, eps: 1e-5)
            return dot(out.pointer, dout)
        }
        _ = loss()
        // The definition, in Double, for row 0.
        var ms = 0.0
        for j in 0..<c { ms += Double(x[j]) * Double(x[j]) }
        let r = 1 / (ms / Double(c) + 1e-5).squareRoot()
        for j in 0..<c { XCTAssertEqual(Double(out[j]), Double(x[j]) * r * Double(g[j]), accuracy: 1e-5) }
        let dx = FloatBuffer(count: n * c), dg = FloatBuffer(count: c)
        dout.withUnsafeBufferPointer { d in
            RMSNorm.backward(dinp: dx.pointer, dgamma: dg.pointer, dout: d.baseAddress!, inp: x.pointer, rstd: rstd.pointer,
                             gamma: g.pointer, rows: n, channels: c)
        }
        checkGradient("rmsnorm.x", param: x.pointer, count: n * c, analytic: dx.array, loss: loss)
        checkGradient("rmsnorm.gamma", param: g.pointer, count: c, analytic: dg.array, loss: loss)
    }

    func testSwiGLU() {
        let n = 40
        let gate = FloatBuffer(randomFloats(n, seed: 24, scale: 2)), up = FloatBuffer(randomFloats(n, seed: 25))
        let out = FloatBuffer(count: n), dout = randomFloats(n, seed: 26)
        func loss() -> Double {
            SwiGLU.forward(out: out.pointer, gate: gate.pointer, up: up.pointer, count: n)
            return dot(out.pointer, dout)
        }
        _ = loss()
        // silu(1) = 1/(1 + e⁻¹) = 0.7310586, silu(−2) = −2/(1 + e²) = −0.2384058.
        let probeGate = FloatBuffer([1, -2]), probeUp = FloatBuffer([1, 1]), probe = FloatBuffer(count: 2)
        SwiGLU.forward(out: probe.pointer, gate: probeGate.pointer, up: probeUp.pointer, count: 2)
        XCTAssertEqual(probe[0], 0.7310586, accuracy: 1e-6)
        XCTAssertEqual(probe[1], -0.2384058, accuracy: 1e-6)
        let dgate = FloatBuffer(count: n), dup = FloatBuffer(count: n)
        dout.withUnsafeBufferPointer {
            SwiGLU.backward(dgate: dgate.pointer, dup: dup.pointer, dout: $0.baseAddress!, gate: gate.pointer, up: up.pointer, count: n)
        }
        checkGradient("swiglu.gate", param: gate.pointer, count: n, analytic: dgate.array, loss: loss)
        checkGradient("swiglu.up", param: up.pointer, count: n, analytic: dup.array, loss: loss)
    }

    func testRotaryEmbedding() {
        let B = 2, T = 3, heads = 2, D = 8, first = 4
        let rotary = RotaryEmbedding(headDim: D, base: 10000, positions: 16)
        let x = FloatBuffer(randomFloats(B * T * heads * D, seed: 27)), out = FloatBuffer(count: x.count)
        let dout = randomFloats(x.count, seed: 28)
        func loss() -> Double {
            out.pointer.update(from: x.pointer, count: x.count)
            rotary.forward(out.pointer, batch: B, length: T, heads: heads, first: first)
            return dot(out.pointer, dout)
        }
        _ = loss()
        // The definition for row 1 (position first + 1), head 1, pair i = 1: θ = 5 · 10000^(−2/8).
        let theta = 5 * pow(10000, -2.0 / 8), a = D + 1, b = a + D / 2, row = 1 * heads * D
        XCTAssertEqual(Double(out[row + a]), Double(x[row + a]) * cos(theta) - Double(x[row + b]) * sin(theta), accuracy: 1e-6)
        XCTAssertEqual(Double(out[row + b]), Double(x[row + b]) * cos(theta) + Double(x[row + a]) * sin(theta), accuracy: 1e-6)
        let dx = FloatBuffer(dout)
        rotary.backward(dx.pointer, batch: B, length: T, heads: heads, first: first)
        checkGradient("rotary.x", param: x.pointer, count: x.count, analytic: dx.array, loss: loss)
    }

    /// 4 query heads over 2 key/value heads, causal, the second row padded after 3 tokens; and with
    /// 2 keys before the queries (a prefix), which every query sees.
    func testCausalGroupedQueryAttention() {
        for keysBefore in [0, 2] {
            let s = AttentionShape(batch: 2, queries: 5, keys: 5 + keysBefore, heads: 4, headDim: 3, kvHeads: 2, causal: true)
            let Nq = s.batch * s.queries, Nk = s.batch * s.keys
            let q = FloatBuffer(randomFloats(Nq * s.hidden, seed: 31)), k = FloatBuffer(randomFloats(Nk * s.kvHidden, seed: 32))
            let v = FloatBuffer(randomFloats(Nk * s.kvHidden, seed: 33))
            var validRows = [Float](repeating: 1, count: Nk)
            for j in (keysBefore + 3)..<s.keys { validRows[s.keys + j] = 0 }
            let valid = FloatBuffer(validRows)
            let ctx = FloatBuffer(count: Nq * s.hidden), probs = FloatBuffer(count: s.probsCount)
            let dout = randomFloats(Nq * s.hidden, seed: 34)
            func loss() -> Double {
                var rng = RandomSource(seed: 5)
                Attention.forward(ctx: ctx.pointer, probs: probs.pointer, dropped: probs.pointer, mask: nil, q: q.pointer, k: k.pointer,
                                  v: v.pointer, keyValid: valid.pointer, shape: s, dropout: 0, rng: &rng)
                return dot(ctx.pointer, dout)
            }
            _ = loss()
            // Query i sees keys j ≤ i + keysBefore only; padded keys get nothing.
            for b in 0..<s.batch { for h in 0..<s.heads { for i in 0..<s.queries { for j in 0..<s.keys {
                let p = probs[((b * s.heads + h) * s.queries + i) * s.keys + j]
                if j > i + keysBefore || (b == 1 && j >= keysBefore + 3) { XCTAssertEqual(p, 0, "b \(b) h \(h) i \(i) j \(j)") }
                else { XCTAssertGreaterThan(p, 0) }
            } } } }
            let dq = FloatBuffer(count: q.count), dk = FloatBuffer(count: k.count), dv = FloatBuffer(count: v.count)
            let scratch = FloatBuffer(count: Attention.scratchCount(s))
            dout.withUnsafeBufferPointer { d in
                Attention.backward(dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, dctx: d.baseAddress!, probs: probs.pointer,
                                   dropped: probs.pointer, mask: nil, q: q.pointer, k: k.pointer, v: v.pointer, shape: s, dropout: 0,
                                   scratch: scratch.pointer)
            }
            checkGradient("gqa.q.\(keysBefore)", param: q.pointer, count: q.count, analytic: dq.array, loss: loss)
            checkGradient("gqa.k.\(keysBefore)", param: k.pointer, count: k.count, analytic: dk.array, loss: loss)
            checkGradient("gqa.v.\(keysBefore)", param: v.pointer, count: v.count, analytic: dv.array, loss: loss)
        }
    }
}
