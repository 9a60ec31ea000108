import JSONKit
import Foundation

/// Per-weight-matrix sensitivity of a model for a task (SPT or DiffoRA), shared by the trainer
/// that computes it and the search that turns it into a prior.
///
/// `scores[l][t]` is, for SPT, how many of matrix (layer l, target t)'s parameters fall in the
/// model's global top-τ of squared gradients; for DiffoRA, a module-wise gate value scaled to the
/// same meaning ("how many parameters' worth of benefit a module on this matrix buys").
public struct SensitivityScores: Sendable, Equatable {
    /// How scores are computed: SPT's top-τ squared gradients, DiffoRA's trained module gates, or
    /// the PEFT mock's closed form (synthetic studies only; no space file can ask for it).
    public enum Method: String, CaseIterable, Sendable {
        case spt, diffora, mock
        /// What a space file's `priors.sensitivity` and `autopeft score --method` accept.
        public static let measured: [Method] = [.spt, .diffora]
    }
    public var method: Method
    public var layers: Int
    /// Targets in column order (`LinearTarget.ungated` for an encoder).
    public var targets: [LinearTarget]
    /// [layer][target] benefit counts.
    public var scores: [[Double]]
    /// Settings that produced the scores (τ, batches, …), for the record.
    public var settings: [String: Double]

    public init(method: Method, layers: Int, targets: [LinearTarget], scores: [[Double]], settings: [String: Double] = [:]) {
        self.method = method
        self.layers = layers
        self.targets = targets
        self.scores = scores
        self.settings = settings
    }

    public func score(layer: Int, target: LinearTarget) -> Double {
        guard layer < scores.count, let j = targets.firstIndex(of: target) else { return 0 }
        return scores[layer][j]
    }

    /// Σ over targets, per layer.
    public var perLayer: [Double] { scores.map { $0.reduce(0, +) } }
    /// Σ over layers, per target.
    public var perTarget: [Double] { targets.indices.map { j in scores.reduce(0) { $0 + $1[j] } } }

    /// The matrices a plan's modules act on, each with the module parameters charged to it (each
    /// method's file says how it charges; `PEFTPlan.charges`).
    public static func coverage(_ plan: PEFTPlan, dims: ModelDimensions) -> [PEFTCharge] { plan.charges(dims: dims) }

    /// SPT's rule as a utility. With k_W the module parameters charged to matrix W divided by α
    /// and c_W its score, a module pays off on W while k_W ≤ c_W: each matrix contributes
    /// min(c_W, k_W) − max(0, k_W − c_W), which grows with a module's size until it costs α times
    /// the sensitive parameters it serves, then falls.
    public func utility(_ plan: PEFTPlan, dims: ModelDimensions, alpha: Double = 10) -> Double {
        var charged: [Int: Double] = [:]
        for (l, t, c) in Self.coverage(plan, dims: dims) { charged[l * 16 + (targets.firstIndex(of: t) ?? 15), default: 0] += c / alpha }
        var u = 0.0
        // In key order: a dictionary's own order follows the process's hash seed, and so would the sum.
        for key in charged.keys.sorted() {
            let k = charged[key]!, l = key / 16, j = key % 16
            let c = j < targets.count && l < scores.count ? scores[l][j] : 0
            u += min(c, k) - max(0, k - c)
        }
        return u
    }
}

extension SensitivityScores {
    public var json: JSONValue {
        .object([
            ("method", .string(method.rawValue)), ("layers", .number(layers)),
            ("targets", .array(targets.map { .string($0.rawValue) })),
            ("scores", .array(scores.map { .array($0.map { .number($0) }) })),
            ("per_layer", .array(perLayer.map { .number($0) })),
            ("per_target", .object(zip(targets, perTarget).map { (key: $0.rawValue, value: .number($1)) })),
            ("settings", .object(settings.sorted { $0.key < $1.key }.map { (key: $0.key, value: .number($0.value)) })),
        ])
    }

    public init(reading r: JSONReader) throws(ConfigError) {
        method = try r.required("method").enumValue(of: Method.self)
        layers = try r.required("layers").int(in: 1...4096)
        var ts: [LinearTarget] = []
        for t in try r.required("targets").array() {
            guard let lt = LinearTarget(name: try t.string()) else { throw t.error("unknown target") }
            ts.append(lt)
        }
        targets = ts
        var rows: [[Double]] = []
        for row in try r.required("scores").array() {
            var v: [Double] = []
            // Counts (SPT) and gates (DiffoRA) are never negative; the report's heat map and the prior
            // take square roots and logarithms of them.
            for x in try row.array() {
                let score = try x.double()
                guard score >= 0 else { throw x.error("expected a non-negative score, got \(score)") }
                v.append(score)
            }
            if v.count != ts.count { throw row.error("expected \(ts.count) scores, one per target") }
            rows.append(v)
        }
        if rows.count != layers { throw r.error("expected \(layers) rows of scores", at: r.path + ".scores") }
        scores = rows
        var s: [String: Double] = [:]
        if let st = try r.optional("settings"), case .object(let members) = st.value {
            for m in members { if case .number(let x, _) = m.value { s[m.key] = x } }
        }
        settings = s
        _ = try r.optional("per_layer"); _ = try r.optional("per_target")
        try r.finish()
    }
}
