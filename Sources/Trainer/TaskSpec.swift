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
    /// For a headerless task: the header that starts its unlabeled (test) files instead, and the
    /// text columns by name there (GLUE's CoLA: train and dev have no header, test.tsv has
    /// `index, sentence`).
    public var unlabeledLayout: UnlabeledLayout?

    public struct UnlabeledLayout: Equatable, Sendable {
        public var header: [String]
        public var textA: Column
        public var textB: Column?
    }

    /// A causal-LM task's settings; nil for classification and regression.
    public var languageModeling: LanguageModelingSettings?

    public var isRegression: Bool { classes == nil && languageModeling == nil }
    public var isLanguageModeling: Bool { languageModeling != nil }
    public var labelCount: Int { classes?.count ?? 1 }

    public init(name: String, format: Format, hasHeader: Bool, textA: Column, textB: Column?, label: Column,
                classes: [String]?, primaryMetric: String, unlabeledLayout: UnlabeledLayout? = nil) {
        self.name = name; self.format = format; self.hasHeader = hasHeader
        self.textA = textA; self.textB = textB; self.label = label
        self.classes = classes; self.primaryMetric = primaryMetric; self.unlabeledLayout = unlabeledLayout
    }

    /// The GLUE tasks in their original TSV layout (tab-split, never quote-aware). Columns are
    /// read by header name, so the official test files, which lack the label column and (QQP,
    /// SST-2) put the texts at other indices, read with the same spec as train and dev.
    public static func glue(_ name: String) -> TaskSpec? {
        let binary = ["0", "1"], entail = ["entailment", "not_entailment"]
        func pair(_ t: String, _ a: String, _ b: String, _ label: String, _ classes: [String]?, _ metric: String) -> TaskSpec {
            TaskSpec(name: t, format: .tsv, hasHeader: true, textA: .name(a), textB: .name(b), label: .name(label),
                     classes: classes, primaryMetric: metric)
        }
        switch name.lowercased() {
        case "sst2", "sst-2":
            return TaskSpec(name: "sst2", format: .tsv, hasHeader: true, textA: .name("sentence"), textB: nil, label: .name("label"),
                            classes: binary, primaryMetric: "accuracy")
        case "cola":
            return TaskSpec(name: "cola", format: .tsv, hasHeader: false, textA: .index(3), textB: nil, label: .index(1),
                            classes: binary, primaryMetric: "mcc",
                            unlabeledLayout: UnlabeledLayout(header: ["index", "sentence"], textA: .name("sentence"), textB: nil))
        case "mrpc": return pair("mrpc", "#1 String", "#2 String", "Quality", binary, "f1")
        case "stsb", "sts-b": return pair("stsb", "sentence1", "sentence2", "score", nil, "pearson")
        case "rte": return pair("rte", "sentence1", "sentence2", "label", entail, "accuracy")
        case "qnli": return pair("qnli", "question", "sentence", "label", entail, "accuracy")
        case "wnli": return pair("wnli", "sentence1", "sentence2", "label", binary, "accuracy")
        case "qqp": return pair("qqp", "question1", "question2", "is_duplicate", binary, "f1")
        case "mnli": return pair("mnli", "sentence1", "sentence2", "gold_label", ["entailment", "neutral", "contradiction"], "accuracy")
        default: return nil
        }
    }

    /// A causal-LM task on JSONL rows `{"prompt", "response"}` or `{"messages"}`.
    public static func languageModeling(name: String, metric: String, settings: LanguageModelingSettings) -> TaskSpec {
        var spec = TaskSpec(name: name, format: .jsonl, hasHeader: false, textA: .name("prompt"), textB: nil, label: .name("response"),
                            classes: nil, primaryMetric: metric)
        spec.languageModeling = settings
        return spec
    }

    public static let glueNames = ["sst2", "cola", "mrpc", "stsb", "rte", "qnli", "wnli", "qqp", "mnli"]
}
