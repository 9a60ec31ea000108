/// A linear map inside one BERT layer that a PEFT module can attach to.
///
/// Raw values are the HF module names users write in plans (`"attention.output"`
/// is `attention.output.dense`, `"intermediate"` is `intermediate.dense`,
/// `"output"` is `output.dense`).
public enum LinearTarget: String, CaseIterable, Comparable, Sendable {
    case query, key, value
    case attentionOutput = "attention.output"
    case intermediate
    case output

    public static func < (a: LinearTarget, b: LinearTarget) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// Accepts the short names and the full HF module names (`attention.output.dense`, …).
    public init?(name: String) {
        switch name {
        case "query", "attention.self.query": self = .query
        case "key", "attention.self.key": self = .key
        case "value", "attention.self.value": self = .value
        case "attention.output", "attention.output.dense": self = .attentionOutput
        case "intermediate", "intermediate.dense": self = .intermediate
        case "output", "output.dense": self = .output
        default: return nil
        }
    }

    /// The HF module path below `encoder.layer.<i>.`.
    public var modulePath: String {
        switch self {
        case .query: return "attention.self.query"
        case .key: return "attention.self.key"
        case .value: return "attention.self.value"
        case .attentionOutput: return "attention.output.dense"
        case .intermediate: return "intermediate.dense"
        case .output: return "output.dense"
        }
    }
}
