import Foundation
import Space

/// Standard multi-objective test problems on [0, 1]^d, all objectives minimised.
///
/// ZDT1-3 (Zitzler, Deb & Thiele 2000) and DTLZ2 (Deb et al. 2002, two objectives) with d
/// inputs; Branin-Currin (d = 2, as in BoTorch's test suite).
public enum SyntheticProblem: String, CaseIterable, Sendable {
    case zdt1, zdt2, zdt3, dtlz2, braninCurrin = "branin_currin"

    public var objectives: Int { 2 }
    public func defaultDimensions() -> Int { self == .braninCurrin ? 2 : 6 }

    /// The reference point used for hypervolume: (1.1, 1.1) for ZDT and DTLZ2 (as in the issue's
    /// BoTorch/Optuna table), BoTorch's (18, 6) for Branin-Currin.
    public var reference: [Double] { self == .braninCurrin ? [18, 6] : [1.1, 1.1] }

    /// The hypervolume of the true Pareto front for that reference point (d-independent):
    /// ZDT1 1.21 − 1/3, ZDT2 1.21 − 2/3, DTLZ2 1.21 − π/4 (closed forms); ZDT3 by a 200 001-point
    /// sweep of its front (f₁ ∈ [0, 1], g = 1); Branin-Currin is BoTorch's published `max_hv`.
    public var optimalHypervolume: Double {
        switch self {
        case .zdt1: return 1.21 - 1.0 / 3
        case .zdt2: return 1.21 - 2.0 / 3
        case .dtlz2: return 1.21 - Double.pi / 4
        case .zdt3: return 1.33176
        case .braninCurrin: return 59.36011874867746
        }
    }

    /// The space of this problem: reals x0…x(d−1) in [0, 1].
    public func space(dimensions d: Int) -> SearchSpace {
        SearchSpace(parameters: (0..<d).map { Parameter(name: "x\($0)", domain: .real(low: 0, high: 1, log: false)) })
    }

    /// Objective names f1, f2, both minimised and measured.
    public var objectiveSpecs: [Objective] { [Objective(name: "f1", goal: .minimize), Objective(name: "f2", goal: .minimize)] }

    public func evaluate(_ x: [Double]) -> [Double] {
        switch self {
        case .zdt1, .zdt2, .zdt3:
            let g = 1 + 9 * x.dropFirst().reduce(0, +) / Double(x.count - 1)
            let f1 = x[0], ratio = f1 / g
            let h: Double
            switch self {
            case .zdt1: h = 1 - ratio.squareRoot()
            case .zdt2: h = 1 - ratio * ratio
            default: h = 1 - ratio.squareRoot() - ratio * sin(10 * .pi * f1)
            }
            return [f1, g * h]
        case .dtlz2:
            let g = x.dropFirst().reduce(0) { $0 + ($1 - 0.5) * ($1 - 0.5) }
            return [(1 + g) * cos(x[0] * .pi / 2), (1 + g) * sin(x[0] * .pi / 2)]
        case .braninCurrin:
            let u = 15 * x[0] - 5, v = 15 * x[1]
            let branin = pow(v - 5.1 / (4 * .pi * .pi) * u * u + 5 / .pi * u - 6, 2) + 10 * (1 - 1 / (8 * .pi)) * cos(u) + 10
            let a = x[0], b = max(x[1], 1e-12)
            let currin = (1 - exp(-1 / (2 * b))) * (2300 * a * a * a + 1900 * a * a + 2092 * a + 60) / (100 * a * a * a
                + 500 * a * a + 4 * a + 20)
            return [branin, currin]
        }
    }
}
