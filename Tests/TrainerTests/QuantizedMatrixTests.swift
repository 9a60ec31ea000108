import XCTest
@testable import Trainer

/// A base kept in GGUF blocks and dequantized a tile at a time computes what the same matrix
/// dequantized up front computes (`GGUFFile.dequantize`, checked against the gguf package in
/// `GGUFTests`, then `Linear`), over shapes that leave partial tiles in both directions.
final class QuantizedMatrixTests: XCTestCase {
    /// Random blocks of `type` for a [rows, columns] matrix: random scales (finite halves) and quants.
    func randomBlocks(_ type: GGUFFile.TensorType, rows: Int, columns: Int, seed: UInt64) -> [UInt8] {
        var rng = RandomSource(seed: seed)
        let block = type.block, count = rows * columns / block.values
        var out: [UInt8] = []
        func half(_ x: Float) { let b = Float16(x).bitPattern; out += [UInt8(b & 0xFF), UInt8(b >> 8)] }
        for _ in 0..<count {
            switch type {
            case .q8_0: half(0.01 + 0.02 * rng.nextFloat()); for _ in 0..<32 { out.append(UInt8(truncatingIfNeeded: rng.next())) }
            case .q4_0: half(0.05 + 0.1 * rng.nextFloat()); for _ in 0..<16 { out.append(UInt8(truncatingIfNeeded: rng.next())) }
            case .q4_1:
                half(0.05 + 0.1 * rng.nextFloat()); half(Float(rng.nextGaussian()))
                for _ in 0..<16 { out.append(UInt8(truncatingIfNeeded: rng.next())) }
            default: XCTFail("not a block type")
            }
        }
        return out
    }

    func testTiledProductsEqualTheDequantizedMatrixs() {
        let rows = 150, columns = 160, n = 7   // 3 row tiles (the last partial), 3 column tiles (the last 32 wide)
        for (k, type) in [GGUFFile.TensorType.q8_0, .q4_0, .q4_1].enumerated() {
            let raw = randomBlocks(type, rows: rows, columns: columns, seed: UInt64(10 + k))
            let m = raw.withUnsafeBytes { QuantizedMatrix(type: type, rows: rows, columns: columns, copying: $0.baseAddress!) }
            XCTAssertEqual(m.byteCount, raw.count)
            var dense = [Float](repeating: 0, count: rows * columns)
            raw.withUnsafeBytes { GGUFFile.dequantize(type, from: $0.baseAddress!, into: &dense, count: dense.count) }
            XCTAssertEqual(m.dequantized(), dense, "\(type)")
            let w = FloatBuffer(dense), x = FloatBuffer(randomFloats(n * columns, seed: 3)), bias = FloatBuffer(randomFloats(rows, seed: 4))
            let want = FloatBuffer(count: n * rows), got = FloatBuffer(count: n * rows)
            var scratch = GrowableBuffer()
            Linear.forward(out: want.pointer, inp: x.pointer, weight: w.pointer, bias: bias.pointer, rows: n, inFeatures: columns,
                           outFeatures: rows)
            m.forward(out: got.pointer, inp: x.pointer, bias: bias.pointer, rows: n, scratch: &scratch)
            for i in 0..<(n * rows) { XCTAssertEqual(got[i], want[i], accuracy: 1e-5 * max(1, abs(want[i])), "\(type) forward \(i)") }
            let dout = FloatBuffer(randomFloats(n * rows, seed: 5)), dWant = FloatBuffer(count: n * columns)
            let dGot = FloatBuffer(randomFloats(n * columns, seed: 6)), start = dGot.array
            Linear.backwardInput(dinp: dWant.pointer, dout: dout.pointer, weight: w.pointer, rows: n, inFeatures: columns,
                                 outFeatures: rows, accumulate: false)
            m.backwardInput(dinp: dGot.pointer, dout: dout.pointer, rows: n, accumulate: true, scratch: &scratch)
            for i in 0..<(n * columns) {
                XCTAssertEqual(dGot[i] - start[i], dWant[i], accuracy: 1e-4 * max(1, abs(dWant[i])), "\(type) backward \(i)")
            }
        }
    }
}
