import Foundation

/// Batch-mean losses on logits [B, C], returning the loss and writing dlogits.
public enum Loss {
    /// Cross-entropy with integer targets; dlogits = (softmax − onehot)/B.
    public static func crossEntropy(logits: UnsafePointer<Float>, targets: [Int], classes C: Int,
                                    dlogits: UnsafeMutablePointer<Float>?) -> Double {
        let B = targets.count
        var total = 0.0
        for b in 0..<B {
            let row = logits + b * C
            var mx = -Float.infinity
            for j in 0..<C { mx = max(mx, row[j]) }
            var s = 0.0
            for j in 0..<C { s += Double(expf(row[j] - mx)) }
            let logZ = Double(mx) + Foundation.log(s)
            total += logZ - Double(row[targets[b]])
            if let d = dlogits {
                for j in 0..<C {
                    let p = Foundation.exp(Double(row[j]) - logZ)
                    d[b * C + j] = Float((p - (j == targets[b] ? 1 : 0)) / Double(B))
                }
            }
        }
        return total / Double(B)
    }

    /// Mean squared error on one output per row; dlogits = 2(x − y)/B.
    public static func meanSquaredError(predictions: UnsafePointer<Float>, targets: [Float],
                                        dlogits: UnsafeMutablePointer<Float>?) -> Double {
        let B = targets.count
        var total = 0.0
        for b in 0..<B {
            let e = Double(predictions[b]) - Double(targets[b])
            total += e * e
            dlogits?[b] = Float(2 * e / Double(B))
        }
        return total / Double(B)
    }
}

extension Loss {
    /// The task's loss on a batch of `examples[indices]` (MSE for regression, cross-entropy
    /// otherwise), writing ∂loss/∂logits into `dlogits` when given.
    public static func batch(logits: UnsafePointer<Float>, indices: [Int], examples: [Example], task: TaskSpec,
                             dlogits: UnsafeMutablePointer<Float>?) -> Double {
        if task.isRegression {
            let y = indices.map { i -> Float in if case .value(let v) = examples[i].label { return Float(v) }; return 0 }
            return meanSquaredError(predictions: logits, targets: y, dlogits: dlogits)
        }
        let y = indices.map { i -> Int in if case .classIndex(let c) = examples[i].label { return c }; return 0 }
        return crossEntropy(logits: logits, targets: y, classes: task.labelCount, dlogits: dlogits)
    }
}
