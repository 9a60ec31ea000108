import Foundation

/// Standard multi-objective test problems on [0, 1]^d, all objectives minimised.
///
/// ZDT1-3 (Zitzler, Deb & Thiele 2000) and DTLZ2 (Deb et al. 2002, two objectives) with d
/// inputs; Branin-Currin (d = 2, as in BoTorch's test suite).
public enum SyntheticProblem: String, CaseIterable, Sendable {
    case zdt1, zdt2, zdt3, dtlz2, braninCurrin = "branin_currin"

    public var objectives: Int { 2 }
    public func defaultDimensions() -> Int { self == .braninCurrin ? 2 : 6 }

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
            let currin = (1 - exp(-1 / (2 * b))) * (2300 * a * a * a + 1900 * a * a + 2092 * a + 60) / (100 * a * a * a + 500 * a * a + 4 * a + 20)
            return [branin, currin]
        }
    }
}
