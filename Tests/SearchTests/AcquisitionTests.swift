import XCTest
import Foundation
@testable import Search

final class ExpectedHypervolumeImprovementTests: XCTestCase {
    func normals(_ n: Int, dims: Int, seed: UInt64) -> [[Double]] {
        var g = SplitMix(seed: seed)
        return (0..<n).map { _ in (0..<dims).map { _ in
            // Box–Muller
            let u1 = max(g.unit(), 1e-300), u2 = g.unit()
            return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
        } }
    }

    /// The closed form equals a Monte-Carlo estimate (200k draws) within 4 standard errors, for seeded random fronts.
    func testKnownCostClosedFormMatchesMonteCarlo() {
        var g = SplitMix(seed: 11)
        let z = normals(200_000, dims: 1, seed: 5)
        for trial in 0..<6 {
            let r = [1.0, 1.0]
            let raw = (0..<(2 + trial)).map { _ in [g.unit(), g.unit()] }
            let front = Pareto.frontIndices(raw).map { raw[$0] }
            let m = g.unit(), s = 0.05 + 0.3 * g.unit(), c = 0.8 * g.unit()
            let exact = ExpectedHypervolumeImprovement.knownCost(mean: m, sd: s, cost: c, front: front, reference: r)
            let base = Hypervolume.compute(front, reference: r)
            var sum = 0.0, sumSq = 0.0
            for row in z {
                let imp = Hypervolume.compute(front + [[m + s * row[0], c]], reference: r) - base
                sum += imp; sumSq += imp * imp
            }
            let mean = sum / Double(z.count), se = ((sumSq / Double(z.count) - mean * mean) / Double(z.count)).squareRoot()
            XCTAssertEqual(exact, mean, accuracy: 4 * se + 1e-12, "trial \(trial): exact \(exact), MC \(mean) ± \(se)")
        }
    }

    func testEmptyFrontReferenceCostCertainAndDominatedPoints() {
        let r = [1.0, 1.0]
        // Empty front: E[(1 − f)⁺]·(1 − c); with sd → 0 it is the plain box.
        XCTAssertEqual(ExpectedHypervolumeImprovement.knownCost(mean: 0.4, sd: 0, cost: 0.5, front: [], reference: r), 0.6 * 0.5,
                       accuracy: 1e-15)
        // At or beyond the reference cost nothing can improve.
        XCTAssertEqual(ExpectedHypervolumeImprovement.knownCost(mean: 0, sd: 1, cost: 1, front: [], reference: r), 0)
        // Deterministic limit equals the exact hypervolume difference.
        let front = [[0.2, 0.7], [0.5, 0.3], [0.8, 0.1]]
        let d = Hypervolume.compute(front + [[0.3, 0.4]], reference: r) - Hypervolume.compute(front, reference: r)
        XCTAssertEqual(ExpectedHypervolumeImprovement.knownCost(mean: 0.3, sd: 1e-12, cost: 0.4, front: front, reference: r), d,
                       accuracy: 1e-9)
        // A dominated certain point improves nothing.
        XCTAssertEqual(ExpectedHypervolumeImprovement.knownCost(mean: 0.6, sd: 0, cost: 0.35, front: front, reference: r), 0,
                       accuracy: 1e-15)
    }

    func testMonteCarloAgreesWithClosedFormWhenOneObjectiveIsKnown() {
        let front = [[0.2, 0.7], [0.5, 0.3], [0.8, 0.1]]
        let z = normals(40_000, dims: 2, seed: 9)
        let mc = ExpectedHypervolumeImprovement.monteCarlo(mean: [0.35, 0.4], sd: [0.2, 0], front: front, reference: [1, 1], normals: z)
        let exact = ExpectedHypervolumeImprovement.knownCost(mean: 0.35, sd: 0.2, cost: 0.4, front: front, reference: [1, 1])
        XCTAssertEqual(mc, exact, accuracy: 0.05 * exact)
    }
}

extension ExpectedHypervolumeImprovementTests {
    /// The exact two-Gaussian form equals a 200k-draw Monte-Carlo estimate within 4 standard errors.
    func testTwoGaussianClosedFormMatchesMonteCarlo() {
        var g = SplitMix(seed: 21)
        let z = normals(200_000, dims: 2, seed: 6)
        for trial in 0..<5 {
            let r = [1.0, 1.0]
            let raw = (0..<(1 + 2 * trial)).map { _ in [g.unit(), g.unit()] }
            let front = Pareto.frontIndices(raw).map { raw[$0] }
            let m = [g.unit(), g.unit()], s = [0.05 + 0.3 * g.unit(), 0.05 + 0.3 * g.unit()]
            let exact = exp(ExpectedHypervolumeImprovement.logTwoObjective(mean: m, sd: s, front: front, reference: r))
            let base = Hypervolume.compute(front, reference: r)
            var sum = 0.0, sumSq = 0.0
            for row in z {
                let imp = Hypervolume.compute(front + [[m[0] + s[0] * row[0], m[1] + s[1] * row[1]]], reference: r) - base
                sum += imp; sumSq += imp * imp
            }
            let mean = sum / Double(z.count), se = ((sumSq / Double(z.count) - mean * mean) / Double(z.count)).squareRoot()
            XCTAssertEqual(exact, mean, accuracy: 4 * se + 1e-12, "trial \(trial): exact \(exact), MC \(mean) ± \(se)")
        }
    }

    /// With one sd at 0 it reproduces the known-cost form, whichever objective is the known one.
    func testTwoGaussianReducesToKnownCost() {
        let front = [[0.2, 0.7], [0.5, 0.3], [0.8, 0.1]], r = [1.0, 1.0]
        for (m, s, c) in [(0.35, 0.2, 0.4), (0.1, 0.05, 0.05), (0.9, 0.3, 0.95)] {
            let known = ExpectedHypervolumeImprovement.knownCost(mean: m, sd: s, cost: c, front: front, reference: r)
            let a = exp(ExpectedHypervolumeImprovement.logTwoObjective(mean: [m, c], sd: [s, 0], front: front, reference: r))
            let swapped = front.map { [$0[1], $0[0]] }
            let b = exp(ExpectedHypervolumeImprovement.logTwoObjective(mean: [c, m], sd: [0, s], front: swapped, reference: r))
            XCTAssertEqual(a, known, accuracy: 1e-12 + 1e-9 * known)
            XCTAssertEqual(b, known, accuracy: 1e-12 + 1e-9 * known)
        }
    }

    /// Far behind the front the improvement underflows in linear space, but its log stays finite,
    /// continuous across the series switch, and ordered (the nearer candidate ranks higher).
    func testLogFormRanksCandidatesWhereTheLinearFormUnderflows() {
        let h = ExpectedHypervolumeImprovement.logH
        // References from mpmath at 50 digits: log(z·ncdf(z) + npdf(z)), either side of the switch.
        XCTAssertEqual(h(-24.9999), -319.858955624456760, accuracy: 1e-9)
        XCTAssertEqual(h(-25.0001), -319.863971548503601, accuracy: 1e-9)
        XCTAssertEqual(h(-40), -808.298568356619960, accuracy: 1e-9)
        XCTAssertEqual(h(1.5), log(1.5 * 0.933192798731141934 + 0.129517595665891743), accuracy: 1e-12)
        let front = [[0.1, 0.1]], r = [1.0, 1.0]
        let near = ExpectedHypervolumeImprovement.logTwoObjective(mean: [0.6, 0.6], sd: [0.01, 0.01], front: front, reference: r)
        let far = ExpectedHypervolumeImprovement.logTwoObjective(mean: [0.9, 0.9], sd: [0.01, 0.01], front: front, reference: r)
        XCTAssertTrue(near.isFinite && far.isFinite)
        XCTAssertGreaterThan(near, far)
        XCTAssertEqual(exp(far), 0)   // what a linear-space EHVI would see
    }
}
