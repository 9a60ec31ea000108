import XCTest
import Foundation
@testable import Search

final class GaussianProcessTests: XCTestCase {
    func data(n: Int, d: Int, seed: UInt64) -> ([[Double]], [Double]) {
        var g = SplitMix(seed: seed)
        let x = (0..<n).map { _ in (0..<d).map { _ in g.unit() } }
        let y = x.map { p in sin(6 * p[0]) + (d > 1 ? p[1] * p[1] : 0) + 0.05 * (g.unit() - 0.5) }
        return (x, y)
    }

    /// Inverse by Gauss–Jordan with partial pivoting: an independent reference for the LAPACK path.
    func inverse(_ a: [Double], n: Int) -> [Double] {
        var m = a, inv = [Double](repeating: 0, count: n * n)
        for i in 0..<n { inv[i * n + i] = 1 }
        for c in 0..<n {
            let p = (c..<n).max { abs(m[$0 * n + c]) < abs(m[$1 * n + c]) }!
            for j in 0..<n { m.swapAt(c * n + j, p * n + j); inv.swapAt(c * n + j, p * n + j) }
            let d = m[c * n + c]
            for j in 0..<n { m[c * n + j] /= d; inv[c * n + j] /= d }
            for r in 0..<n where r != c {
                let f = m[r * n + c]
                for j in 0..<n { m[r * n + j] -= f * m[c * n + j]; inv[r * n + j] -= f * inv[c * n + j] }
            }
        }
        return inv
    }

    func testPosteriorEqualsADirectDenseSolve() throws {
        for kernel in [GaussianProcess.Kernel.matern52, .rbf] {
            let (x, y) = data(n: 12, d: 3, seed: 1)
            var h = GaussianProcess.Hyperparameters(dimensions: 3, lengthscale: 0.4, signalVariance: 1.3, noiseVariance: 1e-2, mean: 0.2)
            h.logLengthscales = [log(0.3), log(0.6), log(1.2)]
            let gp = try XCTUnwrap(GaussianProcess(inputs: x, targets: y, hyperparameters: h, kernel: kernel))
            let n = x.count
            var k = GaussianProcess.covariance(x, x, h, kernel)
            for i in 0..<n { k[i * n + i] += 1e-2 }
            let kinv = inverse(k, n: n)
            let (tx, _) = data(n: 5, d: 3, seed: 2)
            let (mean, variance) = gp.predict(tx)
            for (j, p) in tx.enumerated() {
                let ks = x.map { GaussianProcess.kernelValue($0, p, h, kernel) }
                var m = 0.2, q = 0.0
                for a in 0..<n { for b in 0..<n {
                    m += ks[a] * kinv[a * n + b] * (y[b] - 0.2)
                    q += ks[a] * kinv[a * n + b] * ks[b]
                } }
                XCTAssertEqual(mean[j], m, accuracy: 1e-9, "\(kernel) mean at \(j)")
                XCTAssertEqual(variance[j], 1.3 - q, accuracy: 1e-9, "\(kernel) variance at \(j)")
            }
            // At a training input with small noise the posterior nearly interpolates.
            let (m0, v0) = gp.predict([x[0]])
            XCTAssertEqual(m0[0], y[0], accuracy: 0.1)
            XCTAssertLessThan(v0[0], 0.05)
        }
    }

    func testLogMarginalLikelihoodGradientMatchesFiniteDifferences() throws {
        let (x, y) = data(n: 15, d: 2, seed: 3)
        for kernel in [GaussianProcess.Kernel.matern52, .rbf] {
            var h = GaussianProcess.Hyperparameters(dimensions: 2, noiseVariance: 0.05, mean: 0.1)
            h.logLengthscales = [log(0.25), log(0.8)]
            let (_, grad) = try XCTUnwrap(GaussianProcess.logMarginalLikelihood(inputs: x, targets: y, hyperparameters: h, kernel: kernel))
            let v = h.vector
            for i in v.indices {
                var p = v, m = v
                p[i] += 1e-5
                m[i] -= 1e-5
                let lp = GaussianProcess.logMarginalLikelihood(inputs: x, targets: y, hyperparameters: .init(vector: p),
                                                               kernel: kernel)!.value
                let lm = GaussianProcess.logMarginalLikelihood(inputs: x, targets: y, hyperparameters: .init(vector: m),
                                                               kernel: kernel)!.value
                let numeric = (lp - lm) / 2e-5
                XCTAssertEqual(grad[i], numeric, accuracy: 1e-5 * max(1, abs(numeric)), "\(kernel) θ[\(i)]")
            }
        }
    }

    func testDuplicateInputsAreHandledWithJitter() throws {
        let x: [[Double]] = [[0.1, 0.2], [0.1, 0.2], [0.1, 0.2], [0.7, 0.9]]
        let y = [1.0, 1.1, 0.9, -1.0]
        let h = GaussianProcess.Hyperparameters(dimensions: 2, noiseVariance: 0)  // equal rows: an exactly zero pivot
        let gp = try XCTUnwrap(GaussianProcess(inputs: x, targets: y, hyperparameters: h))
        XCTAssertGreaterThan(gp.jitter, 0, "three equal rows make K singular without jitter")
        let (m, v) = gp.predict([[0.1, 0.2], [0.4, 0.5]])
        XCTAssertTrue(m.allSatisfy(\.isFinite) && v.allSatisfy { $0.isFinite && $0 > 0 })
        XCTAssertEqual(m[0], 1.0, accuracy: 0.05, "the mean of the duplicated targets")
        XCTAssertNil(GaussianProcess(inputs: [[.nan, 0]], targets: [1], hyperparameters: h), "NaN inputs cannot be factorised")
    }
}
