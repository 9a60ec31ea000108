import XCTest
import Foundation
@testable import Search

final class SyntheticProblemTests: XCTestCase {
    func testValuesOnAndOffTheTrueFrontsAndAtBraninsMinimum() {
        // On the true front (all but x₁ zero for ZDT, 0.5 for DTLZ2): g = 1.
        XCTAssertEqual(SyntheticProblem.zdt1.evaluate([0.25, 0, 0, 0, 0, 0]), [0.25, 0.5])
        XCTAssertEqual(SyntheticProblem.zdt2.evaluate([0.5, 0, 0, 0, 0, 0]), [0.5, 0.75])
        let z3 = SyntheticProblem.zdt3.evaluate([0.1, 0, 0, 0, 0, 0])
        XCTAssertEqual(z3[1], 1 - 0.1.squareRoot() - 0.1 * sin(Double.pi), accuracy: 1e-12)
        // Off the front: g = 1 + 9·mean(x₂…x₆).
        XCTAssertEqual(SyntheticProblem.zdt1.evaluate([0, 1, 1, 1, 1, 1])[1], 10, accuracy: 1e-12)
        let d = SyntheticProblem.dtlz2.evaluate([1.0 / 3, 0.5, 0.5, 0.5, 0.5, 0.5])
        XCTAssertEqual(d[0] * d[0] + d[1] * d[1], 1, accuracy: 1e-12, "on the unit circle")
        XCTAssertEqual(d[0], cos(Double.pi / 6), accuracy: 1e-12)
        // Branin's minimum 0.397887 at (π, 2.275), i.e. x = ((π + 5)/15, 2.275/15).
        XCTAssertEqual(SyntheticProblem.braninCurrin.evaluate([(Double.pi + 5) / 15, 2.275 / 15])[0], 0.397887, accuracy: 1e-6)
        // Currin at (0.5, 0.5): (1 − e^(−1)) · (287.5 + 475 + 1046 + 60)/(12.5 + 125 + 2 + 20).
        XCTAssertEqual(SyntheticProblem.braninCurrin.evaluate([0.5, 0.5])[1], (1 - exp(-1)) * 1868.5 / 159.5, accuracy: 1e-9)
    }
}
