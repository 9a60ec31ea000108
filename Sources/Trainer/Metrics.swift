import Foundation

/// Evaluation metrics over predictions and gold labels.
public enum Metrics {
    public static func accuracy(_ pred: [Int], _ gold: [Int]) -> Double {
        guard !gold.isEmpty else { return .nan }
        return Double(zip(pred, gold).filter { $0 == $1 }.count) / Double(gold.count)
    }

    /// Confusion counts for binary labels with 1 as the positive class.
    static func confusion(_ pred: [Int], _ gold: [Int]) -> (tp: Double, fp: Double, fn: Double, tn: Double) {
        var tp = 0.0, fp = 0.0, fn = 0.0, tn = 0.0
        for (p, g) in zip(pred, gold) {
            switch (p == 1, g == 1) {
            case (true, true): tp += 1
            case (true, false): fp += 1
            case (false, true): fn += 1
            case (false, false): tn += 1
            }
        }
        return (tp, fp, fn, tn)
    }

    /// F1 of the positive class (1); 0 when there are no positives predicted or gold.
    public static func f1(_ pred: [Int], _ gold: [Int]) -> Double {
        let c = confusion(pred, gold)
        let den = 2 * c.tp + c.fp + c.fn
        return den > 0 ? 2 * c.tp / den : 0
    }

    /// Matthews correlation for any number of classes (Gorodkin's R_K); 0 when undefined.
    public static func matthews(_ pred: [Int], _ gold: [Int]) -> Double {
        let k = (pred + gold).max().map { $0 + 1 } ?? 0
        guard k > 0 else { return 0 }
        var cm = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        for (p, g) in zip(pred, gold) { cm[g][p] += 1 }
        let n = Double(gold.count)
        let correct = (0..<k).reduce(0.0) { $0 + cm[$1][$1] }
        let t = (0..<k).map { i in cm[i].reduce(0, +) }                       // true counts per class
        let p = (0..<k).map { j in (0..<k).reduce(0.0) { $0 + cm[$1][j] } }   // predicted counts
        let cov = correct * n - zip(t, p).reduce(0) { $0 + $1.0 * $1.1 }
        let den = (n * n - p.reduce(0) { $0 + $1 * $1 }).squareRoot() * (n * n - t.reduce(0) { $0 + $1 * $1 }).squareRoot()
        return den > 0 ? cov / den : 0
    }

    public static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count)
        guard x.count > 1 else { return .nan }
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(x, y) { sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my) }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : .nan
    }

    /// Ranks from 1, ties given the average of the ranks they span.
    public static func ranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            let avg = Double(i + j) / 2 + 1
            for k in i...j { r[order[k]] = avg }
            i = j + 1
        }
        return r
    }

    public static func spearman(_ x: [Double], _ y: [Double]) -> Double { pearson(ranks(x), ranks(y)) }
}
