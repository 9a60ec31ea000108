import CBLAS

/// Thin Swift wrappers over OpenBLAS; nothing else in the trainer touches CBLAS.
///
/// All matrices are row-major. `gemm` computes `C = alpha·op(A)·op(B) + beta·C`
/// with `op(A)` of shape [m, k], `op(B)` [k, n], `C` [m, n].
public enum BLAS {
    /// Large products are split into blocks of rows of C (or of columns when C has few rows),
    /// each block a single-threaded OpenBLAS call, and the blocks are dealt out to
    /// `Parallel.workers`. The blocks depend only on (m, n, k) (`gemmBlocks`), so the calls, and
    /// hence every output bit, are the same for any worker count and any kernel's code paths.
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            // BLAS leaves C untouched for k == 0 only when beta == 1; make beta explicit.
            if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            else if beta != 1 { for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } } }
            return
        }
        let ta = transA ? CblasTrans : CblasNoTrans, tb = transB ? CblasTrans : CblasNoTrans
        let rowParts = gemmBlocks(m, m: m, n: n, k: k), colParts = rowParts > 1 ? 1 : gemmBlocks(n, m: m, n: n, k: k)
        if rowParts > 1 {
            // Rows i of op(A): A + i·lda without transpose, A + i with.
            Parallel.forBlocks(m, parts: rowParts) { _, r in
                cblas_sgemm(CblasRowMajor, ta, tb, Int32(r.count), Int32(n), Int32(k), alpha,
                            a + (transA ? r.lowerBound : r.lowerBound * lda), Int32(lda), b, Int32(ldb), beta,
                            c + r.lowerBound * ldc, Int32(ldc))
            }
        } else if colParts > 1 {
            // Columns j of op(B): B + j without transpose, B + j·ldb with.
            Parallel.forBlocks(n, parts: colParts) { _, r in
                cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(r.count), Int32(k), alpha, a, Int32(lda),
                            b + (transB ? r.lowerBound * ldb : r.lowerBound), Int32(ldb), beta,
                            c + r.lowerBound, Int32(ldc))
            }
        } else {
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        }
    }

    /// `gemm` as one single-threaded OpenBLAS call, for work already split among the workers
    /// (`QuantizedMatrix`'s tiles); k > 0.
    static func gemmOneCall(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0, k > 0 else { return }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// How many blocks a GEMM's `extent` (its rows m, or its columns n when rows are few) is cut
    /// into: 1 below 2M multiply-adds or under 64 rows/columns, otherwise `maxGEMMBlocks` blocks of
    /// at least 32. A function of the shape only, never of the worker count (see `Parallel`).
    static func gemmBlocks(_ extent: Int, m: Int, n: Int, k: Int) -> Int {
        guard m * n * k >= 1 << 21, extent >= 64 else { return 1 }
        return min(maxGEMMBlocks, extent / 32)
    }

    /// Few blocks, because each block re-packs the shared operand (the weight matrix): more blocks
    /// balance more worker counts but pack more. An even count splits evenly over 2 workers.
    nonisolated(unsafe) static var maxGEMMBlocks = 4

    /// Sets the trainer's worker count; OpenBLAS itself stays single-threaded (see `Parallel`).
    public static func setThreads(_ n: Int) {
        openblas_set_num_threads(1)
        Parallel.setWorkers(n)
    }

    /// The trainer's worker count.
    public static var threads: Int { Parallel.workers }

    /// The kernel OpenBLAS selected for this CPU (e.g. "SkylakeX", "Prescott").
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// OpenBLAS's build configuration string.
    public static var configString: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p)
    }
}
