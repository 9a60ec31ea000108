import Foundation
import Space
import Search
import Trainer

/// Trains and scores each candidate of a search with the shared `FineTuner`: weights and
/// tokenizer are loaded once and reused by every trial.
///
/// The run settings come from the space file's `model`, `task`, `head` and `training`;
/// `training.*` parameters of the configuration override them (e.g. a searched learning rate).
/// Every trial uses the file's `training.seed` when given (common random numbers make low-fidelity
/// comparisons between configurations less noisy), otherwise the trial's own seed.
final class TrainerEvaluator: Evaluator {
    let spec: StudySpec
    let base: RunConfig
    let fixedSeed: Bool
    let weights: BertWeights
    let tokenizer: WordPieceTokenizer
    let dims: ModelDimensions
    let progress: (String) -> Void

    init(spec: StudySpec, progress: @escaping (String) -> Void) throws {
        self.spec = spec
        self.progress = progress
        guard case .training(let dims, _) = spec.problem else { throw Study.Failure(message: "not a training study") }
        self.dims = dims
        // The run file the trainer would read, without a plan: model, task, head, training.
        var members: [(key: String, value: JSONValue)] = []
        for key in ["model", "task", "head", "training"] { if let v = spec.document[key] { members.append((key, v)) } }
        let dir = URL(fileURLWithPath: spec.directory.isEmpty ? "." : spec.directory).standardizedFileURL.path
        base = try RunConfig(reading: JSONReader(.object(members), file: spec.file), baseDirectory: dir)
        if case .object(let t)? = spec.document["training"] { fixedSeed = t.contains { $0.key == "seed" } } else { fixedSeed = false }
        let c = try BertConfig(contentsOf: base.model + "/config.json")
        weights = try BertWeights(config: c, safetensors: SafetensorsFile(path: base.model + "/model.safetensors"))
        tokenizer = try WordPieceTokenizer(directory: base.model)
    }

    final class TrialProgress: ProgressSink {
        let prefix: String
        let sink: (String) -> Void
        init(prefix: String, sink: @escaping (String) -> Void) { self.prefix = prefix; self.sink = sink }
        func report(_ line: String) { sink(prefix + line) }
    }

    func evaluate(_ candidate: Candidate, seed: UInt64, trial: Int) throws -> TrialOutcome {
        var run = base
        run.plan = try spec.plan(candidate)
        try run.plan.validate(for: dims)
        for (k, v) in candidate.config.map(PEFTSpace.overrides) ?? [:] {
            switch k {
            case "learning_rate": run.training.learningRate = v
            default: break
            }
        }
        if !fixedSeed { run.training.seed = seed }
        let tuner = FineTuner(config: run, weights: weights, tokenizer: tokenizer)
        let sink = TrialProgress(prefix: "  trial \(trial + 1): ", sink: progress)
        tuner.progress = sink
        let (result, _) = try tuner.run()
        var metrics = result.metrics
        metrics["train_seconds"] = result.trainSeconds
        metrics["final_loss"] = result.finalLoss
        metrics["peak_rss_mib"] = result.peakRSSMiB
        return TrialOutcome(values: ["score": result.score, "seconds": result.trainSeconds + result.evalSeconds], metrics: metrics)
    }

    /// Sensitivity scores of the space file's model and task (SPT now; DiffoRA by `DiffoRAScorer`).
    func sensitivity(method: String) throws -> SensitivityScores {
        let tuner = FineTuner(config: base, weights: weights, tokenizer: tokenizer)
        let p = spec.priors
        switch method {
        case "spt":
            return try SPTScorer.score(tuner: tuner, batches: p.batches, batchSize: p.batchSize, tau: p.tau) { self.progress("  " + $0) }
        default:
            throw Study.Failure(message: "unknown sensitivity method \(method)")
        }
    }
}
