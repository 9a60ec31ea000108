import CLAPACK

/// Thin Swift wrappers over LAPACKE (row-major).
public enum LAPACK {
    /// Thin SVD `A = U diag(S) Vᵀ` of a [rows, columns] matrix by divide and conquer (`dgesdd`,
    /// jobz 'S'): U [rows, k], S [k] descending, Vᵀ [k, columns], k = min(rows, columns).
    /// Returns LAPACK's info (0 on success); `a` is destroyed.
    public static func gesdd(rows m: Int, columns n: Int, a: inout [Double], s: inout [Double], u: inout [Double],
                             vt: inout [Double]) -> Int {
        let k = min(m, n)
        return Int(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "S")), Int32(m), Int32(n), &a, Int32(n), &s, &u, Int32(k),
                                  &vt, Int32(n)))
    }
}
