import JSONKit
import Foundation
import Space

/// The outcome of one training run: what `autopeft train` prints and a search records.
public struct TrainResult: Sendable {
    public var task: String
    public var metric: String
    public var score: Double
    public var metrics: [String: Double]
    public var trainableParameters: Int
    public var totalParameters: Int
    public var trainExamples: Int
    /// The rows scored: dev's, or (`scoredOn` validation) the validation split's.
    public var devExamples: Int
    public var scoredOn: ValidationSplit.Scoring = .dev
    public var epochs: Int
    public var steps: Int
    public var finalLoss: Double
    public var trainSeconds: Double
    public var evalSeconds: Double
    public var trainExamplesPerSecond: Double
    public var peakRSSMiB: Double
    public var seed: UInt64
    /// The step this process continued from (a checkpoint of an earlier segment); nil when it
    /// trained from the start.
    public var resumedFromStep: Int?

    public func json(extra: [(String, JSONValue)] = []) -> JSONValue {
        func r(_ x: Double, _ digits: Double = 1e6) -> JSONValue { .number((x * digits).rounded() / digits) }
        return .object([
            ("task", .string(task)), ("metric", .string(metric)), ("score", r(score)),
            ("metrics", .object(metrics.sorted { $0.key < $1.key }.map { ($0.key, r($0.value)) })),
            ("trainable_params", .number(trainableParameters)), ("total_params", .number(totalParameters)),
            ("train_examples", .number(trainExamples)), ("\(scoredOn.rawValue)_examples", .number(devExamples)),
            ("scored_on", .string(scoredOn.rawValue)),
            ("epochs", .number(epochs)), ("steps", .number(steps)), ("final_loss", r(finalLoss)),
            ("train_seconds", r(trainSeconds, 100)), ("eval_seconds", r(evalSeconds, 100)),
            ("train_examples_per_s", r(trainExamplesPerSecond, 100)), ("peak_rss_mib", r(peakRSSMiB, 10)),
            ("seed", .number(Int(seed))),
        ] + (resumedFromStep.map { [("resumed_from_step", .number($0))] } ?? []) + extra)
    }
}

/// Reports progress of a run; the CLI prints it to stderr.
public protocol ProgressSink: AnyObject {
    func report(_ line: String)
}

/// Trains a candidate (a PEFT plan on a frozen model) and evaluates it: the one trainer behind
/// `autopeft train`, every search trial and every re-evaluation.
public final class FineTuner {
    public let config: RunConfig
    /// The frozen model, an encoder or a decoder.
    public let base: BaseModel
    public let tokenizer: any TextTokenizer
    /// Where the weights came from (a frozen-prefix cache file's key); nil for weights built in memory.
    public let source: ModelSource?
    public weak var progress: ProgressSink?
    /// Polled before each step: true asks the run to stop, save its state (`TrainingSegment.preemptTo`)
    /// and throw `.interrupted` (a cluster's preemption signal).
    public var stopRequested: (() -> Bool)?

    public init(config: RunConfig, base: BaseModel, tokenizer: any TextTokenizer, source: ModelSource? = nil) {
        self.config = config
        self.base = base
        self.tokenizer = tokenizer
        self.source = source
    }

    /// An encoder's run (weights built in memory, or loaded by the caller).
    public convenience init(config: RunConfig, weights: BertWeights, tokenizer: any TextTokenizer) {
        self.init(config: config, base: .encoder(weights), tokenizer: tokenizer)
    }

    /// Loads the model and its tokenizer from the run's model path (`BaseModel.load`).
    public convenience init(config: RunConfig) throws(TrainerError) {
        let (model, tokenizer, source) = try BaseModel.load(config.model)
        self.init(config: config, base: model, tokenizer: tokenizer, source: source)
    }

    /// The classifier of the run's plan and head on the frozen model, not yet initialised.
    public func makeClassifier() throws(TrainerError) -> any SequenceClassifier {
        try base.classifier(plan: config.plan, labels: config.task.spec.labelCount, head: config.head)
    }

    /// What the run's task trains: the classifier, or for a causal-LM task the decoder with the
    /// plan's modules and its own output head.
    public func makeModel() throws(TrainerError) -> any TrainableModel {
        guard config.task.spec.isLanguageModeling else { return try makeClassifier() }
        return try base.languageModel(plan: config.plan)
    }

    /// Encodes examples at the task's max length, capped by the model's positions (less a shifted prefix).
    public func encode(_ examples: [Example]) -> [WordPieceTokenizer.Encoding] {
        let maxLen = min(config.task.maxLength, base.textPositions - (config.plan.prefix?.positionOffset ?? 0))
        return examples.map { tokenizer.encode($0.textA, $0.textB, maxLength: maxLen) }
    }

    /// Reads the training rows the settings select (first N, or a seeded random N) among those a
    /// carved validation split leaves (`ValidationSplit`).
    public func trainingExamples() throws(TrainerError) -> [Example] {
        var rows = try Self.trainingPool(config)
        guard !rows.isEmpty else { throw .file(path: config.task.train, message: "no training rows") }
        if let n = config.training.trainExamples, n < rows.count {
            if config.training.sample == "random" {
                var rng = RandomSource(seed: config.training.seed, stream: "sample")
                rows.shuffle(using: &rng)
            }
            rows = Array(rows.prefix(n))
        }
        return rows
    }

    public func devExamples() throws(TrainerError) -> [Example] { try Self.devExamples(config) }

    /// The rows a run is scored on: the validation split's when the task scores there
    /// (`TaskSource.scoring`), else dev.
    public static func evaluationExamples(_ config: RunConfig) throws(TrainerError) -> [Example] {
        guard config.task.scoring == .validation, let split = config.task.validation else { return try devExamples(config) }
        let (rows, path) = try validationRows(config, split)
        guard !rows.isEmpty else { throw .file(path: path, message: "no validation rows") }
        return rows
    }

    /// The training file's rows less those a carved split holds out (all of them otherwise).
    public static func trainingPool(_ config: RunConfig) throws(TrainerError) -> [Example] {
        let rows = try DatasetReader.read(config.task.train, task: config.task.spec)
        guard let split = config.task.validation, let held = try carvedIndices(split, rows: rows, config: config) else { return rows }
        let out = Set(held)
        return rows.indices.filter { !out.contains($0) }.map { rows[$0] }
    }

    /// A split's rows and the file they come from.
    static func validationRows(_ config: RunConfig, _ split: ValidationSplit) throws(TrainerError) -> ([Example], String) {
        if case .file(let path) = split.source { return (try DatasetReader.read(path, task: config.task.spec), path) }
        let rows = try DatasetReader.read(config.task.train, task: config.task.spec)
        return ((try carvedIndices(split, rows: rows, config: config) ?? []).map { rows[$0] }, config.task.train)
    }

    /// The training-file indices a carved split holds out (nil for a split of its own file), and
    /// what identifies them: for a study's journal, so that a changed file is noticed on resume.
    public static func carvedIndices(_ split: ValidationSplit, rows: [Example], config: RunConfig) throws(TrainerError) -> [Int]? {
        guard let count = split.carvedCount(total: rows.count), let seed = split.seed else { return nil }
        guard count >= 1, count < rows.count else {
            throw .file(path: config.task.train, message: "task.validation: \(count) validation rows of \(rows.count) training rows "
                + "leave \(count < 1 ? "no validation rows" : "no training rows"); hold out fewer (at most \(rows.count - 1))")
        }
        return ValidationSplit.carve(rows, count: count, seed: seed)
    }

    /// The dev rows a run is scored on (the first `training.dev_examples`, or all).
    public static func devExamples(_ config: RunConfig) throws(TrainerError) -> [Example] {
        var rows = try DatasetReader.read(config.task.dev, task: config.task.spec)
        if let n = config.training.devExamples { rows = Array(rows.prefix(n)) }
        guard !rows.isEmpty else { throw .file(path: config.task.dev, message: "no dev rows") }
        return rows
    }

    /// Batches of indices for one epoch: shuffled, then (with length grouping) sorted by length
    /// inside windows of 50 batches and the batches shuffled again, so padding stays small
    /// while the order stays random.
    public static func epochBatches(lengths: [Int], batchSize: Int, grouping: Bool, rng: inout RandomSource) -> [[Int]] {
        var order = Array(lengths.indices)
        order.shuffle(using: &rng)
        guard grouping else { return stride(from: 0, to: order.count, by: batchSize).map { Array(order[$0..<min($0 + batchSize,
            order.count)]) } }
        let window = batchSize * 50
        var batches: [[Int]] = []
        for w in stride(from: 0, to: order.count, by: window) {
            let chunk = order[w..<min(w + window, order.count)].sorted { lengths[$0] > lengths[$1]
                || (lengths[$0] == lengths[$1] && $0 < $1) }
            for s in stride(from: 0, to: chunk.count, by: batchSize) { batches.append(Array(chunk[s..<min(s + batchSize, chunk.count)])) }
        }
        batches.shuffle(using: &rng)
        return batches
    }

    /// The optimiser steps of the whole run: ⌈rows / batch⌉ per epoch.
    public func totalSteps(rows: Int) -> Int {
        let t = config.training
        return (rows + t.batchSize - 1) / t.batchSize * t.epochs
    }

    /// FNV-1a of the run configuration: what a checkpoint must match to be continued.
    public var fingerprint: String { String(FNV1a.hash(config.json.serialized()), radix: 16) }

    /// Builds the model for the run's plan, trains it (the whole run, or the segment asked for)
    /// and evaluates on dev.
    public func run(_ segment: TrainingSegment = .whole) throws(TrainerError) -> (TrainResult, any TrainableModel) {
        let t = config.training
        let spec = config.task.spec
        let model = try makeModel()
        try model.initialize(seed: t.seed)
        let train = try trainingExamples()
        let dev = try Self.evaluationExamples(config)
        let (trainEnc, objective) = try trainingData(model: model, examples: train)
        let cacheStart = Date()
        let trainCache = try prefixCache(model: model, encodings: trainEnc)
        let cacheSeconds = Date().timeIntervalSince(cacheStart)
        let run = TrainingRun(tuner: self, model: model, objective: objective, examples: train, encodings: trainEnc, cache: trainCache)
        for dir in [segment.preemptTo, segment.resumeFrom].compactMap({ $0 }) where run.step == 0 {
            guard FileManager.default.fileExists(atPath: dir + "/state.json") || dir == segment.resumeFrom else { continue }
            let (checkpoint, reason) = TrainingCheckpoint.read(dir, fingerprint: fingerprint)
            if let checkpoint, checkpoint.step <= segment.stop(total: run.totalSteps), run.restore(checkpoint) {
                progress?.report("continuing from step \(checkpoint.step) (\(dir))")
            } else if dir == segment.resumeFrom {
                progress?.report("starting over: \(reason.isEmpty ? "the checkpoint does not fit this model" : reason)")
            }
        }
        let resumedFrom = run.step > 0 ? run.step : nil
        let start = Date()
        let stop = segment.stop(total: run.totalSteps)
        let seen = try trainSegment(run, segment: segment, stop: stop)
        let trainSeconds = Date().timeIntervalSince(start) + cacheSeconds
        let evalStart = Date()
        let metrics = try self.metrics(model: model, examples: dev, useCache: trainCache != nil)
        let evalSeconds = Date().timeIntervalSince(evalStart)
        let result = TrainResult(
            task: spec.name, metric: spec.primaryMetric, score: metrics[spec.primaryMetric] ?? .nan, metrics: metrics,
            trainableParameters: model.trainableParameters, totalParameters: model.totalParameters,
            trainExamples: train.count, devExamples: dev.count, scoredOn: config.task.scoring, epochs: t.epochs, steps: run.step, finalLoss: run.lastLoss,
            trainSeconds: trainSeconds, evalSeconds: evalSeconds,
            trainExamplesPerSecond: Double(seen) / max(trainSeconds, 1e-9), peakRSSMiB: peakRSSMiB(), seed: t.seed,
            resumedFromStep: resumedFrom)
        return (result, model)
    }

    /// The training rows' tokens and what a step computes on them, for the model's task.
    func trainingData(model: any TrainableModel, examples: [Example]) throws(TrainerError) -> ([TokenEncoding], any TrainingObjective) {
        if let lm = model as? DecoderLanguageModel {
            let enc = try languageModelingEncodings(examples)
            return (enc.map(\.tokens), LanguageModelingObjective(model: lm, encodings: enc))
        }
        guard let classifier = model as? any SequenceClassifier else { throw .model("no training objective for \(type(of: model))") }
        return (encode(examples), ClassificationObjective(model: classifier, examples: examples, task: config.task.spec,
                                                          batchSize: config.training.batchSize))
    }

    /// The dev metrics of a trained model, whatever its task.
    public func metrics(model: any TrainableModel, examples: [Example], useCache: Bool = false) throws(TrainerError) -> [String: Double] {
        if let lm = model as? DecoderLanguageModel { return try evaluate(languageModel: lm, examples: examples, useCache: useCache) }
        return try evaluate(model: model, examples: examples, useCache: useCache).0
    }

    /// Trains `run` to `stop`, keeps the segment's checkpoint there and, when the segment asks for
    /// one, cools down on a branch for evaluation; returns the examples seen. A stop requested
    /// before the end saves the state to continue from (in the branch: the stop's) and throws.
    func trainSegment(_ run: TrainingRun, segment: TrainingSegment, stop: Int) throws(TrainerError) -> Int {
        func preempt(_ state: TrainingCheckpoint) throws(TrainerError) -> Never {
            guard let dir = segment.preemptTo else { throw .interrupted(step: state.step, checkpoint: "(nowhere: no preemption folder)") }
            try state.write(to: dir)
            throw .interrupted(step: state.step, checkpoint: dir)
        }
        var seen = try run.train(until: stop)
        if run.step < stop { try preempt(run.checkpoint()) }
        let coolDown = segment.coolDownSteps(stop: stop, total: run.totalSteps)
        guard segment.checkpointTo != nil || coolDown > 0 else { return seen }
        let atStop = run.checkpoint()
        if let dir = segment.checkpointTo { try atStop.write(to: dir) }
        guard coolDown > 0 else { return seen }
        progress?.report("cooling down: \(coolDown) steps, the learning rate to zero, for evaluation")
        seen += try run.coolDown(steps: coolDown)
        // Stopped in the branch: the next attempt continues from the stop and cools down again.
        if run.step < stop + coolDown { try preempt(atStop) }
        return seen
    }

    /// The frozen-prefix cache for a model's lowest adapted layer, when it applies and fits the limit:
    /// a file in `cache_dir` when one is set (reused by any run or process with the same key), else memory.
    func prefixCache(model: any TrainableModel, encodings: [TokenEncoding]) throws(TrainerError) -> FrozenPrefixCache? {
        let t = config.training
        let L = model.lowestTrainableLayer
        guard t.frozenPrefixCache, L > 0 else { return nil }
        let bytes = FrozenPrefixCache.bytes(lengths: encodings.map(\.ids.count), hiddenSize: model.hiddenSize,
                                            precision: t.cachePrecision)
        guard bytes <= t.cacheLimitMiB << 20 else {
            progress?.report("frozen-prefix cache skipped: \(bytes >> 20) MiB exceeds cache_limit_mib \(t.cacheLimitMiB)")
            return nil
        }
        guard let dir = t.cacheDirectory else {
            progress?.report("frozen-prefix cache: layers 0-\(L - 1) once for \(encodings.count) rows (\(bytes >> 20) MiB in memory)")
            return try FrozenPrefixCache(model: model, encodings: encodings, layer: L, padId: tokenizer.padId, precision: t.cachePrecision)
        }
        try OutputFiles.createFolder(dir)
        let path = dir + "/prefix-L\(L)-\(cacheKey(encodings: encodings, layer: L)).\(t.cachePrecision.rawValue)"
        let existed = FileManager.default.fileExists(atPath: path)
        progress?.report("frozen-prefix cache: \(existed ? "reusing" : "writing") \(path) (\(bytes >> 20) MiB, layers 0-\(L - 1))")
        return try FrozenPrefixCache(model: model, encodings: encodings, layer: L, padId: tokenizer.padId,
                                     precision: t.cachePrecision, file: path)
    }

    /// FNV-1a over the model's identity (weights path, size, modification time), the layer and
    /// every token id, which fixes the data, the row selection and the max length.
    func cacheKey(encodings: [WordPieceTokenizer.Encoding], layer: Int) -> String {
        var fnv = FNV1a()
        func mix(_ v: UInt64) { fnv.mix(v) }
        let weights = source?.weightsFile ?? config.model + "/model.safetensors"
        for b in (URL(fileURLWithPath: weights).standardizedFileURL.path).utf8 { mix(UInt64(b)) }
        if let a = try? FileManager.default.attributesOfItem(atPath: weights) {
            mix(UInt64((a[.size] as? Int) ?? 0))
            mix(UInt64(((a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0) * 1000))
        }
        mix(UInt64(layer))
        mix(UInt64(config.plan.prefix?.positionOffset ?? 0))  // shifts every position
        for e in encodings {
            mix(UInt64(e.ids.count))
            for (i, t) in zip(e.ids, e.typeIds) { mix(UInt64(UInt32(bitPattern: i)) | UInt64(UInt32(bitPattern: t)) << 32) }
        }
        return String(fnv.value, radix: 16)
    }

    /// Runs the model without dropout on `examples` (sorted by length into batches) and scores it.
    /// Returns the metrics and the raw outputs [rows × labels] in the examples' order. With
    /// `useCache` the frozen layers run once for all rows (eval has no dropout, so it is exact).
    public func evaluate(model: any TrainableModel, examples: [Example],
                         useCache: Bool = false) throws(TrainerError) -> ([String: Double], [[Float]]) {
        let outputs = try predict(model: model, examples: examples, useCache: useCache)
        return (FineTuner.score(outputs: outputs, examples: examples, task: config.task.spec), outputs)
    }

    /// The model's outputs [rows × labels] (logits, or the regression value) in the examples' order.
    /// With `progress`, the rows done, their rate and the time left every 2 seconds and at the end
    /// (for `autopeft predict` on a large file; a trial's dev evaluation stays quiet).
    public func predict(model trained: any TrainableModel, examples: [Example], useCache: Bool = false,
                        progress: ProgressSink? = nil) throws(TrainerError) -> [[Float]] {
        guard let model = trained as? any SequenceClassifier else {
            throw .model("a causal-LM model's outputs are generations (FineTuner.generate), not logits")
        }
        let enc = encode(examples)
        let cache = useCache ? try prefixCache(model: model, encodings: enc) : nil
        let order = enc.indices.sorted { enc[$0].ids.count < enc[$1].ids.count }
        var outputs = [[Float]](repeating: [], count: examples.count)
        var rng = RandomSource(seed: 0)
        let C = model.labels
        let start = Date()
        var lastReport = start
        for s in stride(from: 0, to: order.count, by: config.training.evalBatchSize) {
            let idx = Array(order[s..<min(s + config.training.evalBatchSize, order.count)])
            let logits = try model.forward(TokenBatch(idx.map { enc[$0] }, padId: tokenizer.padId), training: false, rng: &rng,
                                           cache: cache, rows: idx)
            for (r, i) in idx.enumerated() { outputs[i] = Array(UnsafeBufferPointer(start: logits + r * C, count: C)) }
            let done = s + idx.count, now = Date()
            if let progress, now.timeIntervalSince(lastReport) >= 2 || done == order.count {
                lastReport = now
                let elapsed = now.timeIntervalSince(start)
                progress.report(String(format: "rows %d/%d  %.1f rows/s  ETA %@", done, order.count, Double(done) / elapsed,
                                       formatTimeLeft(elapsed: elapsed, done: done, left: order.count - done)))
            }
        }
        return outputs
    }

    public static func score(outputs: [[Float]], examples: [Example], task: TaskSpec) -> [String: Double] {
        if task.isRegression {
            let p = outputs.map { Double($0[0]) }
            let g = examples.map { e -> Double in if case .value(let v) = e.label { return v }; return .nan }
            return ["pearson": Metrics.pearson(p, g), "spearman": Metrics.spearman(p, g)]
        }
        let p = outputs.map { o in o.indices.max { o[$0] < o[$1] } ?? 0 }
        let g = examples.map { e -> Int in if case .classIndex(let c) = e.label { return c }; return -1 }
        var m = ["accuracy": Metrics.accuracy(p, g), "mcc": Metrics.matthews(p, g)]
        if task.labelCount == 2 { m["f1"] = Metrics.f1(p, g) }
        return m
    }
}

extension FineTuner {
    /// The task's score when one class is predicted for every example, the best class: what a run
    /// that learned nothing scores (the majority class's accuracy; for MRPC's F1, predicting
    /// "paraphrase" everywhere). Nil for regression, where a constant has no correlation, and for causal-LM tasks.
    public static func constantPredictionScore(examples: [Example], task: TaskSpec) -> Double? {
        guard !task.isRegression, !task.isLanguageModeling, !examples.isEmpty else { return nil }
        return (0..<task.labelCount).compactMap { c -> Double? in
            let oneHot = (0..<task.labelCount).map { Float($0 == c ? 1 : 0) }
            return score(outputs: Array(repeating: oneHot, count: examples.count), examples: examples, task: task)[task.primaryMetric]
        }.max()
    }
}

/// Peak resident set size of this process, in MiB (getrusage).
public func peakRSSMiB() -> Double {
    var u = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &u)
    return Double(u.ru_maxrss) / 1024
}

/// The time left, paced by the work done so far: `done` units took `elapsed` seconds, `left` remain.
public func formatTimeLeft(elapsed: Double, done: Int, left: Int) -> String {
    formatDuration(elapsed / Double(max(done, 1)) * Double(left))
}

public func formatDuration(_ s: Double) -> String {
    guard s.isFinite else { return "?" }
    let t = Int(s.rounded())
    return t >= 3600 ? String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) : String(format: "%dm%02ds", t / 60, t % 60)
}
