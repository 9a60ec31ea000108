import XCTest
import Foundation
@testable import Search

final class ParetoTests: XCTestCase {
    func testFrontWithTiesAndNaN() {
        let pts: [[Double]] = [[1, 3], [2, 2], [3, 1], [2, 3], [2, 2], [.nan, 0], [4, 4]]
        // [2,3] is dominated by [2,2]; the tie [2,2] twice is kept twice; NaN and [4,4] are out.
        XCTAssertEqual(Pareto.frontIndices(pts), [0, 1, 2, 4])
        XCTAssertFalse(Pareto.dominates([2, 2], [2, 2]))
        XCTAssertTrue(Pareto.dominates([2, 2], [2, 3]))
        XCTAssertEqual(Pareto.frontIndices([]), [])
    }
}

final class HypervolumeTests: XCTestCase {
    func testHypervolumeOfHandComputedFronts() {
        XCTAssertEqual(Hypervolume.compute([], reference: [1, 1]), 0)
        XCTAssertEqual(Hypervolume.compute([[0.5, 0.5]], reference: [1, 1]), 0.25, accuracy: 1e-15)
        // Staircase (1,3),(2,2),(3,1) against (4,4): 3·1 + 2·1 + 1·1 = 6.
        XCTAssertEqual(Hypervolume.compute([[1, 3], [2, 2], [3, 1]], reference: [4, 4]), 6, accuracy: 1e-12)
        // Points outside the reference box add nothing; duplicates add nothing.
        XCTAssertEqual(Hypervolume.compute([[1, 3], [2, 2], [3, 1], [5, 0], [2, 2]], reference: [4, 4]), 6, accuracy: 1e-12)
        XCTAssertEqual(Hypervolume.compute([[0, 0, 0]], reference: [1, 2, 3]), 6, accuracy: 1e-12)
    }

    /// Exact 3- and 4-objective volumes against inclusion–exclusion over all subsets of boxes.
    func testAgainstInclusionExclusion() {
        var seeded = SplitMix(seed: 7)
        for trial in 0..<40 {
            let d = 3 + trial % 2, n = 2 + trial % 6
            let r = [Double](repeating: 1, count: d)
            let pts = (0..<n).map { _ in (0..<d).map { _ in seeded.unit() } }
            var ie = 0.0
            for mask in 1..<(1 << n) {
                let members = (0..<n).filter { mask & (1 << $0) != 0 }
                var vol = 1.0
                for k in 0..<d { vol *= r[k] - members.map { pts[$0][k] }.max()! }
                ie += (members.count % 2 == 1 ? 1 : -1) * vol
            }
            XCTAssertEqual(Hypervolume.compute(pts, reference: r), ie, accuracy: 1e-12, "trial \(trial): d \(d), n \(n)")
        }
    }

    /// DTLZ2 (two objectives): the true front is the quarter circle f₁² + f₂² = 1, so against
    /// (1.1, 1.1) the front's hypervolume is 1.21 − π/4. Dense points on it approach that from below.
    func testDTLZ2FrontApproachesTheClosedForm() {
        let n = 2000
        let pts = (0..<n).map { i -> [Double] in let t = Double(i) / Double(n - 1) * .pi / 2; return [cos(t), sin(t)] }
        let hv = Hypervolume.compute(pts, reference: [1.1, 1.1])
        let exact = 1.21 - Double.pi / 4
        XCTAssertLessThan(hv, exact)
        XCTAssertEqual(hv, exact, accuracy: 1e-3)
        // Three objectives: the octant of the unit sphere against (1.1)³: 1.331 − π/6.
        let m = 40
        var pts3: [[Double]] = []
        for i in 0..<m { for j in 0..<m {
            let a = Double(i) / Double(m - 1) * .pi / 2, b = Double(j) / Double(m - 1) * .pi / 2
            pts3.append([cos(a) * cos(b), cos(a) * sin(b), sin(a)])
        } }
        let front = Pareto.frontIndices(pts3).map { pts3[$0] }
        let hv3 = Hypervolume.compute(front, reference: [1.1, 1.1, 1.1])
        XCTAssertLessThan(hv3, 1.331 - Double.pi / 6)
        XCTAssertEqual(hv3, 1.331 - Double.pi / 6, accuracy: 3e-2)
    }
}

/// A tiny seeded generator for test data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
