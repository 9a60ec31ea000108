/// The metrics a causal-LM task reports, as its run and space files name them: `loss` (mean
/// negative log-likelihood of the response tokens, nats), `perplexity` (its exp),
/// `token_accuracy` (response tokens the model predicts under teacher forcing) and
/// `exact_match` (greedy generation equal to the reference, both trimmed).
public enum LanguageModelingMetrics {
    public static let all = ["loss", "perplexity", "token_accuracy", "exact_match"]
    /// Lower is better for these: a study scored by one minimises its score.
    public static let lowerIsBetter: Set<String> = ["loss", "perplexity"]
}
