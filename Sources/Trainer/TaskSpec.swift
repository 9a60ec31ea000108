import Foundation

/// How to read a task's files and score it: columns, label set, metric.
public struct TaskSpec: Equatable, Sendable {
    public enum Format: String, Sendable { case tsv, csv, jsonl }
    /// A column by header name or by 0-based index.
    public enum Column: Equatable, Sendable {
        case name(String), index(Int)
        var text: String { switch self { case .name(let n): return "\"\(n)\""; case .index(let i): return "column \(i)" } }
    }

    public var name: String
    public var format: Format
    public var hasHeader: Bool
    public var textA: Column
    public var textB: Column?
    public var label: Column
    /// Class names in label-index order; nil for regression.
    public var classes: [String]?
    /// The metric reported as the task's score.
    public var primaryMetric: String

    public var isRegression: Bool { classes == nil }
    public var labelCount: Int { classes?.count ?? 1 }

    public init(name: String, format: Format, hasHeader: Bool, textA: Column, textB: Column?, label: Column,
                classes: [String]?, primaryMetric: String) {
        self.name = name; self.format = format; self.hasHeader = hasHeader
        self.textA = textA; self.textB = textB; self.label = label
        self.classes = classes; self.primaryMetric = primaryMetric
    }

    /// The GLUE tasks in their original TSV layout (tab-split, never quote-aware).
    public static func glue(_ name: String) -> TaskSpec? {
        let binary = ["0", "1"], entail = ["entailment", "not_entailment"]
        switch name.lowercased() {
        case "sst2", "sst-2": return TaskSpec(name: "sst2", format: .tsv, hasHeader: true, textA: .name("sentence"), textB: nil, label: .name("label"), classes: binary, primaryMetric: "accuracy")
        case "cola": return TaskSpec(name: "cola", format: .tsv, hasHeader: false, textA: .index(3), textB: nil, label: .index(1), classes: binary, primaryMetric: "mcc")
        case "mrpc": return TaskSpec(name: "mrpc", format: .tsv, hasHeader: true, textA: .index(3), textB: .index(4), label: .index(0), classes: binary, primaryMetric: "f1")
        case "stsb", "sts-b": return TaskSpec(name: "stsb", format: .tsv, hasHeader: true, textA: .index(7), textB: .index(8), label: .index(9), classes: nil, primaryMetric: "pearson")
        case "rte": return TaskSpec(name: "rte", format: .tsv, hasHeader: true, textA: .index(1), textB: .index(2), label: .index(-1), classes: entail, primaryMetric: "accuracy")
        case "qnli": return TaskSpec(name: "qnli", format: .tsv, hasHeader: true, textA: .index(1), textB: .index(2), label: .index(-1), classes: entail, primaryMetric: "accuracy")
        case "wnli": return TaskSpec(name: "wnli", format: .tsv, hasHeader: true, textA: .index(1), textB: .index(2), label: .index(-1), classes: binary, primaryMetric: "accuracy")
        case "qqp": return TaskSpec(name: "qqp", format: .tsv, hasHeader: true, textA: .index(3), textB: .index(4), label: .index(5), classes: binary, primaryMetric: "f1")
        case "mnli": return TaskSpec(name: "mnli", format: .tsv, hasHeader: true, textA: .index(8), textB: .index(9), label: .index(-1), classes: ["entailment", "neutral", "contradiction"], primaryMetric: "accuracy")
        default: return nil
        }
    }

    public static let glueNames = ["sst2", "cola", "mrpc", "stsb", "rte", "qnli", "wnli", "qqp", "mnli"]
}
