import JSONKit
import Foundation
import Space

/// A parsed, validated space file (docs/search.md, "The space file"): what to search, on what, and how long.
public struct StudySpec: Sendable {
    /// What trials evaluate.
    public enum Problem: Sendable {
        /// A standard test problem on [0, 1]^d (the space is x0…x(d−1)).
        case synthetic(SyntheticProblem, dimensions: Int)
        /// The PEFT space with its exact parameter count and a smooth synthetic score.
        case peftMock(ModelDimensions, labels: Int)
        /// Real training of each candidate (model, task and training settings from the file).
        case training(ModelDimensions, labels: Int)
    }

    public var name: String
    /// The space file and its folder (relative paths in the file resolve against the folder).
    public var file: String
    public var directory: String
    /// The whole document, as written in the journal's `study_created` record.
    public var document: JSONValue
    public var problem: Problem
    public var objectives: [Objective]
    public var reference: [Double]
    /// Whether the space file gives `search.reference_point.score`. Without it, a new study on a
    /// classification task sets the score's reference to what predicting one class scores
    /// (`Study.referencePoint`).
    public var scoreReferenceGiven: Bool
    public var trials: Int
    public var initial: Int
    public var batch: Int
    public var seed: UInt64
    public var kernel: GaussianProcess.Kernel
    /// `search.parameter_axis`: how the acquisition measures trainable parameters (log10 by
    /// default; a study whose journal predates the setting keeps its linear axis).
    public var parameterAxis: ParameterAxis
    /// `search.answer`: how the returned front is chosen among the evaluated configurations (by
    /// the surrogate's posterior mean by default; a study whose journal predates the setting keeps
    /// its observed front).
    public var answer: AnswerMode
    public var space: SearchSpace
    /// Candidates evaluated first, by name (hand-picked baselines): configurations of the space,
    /// or PEFT plans (`"peft"`) for baselines the space cannot express.
    public var baselines: [(name: String, candidate: Candidate)]
    /// Starting configurations (`"start"`, as Optuna's `enqueue_trial`): run right after the
    /// baselines, before the initial design; like every trial they inform the model.
    public var starting: [Candidate]
    /// Sensitivity priors (`"priors"`).
    public var priors: PriorSettings
    /// The final stage (`"final"`): the fidelity and seeds of `autopeft reevaluate`.
    public var final: FinalStage
    /// Multi-fidelity search (`"fidelity"`); nil: every trial trains at the file's own settings.
    public var fidelity: FidelitySettings?
    /// Stop proposing trials once this many seconds of trials are spent (`search.budget_seconds`).
    public var budgetSeconds: Double?
    /// The `"executor"` section (read by the executor it names; not part of the study's identity).
    public var executor: JSONReader? { document["executor"].map { JSONReader($0, path: "executor", file: file) } }
    /// Synthetic problems: Gaussian noise sd added to measured values, and a sleep per trial
    /// (so that kill tests can land inside a trial).
    public var noise: Double
    public var delaySeconds: Double
    /// Synthetic problems: the seconds a trial at the target is recorded to cost (a share of it
    /// below the target), instead of the wall clock: budgets see the same numbers
    /// on every machine and every run. 0: the wall clock.
    public var costSeconds: Double
    /// Synthetic problems without a `fidelity` section: every trial is measured as a cheap fidelity
    /// of this share of the target (the single-cheap-fidelity arm of a comparison). 1: the target.
    public var evaluatedShare: Double
    /// The PEFT mock: below the target fidelity the score carries no signal, only the majority
    /// rate plus Gaussian noise of this sd (a cheap fidelity that ranks nothing). nil: the mock's
    /// usual bias at cheap fidelities.
    public var cheapNoise: Double?
    /// The PEFT mock: a good region, LoRA on exactly some targets (`PEFTMock.LoRABonus`). nil: none.
    public var loraBonus: PEFTMock.LoRABonus?
    /// Synthetic problems: trial ids whose worker process kills itself (SIGKILL), to test that a
    /// crashed worker fails its trial only. Ignored in-process.
    public var crashTrials: [Int]

    /// Reads a model's sizes from its path (a directory or a file, as the space file names it).
    public typealias ModelReader = (String) throws(ConfigError) -> ModelDimensions

    /// Parses and validates a space file. `modelReader` reads the model's sizes (by default from
    /// its directory's `config.json`; the runner's reads GGUF files too).
    public init(file: String, modelReader: ModelReader? = nil) throws(ConfigError) {
        let data: Data
        do { data = try SystemErrors.readFile(file) } catch { throw ConfigError(file: file, path: "", message: "cannot read the space file: " + error.reason) }
        let doc: JSONValue
        do { doc = try JSONParser.parse(bytes: [UInt8](data)) } catch {
            throw ConfigError(file: file, path: "", message: "\(error)")
        }
        try self.init(document: doc, file: file, modelReader: modelReader)
    }

    /// - Parameter dimensions: the model's sizes when its `config.json` cannot be read (a study
    ///   folder opened on another machine; the journal records them).
    public init(document doc: JSONValue, file: String, dimensions: ModelDimensions? = nil,
                modelReader: ModelReader? = nil) throws(ConfigError) {
        let r = JSONReader(doc, file: file)
        self.file = file
        directory = (file as NSString).deletingLastPathComponent
        document = doc
        _ = try r.optional("description")
        name = try r.optional("name")?.string() ?? ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        if name.isEmpty || name.contains("/") { throw r.error("expected a name without \"/\"", at: "name") }
        let evaluated = try Self.readProblem(r, directory: directory, dimensions: dimensions, modelReader: modelReader)
        problem = evaluated.problem
        noise = evaluated.noise
        delaySeconds = evaluated.delaySeconds
        costSeconds = evaluated.costSeconds
        evaluatedShare = evaluated.share
        cheapNoise = evaluated.cheapNoise
        loraBonus = evaluated.loraBonus
        crashTrials = evaluated.crashTrials
        space = try Self.readSpace(r, problem: problem, file: file)
        objectives = try Self.readObjectives(r.optional("objectives"), problem: problem,
                                             scoreGoal: Self.scoreGoal(task: r.value["task"]))

        let s = try r.optional("search")
        trials = try s?.optional("trials")?.int(in: 1...100_000, what: "a trial count") ?? 40
        initial = try s?.optional("initial")?.int(in: 1...100_000, what: "an initial design size") ?? min(10, trials)
        batch = try s?.optional("batch")?.int(in: 1...1000, what: "a batch size") ?? 1
        seed = UInt64(try s?.optional("seed")?.int(in: 0...Int(Int32.max), what: "a seed") ?? 0)
        kernel = try s?.optional("kernel")?.enumValue(of: GaussianProcess.Kernel.self) ?? .matern52
        parameterAxis = try s?.optional("parameter_axis")?.enumValue(of: ParameterAxis.self) ?? .log10
        answer = try s?.optional("answer")?.enumValue(of: AnswerMode.self) ?? .posteriorMean
        budgetSeconds = try s?.optional("budget_seconds")?.double(in: 1...1e9, what: "seconds")
        let referenceReader = try s?.optional("reference_point")
        scoreReferenceGiven = try referenceReader?.optional(Objective.Name.score) != nil
        reference = try Self.readReference(referenceReader, in: r, objectives: objectives, problem: problem, space: space, seed: seed)
        try s?.finish()

        baselines = try Self.readBaselines(r.optional("baselines"), space: space, problem: problem)
        starting = try Self.readCandidates(r.optional("start"), space: space, problem: problem, named: false).map(\.candidate)
        priors = try PriorSettings(reading: r.optional("priors"), trials: trials)
        final = try FinalStage(reading: r.optional("final"))
        fidelity = try r.optional("fidelity").map { f throws(ConfigError) in try FidelitySettings(reading: f) }
        _ = try r.optional("executor")
        if priors.method != nil, case .synthetic = problem { throw r.error("sensitivity priors need a PEFT space",
                                                                           at: "priors.sensitivity") }
        try r.finish()
    }

    /// What is evaluated: a synthetic `problem` (with its noise, delay and crash settings), or
    /// `model` with `task` and `training`. Model paths resolve against the space file's folder.
    static func readProblem(_ r: JSONReader, directory dir: String, dimensions: ModelDimensions?,
                            modelReader: ModelReader?) throws(ConfigError)
        -> (problem: Problem, noise: Double, delaySeconds: Double, costSeconds: Double, share: Double, crashTrials: [Int],
            cheapNoise: Double?, loraBonus: PEFTMock.LoRABonus?) {
        let model = try r.optional("model")
        func resolve(_ p: String) -> String { p.hasPrefix("/") || dir.isEmpty ? p : dir + "/" + p }
        guard let p = try r.optional("problem") else {
            guard let m = model else { throw r.error("expected \"model\" (with \"task\" and \"training\") or a synthetic "
                + "\"problem\"", at: "model") }
            let dims = try StudySpec.dimensions(resolve(try m.string()), fallback: dimensions, reader: modelReader)
            let task = try r.required("task")
            _ = try r.required("training"); _ = try r.optional("head")
            return (.training(dims, labels: StudySpec.labelCount(task: task.value)), 0, 0, 0, 1, [], nil, nil)
        }
        let kind = try p.required("name").choice(SyntheticProblem.allCases.map(\.rawValue) + ["peft_mock"])
        let noise = try p.optional("noise")?.double(in: 0...1e6, what: "a noise standard deviation") ?? 0
        let delay = try p.optional("delay_seconds")?.double(in: 0...3600, what: "seconds") ?? 0
        let cost = try p.optional("cost_seconds")?.double(in: 0...1e6, what: "seconds") ?? 0
        let share = try p.optional("share")?.double(in: 0.001...1, what: "a share of the target's training") ?? 1
        let cheapNoise = try p.optional("cheap_noise")?.double(in: 0...1e6, what: "a noise standard deviation")
        let loraBonus = try p.optional("lora_bonus").map { b throws(ConfigError) in try PEFTMock.LoRABonus(reading: b) }
        var crash: [Int] = []
        if let c = try p.optional("crash_trials") { for item in try c.array() { crash.append(try item.int(in: 0...1_000_000,
            what: "a trial id")) } }
        let problem: Problem
        if let s = SyntheticProblem(rawValue: kind) {
            let d = try p.optional("dimensions")?.int(in: s == .braninCurrin ? 2...2 : 2...100, what: "a dimension count")
                ?? s.defaultDimensions()
            problem = .synthetic(s, dimensions: d)
        } else {
            let dims: ModelDimensions
            if let m = model { dims = try StudySpec.dimensions(resolve(try m.string()), fallback: dimensions, reader: modelReader) }
            else {
                // all-MiniLM-L6-v2's sizes, so that the mock runs without a downloaded model.
                dims = ModelDimensions(hiddenSize: try p.optional("hidden_size")?.int(in: 1...100_000) ?? 384,
                                       intermediateSize: try p.optional("intermediate_size")?.int(in: 1...1_000_000) ?? 1536,
                                       layers: try p.optional("layers")?.int(in: 1...1000) ?? 6,
                                       heads: try p.optional("heads")?.int(in: 1...1000) ?? 12)
            }
            problem = .peftMock(dims, labels: try p.optional("labels")?.int(in: 1...1000, what: "a label count") ?? 2)
        }
        try p.finish()
        for k in ["task", "training", "head"] {
            if try r.optional(k) != nil { throw r.error("\"\(k)\" is for searches that train; a synthetic problem takes none", at: k) }
        }
        if loraBonus != nil, case .synthetic = problem { throw p.error("\"lora_bonus\" is for the PEFT mock", at: "lora_bonus") }
        return (problem, noise, delay, cost, share, crash, cheapNoise, loraBonus)
    }

    /// The space: a synthetic problem's own, or the file's `space` and `constraints` over PEFT
    /// modules, with its exact parameter count.
    static func readSpace(_ r: JSONReader, problem: Problem, file: String) throws(ConfigError) -> SearchSpace {
        switch problem {
        case .synthetic(let s, let d):
            if try r.optional("space") != nil { throw r.error("a synthetic problem defines its own space (x0…x\(d - 1) in [0, 1])",
                                                              at: "space") }
            if try r.optional("constraints") != nil { throw r.error("a synthetic problem takes no constraints", at: "constraints") }
            return s.space(dimensions: d)
        case .peftMock(let dims, _), .training(let dims, _):
            var sp = try SearchSpace(reading: r.required("space"), constraints: r.optional("constraints"), layers: dims.layers)
            try PEFTSpace.check(sp, file: file)
            let counter = StudySpec.parameterCounter(space: sp, problem: problem, denseHead: StudySpec.trainsDenseHead(r.value))
            sp.parameterCount = { c in counter(c) }
            return sp
        }
    }

    /// `objectives`: at least two of the problem's, each once; the first two when absent.
    /// `scoreGoal`: the score's direction unless the file says otherwise (a causal-LM task scored by
    /// loss or perplexity minimises it).
    static func readObjectives(_ o: JSONReader?, problem: Problem, scoreGoal: Objective.Goal = .maximize) throws(ConfigError)
        -> [Objective] {
        let available: [Objective]
        switch problem {
        case .synthetic: available = [Objective(name: "f1", goal: .minimize), Objective(name: "f2", goal: .minimize)]
        default:
            available = [Objective(name: Objective.Name.score, goal: scoreGoal),
                         Objective(name: Objective.Name.trainableParameters, goal: .minimize, known: true),
                         Objective(name: "seconds", goal: .minimize)]
        }
        guard let o else { return Array(available.prefix(2)) }
        var list: [Objective] = []
        for item in try o.array() {
            let n = try item.required("name").choice(available.map(\.name))
            var obj = available.first { $0.name == n }!
            if let g = try item.optional("goal") { obj.goal = try g.enumValue(of: Objective.Goal.self) }
            try item.finish()
            if list.contains(where: { $0.name == n }) { throw item.error("objective \"\(n)\" is listed twice") }
            list.append(obj)
        }
        if list.count < 2 { throw o.error("expected at least two objectives") }
        return list
    }

    /// `search.reference_point`: the hypervolume's reference, per objective; defaults are the
    /// synthetic problem's, a score of 0, and 1.1 × the largest parameter count in the space.
    static func readReference(_ refReader: JSONReader?, in r: JSONReader, objectives: [Objective], problem: Problem,
                              space: SearchSpace, seed: UInt64) throws(ConfigError) -> [Double] {
        var reference: [Double] = []
        for o in objectives {
            if let v = try refReader?.optional(o.name) { reference.append(try v.double()); continue }
            switch (problem, o.name) {
            case (.synthetic(let p, _), "f1"): reference.append(p.reference[0])
            case (.synthetic(let p, _), "f2"): reference.append(p.reference[1])
            case (_, Objective.Name.score) where o.goal == .maximize: reference.append(0)
            case (_, Objective.Name.trainableParameters): reference.append(StudySpec.largestParameterCount(space: space, seed: seed) * 1.1)
            default: throw (refReader ?? r).error("give a reference value for objective \"\(o.name)\"",
                                                  at: "search.reference_point.\(o.name)")
            }
        }
        try refReader?.finish()
        return reference
    }

    /// `baselines`: named candidates evaluated first, each a configuration of the space or a PEFT plan.
    static func readBaselines(_ b: JSONReader?, space: SearchSpace, problem: Problem) throws(ConfigError)
        -> [(name: String, candidate: Candidate)] {
        try readCandidates(b, space: space, problem: problem, named: true).map { ($0.name ?? "", $0.candidate) }
    }

    /// Baselines (`named`: each with a distinct `name`) or starting configurations (a `name` is
    /// optional): each a `config` of the space or a `peft` plan, as in run files.
    static func readCandidates(_ b: JSONReader?, space: SearchSpace, problem: Problem, named: Bool) throws(ConfigError)
        -> [(name: String?, candidate: Candidate)] {
        var out: [(name: String?, candidate: Candidate)] = []
        for item in try b?.array() ?? [] {
            let n = named ? try item.required("name").string() : try item.optional("name")?.string()
            if let n, named, out.contains(where: { $0.name == n }) {
                throw item.error("baseline \"\(n)\" is named twice", at: item.path + ".name")
            }
            if let c = try item.optional("config") {
                out.append((n, .config(try space.config(reading: c))))
            } else if let pr = try item.optional("peft") {
                guard let dims = problem.dimensions else { throw pr.error("a synthetic problem takes configurations, not PEFT plans") }
                let plan = try PEFTPlan(reading: pr)
                try plan.validate(for: dims)
                out.append((n, .plan(plan)))
            } else {
                throw item.error("expected \"config\" (a configuration of the space) or \"peft\" (a PEFT plan, as in run files)",
                                 at: item.path + ".config")
            }
            try item.finish()
        }
        return out
    }

    /// The model's sizes: from `reader` (or its `config.json`), else `fallback` when the model is
    /// not on this machine (a study folder opened elsewhere).
    static func dimensions(_ model: String, fallback: ModelDimensions?, reader: ModelReader?) throws(ConfigError) -> ModelDimensions {
        if let fallback, !FileManager.default.fileExists(atPath: model) { return fallback }
        if let reader { return try reader(model) }
        if let fallback, !FileManager.default.fileExists(atPath: model + "/config.json") { return fallback }
        return try ModelDimensions(configFile: model + "/config.json")
    }

    /// The head's outputs for a task object: its `classes`, 1 for regression (`"regression": true`
    /// or GLUE STS-B), 3 for MNLI, otherwise 2. The trainer validates the task itself.
    static func labelCount(task: JSONValue) -> Int {
        if case .string("causal_lm")? = task["type"] { return 0 }  // the frozen output head scores; nothing is added
        if case .array(let c)? = task["classes"] { return c.count }
        if case .bool(true)? = task["regression"] { return 1 }
        if case .string(let n)? = task["name"] {
            switch n.lowercased() { case "stsb", "sts-b": return 1; case "mnli": return 3; default: return 2 }
        }
        return 2
    }

    /// A causal-LM task scored by `loss` or `perplexity` minimises its score; everything else maximises it.
    static func scoreGoal(task: JSONValue?) -> Objective.Goal {
        guard case .string("causal_lm")? = task?["type"], case .string(let metric)? = task?["metric"],
              LanguageModelingMetrics.lowerIsBetter.contains(metric) else { return .maximize }
        return .minimize
    }

    /// Whether the space file's head trains its own dense layer (`"head": "dense"`), which the
    /// trainable parameters count.
    static func trainsDenseHead(_ document: JSONValue) -> Bool {
        if case .string("dense")? = document["head"] { return true }
        return false
    }

    /// Trainable parameters of a PEFT configuration: its modules plus the head.
    static func parameterCounter(space: SearchSpace, problem: Problem, denseHead: Bool) -> @Sendable (Config) -> Double? {
        switch problem {
        case .peftMock(let dims, let labels), .training(let dims, let labels):
            return { c in
                guard let plan = try? PEFTSpace.plan(c, in: space, layers: dims.layers) else { return nil }
                return Double(plan.trainableParameters(dims: dims, labels: labels, denseHead: denseHead))
            }
        case .synthetic: return { _ in nil }
        }
    }

    /// The largest trainable-parameter count among 2000 seeded samples (a default reference).
    static func largestParameterCount(space: SearchSpace, seed: UInt64) -> Double {
        var rng = SplitMix64(seed: seed ^ 0xABC)
        var best = 1.0
        for _ in 0..<2000 { if let c = try? space.sample(&rng), let n = space.parameterCount?(c) { best = max(best, n) } }
        return best
    }

    /// The learning rate a candidate trains at when its configuration sets none (a `"peft"`
    /// baseline): the file's `training.learning_rate`; nil for synthetic problems.
    public var fileLearningRate: Double? {
        if case .number(let x, _)? = document["training"]?["learning_rate"] { return x }
        return nil
    }

    /// Values of the known objectives of a configuration (NaN for measured ones).
    public var knownValues: @Sendable (Config) -> [Double] {
        let objectives = objectives, space = space
        return { c in objectives.map { o in o.name == Objective.Name.trainableParameters ? space.parameterCount?(c) ?? .nan : .nan } }
    }

    /// Values of the known objectives of any candidate.
    public func knownValues(_ candidate: Candidate) -> [Double] {
        switch candidate {
        case .config(let c): return knownValues(c)
        case .plan(let plan):
            guard let dims = problem.dimensions else { return objectives.map { _ in .nan } }
            return objectives.map { o in o.name == Objective.Name.trainableParameters ? Double(plan.trainableParameters(dims: dims,
                labels: problem.labels, denseHead: StudySpec.trainsDenseHead(document))) : .nan }
        }
    }

    /// The PEFT plan of a candidate (PEFT problems).
    public func plan(_ candidate: Candidate) throws -> PEFTPlan {
        switch candidate {
        case .plan(let p): return p
        case .config(let c):
            guard let dims = problem.dimensions else { throw SamplingError(message: "not a PEFT problem") }
            return try PEFTSpace.plan(c, in: space, layers: dims.layers)
        }
    }

    /// Whether trainable parameters are one of the objectives.
    public var countsParameters: Bool { objectives.contains { $0.name == Objective.Name.trainableParameters } }

    /// A hash of the document without `search.trials`, `description` and `final` (extending a
    /// study's budget or changing its final stage is allowed; any other change is a different study).
    public var spaceHash: String { StudySpec.hash(of: document) }

    /// The hash of a space file's document, as `spaceHash` (journals keep the document, so a
    /// study's identity is recomputed from it rather than trusted from an older hash).
    public static func hash(of document: JSONValue) -> String {
        // Numbers by value, not by spelling: 5e-3 and 0.005 are the same space.
        func canonical(_ v: JSONValue) -> JSONValue {
            switch v {
            case .number(let x, _): return .number(x)
            case .array(let items): return .array(items.map(canonical))
            case .object(let members): return .object(members.map { (key: $0.key, value: canonical($0.value)) })
            default: return v
            }
        }
        func strip(_ v: JSONValue) -> JSONValue {
            guard case .object(let members) = v else { return v }
            return .object(members.compactMap { m in
                if m.key == "search", case .object(let s) = m.value {
                    return (m.key, .object(s.filter { $0.key != "trials" && $0.key != "budget_seconds" }))
                }
                if m.key == "description" || m.key == "final" || m.key == "executor" { return nil }
                return (m.key, m.value)
            })
        }
        return String(FNV1a.hash(canonical(strip(document)).serialized()), radix: 16)
    }
}

/// The axis on which a study's search weighs trainable parameters. On log10 (the default), the
/// expected hypervolume improvement values 2k against 20k parameters as 200k against 2M: the
/// axis the project reports hypervolume on. On a linear axis bounded at millions, every module
/// far below the reference looks alike, and the search neglects the small-module end.
/// How a study's returned front is chosen among its evaluated configurations (issue 41).
/// - `posteriorMean`: by the surrogate's posterior mean of each configuration's true score, which
///   pools its replicates and its neighbours, so one lucky run does not make the front.
/// - `observed`: by the scores the trials recorded (journals written before the setting existed).
public enum AnswerMode: String, Sendable, CaseIterable {
    case posteriorMean = "posterior_mean"
    case observed
}

public enum ParameterAxis: String, Sendable, CaseIterable {
    case log10, linear
    public var isLog: Bool { self == .log10 }
}

extension StudySpec.Problem {
    /// The model's sizes (PEFT problems).
    public var dimensions: ModelDimensions? {
        switch self {
        case .synthetic: return nil
        case .peftMock(let d, _), .training(let d, _): return d
        }
    }
    public var labels: Int {
        switch self {
        case .synthetic: return 0
        case .peftMock(_, let l), .training(_, let l): return l
        }
    }
}

/// `"priors": {"sensitivity": "spt" | "diffora" | "none", "weight": β | "auto", "initial_fraction": 0.5,
/// "initial_design": "stratified" | "random", "tau": 0.01, "batches": 16, "batch_size": 32}`.
public struct PriorSettings: Sendable {
    /// nil: no priors (`"none"`).
    public var method: SensitivityScores.Method?
    /// πBO's β: the prior weighs π^(β/n) at the n-th BO iteration; `auto` is trials / 10.
    public var weight: Double
    /// Scale β by how far the finished trials bear the prior out (`Optimizer.priorTrust`), so
    /// that a misleading prior fades; false: πBO's fixed β/n. A study keeps what its journal
    /// recorded (older journals: false).
    public var weightFromData: Bool
    /// Share of the initial design drawn from the prior (the rest is space-filling).
    public var initialFraction: Double
    /// How that share is drawn (`InitialDesign`). A study keeps what its journal recorded
    /// (older journals: random).
    public var initialDesign: InitialDesign
    /// `stratified` (default): the prior's rows are rows of the one Latin hypercube read through
    /// the prior's marginals, so they keep its spread where the prior is uniform (sizes, when
    /// parameters are an objective) and a prior without opinion leaves the design as it is.
    /// `random`: independent draws from the prior, then the first rows of a hypercube; on SST-2
    /// those draws spread module sizes less and cost 14% of the cheap fidelity's volume at 10
    /// trials (results/priors/mf/README.md).
    public enum InitialDesign: String, Sendable, CaseIterable { case stratified, random }
    /// Whether per-layer scores shape the prior (`SensitivityPrior.Layers`; default neutral).
    public var layers: SensitivityPrior.Layers
    /// SPT: the top fraction of parameters counted, batches and their size.
    public var tau: Double
    public var batches: Int
    public var batchSize: Int
    /// DiffoRA: supernet training steps and the gates' top fraction.
    public var steps: Int
    public var rho: Double
    /// The method as the space file spells it (`"none"` without priors).
    public var methodName: String { method?.rawValue ?? "none" }

    init(reading r: JSONReader?, trials: Int) throws(ConfigError) {
        let name = try r?.optional("sensitivity")?.choice(["none"] + SensitivityScores.Method.measured.map(\.rawValue)) ?? "none"
        method = SensitivityScores.Method(rawValue: name)
        if let w = try r?.optional("weight"), case .string = w.value { _ = try w.choice(["auto"]); weight = Double(trials) / 10 }
        else { weight = try r?.optional("weight")?.double(in: 0...1e6, what: "a prior weight β") ?? Double(trials) / 10 }
        weightFromData = try r?.optional("weight_from_data")?.bool() ?? true
        initialFraction = try r?.optional("initial_fraction")?.double(in: 0...1, what: "a fraction") ?? 0.5
        initialDesign = try r?.optional("initial_design")?.enumValue(of: InitialDesign.self) ?? .stratified
        layers = try r?.optional("layers")?.enumValue(of: SensitivityPrior.Layers.self) ?? .neutral
        tau = try r?.optional("tau")?.double(in: 1e-6...1, what: "a fraction") ?? 0.01
        batches = try r?.optional("batches")?.int(in: 1...10_000, what: "a batch count") ?? 16
        batchSize = try r?.optional("batch_size")?.int(in: 1...4096, what: "a batch size") ?? 32
        steps = try r?.optional("steps")?.int(in: 1...100_000, what: "a step count") ?? 60
        rho = try r?.optional("rho")?.double(in: 0...1, what: "a fraction") ?? 0.5
        try r?.finish()
    }
}

/// `"final": {"train_examples": 8000 | "all", "epochs": 2, "learning_rate": 5e-3, "max_length": 128, "seeds": 3}`:
/// how `autopeft reevaluate` retrains the Pareto configurations and the baselines. Absent keys
/// keep the search's settings, except `train_examples`, which defaults to all rows.
public struct FinalStage: Sendable {
    /// nil: every training row.
    public var trainExamples: Int?
    public var epochs: Int?
    public var learningRate: Double?
    public var maxLength: Int?
    public var seeds: Int

    init(reading r: JSONReader?) throws(ConfigError) {
        if let t = try r?.optional("train_examples"), case .string = t.value { _ = try t.choice(["all"]); trainExamples = nil }
        else { trainExamples = try r?.optional("train_examples")?.int(in: 1...100_000_000, what: "a row count") }
        epochs = try r?.optional("epochs")?.int(in: 1...1000, what: "a number of epochs")
        learningRate = try r?.optional("learning_rate")?.double(in: 0...10, what: "a learning rate")
        maxLength = try r?.optional("max_length")?.int(in: 3...100_000, what: "a maximum length")
        seeds = try r?.optional("seeds")?.int(in: 1...100, what: "a number of seeds") ?? 3
        try r?.finish()
    }
}
