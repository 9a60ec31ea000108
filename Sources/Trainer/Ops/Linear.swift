/// A linear map over a batch of rows: `out[N, outF] = inp[N, inF] · Wᵀ + b`, W [outF, inF].
///
/// Backward (given dout [N, outF]):
///   dinp (+)= dout · W            [N, inF]
///   dW   +=  doutᵀ · inp          [outF, inF]
///   db   +=  Σ_rows dout          [outF]
public enum Linear {
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               rows n: Int, inFeatures: Int, outFeatures: Int) {
        if let bias {
            for i in 0..<n { (out + i * outFeatures).update(from: bias, count: outFeatures) }
        }
        BLAS.gemm(transA: false, transB: true, m: n, n: outFeatures, k: inFeatures,
                  a: inp, lda: inFeatures, b: weight, ldb: inFeatures,
                  beta: bias == nil ? 0 : 1, c: out, ldc: outFeatures)
    }

    /// `accumulate` chooses between `dinp = …` and `dinp += …`.
    public static func backwardInput(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                     weight: UnsafePointer<Float>, rows n: Int, inFeatures: Int, outFeatures: Int,
                                     accumulate: Bool) {
        BLAS.gemm(transA: false, transB: false, m: n, n: inFeatures, k: outFeatures,
                  a: dout, lda: outFeatures, b: weight, ldb: inFeatures,
                  beta: accumulate ? 1 : 0, c: dinp, ldc: inFeatures)
    }

    public static func backwardWeight(dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
                                      dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                                      rows n: Int, inFeatures: Int, outFeatures: Int) {
        BLAS.gemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: n,
                  a: dout, lda: outFeatures, b: inp, ldb: inFeatures, beta: 1, c: dweight, ldc: inFeatures)
        if let dbias {
            for i in 0..<n {
                let r = dout + i * outFeatures
                for j in 0..<outFeatures { dbias[j] += r[j] }
            }
        }
    }
}
