/// What the classification/regression head reads from the model's last hidden state.
public enum HeadInput: String, CaseIterable, Sendable {
    /// HF's `BertForSequenceClassification`: tanh(W·h[CLS] + b) with the checkpoint's (frozen) pooler.
    case pooler
    /// The [CLS] hidden state itself.
    case cls
    /// The mean of the hidden states of the real (non-padding) tokens: how all-MiniLM-L6-v2 was trained.
    case mean
    /// HF's `RobertaClassificationHead`: on the first token, dropout, a trained dense layer H → H and
    /// tanh, dropout, then the classifier (`out_proj`). The dense layer is trained with the classifier.
    case dense
    /// A decoder's: the normed hidden state of each row's last real token, then `score` (no bias),
    /// as HF's `LlamaForSequenceClassification` computes it (`DecoderClassifier`).
    case last

    /// Whether the head trains its own dense layer (H·H + H parameters besides the classifier).
    public var trainsDenseLayer: Bool { self == .dense }
}
