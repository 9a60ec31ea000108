/// One labelled example: one or two texts and a class index or a real value.
public struct Example: Equatable, Sendable {
    public var textA: String
    public var textB: String?
    public var label: Label
    public enum Label: Equatable, Sendable {
        case classIndex(Int)
        case value(Double)
        /// A causal-LM row: what the loss counts is in it.
        case sequence(LanguageModelingRow)
    }
    public init(textA: String, textB: String? = nil, label: Label) {
        self.textA = textA
        self.textB = textB
        self.label = label
    }
}
