import XCTest
import Foundation
@testable import Search

final class GPFitTests: XCTestCase {
    func testLBFGSMinimisesRosenbrock() {
        let f: ([Double]) -> (Double, [Double])? = { x in
            let a = 1 - x[0], b = x[1] - x[0] * x[0]
            return (a * a + 100 * b * b, [-2 * a - 400 * x[0] * b, 200 * b])
        }
        let (x, v) = LBFGS.minimize(f, start: [-1.2, 1], lower: [-5, -5], upper: [5, 5], maxIterations: 500)!
        XCTAssertEqual(x[0], 1, accuracy: 1e-3)
        XCTAssertEqual(x[1], 1, accuracy: 2e-3)
        XCTAssertLessThan(v, 1e-6)
    }

    /// The fit beats the default start and learns that the second input does not matter.
    func testFitFindsRelevantDimensions() {
        var g = SplitMix(seed: 4)
        let x = (0..<30).map { _ in [g.unit(), g.unit()] }
        let y = x.map { sin(5 * $0[0]) }
        let mean = y.reduce(0, +) / Double(y.count)
        let sd = (y.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(y.count)).squareRoot()
        let ys = y.map { ($0 - mean) / sd }
        let (h, objective) = GPFit.fit(inputs: x, targets: ys, restarts: 3, seed: 1)
        let start = GaussianProcess.Hyperparameters(dimensions: 2, lengthscale: 0.5, noiseVariance: 1e-3)
        let startValue = GaussianProcess.logMarginalLikelihood(inputs: x, targets: ys, hyperparameters: start)!.value
            + GPFit.logPrior(start.vector).value
        XCTAssertGreaterThan(objective, startValue)
        XCTAssertGreaterThan(h.logLengthscales[1], h.logLengthscales[0] + 1, "irrelevant input gets a much longer lengthscale")
        let gp = GaussianProcess(inputs: x, targets: ys, hyperparameters: h)!
        let (m, _) = gp.predict([[0.3, 0.9]])
        XCTAssertEqual(m[0] * sd + mean, sin(1.5), accuracy: 0.05)
    }
}
