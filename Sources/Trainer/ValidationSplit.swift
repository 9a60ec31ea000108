import JSONKit
import Foundation

/// Rows held apart to score a search's trials, so that dev, which only the final stage reports, is
/// never what the search selected on (issue 41). Carved from the training file, or a file of its own.
///
/// A carved split is drawn with its own seed, stratified by class for classification (each class
/// keeps its share of the training file, by largest remainder), and the rows it takes never train:
/// every run of the task, a search trial or the final stage, trains on the rest of the file. The
/// draw depends only on the file's rows, the count and the seed, so every process (workers, Slurm
/// jobs) holds out the same rows.
public struct ValidationSplit: Equatable, Sendable {
    public enum Source: Equatable, Sendable {
        /// `rows` rows of the training file, drawn with `seed`.
        case carved(rows: Int, seed: UInt64)
        /// `fraction` of the training file's rows (rounded), drawn with `seed`.
        case carvedFraction(Double, seed: UInt64)
        /// A file of its own (a resolved path), read as the task's train and dev files are.
        case file(String)
    }

    public var source: Source

    public init(_ source: Source) { self.source = source }

    /// Which rows score a run.
    public enum Scoring: String, Sendable, CaseIterable {
        /// The validation rows: what a search's trials are scored on.
        case validation
        /// The task's dev file: the final stage, and every task without a validation split.
        case dev
    }

    /// The number of rows a carved split takes from a training file of `total` rows (nil for a file).
    public func carvedCount(total: Int) -> Int? {
        switch source {
        case .carved(let n, _): return n
        case .carvedFraction(let f, _): return Int((f * Double(total)).rounded())
        case .file: return nil
        }
    }

    /// The seed a carved split is drawn with (nil for a file).
    public var seed: UInt64? {
        switch source {
        case .carved(_, let s), .carvedFraction(_, let s): return s
        case .file: return nil
        }
    }

    /// The indices (ascending) of the training rows a carved split holds out. Stratified by class
    /// when the rows carry class labels: each class gets its share of `count` by largest remainder
    /// (ties to the lower class index), drawn by one seeded shuffle per class in class order.
    public static func carve(_ rows: [Example], count: Int, seed: UInt64) -> [Int] {
        var groups: [Int: [Int]] = [:]
        for (i, r) in rows.enumerated() {
            if case .classIndex(let c) = r.label { groups[c, default: []].append(i) } else { groups[-1, default: []].append(i) }
        }
        let classes = groups.keys.sorted()
        let exact = classes.map { Double(count) * Double(groups[$0]!.count) / Double(rows.count) }
        var quota = exact.map { Int($0.rounded(.down)) }
        let order = classes.indices.sorted { (exact[$0] - Double(quota[$0]), -$0) > (exact[$1] - Double(quota[$1]), -$1) }
        for k in order.prefix(count - quota.reduce(0, +)) { quota[k] += 1 }
        var rng = RandomSource(seed: seed, stream: "validation")
        var taken: [Int] = []
        for (k, c) in classes.enumerated() {
            var members = groups[c]!
            members.shuffle(using: &rng)
            taken += members.prefix(quota[k])
        }
        return taken.sorted()
    }

    /// FNV-1a over the rows' texts and labels: a changed file under the same name is noticed.
    public static func fingerprint(_ rows: [Example]) -> String {
        var h = FNV1a()
        for r in rows {
            let label: String
            switch r.label {
            case .classIndex(let c): label = "c\(c)"
            case .value(let v): label = "v\(v)"
            case .sequence(let s): label = "s\(s)"
            }
            for field in [r.textA, r.textB ?? "", label] { h.mix(bytes: field.utf8); h.mix(0x1F) }
        }
        return String(h.value, radix: 16)
    }

    /// The run file's form: `{"rows": N, "seed": S}`, `{"fraction": F, "seed": S}` or `{"file": PATH}`
    /// (`file` as `path(_:)` gives it: the run file's form keeps resolved paths, a space file's as given).
    public func json(path: (String) -> String = { $0 }) -> JSONValue {
        switch source {
        case .carved(let n, let s): return .object([("rows", .number(n)), ("seed", .number(Int(s)))])
        case .carvedFraction(let f, let s): return .object([("fraction", .number(f)), ("seed", .number(Int(s)))])
        case .file(let p): return .object([("file", .string(path(p)))])
        }
    }

    /// Reads `task.validation`; `resolve` makes a file's path absolute.
    public init(reading r: JSONReader, resolve: (String) -> String) throws(ConfigError) {
        let rows = try r.optional("rows"), fraction = try r.optional("fraction"), file = try r.optional("file")
        let given = [rows, fraction, file].compactMap { $0 }.count
        guard given == 1 else {
            throw r.error("expected exactly one of \"rows\" (a count of training rows to hold out), \"fraction\" (a share of them, "
                + "0-0.5) or \"file\" (a file of its own); found \(given)")
        }
        if let file {
            source = .file(resolve(try file.string()))
            if let s = try r.optional("seed") { throw s.error("a validation file is not drawn: \"seed\" applies to \"rows\" or "
                + "\"fraction\" only") }
        } else {
            let seed = UInt64(try r.optional("seed")?.int(in: 0...Int(Int32.max), what: "a seed") ?? 0)
            if let rows { source = .carved(rows: try rows.int(in: 1...100_000_000, what: "a row count"), seed: seed) }
            else { source = .carvedFraction(try fraction!.double(in: 0.001...0.5, what: "a share of the training rows"), seed: seed) }
        }
        try r.finish()
    }
}
