/// A frozen weight matrix W [rows, columns] kept in its GGUF block format (Q8_0, Q4_0, Q4_1) and
/// dequantized a tile at a time where it is used: QLoRA's idea. The base stays 8- or 4-bit in
/// memory (Q4_1: 20 bytes per 32 values, 0.625 bytes a value against Float32's 4); the trainable
/// parameters and their optimiser state are Float32.
///
/// Products split into tiles that depend on the shape only (as `BLAS.gemm`'s blocks do), each
/// tile dequantized into its worker's scratch and multiplied by one OpenBLAS call, so results do
/// not depend on the worker count:
/// - forward `out[n, rows] = inp[n, columns] · Wᵀ (+ b)`: tiles of `tileRows` rows of W, each
///   writing its own columns of `out`;
/// - backward `dinp[n, columns] (+)= dout[n, rows] · W`: tiles of `tileColumns` columns of W (whole
///   blocks), each writing its own columns of `dinp`.
/// Dequantized values equal `GGUFFile.floats`' bit for bit (the same code), so a quantized layer
/// computes what the same layer dequantized up front computes.
public final class QuantizedMatrix {
    public let type: GGUFFile.TensorType
    public let rows: Int, columns: Int
    let bytes: UnsafeMutableRawPointer
    let rowBytes: Int
    static let tileRows = 64, tileColumns = 64

    /// Copies the tensor's blocks (`rows · columns / 32` of them, row-major) from `source`.
    init(type: GGUFFile.TensorType, rows: Int, columns: Int, copying source: UnsafeRawPointer) {
        precondition(columns % type.block.values == 0, "a row of whole blocks")
        self.type = type
        self.rows = rows
        self.columns = columns
        rowBytes = columns / type.block.values * type.block.bytes
        bytes = .allocate(byteCount: max(rows * rowBytes, 1), alignment: 16)
        bytes.copyMemory(from: source, byteCount: rows * rowBytes)
    }

    deinit { bytes.deallocate() }

    /// The matrix whose row k is this one's row `order[k]` (rows are whole blocks, so they move as they are).
    func withRows(_ order: [Int]) -> QuantizedMatrix {
        precondition(order.count == rows, "one source row per row")
        let m = QuantizedMatrix(type: type, rows: rows, columns: columns, copying: bytes)
        for (to, from) in order.enumerated() { (m.bytes + to * rowBytes).copyMemory(from: bytes + from * rowBytes, byteCount: rowBytes) }
        return m
    }

    /// Bytes held: what the base costs in memory.
    public var byteCount: Int { rows * rowBytes }

    /// W[r, c] for r in `rs`, c in `cs` (bounds multiples of the block) into dst [rs.count, cs.count].
    func dequantize(rows rs: Range<Int>, columns cs: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
        let block = type.block, offset = cs.lowerBound / block.values * block.bytes
        for (i, r) in rs.enumerated() {
            GGUFFile.dequantize(type, from: bytes + r * rowBytes + offset, into: dst + i * cs.count, count: cs.count)
        }
    }

    /// All of W, dequantized [rows, columns] (tests, and exports that need the Float32 base).
    public func dequantized() -> [Float] {
        var out = [Float](repeating: 0, count: rows * columns)
        out.withUnsafeMutableBufferPointer { dequantize(rows: 0..<rows, columns: 0..<columns, into: $0.baseAddress!) }
        return out
    }

    /// Floats of scratch per worker that `forward` and `backwardInput` need.
    var scratchPerWorker: Int { max(Self.tileRows * columns, rows * Self.tileColumns) }

    /// out[n, rows] = inp[n, columns] · Wᵀ (+ bias [rows]).
    public func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, bias: UnsafePointer<Float>?, rows n: Int,
                        scratch: inout GrowableBuffer) {
        guard n > 0 else { return }
        if let bias { for i in 0..<n { (out + i * rows).update(from: bias, count: rows) } }
        let tiles = (rows + Self.tileRows - 1) / Self.tileRows
        let base = scratch.ensure(scratchPerWorker * Parallel.workerCount(tiles, parts: tiles))
        let per = scratchPerWorker
        Parallel.forBlocks(tiles, parts: tiles) { w, block in
            let tile = base + w * per
            for t in block {
                let r0 = t * Self.tileRows, r1 = min(rows, r0 + Self.tileRows)
                dequantize(rows: r0..<r1, columns: 0..<columns, into: tile)
                BLAS.gemmOneCall(transA: false, transB: true, m: n, n: r1 - r0, k: columns, a: inp, lda: columns, b: tile, ldb: columns,
                                 beta: bias == nil ? 0 : 1, c: out + r0, ldc: rows)
            }
        }
    }

    /// dinp[n, columns] = dout[n, rows] · W, or `+=` when `accumulate`.
    public func backwardInput(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, rows n: Int, accumulate: Bool,
                              scratch: inout GrowableBuffer) {
        guard n > 0 else { return }
        let width = max(Self.tileColumns / type.block.values, 1) * type.block.values
        let tiles = (columns + width - 1) / width
        let base = scratch.ensure(scratchPerWorker * Parallel.workerCount(tiles, parts: tiles))
        let per = scratchPerWorker
        Parallel.forBlocks(tiles, parts: tiles) { w, block in
            let tile = base + w * per
            for t in block {
                let c0 = t * width, c1 = min(columns, c0 + width)
                dequantize(rows: 0..<rows, columns: c0..<c1, into: tile)
                BLAS.gemmOneCall(transA: false, transB: false, m: n, n: c1 - c0, k: rows, a: dout, lda: rows, b: tile, ldb: c1 - c0,
                                 beta: accumulate ? 1 : 0, c: dinp + c0, ldc: columns)
            }
        }
    }
}

extension GGUFFile {
    /// The tensor `name` (a matrix [rows, columns] in PyTorch's order) kept in its block format;
    /// nil when it is not quantized (F32, F16, BF16: those load as Float32).
    public func quantized(_ name: String) throws(TrainerError) -> QuantizedMatrix? {
        guard let t = tensors[name] else { throw .file(path: path, message: "missing tensor \"\(name)\"") }
        guard [.q8_0, .q4_0, .q4_1].contains(t.type), t.shape.count == 2 else { return nil }
        return withTensorBytes(t) { QuantizedMatrix(type: t.type, rows: t.shape[0], columns: t.shape[1], copying: $0) }
    }
}
