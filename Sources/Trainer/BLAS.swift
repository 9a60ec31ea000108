import CBLAS
import Dispatch

/// Thin Swift wrappers over OpenBLAS; nothing else in the trainer touches CBLAS.
///
/// All matrices are row-major. `gemm` computes `C = alpha·op(A)·op(B) + beta·C`
/// with `op(A)` of shape [m, k], `op(B)` [k, n], `C` [m, n].
public enum BLAS {
    @inline(__always)
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
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Sets OpenBLAS's thread count for subsequent calls.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }

    /// OpenBLAS's current thread count.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// Runs `body(worker)` for workers 0..<n on n threads with OpenBLAS single-threaded inside
    /// (so that n concurrent small GEMMs do not each spawn BLAS threads), then restores the count.
    ///
    /// The caller guarantees that workers write disjoint memory; that is why the closure may
    /// capture raw pointers although they are not `Sendable`.
    public static func parallel(workers n: Int, _ body: (Int) -> Void) {
        guard n > 1 else { body(0); return }
        let saved = threads
        setThreads(1)
        withoutActuallyEscaping(body) { escapable in
            let sendable = unsafeBitCast(escapable, to: (@Sendable (Int) -> Void).self)
            DispatchQueue.concurrentPerform(iterations: n, execute: sendable)
        }
        setThreads(saved)
    }

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
