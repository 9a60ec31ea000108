/// A linear map inside one block that a PEFT module can attach to.
///
/// Raw values are the names users write in plans, BERT's HF module names (`"attention.output"`
/// is `attention.output.dense`, `"intermediate"` is `intermediate.dense`, `"output"` is
/// `output.dense`). A Llama-family block has the same maps under its own names (`q_proj`, `k_proj`,
/// `v_proj`, `o_proj`, `up_proj`, `down_proj`, accepted too) and one more, `gate` (`gate_proj`),
/// which only a gated feed-forward has (`ModelDimensions.gatedFeedForward`). `gate` comes last so
/// that every order over targets that existed before it stays as it was.
public enum LinearTarget: String, CaseIterable, Comparable, Sendable {
    case query, key, value
    case attentionOutput = "attention.output"
    case intermediate
    case output
    case gate

    /// The maps every block has (an encoder's six): all but `gate`.
    public static let ungated: [LinearTarget] = [.query, .key, .value, .attentionOutput, .intermediate, .output]

    public static func < (a: LinearTarget, b: LinearTarget) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// Accepts the short names and the full HF module names (`attention.output.dense`, …).
    public init?(name: String) {
        switch name {
        case "query", "attention.self.query", "q_proj", "self_attn.q_proj": self = .query
        case "key", "attention.self.key", "k_proj", "self_attn.k_proj": self = .key
        case "value", "attention.self.value", "v_proj", "self_attn.v_proj": self = .value
        case "attention.output", "attention.output.dense", "o_proj", "self_attn.o_proj": self = .attentionOutput
        case "intermediate", "intermediate.dense", "up_proj", "mlp.up_proj": self = .intermediate
        case "output", "output.dense", "down_proj", "mlp.down_proj": self = .output
        case "gate", "gate_proj", "mlp.gate_proj": self = .gate
        default: return nil
        }
    }

    /// The HF module path below `encoder.layer.<i>.` (Llama's for `gate`, which BERT has not).
    public var modulePath: String {
        switch self {
        case .query: return "attention.self.query"
        case .key: return "attention.self.key"
        case .value: return "attention.self.value"
        case .attentionOutput: return "attention.output.dense"
        case .intermediate: return "intermediate.dense"
        case .output: return "output.dense"
        case .gate: return "mlp.gate_proj"
        }
    }
}
