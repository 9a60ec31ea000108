/// Pareto dominance and front extraction. All objectives are minimised here; callers negate
/// objectives they maximise before calling.
public enum Pareto {
    /// a dominates b: no worse in every objective and better in at least one.
    @inlinable
    public static func dominates(_ a: [Double], _ b: [Double]) -> Bool {
        var better = false
        for i in a.indices {
            if a[i] > b[i] { return false }
            if a[i] < b[i] { better = true }
        }
        return better
    }

    /// Indices of the non-dominated points, in input order. Points equal in every objective
    /// dominate nobody and are all kept; rows with a NaN are never on the front.
    public static func frontIndices(_ points: [[Double]]) -> [Int] {
        points.indices.filter { i in
            let p = points[i]
            guard !p.contains(where: \.isNaN) else { return false }
            return !points.indices.contains { j in j != i && !points[j].contains(where: \.isNaN) && dominates(points[j], p) }
        }
    }
}
