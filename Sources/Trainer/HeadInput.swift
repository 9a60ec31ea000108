/// What the classification/regression head reads from the encoder's last hidden state.
public enum HeadInput: String, CaseIterable, Sendable {
    /// HF's `BertForSequenceClassification`: tanh(W·h[CLS] + b) with the checkpoint's (frozen) pooler.
    case pooler
    /// The [CLS] hidden state itself.
    case cls
    /// The mean of the hidden states of the real (non-padding) tokens: how all-MiniLM-L6-v2 was trained.
    case mean
}
