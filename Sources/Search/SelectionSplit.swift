import JSONKit
import Foundation

/// The rows a study's trials were scored on, as its journal records them (issue 41).
///
/// A study selects its front on these scores. When they are dev's, the front's scores are
/// optimistic: the search chose the configurations that happened to do well on those very rows (the
/// winner's curse). A study with a validation split scores its trials on rows held apart, and only
/// the final stage (`autopeft reevaluate`) scores on dev, which the search never saw.
public struct SelectionSplit: Equatable, Sendable {
    public enum Kind: String, Sendable { case validation, dev }
    public var kind: Kind
    /// The journal's form: `{"split": "validation", "source": "carved" | "file", "rows": N,
    /// "seed": S, "indices": […], "file": PATH, "fingerprint": HEX}` (indices and seed for a carved
    /// split, the file as the space file gives it for a file of its own).
    public var record: JSONValue

    public init(kind: Kind, record: JSONValue) {
        self.kind = kind
        self.record = record
    }

    /// Trials scored on dev: a space file without a validation split, or a journal written before
    /// splits existed.
    public static let dev = SelectionSplit(kind: .dev, record: .object([("split", .string("dev"))]))

    /// A carved split: `indices` of the training file's rows, drawn with `seed`.
    public static func carved(indices: [Int], seed: Int, fingerprint: String) -> SelectionSplit {
        SelectionSplit(kind: .validation, record: .object([
            ("split", .string("validation")), ("source", .string("carved")), ("rows", .number(indices.count)),
            ("seed", .number(seed)), ("fingerprint", .string(fingerprint)), ("indices", .array(indices.map { .number($0) })),
        ]))
    }

    /// A split of its own file (`file` as the space file gives it).
    public static func file(_ file: String, rows: Int, fingerprint: String) -> SelectionSplit {
        SelectionSplit(kind: .validation, record: .object([
            ("split", .string("validation")), ("source", .string("file")), ("file", .string(file)), ("rows", .number(rows)),
            ("fingerprint", .string(fingerprint)),
        ]))
    }

    /// The split a journal's `study_created` record holds: dev when it holds none.
    public init(created: JSONValue?) {
        guard let r = created, r["split"]?.plainText == Kind.validation.rawValue else { self = .dev; return }
        kind = .validation
        record = r
    }

    /// In words, for the report and the terminal summary.
    public var description: String {
        guard kind == .validation else {
            return "dev: the trials were scored on the dev rows the report shows, so the front's scores are optimistic (the "
                + "search chose them there); give the task a \"validation\" split to select apart from dev"
        }
        let rows = record["rows"]?.plainText ?? "?"
        let whence = record["source"]?.plainText == "file"
            ? "the file \(record["file"]?.plainText ?? "?")"
            : "the training file (seed \(record["seed"]?.plainText ?? "0"), stratified by class; held out of every run's training)"
        return "validation: \(rows) rows of \(whence); dev is scored only by the final stage (autopeft reevaluate)"
    }

    /// Why a study cannot resume with `given` (the split its data gives now) after recording `self`,
    /// or nil when they are the same rows.
    func mismatch(_ given: SelectionSplit) -> String? {
        guard self != given else { return nil }
        if kind != given.kind {
            return "the study selected on \(kind.rawValue) rows, the space file now asks for \(given.kind.rawValue) rows"
        }
        return "its validation rows differ from those the journal records (fingerprint \(record["fingerprint"]?.plainText ?? "?") "
            + "then, \(given.record["fingerprint"]?.plainText ?? "?") now): has the training or validation file changed?"
    }
}
