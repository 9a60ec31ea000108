import JSONKit
import Foundation
import Space

/// Training settings of one run (protocol P by default, except the learning rate and sample size
/// that a run file usually sets).
public struct TrainingSettings: Equatable, Sendable {
    public var epochs = 3
    public var batchSize = 32
    public var evalBatchSize = 64
    public var learningRate = 5e-4
    public var weightDecay = 0.01
    public var warmupFraction = 0.06
    public var maxGradNorm = 1.0
    /// Use at most this many training rows (nil: all).
    public var trainExamples: Int?
    /// "first" rows of the file, or a seeded "random" sample.
    public var sample = "first"
    /// Use at most this many dev rows (nil: the full dev set).
    public var devExamples: Int?
    public var seed: UInt64 = 0
    /// Batch rows of similar length (within shuffled windows of 50 batches) to cut padding.
    public var lengthGrouping = true
    /// Reuse the hidden states entering the lowest adapted layer (computed once, dropout off below it).
    public var frozenPrefixCache = true
    /// The cache is skipped (with a note on stderr) when it would need more than this.
    public var cacheLimitMiB = 4096
    /// Float32, or Float16 to halve the cache's memory.
    public var cachePrecision = FrozenPrefixCache.Precision.fp32
    /// When set, caches are files here (mapped, shared by every process with the same key).
    public var cacheDirectory: String?
    public init() {}
}

/// A task: its spec, files and maximum length.
public struct TaskSource: Equatable, Sendable {
    public var spec: TaskSpec
    public var train: String
    public var dev: String
    public var maxLength: Int
    /// Rows held apart from dev to score a search's trials (`task.validation`); nil: none.
    public var validation: ValidationSplit? = nil
    /// Which rows score a run: `.validation` when the task has a split (a search's trials, `train`),
    /// `.dev` otherwise and in the final stage (`task.score_on`).
    public var scoring: ValidationSplit.Scoring = .dev
}

/// Everything `autopeft train` needs: model directory, task, PEFT plan, head and training settings.
public struct RunConfig: Equatable, Sendable {
    public var model: String
    public var task: TaskSource
    public var plan: PEFTPlan
    public var head: HeadInput
    public var training: TrainingSettings

    public init(model: String, task: TaskSource, plan: PEFTPlan, head: HeadInput, training: TrainingSettings) {
        self.model = model; self.task = task; self.plan = plan; self.head = head; self.training = training
    }

    /// Reads a run file; relative paths resolve against the file's folder.
    public init(contentsOf path: String) throws(TrainerError) {
        let root = try readJSONFile(path, what: "run file")
        // Absolute, so that a saved candidate's run.json works from anywhere.
        let base = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent().path
        do { try self.init(reading: JSONReader(root, file: path), baseDirectory: base) } catch { throw .config(error) }
    }

    public init(reading r: JSONReader, baseDirectory: String) throws(ConfigError) {
        func resolve(_ p: String) -> String {
            let joined = p.hasPrefix("/") || baseDirectory.isEmpty ? p : (baseDirectory as NSString).appendingPathComponent(p)
            return (joined as NSString).standardizingPath
        }
        model = resolve(try r.required("model").string())
        task = try RunConfig.readTask(try r.required("task"), resolve: resolve)
        plan = try PEFTPlan(reading: try r.optional("peft") ?? JSONReader(.object([]), path: "peft", file: r.file))
        // Without a head, the model's own (`BaseModel.defaultHead`): the pooler on an encoder, the last token on a decoder.
        if let h = try r.optional("head") { head = HeadInput(rawValue: try h.choice(HeadInput.allCases.map(\.rawValue)))! }
        else { head = BaseModel.defaultHead(model: model) }
        training = TrainingSettings()
        if let t = try r.optional("training") {
            if let v = try t.optional("epochs") { training.epochs = try v.int(in: 1...10_000, what: "a number of epochs") }
            if let v = try t.optional("batch_size") { training.batchSize = try v.int(in: 1...65_536, what: "a batch size") }
            if let v = try t.optional("eval_batch_size") { training.evalBatchSize = try v.int(in: 1...65_536, what: "a batch size") }
            if let v = try t.optional("learning_rate") { training.learningRate = try v.double(in: 0...10, what: "a learning rate") }
            if let v = try t.optional("weight_decay") { training.weightDecay = try v.double(in: 0...10, what: "a weight decay") }
            if let v = try t.optional("warmup_fraction") { training.warmupFraction = try v.double(in: 0...1, what: "a fraction") }
            if let v = try t.optional("max_grad_norm") { training.maxGradNorm = try v.double(in: 0...1e9,
                what: "a norm (0 disables clipping)") }
            if let v = try t.optional("train_examples") { training.trainExamples = try v.int(in: 1...100_000_000, what: "a row count") }
            if let v = try t.optional("dev_examples") { training.devExamples = try v.int(in: 1...100_000_000, what: "a row count") }
            if let v = try t.optional("sample") { training.sample = try v.choice(["first", "random"]) }
            if let v = try t.optional("seed") { training.seed = UInt64(try v.int(in: 0...Int(Int32.max), what: "a seed")) }
            if let v = try t.optional("length_grouping") { training.lengthGrouping = try v.bool() }
            if let v = try t.optional("frozen_prefix_cache") { training.frozenPrefixCache = try v.bool() }
            if let v = try t.optional("cache_limit_mib") { training.cacheLimitMiB = try v.int(in: 0...1_000_000, what: "a size in MiB") }
            if let v = try t.optional("cache_precision") {
                training.cachePrecision = FrozenPrefixCache.Precision(rawValue: try v.choice(["fp32", "fp16"]))!
            }
            if let v = try t.optional("cache_dir") { training.cacheDirectory = resolve(try v.string()) }
            try t.finish()
        }
        try r.finish()
    }

    static func readTask(_ t: JSONReader, resolve: (String) -> String) throws(ConfigError) -> TaskSource {
        let format = try t.optional("format")?.choice(["glue", "tsv", "csv", "jsonl"]) ?? "glue"
        if try t.optional("type")?.choice(["classification", "causal_lm"]) == "causal_lm" {
            return try readLanguageModelingTask(t, format: format, resolve: resolve)
        }
        var spec: TaskSpec
        if format == "glue" {
            let nameR = try t.required("name")
            let name = try nameR.string()
            guard let s = TaskSpec.glue(name) else {
                var msg = "unknown GLUE task \"\(name)\"; expected one of \(TaskSpec.glueNames.joined(separator: ", "))"
                if let m = didYouMean(name, among: TaskSpec.glueNames) { msg += " (did you mean \"\(m)\"?)" }
                throw nameR.error(msg)
            }
            spec = s
        } else {
            func column(_ r: JSONReader) throws(ConfigError) -> TaskSpec.Column {
                if case .string(let s) = r.value { return .name(s) }
                return .index(try r.int(in: -1000...1000, what: "a column index"))
            }
            let fmt = TaskSpec.Format(rawValue: format)!
            let textA = try column(try t.required("text"))
            let textB = try t.optional("text_pair").map { r throws(ConfigError) in try column(r) }
            let label = try column(try t.required("label"))
            var classes: [String]? = nil
            if let c = try t.optional("classes") { classes = try c.array().map { r throws(ConfigError) in try r.string() } }
            let regression = try t.optional("regression")?.bool() ?? false
            if regression && classes != nil { throw t.error("\"regression\": true and \"classes\" exclude each other", at: "task.classes") }
            if !regression
                && classes == nil { throw t.error("missing \"classes\" (the label values in index order) or \"regression\": true",
                at: "task.classes") }
            let hasHeader = try t.optional("header")?.bool() ?? (fmt != .jsonl)
            if fmt == .jsonl {
                for (c, k) in [(textA, "text"),
                               (label, "label")] { if case .index = c { throw t.error("JSONL fields are named, not indexed",
                               at: "task.\(k)") } }
            }
            let metric = try t.optional("metric")?.choice(["accuracy", "f1", "mcc", "pearson", "spearman"])
                ?? (regression ? "pearson" : "accuracy")
            spec = TaskSpec(name: try t.optional("name")?.string() ?? "custom", format: fmt, hasHeader: hasHeader, textA: textA,
                            textB: textB, label: label, classes: classes, primaryMetric: metric)
        }
        if format == "glue", let m = try t.optional("metric") { spec.primaryMetric = try m.choice(["accuracy", "f1", "mcc",
            "pearson", "spearman"]) }
        let train = resolve(try t.required("train").string())
        let dev = resolve(try t.required("dev").string())
        let maxLength = try t.optional("max_length")?.int(in: 3...100_000, what: "a maximum length") ?? 128
        var source = TaskSource(spec: spec, train: train, dev: dev, maxLength: maxLength)
        try readValidation(t, into: &source, resolve: resolve)
        try t.finish()
        return source
    }

    /// `task.validation` and `task.score_on` (default: the validation rows when there are any).
    static func readValidation(_ t: JSONReader, into source: inout TaskSource, resolve: (String) -> String) throws(ConfigError) {
        source.validation = try t.optional("validation").map { r throws(ConfigError) in try ValidationSplit(reading: r, resolve: resolve) }
        source.scoring = source.validation == nil ? .dev : .validation
        if let s = try t.optional("score_on") {
            source.scoring = ValidationSplit.Scoring(rawValue: try s.choice(ValidationSplit.Scoring.allCases.map(\.rawValue)))!
            if source.scoring == .validation && source.validation == nil {
                throw s.error("\"score_on\": \"validation\" needs a \"validation\" split (rows, fraction or file)")
            }
        }
    }

    /// `"type": "causal_lm"`: JSONL rows of `prompt`/`response` or `messages`, scored by `metric`
    /// (`LanguageModelingMetrics.all`; default `exact_match` when `max_new_tokens` > 0, else
    /// `loss`), with `max_new_tokens` (default 0) for greedy generation.
    static func readLanguageModelingTask(_ t: JSONReader, format: String, resolve: (String) -> String) throws(ConfigError) -> TaskSource {
        guard format == "jsonl" else {
            throw t.error("a causal_lm task reads JSONL rows ({\"prompt\", \"response\"} or {\"messages\"}): expected \"format\": "
                + "\"jsonl\", not \"\(format)\"", at: "task.format")
        }
        let maxNew = try t.optional("max_new_tokens")?.int(in: 0...4096, what: "a token count") ?? 0
        let metricReader = try t.optional("metric")
        let metric = try metricReader?.choice(LanguageModelingMetrics.all) ?? (maxNew > 0 ? "exact_match" : "loss")
        if metric == "exact_match" && maxNew == 0 {
            throw (metricReader ?? t).error("exact_match compares greedy generations: give \"max_new_tokens\" > 0 (the tokens an "
                + "answer may take)", at: "task.max_new_tokens")
        }
        let spec = TaskSpec.languageModeling(name: try t.optional("name")?.string() ?? "custom", metric: metric,
                                             settings: LanguageModelingSettings(maxNewTokens: maxNew))
        let train = resolve(try t.required("train").string())
        let dev = resolve(try t.required("dev").string())
        let maxLength = try t.optional("max_length")?.int(in: 3...100_000, what: "a maximum length") ?? 256
        var source = TaskSource(spec: spec, train: train, dev: dev, maxLength: maxLength)
        try readValidation(t, into: &source, resolve: resolve)
        try t.finish()
        return source
    }
}
