import CLAPACK

/// Dense symmetric positive-definite algebra over LAPACK (row-major, Double).
public enum LinearAlgebra {
    /// The GP's matrices are small (n ≤ a few hundred): OpenBLAS threads would only spin, and one
    /// thread keeps results bit-identical from run to run, which resuming a study relies on.
    static let singleThreaded: Void = openblas_set_num_threads(1)

    /// Lower Cholesky factor L (L Lᵀ = A) of a symmetric [n, n] matrix, adding jitter·I when the
    /// factorisation fails (1e-10 relative to the mean diagonal, ×10 up to 1e-2). Returns the factor
    /// and the jitter used, or nil when even the largest jitter fails (a NaN in A).
    public static func cholesky(_ a: [Double], n: Int) -> (factor: [Double], jitter: Double)? {
        _ = singleThreaded
        let meanDiag = max((0..<n).reduce(0.0) { $0 + a[$1 * n + $1] } / Double(max(n, 1)), 1e-300)
        var jitter = 0.0
        while true {
            var l = a
            for i in 0..<n { l[i * n + i] += jitter }
            let info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "L")), Int32(n), &l, Int32(n))
            if info == 0 {
                for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { l[i * n + j] = 0 } }
                return (l, jitter)
            }
            jitter = jitter == 0 ? 1e-10 * meanDiag : jitter * 10
            if jitter > 1e-2 * meanDiag || !jitter.isFinite { return nil }
        }
    }

    /// Conditions a Gaussian process with prior covariance K [n, n], noise variance σ² and constant
    /// mean m on targets y: the factor L of K + σ²I (and the jitter it needed, see `cholesky`) and
    /// α = (K + σ²I)⁻¹ (y − m), from which the posterior mean and variance follow. nil when K + σ²I
    /// cannot be factorised (non-finite data).
    public static func condition(covariance k: [Double], n: Int, noise: Double, targets: [Double], mean: Double)
        -> (factor: [Double], alpha: [Double], jitter: Double)? {
        var k = k
        for i in 0..<n { k[i * n + i] += noise }
        guard let (l, jitter) = cholesky(k, n: n) else { return nil }
        var alpha = targets.map { $0 - mean }
        choleskySolve(l, n: n, &alpha, columns: 1)
        return (l, alpha, jitter)
    }

    /// Solves (L Lᵀ) X = B for B [n, m] in place.
    public static func choleskySolve(_ l: [Double], n: Int, _ b: inout [Double], columns m: Int) {
        var lc = l
        _ = LAPACKE_dpotrs(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "L")), Int32(n), Int32(m), &lc, Int32(n), &b, Int32(m))
    }

    /// Solves L X = B (forward substitution) for B [n, m] in place.
    public static func lowerSolve(_ l: [Double], n: Int, _ b: inout [Double], columns m: Int) {
        var lc = l
        _ = LAPACKE_dtrtrs(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "L")), Int8(UInt8(ascii: "N")), Int8(UInt8(ascii: "N")),
                           Int32(n), Int32(m), &lc, Int32(n), &b, Int32(m))
    }

    /// (L Lᵀ)⁻¹ as a full symmetric [n, n] matrix, from the lower factor (LAPACK dpotri).
    public static func inverseFromCholesky(_ l: [Double], n: Int) -> [Double] {
        var a = l
        _ = LAPACKE_dpotri(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "L")), Int32(n), &a, Int32(n))
        for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { a[i * n + j] = a[j * n + i] } }
        return a
    }
}
