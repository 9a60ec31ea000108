/// The hypervolume dominated by a set of points and bounded by a reference point (all objectives
/// minimised): the Lebesgue measure of ⋃ᵢ [pᵢ, r].
///
/// Exact for any number of objectives by slicing (HSO): sort by the last objective and sum,
/// over the slabs between consecutive values, the slab depth times the (d−1)-dimensional
/// hypervolume of the points at or below the slab. Two objectives use an O(n log n) sweep.
/// Cost O(n^(d−1) log n): fine for the front sizes of a search (≤ a few hundred, d ≤ 4).
/// Points not strictly better than the reference in every objective contribute nothing.
public enum Hypervolume {
    public static func compute(_ points: [[Double]], reference r: [Double]) -> Double {
        let d = r.count
        let inside = points.filter { p in p.count == d && zip(p, r).allSatisfy { $0 < $1 } }
        guard !inside.isEmpty else { return 0 }
        return slice(inside, reference: r, dims: d)
    }

    static func slice(_ points: [[Double]], reference r: [Double], dims d: Int) -> Double {
        if d == 1 { return r[0] - points.map { $0[0] }.min()! }
        if d == 2 { return sweep2D(points, reference: r) }
        let sorted = points.sorted { $0[d - 1] < $1[d - 1] }
        var total = 0.0
        var below: [[Double]] = []
        for (i, p) in sorted.enumerated() {
            below.append(Array(p.prefix(d - 1)))
            let next = i + 1 < sorted.count ? sorted[i + 1][d - 1] : r[d - 1]
            let depth = next - p[d - 1]
            if depth > 0 { total += depth * slice(below, reference: Array(r.prefix(d - 1)), dims: d - 1) }
        }
        return total
    }

    static func sweep2D(_ points: [[Double]], reference r: [Double]) -> Double {
        let sorted = points.sorted { $0[0] < $1[0] || ($0[0] == $1[0] && $0[1] < $1[1]) }
        var total = 0.0, bestY = r[1]
        for p in sorted where p[1] < bestY {
            total += (r[0] - p[0]) * (bestY - p[1])
            bestY = p[1]
        }
        return total
    }
}
