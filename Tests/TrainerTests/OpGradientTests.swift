import XCTest
@testable import Trainer

/// Each op's backward against central finite differences of L = Σ out·w at tiny shapes.
final class OpGradientTests: XCTestCase {
    func testLinear() {
        let n = 5, i = 4, o = 3
        let x = FloatBuffer(randomFloats(n * i, seed: 1)), w = FloatBuffer(randomFloats(o * i,
                                                                                        seed: 2)), b = FloatBuffer(randomFloats(o, seed: 3))
        let out = FloatBuffer(count: n * o), dout = randomFloats(n * o, seed: 4)
        func loss() -> Double {
            Linear.forward(out: out.pointer, inp: x.pointer, weight: w.pointer, bias: b.pointer, rows: n, inFeatures: i, outFeatures: o)
            return dot(out.pointer, dout)
        }
        _ = loss()
        let dx = FloatBuffer(count: n * i), dw = FloatBuffer(count: o * i), db = FloatBuffer(count: o)
        dout.withUnsafeBufferPointer { d in
            Linear.backwardInput(dinp: dx.pointer, dout: d.baseAddress!, weight: w.pointer, rows: n, inFeatures: i, outFeatures: o,
                                 accumulate: false)
            Linear.backwardWeight(dweight: dw.pointer, dbias: db.pointer, dout: d.baseAddress!, inp: x.pointer, rows: n,
                                  inFeatures: i, outFeatures: o)
        }
        checkGradient("linear.x", param: x.pointer, count: n * i, analytic: dx.array, loss: loss)
        checkGradient("linear.w", param: w.pointer, count: o * i, analytic: dw.array, loss: loss)
        checkGradient("linear.b", param: b.pointer, count: o, analytic: db.array, loss: loss)
    }

    func testLayerNorm() {
        let n = 4, c = 6
        let x = FloatBuffer(randomFloats(n * c, seed: 5, scale: 2)), g = FloatBuffer(randomFloats(c,
            seed: 6)), be = FloatBuffer(randomFloats(c, seed: 7))
        let out = FloatBuffer(count: n * c), mean = FloatBuffer(count: n), rstd = FloatBuffer(count: n), dout = randomFloats(n * c, seed: 8)
        func loss() -> Double {
            LayerNorm.forward(out: out.pointer, mean: mean.pointer, rstd: rstd.pointer, inp: x.pointer, gamma: g.pointer, beta: be.pointer,
                              rows: n, channels: c, eps: 1e-5)
            return dot(out.pointer, dout)
        }
        _ = loss()
        let dx = FloatBuffer(count: n * c), dg = FloatBuffer(count: c), db = FloatBuffer(count: c)
        dout.withUnsafeBufferPointer { d in
            LayerNorm.backward(dinp: dx.pointer, dgamma: dg.pointer, dbeta: db.pointer, dout: d.baseAddress!, inp: x.pointer,
                               mean: mean.pointer, rstd: rstd.pointer, gamma: g.pointer, rows: n, channels: c)
        }
        checkGradient("layernorm.x", param: x.pointer, count: n * c, analytic: dx.array, loss: loss)
        checkGradient("layernorm.gamma", param: g.pointer, count: c, analytic: dg.array, loss: loss)
        checkGradient("layernorm.beta", param: be.pointer, count: c, analytic: db.array, loss: loss)
    }

    func testGELU() {
        let n = 40
        let x = FloatBuffer(randomFloats(n, seed: 9, scale: 2)), out = FloatBuffer(count: n), dout = randomFloats(n, seed: 10)
        func loss() -> Double { GELU.forward(out: out.pointer, inp: x.pointer, count: n); return dot(out.pointer, dout) }
        _ = loss()
        // Reference values of exact GELU (x·Φ(x)): GELU(1) = 0.8413447, GELU(-1) = -0.1586553.
        let probe = FloatBuffer([1, -1]), probeOut = FloatBuffer(count: 2)
        GELU.forward(out: probeOut.pointer, inp: probe.pointer, count: 2)
        XCTAssertEqual(probeOut[0], 0.8413447, accuracy: 1e-6)
        XCTAssertEqual(probeOut[1], -0.1586553, accuracy: 1e-6)
        let dx = FloatBuffer(count: n)
        dout.withUnsafeBufferPointer { GELU.backward(dinp: dx.pointer, inp: x.pointer, dout: $0.baseAddress!, count: n) }
        checkGradient("gelu.x", param: x.pointer, count: n, analytic: dx.array, loss: loss)
    }

    func attentionCase(dropout p: Float) {
        let s = AttentionShape(batch: 2, queries: 5, keys: 5, heads: 2, headDim: 3)
        let H = s.hidden, N = s.batch * s.queries
        let q = FloatBuffer(randomFloats(N * H, seed: 11)), k = FloatBuffer(randomFloats(N * H,
                                                                                         seed: 12)), v = FloatBuffer(randomFloats(N * H, seed: 13))
        let valid = FloatBuffer([1, 1, 1, 1, 1, 1, 1, 1, 0, 0])  // second row padded after 3 tokens
        let ctx = FloatBuffer(count: N * H), probs = FloatBuffer(count: s.probsCount), dropped = FloatBuffer(count: s.probsCount)
        let mask = MaskBuffer(), maskP = mask.ensure(s.probsCount)
        let dout = randomFloats(N * H, seed: 14)
        func loss() -> Double {
            var rng = RandomSource(seed: 5)  // same mask every call
            Attention.forward(ctx: ctx.pointer, probs: probs.pointer, dropped: dropped.pointer, mask: p > 0 ? maskP : nil,
                              q: q.pointer, k: k.pointer, v: v.pointer, keyValid: valid.pointer, shape: s, dropout: p, rng: &rng)
            return dot(ctx.pointer, dout)
        }
        _ = loss()
        // Padded keys get exactly zero probability.
        for h in 0..<s.heads { for i in 0..<s.queries { for j in 3..<5 { XCTAssertEqual(probs[((1 * s.heads + h) * 5 + i) * 5 + j], 0) } } }
        let dq = FloatBuffer(count: N * H), dk = FloatBuffer(count: N * H), dv = FloatBuffer(count: N * H), scratch = FloatBuffer(count: Attention.scratchCount(s))
        dout.withUnsafeBufferPointer { d in
            Attention.backward(dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, dctx: d.baseAddress!, probs: probs.pointer,
                               dropped: dropped.pointer, mask: p > 0 ? maskP : nil, q: q.pointer, k: k.pointer, v: v.pointer,
                               shape: s, dropout: p, scratch: scratch.pointer)
        }
        checkGradient("attention.q.p\(p)", param: q.pointer, count: N * H, analytic: dq.array, loss: loss)
        checkGradient("attention.k.p\(p)", param: k.pointer, count: N * H, analytic: dk.array, loss: loss)
        checkGradient("attention.v.p\(p)", param: v.pointer, count: N * H, analytic: dv.array, loss: loss)
    }

    func testAttention() { attentionCase(dropout: 0) }
    func testAttentionWithDropout() { attentionCase(dropout: 0.3) }

    func testDropoutScalesKeptAndZeroesDropped() {
        let n = 1000
        let x = FloatBuffer([Float](repeating: 1, count: n)), out = FloatBuffer(count: n), mask = MaskBuffer()
        var rng = RandomSource(seed: 3)
        Dropout.forward(out: out.pointer, inp: x.pointer, mask: mask.ensure(n), count: n, p: 0.25, rng: &rng)
        let kept = (0..<n).filter { out[$0] != 0 }.count
        XCTAssertEqual(Double(kept) / Double(n), 0.75, accuracy: 0.05)
        for i in 0..<n { XCTAssertTrue(out[i] == 0 || abs(out[i] - 1 / 0.75) < 1e-6) }
        let d = FloatBuffer(count: n)
        Dropout.backward(dinp: d.pointer, dout: x.pointer, mask: mask.pointer, count: n, p: 0.25)
        for i in 0..<n { XCTAssertEqual(d[i], out[i]) }
    }
}
