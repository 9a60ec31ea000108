import JSONKit
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
public final class TrainerEvaluator: Evaluator {
    public let spec: StudySpec
    /// The run every candidate starts from: model, task, head and training, without a plan.
    public let base: RunConfig
    /// The run settings the search trained with (the space file's), before `final` overrides them.
    let searchRun: RunConfig
    /// Whether every trial trains with the space file's `training.seed` (when it gives one) rather
    /// than its request's seed. A re-evaluation, or `autopeft trial --training-seed`, sets it false.
    public var usesTheFilesSeed: Bool
    /// The final stage's settings when re-evaluating (they override searched learning rates too).
    let final: FinalStage?
    let model: BaseModel
    let source: ModelSource
    let tokenizer: any TextTokenizer
    let dims: ModelDimensions
    let progress: (String) -> Void
    /// Polled before each training step; true stops the trial and saves its state (preemption).
    public var stopRequested: (() -> Bool)?

    public init(spec: StudySpec, final: FinalStage? = nil, progress: @escaping (String) -> Void) throws {
        self.spec = spec
        self.progress = progress
        guard case .training(let dims, _) = spec.problem else { throw Study.Failure(message: "not a training study") }
        self.dims = dims
        var run = try Self.runConfig(spec)
        searchRun = run
        usesTheFilesSeed = Self.fixesTheSeed(spec) && final == nil
        if let final {
            // The final stage reports on dev, which a search with a validation split never saw.
            run.task.scoring = .dev
            run.training.trainExamples = final.trainExamples
            if let e = final.epochs { run.training.epochs = e }
            if let lr = final.learningRate { run.training.learningRate = lr }
            if let m = final.maxLength { run.task.maxLength = m }
        }
        base = run
        self.final = final
        (model, tokenizer, source) = try BaseModel.load(base.model)
    }

    /// True when search trial `t` trained exactly the run this (final-stage) evaluator trains for it
    /// with `seed`: at the target fidelity, with the same rows, epochs, learning rate, maximum length
    /// and training seed. Training is deterministic (the same bits on any thread count, in a worker
    /// or a Slurm job, continued from a cheaper prefix or not), so the trial's recorded score is that
    /// run's score and re-evaluation need not train it again.
    public func searchTrainedTheFinalRun(_ t: TrialRecord, seed: Int) -> Bool {
        guard let final, t.status == .finished else { return false }
        var rows = searchRun.training.trainExamples, epochs = searchRun.training.epochs
        if let settings = spec.fidelity {
            guard t.fidelity == settings.target else { return false }
            rows = settings.targetRows
            epochs = settings.targetEpochs
        }
        var searchRate = searchRun.training.learningRate, finalRate = base.training.learningRate
        if let rate = t.candidate.config.map(PEFTSpace.overrides)?["learning_rate"] {
            searchRate = rate
            if final.learningRate == nil { finalRate = rate }
        }
        // The search trained every trial with the file's training.seed when it gives one.
        let searchSeed = Self.fixesTheSeed(spec) ? searchRun.training.seed : t.seed
        return searchSeed == UInt64(seed) && rows == base.training.trainExamples && epochs == base.training.epochs
            && searchRate == finalRate && searchRun.task.maxLength == base.task.maxLength && searchRun.task.scoring == base.task.scoring
    }

    /// Whether the space file's `training.seed` fixes every search trial's training seed.
    static func fixesTheSeed(_ spec: StudySpec) -> Bool {
        if case .object(let t)? = spec.document["training"] { return t.contains { $0.key == "seed" } }
        return false
    }

    /// The run file the trainer would read for a space file, without a plan: model, task, head,
    /// training.
    static func runConfig(_ spec: StudySpec) throws -> RunConfig {
        var members: [(key: String, value: JSONValue)] = []
        for key in ["model", "task", "head", "training"] { if let v = spec.document[key] { members.append((key, v)) } }
        let dir = URL(fileURLWithPath: spec.directory.isEmpty ? "." : spec.directory).standardizedFileURL.path
        return try RunConfig(reading: JSONReader(.object(members), file: spec.file), baseDirectory: dir)
    }

    /// What predicting one class for every row trials are scored on (validation or dev) scores in a
    /// training space file (`FineTuner.constantPredictionScore`); nil for regression, or when the
    /// data cannot be read (a study folder moved without them). Reads the data only, no weights.
    public static func constantPredictionScore(_ spec: StudySpec) -> Double? {
        guard case .training = spec.problem, let run = try? runConfig(spec),
              let rows = try? FineTuner.evaluationExamples(run) else { return nil }
        return FineTuner.constantPredictionScore(examples: rows, task: run.task.spec)
    }

    /// The rows a space file's trials are scored on, as a study's journal records them: the
    /// validation split's indices (or file) and fingerprint; dev without a split.
    public static func selection(_ spec: StudySpec) throws -> SelectionSplit {
        guard case .training = spec.problem else { return .dev }
        let run = try runConfig(spec)
        guard let split = run.task.validation, run.task.scoring == .validation else { return .dev }
        guard split.seed != nil else {
            let rows = try FineTuner.evaluationExamples(run)
            let given = spec.document["task"]?["validation"]?["file"]?.plainText ?? "?"
            return .file(given, rows: rows.count, fingerprint: ValidationSplit.fingerprint(rows))
        }
        // One reading of the training file for the indices and the rows they name.
        let all = try DatasetReader.read(run.task.train, task: run.task.spec)
        let indices = try FineTuner.carvedIndices(split, rows: all, config: run) ?? []
        return .carved(indices: indices, seed: Int(split.seed ?? 0), fingerprint: ValidationSplit.fingerprint(indices.map { all[$0] }))
    }

    final class TrialProgress: ProgressSink {
        let prefix: String
        let sink: (String) -> Void
        init(prefix: String, sink: @escaping (String) -> Void) { self.prefix = prefix; self.sink = sink }
        func report(_ line: String) { sink(prefix + line) }
    }

    public func evaluate(_ request: TrialRequest) throws -> TrialOutcome {
        try evaluate(request, saveTo: nil)
    }

    /// Trains and scores; with `saveTo`, also keeps the trained candidate there (loadable by
    /// `autopeft predict`/`export`) and exports it as an HF PEFT or AdapterHub adapter into
    /// `saveTo/adapter` when one of those formats holds its modules.
    public func evaluate(_ request: TrialRequest, saveTo: String?) throws -> TrialOutcome {
        let (run, segment) = try runSettings(request)
        let tuner = FineTuner(config: run, base: model, tokenizer: tokenizer, source: source)
        // The tuner holds its progress sink weakly: this local keeps it alive through the run.
        let sink = TrialProgress(prefix: "  trial \(request.trial + 1): ", sink: progress)
        tuner.progress = sink
        tuner.stopRequested = stopRequested
        let (result, model) = try withExtendedLifetime(sink) { try tuner.run(segment) }
        if let dir = saveTo { try keep(model, config: run, result: result, in: dir, trial: request.trial) }
        var metrics = result.metrics
        if let from = result.resumedFromStep { metrics["resumed_from_step"] = Double(from) }
        metrics["steps"] = Double(result.steps)
        metrics["train_seconds"] = result.trainSeconds
        metrics["final_loss"] = result.finalLoss
        metrics["peak_rss_mib"] = result.peakRSSMiB
        return TrialOutcome(values: [Objective.Name.score: result.score, "seconds": result.trainSeconds + result.evalSeconds],
                            metrics: metrics)
    }

    /// The run a request trains: its candidate's plan, seed and learning rate, and the part of the
    /// target run that its fidelity stands for.
    func runSettings(_ request: TrialRequest) throws -> (RunConfig, TrainingSegment) {
        let candidate = request.candidate
        var run = base
        run.plan = try spec.plan(candidate)
        try run.plan.validate(for: dims)
        for (k, v) in candidate.config.map(PEFTSpace.overrides) ?? [:] {
            switch k {
            case "learning_rate": if final?.learningRate == nil { run.training.learningRate = v }
            default: break
            }
        }
        if !usesTheFilesSeed || request.ownSeed { run.training.seed = request.seed }
        var segment = TrainingSegment.whole
        if let settings = spec.fidelity, let f = request.fidelity, request.cheapRuns == .annealed, f < settings.target {
            // An annealed cheap run: a run of its own, its schedule decaying over its own examples.
            (run.training.trainExamples, run.training.epochs) = settings.annealedRun(f)
        } else if let settings = spec.fidelity, let f = request.fidelity {
            // A prefix of the target run (or the whole of it): train that run, stopping early.
            run.training.trainExamples = settings.targetRows
            run.training.epochs = settings.targetEpochs
            segment = TrainingSegment(stopAfterShare: Double(f.examples) / Double(settings.target.examples),
                                      resumeFrom: request.resume.flatMap { request.checkpoint(of: $0.trial) },
                                      checkpointTo: f < settings.target ? request.checkpoint(of: request.trial) : nil)
            segment.coolDownShare = settings.coolDown
        }
        segment.preemptTo = request.preemptTo
        return (run, segment)
    }

    /// Keeps a trained candidate in `dir` and exports its adapter into `dir/adapter` where a single
    /// format holds its modules. An export that fails is reported, not thrown: the candidate is kept.
    func keep(_ trained: any TrainableModel, config run: RunConfig, result: TrainResult, in dir: String, trial: Int) throws {
        try CandidateArchive.save(trained, config: run, result: result, to: dir)
        let p = run.plan
        let mixed = p.methods.count > 1
        if mixed {
            progress("  trial \(trial + 1): no single HF PEFT / AdapterHub format holds this mix of modules; kept as an "
                + "autopeft candidate in \(dir)")
            return
        }
        do {
            let (_, notes) = try CandidateExport.write(trained, config: run, to: dir + "/adapter")
            for n in notes { progress("  trial \(trial + 1): export note: \(n)") }
        } catch {
            progress("  trial \(trial + 1): export failed: \(error)")
        }
    }

    /// Sensitivity scores of the space file's model and task (SPT now; DiffoRA by `DiffoRAScorer`).
    public func sensitivity(method: SensitivityScores.Method) throws -> (SensitivityScores, [(key: String, value: JSONValue)]) {
        let tuner = FineTuner(config: base, base: model, tokenizer: tokenizer, source: source)
        let p = spec.priors
        switch method {
        case .spt:
            return (try SPTScorer.score(tuner: tuner, batches: p.batches, batchSize: p.batchSize,
                                        tau: p.tau) { self.progress("  " + $0) }, [])
        case .diffora:
            let supernet = Self.supernet(spec.space)
            let (gates, selected, scores) = try DiffoRAScorer.score(tuner: tuner, supernet: supernet, steps: p.steps,
                                                                    rho: p.rho) { self.progress("  " + $0) }
            func row(_ g: DiffoRAScorer.Gate) -> JSONValue {
                .object([("layer", .number(g.layer)), ("module", .string(g.module)), ("gate", .number(g.value)),
                         ("parameters", .number(g.parameters))])
            }
            return (scores, [("supernet", supernet.json), ("gates", .array(gates.map(row))),
                             ("selected_top_rho", .array(selected.map(row)))])
        default:
            throw Study.Failure(message: "unknown sensitivity method \(method)")
        }
    }

    /// DiffoRA's supernet for a space: every module kind the space can switch on, in every layer,
    /// at the middle of its non-zero sizes (LoRA on every target the space offers).
    static func supernet(_ space: SearchSpace) -> PEFTPlan {
        func middle(_ name: String) -> Int? {
            let values: [Double]
            switch space.parameter(name)?.domain {
            case .ordinal(let v, _)?: values = v
            case .integer(let lo, let hi, _)?: values = [Double(lo), Double(hi)]
            case .fixed(.number(let x))?: values = [x]
            default:
                // Per-layer sizes: the union of layer 0's values.
                if case .ordinal(let v, _)? = space.parameter(name + "[0]")?.domain { values = v } else { return nil }
            }
            let pos = values.filter { $0 > 0 }.sorted()
            return pos.isEmpty ? nil : Int(pos[pos.count / 2])
        }
        return PEFTPlan(methods: PEFTMethodKind.all.compactMap { $0.supernet?(middle, space) })
    }
}
