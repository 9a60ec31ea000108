import JSONKit
import Foundation
import Space

/// A search as an ask/tell loop over its journal (docs/architecture.md, docs/search.md).
///
/// The journal is the single source of truth: opening a study replays it; every proposal is
/// written (`trial_started`, fsync) before the trial runs and every result (`trial_finished` or
/// `trial_failed`, fsync) before the next proposal. A trial started but never finished re-runs
/// with its recorded configuration and seed. Proposals depend only on the finished history and the
/// study seed, so a study killed at any moment and resumed ends exactly where an uninterrupted
/// one would.
public final class Study {
    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        public init(message: String) { self.message = message }
        public var description: String { message }
    }

    public internal(set) var spec: StudySpec
    public let directory: String
    /// The space file as the journal records it: relative to the study folder (absolute only in
    /// journals written before that rule).
    public let spaceFileFromStudy: String
    public internal(set) var trials: [TrialRecord] = []
    /// True when the journal held an earlier run of this study.
    public let resumed: Bool
    /// Warnings from opening (a torn last line).
    public let warnings: [String]
    /// What predicting one class everywhere scores on the rows the trials are scored on, when the
    /// caller knows it (the CLI reads the space file's data): the majority-rate warning then counts
    /// trials near it.
    public var constantPredictionScore: Double?
    /// The rows the trials are scored on, as the journal records them (dev for journals written
    /// before validation splits).
    public private(set) var selection: SelectionSplit = .dev
    let journal: Journal
    var optimizer: Optimizer
    /// The sensitivity prior and its method's own choice, when the space file asks for priors.
    public let prior: SensitivityPrior?
    let methodChoice: Config?
    /// When this process's `run` started, and the trials that had ended by then: the time left
    /// (`secondsLeft`) is paced by the trials this run ended, so a resumed study does not divide by
    /// time it did not see.
    var runStarted: Date?
    var endedAtStart: Set<Int> = []
    /// Whether baselines given as plans inform the model (`Study.baselinesInModel`, from the
    /// journal); tests turn it off to measure what it is worth.
    lazy var baselinesInModel = Study.baselinesInModel(journal)
    /// Whether every third optimiser trial aims at an unmatched baseline (`baselineGoal`, proposal
    /// rules 4); tests turn it off to measure what it is worth.
    lazy var baselineTurns = Study.proposalRules(journal) >= 4
    /// Whether replicates re-run uncertain front configurations (`replicateProposal`, proposal rules
    /// 7); tests of other rules turn it off to measure them alone.
    lazy var replicatesOn = Study.replicatesOn(journal, spec: spec)
    /// Whether the design keeps some rows to one method (`hypercubeRow`); tests turn it off.
    var singleMethodRows = true
    /// The answers' posterior, fitted once per finished trial count (`answerPosterior`).
    var posteriorCache: (finished: Int, value: AnswerPosterior?)?
    /// The initial design, drawn once (it depends only on the space file and the prior).
    private(set) var design: [(Config, TrialRecord.Origin)]?

    /// Opens (or creates) the study in `directory`.
    /// - Parameters:
    ///   - fresh: start over; refused when the folder already holds trials unless `force`, in which
    ///     case the old journal is kept beside the new one as `journal.<time>.jsonl`.
    ///   - sensitivity: the scores behind a `"priors"` setting (computed by the caller, saved in the
    ///     study folder so that a resumed study uses the same ones).
    ///   - constantPredictionScore: what predicting one class everywhere scores on the rows trials are
    ///     scored on, when the caller knows it: a new study's default score reference (`referencePoint`).
    ///   - selection: the rows trials are scored on, as the caller read them from the data (nil:
    ///     dev). A new study records them; a resumed one must find the rows it recorded.
    public init(spec: StudySpec, directory: String, fresh: Bool = false, force: Bool = false,
                sensitivity: SensitivityScores? = nil, constantPredictionScore: Double? = nil,
                selection: SelectionSplit? = nil) throws {
        var spec = spec
        self.constantPredictionScore = constantPredictionScore
        self.directory = directory
        spaceFileFromStudy = StudyPaths.relative(spec.file, from: directory)
        let fm = FileManager.default
        try FileSystem.createDirectory(directory)
        let path = directory + "/journal.jsonl"
        if fresh, let attrs = try? fm.attributesOfItem(atPath: path), (attrs[.size] as? Int ?? 0) > 0 {
            guard force else {
                throw Failure(message: "\(directory) already holds a study; --fresh starts over only into a new folder (--out "
                    + "DIR) or with --force, which keeps the old journal as journal.<time>.jsonl")
            }
            let stamp = Int(Date().timeIntervalSince1970)
            try fm.moveItem(atPath: path, toPath: directory + "/journal.\(stamp).jsonl")
        }
        journal = try Journal(path: path)
        warnings = journal.warnings
        self.selection = selection ?? .dev
        spec = Study.recordedSpec(spec, journal: journal, constant: constantPredictionScore)
        self.spec = spec
        optimizer = Study.optimizer(spec)
        if let sensitivity, let dims = spec.problem.dimensions, let p = Study.prior(sensitivity, journal: journal, spec: spec) {
            prior = p
            optimizer.prior = p
            methodChoice = try p.methodChoice(dims: dims, seed: spec.seed)
        } else {
            if let m = spec.priors.method { throw Failure(message: "the space file asks for \(m.rawValue) priors but no scores "
                + "were given") }
            prior = nil
            methodChoice = nil
        }
        var created = false
        (trials, created) = try Study.replay(journal, spec: spec)
        resumed = created
        // The same space file, so the same split settings: other rows mean other data under the same names.
        if let record = journal.records.first(where: { $0.op == .studyCreated })?.record,
           let why = SelectionSplit(created: record["selection"]).mismatch(self.selection) {
            throw Failure(message: "\(path): this study cannot resume: \(why). Start a new study (--out DIR) for other rows.")
        }
        if !created {
            var extra: [(key: String, value: JSONValue)] = []
            if let d = spec.problem.dimensions {
                // Grouped-query sizes only where they differ from an encoder's, so encoder journals stay as they were.
                let grouped: [(key: String, value: JSONValue)] = d.kvHeads == d.heads && d.headDim == d.hiddenSize / d.heads ? []
                    : [("num_key_value_heads", .number(d.kvHeads)), ("head_dim", .number(d.headDim))]
                let bias: [(key: String, value: JSONValue)] = (d.classifierBias ? [] : [("classifier_bias", .bool(false))])
                    + (d.gatedFeedForward ? [("gated_feed_forward", .bool(true))] : [])
                extra.append(("model_dimensions", .object([("hidden_size", .number(d.hiddenSize)),
                                                           ("intermediate_size", .number(d.intermediateSize)),
                                                            ("num_hidden_layers", .number(d.layers)), ("num_attention_heads",
                                                                .number(d.heads))] + grouped + bias)))
            }
            if self.selection.kind == .validation { extra.append(("selection", self.selection.record)) }
            try journal.append(.studyCreated, extra + [("format", .number(1)), ("name", .string(spec.name)),
                                                       ("space_hash", .string(spec.spaceHash)),
                                               ("file", .string(spaceFileFromStudy)), ("trials", .number(spec.trials)),
                                               ("created", .string(ISO8601DateFormatter().string(from: Date()))), ("spec", spec.document)]
                               + recordedSettings)
        }
        applyRecordedSettings()
    }

    /// Opens a study folder read-only (no lock): the spec from the journal's `study_created`
    /// record, then the trials. For reports, also while a search is running.
    public init(readingDirectory directory: String) throws {
        let path = directory + "/journal.jsonl"
        guard FileManager.default.fileExists(atPath: path) else { throw Failure(message: "\(directory): no journal.jsonl (is this "
            + "a study folder made by autopeft search?)") }
        let journal = try Journal(path: path, readOnly: true)
        guard let created = journal.records.first(where: { $0.op == .studyCreated })?.record, let doc = created["spec"] else {
            throw Failure(message: "\(path): no study_created record")
        }
        selection = SelectionSplit(created: created["selection"])
        var recordedFile = "journal.jsonl"
        if case .string(let f)? = created["file"] { recordedFile = f }
        spaceFileFromStudy = recordedFile
        var file = StudyPaths.resolve(recordedFile, inStudy: directory)
        // Opened elsewhere without its space file (a study folder copied on its own, or a journal
        // from before paths were recorded relative to the study): relative paths in the space
        // file then resolve from ./spaces, and the model's sizes come from the journal.
        let folder = (file as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: folder) {
            let local = "spaces/" + (file as NSString).lastPathComponent
            file = FileManager.default.fileExists(atPath: local) ? local : directory + "/" + (file as NSString).lastPathComponent
        }
        var recorded: ModelDimensions?
        if let d = created["model_dimensions"] {
            let r = JSONReader(d, path: "study_created.model_dimensions", file: path)
            recorded = ModelDimensions(hiddenSize: try r.required("hidden_size").int(),
                                       intermediateSize: try r.required("intermediate_size").int(),
                                       layers: try r.required("num_hidden_layers").int(),
                                       heads: try r.required("num_attention_heads").int(),
                                       kvHeads: try r.optional("num_key_value_heads")?.int(),
                                       headDim: try r.optional("head_dim")?.int(),
                                       classifierBias: try r.optional("classifier_bias")?.bool() ?? true,
                                       gatedFeedForward: try r.optional("gated_feed_forward")?.bool() ?? false)
        }
        spec = Study.recordedSpec(try StudySpec(document: doc, file: file, dimensions: recorded), journal: journal, constant: nil)
        self.directory = directory
        self.journal = journal
        warnings = journal.warnings
        optimizer = Study.optimizer(spec)
        prior = nil
        methodChoice = nil
        (trials, resumed) = try Study.replay(journal, spec: spec)
        if case .number(let n, _)? = created["trials"] { spec.trials = max(Int(n), trials.count) }
        applyRecordedSettings()
    }

    /// The optimiser the space file describes (settings a journal fixes come after:
    /// `applyRecordedSettings`).
    static func optimizer(_ spec: StudySpec) -> Optimizer {
        var settings = Optimizer.Settings()
        settings.kernel = spec.kernel
        settings.priorWeight = spec.priors.weight
        settings.fidelityWorth = spec.fidelity?.worth ?? .information
        return Optimizer(space: spec.space, objectives: spec.objectives, reference: spec.reference, settings: settings,
                         knownValues: spec.knownValues)
    }

    /// The scores a study folder keeps in `file` (`sensitivity-<method>.json`), read and checked
    /// (`checkScores`); nil when there is no such file. The search reuses them on resume, the
    /// report replays the prior from them: one reading, so both refuse the same files.
    public static func readScores(file: String, spec: StudySpec) throws -> SensitivityScores? {
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        let data: Data
        do { data = try SystemErrors.readFile(file) } catch {
            throw ConfigError(file: file, path: "", message: "cannot read the sensitivity scores: " + error.reason)
        }
        let doc: JSONValue
        do { doc = try JSONParser.parse(bytes: [UInt8](data)) } catch { throw ConfigError(file: file, path: "", message: "\(error)") }
        let scores = try SensitivityScores(reading: JSONReader(doc, path: "", file: file).required("scores_record"))
        try checkScores(scores, file: file, spec: spec)
        return scores
    }

    /// Scores kept in a study folder (`file`), checked against the space's model: scores are per
    /// layer of one model, and read for another depth they would leave layers at zero or weigh
    /// layers that do not exist.
    public static func checkScores(_ scores: SensitivityScores, file: String, spec: StudySpec) throws {
        guard let dims = spec.problem.dimensions, scores.layers != dims.layers else { return }
        throw Failure(message: "\(file): scores for \(scores.layers) layers, but the space's model has \(dims.layers) (scores of "
            + "another model?); delete the file to compute them again")
    }

    /// The sensitivity prior a study steers by, from its scores and the prior settings its journal
    /// fixes; nil when the space file asks for no prior or is not a PEFT space.
    static func prior(_ scores: SensitivityScores, journal: Journal, spec: StudySpec) -> SensitivityPrior? {
        guard let dims = spec.problem.dimensions, spec.priors.method != nil else { return nil }
        return SensitivityPrior(scores: scores, space: spec.space, dims: dims, sizes: Study.priorSizes(journal, spec: spec),
                                layers: Study.priorLayers(journal, spec: spec))
    }

    public var finished: [TrialRecord] { trials.filter { $0.status == .finished } }

    /// The finished trials at the target fidelity: what the answer is made of (every finished
    /// trial in a study without fidelities). Cheaper trials are evidence, not answers.
    public var answers: [TrialRecord] { finished.filter { isAtTarget($0) } }

    /// The answers' objective values in minimisation form.
    public var minimisedPoints: [[Double]] { answers.map { t in zip(spec.objectives, t.values).map { $0.minimised($1) } } }

    /// The answers' hypervolume with every objective on a linear axis.
    public var hypervolume: Double { hypervolume(logParameters: false) }

    /// Whether the study has a trainable-parameter objective, which the project's reported
    /// hypervolume puts on a log10 axis (`Objective.hypervolumeCoordinate`).
    public var countsParameters: Bool { spec.countsParameters }

    /// The hypervolume as reported: trainable parameters by their log10 (the reference's too),
    /// the same as `hypervolume` in a study without them.
    public var reportedHypervolume: Double { hypervolume(logParameters: true) }

    /// The answers' hypervolume against the reference point (of the first `trials` trials only,
    /// when given); with `logParameters`, trainable parameters on a log10 axis. With `fidelity`,
    /// the volume of the finished trials measured there instead of the answers.
    public func hypervolume(logParameters: Bool, trials: Int? = nil, fidelity: Fidelity? = nil) -> Double {
        let measured = fidelity.map { f in finished.filter { $0.fidelity == f } } ?? answers
        let shown = trials.map { k in measured.filter { $0.id < k } } ?? measured
        let reference = zip(spec.objectives, spec.reference).map { $0.hypervolumeCoordinate($1, logParameters: logParameters) }
        return Hypervolume.compute(hypervolumePoints(shown, logParameters: logParameters), reference: reference)
    }

    /// The reported hypervolume (`reportedHypervolume`'s axes) of the answers among trials 1…k,
    /// for each k: what hypervolume.svg draws and trials.csv lists.
    public var reportedHypervolumeAfterEachTrial: [Double] {
        trials.map { hypervolume(logParameters: true, trials: $0.id + 1) }
    }

    /// In a multi-fidelity study, the same at the cheapest fidelity: the volume of the trials
    /// measured there among trials 1…k. Why: the first trials all run there, so the answers'
    /// volume is 0 until the first promotion, yet what the search has learnt by then differs.
    public var cheapestFidelityHypervolumeAfterEachTrial: [Double]? {
        spec.fidelity.map { f in trials.map { hypervolume(logParameters: true, trials: $0.id + 1, fidelity: f.cheapest) } }
    }

    /// Trials' values as a hypervolume measures them (minimisation form, parameters optionally log10).
    func hypervolumePoints(_ trials: [TrialRecord], logParameters: Bool) -> [[Double]] {
        trials.map { t in zip(spec.objectives, t.values).map { $0.hypervolumeCoordinate($1, logParameters: logParameters) } }
    }

    /// Ids of the Pareto-optimal answers that are better than the reference point in every
    /// objective: the study's answer (summary, report, re-evaluation, exports). The reference is
    /// the space file's least acceptable value per objective, so a trial at or beyond it in some
    /// objective (on MRPC, an F1 below calling every pair a paraphrase) is no answer even when
    /// nothing dominates it; as Ax's objective thresholds, it adds no hypervolume either. Such
    /// trials stay in the journal and trials.csv (`paretoBeyondReferenceIDs`).
    /// With `AnswerMode.posteriorMean` (new studies), Pareto-optimality and the reference are judged
    /// on the surrogate's posterior means (`answerPosterior`), not on the single runs.
    public var frontIDs: [Int] { answerPosterior.map { posteriorFrontIDs($0).inside } ?? observedFrontIDs }

    /// The front of the answers' recorded values (what `frontIDs` is in a study that returns its
    /// observed front, and what the progress lines follow during a search).
    public var observedFrontIDs: [Int] { paretoIDs.filter(isInsideReference) }

    /// Pareto-optimal answers left out of the front because they reach or pass the reference point.
    public var paretoBeyondReferenceIDs: [Int] {
        answerPosterior.map { posteriorFrontIDs($0).beyond } ?? paretoIDs.filter { !isInsideReference($0) }
    }

    private var paretoIDs: [Int] {
        let f = answers
        return Pareto.frontIndices(minimisedPoints).map { f[$0].id }
    }

    private func isInsideReference(_ id: Int) -> Bool {
        spec.objectives.indices.allSatisfy { k in
            spec.objectives[k].minimised(trials[id].values[k]) < spec.objectives[k].minimised(spec.reference[k])
        }
    }

    func trialSeed(_ id: Int) -> UInt64 {
        var g = SplitMix64(seed: spec.seed &* 0x9E37_79B9 &+ UInt64(id))
        return g.next() >> 33   // 31 bits: small enough for every consumer's seed type
    }

    /// Runs trials until `spec.trials` are done (finished or failed), resuming unfinished ones first.
    /// Order: baselines, the initial design (part drawn from the prior, one row the sensitivity
    /// method's own choice), then the optimiser. `progress` receives one line per event.
    /// - Parameter workers: trials of a batch evaluated at once (the evaluator must be safe to call
    ///   from several threads, as the worker-process evaluator is); 1 runs them one by one.
    public func run(evaluator: any Evaluator, workers: Int = 1, progress: (String) -> Void) throws {
        runStarted = Date()
        endedAtStart = Set(trials.filter { $0.status != .running }.map(\.id))
        while true {
            // Re-run trials that started but never finished, with their recorded seed.
            let unfinished = trials.filter { $0.status == .running }.map(\.id)
            for id in unfinished {
                progress("trial \(id + 1)/\(spec.trials): re-running (started before the last stop, never finished), seed "
                    + "\(trials[id].seed)")
            }
            try execute(unfinished, evaluator: evaluator, workers: workers, progress: progress)
            guard trials.count < spec.trials else { break }
            if let budget = spec.budgetSeconds, secondsSpent >= budget {
                progress("the time budget is spent (\(Self.duration(secondsSpent)) of \(Self.duration(budget)) in trials); stopping at "
                    + "\(trials.count) trials")
                break
            }
            let ids = try ask(count: min(max(spec.batch, workers), spec.trials - trials.count), progress: progress)
            if ids.isEmpty { break }
            try execute(ids, evaluator: evaluator, workers: workers, progress: progress)
            warnIfScoresAreFlat(progress)
        }
    }

    /// Proposes up to `count` new trials and journals each as started (its candidate, seed and
    /// origin); returns their ids, to be evaluated and passed to `tell`. Empty when the space has
    /// no unevaluated valid configuration left (the study notes it in the journal).
    public func ask(count: Int, progress: (String) -> Void) throws -> [Int] {
        let t0 = Date()
        let (proposals, hyper) = try propose(count: count)
        if proposals.isEmpty {
            let done = trials.count
            try journal.append(.studyNote,
                               [("text", .string("no unevaluated valid configuration is left; the search stops at \(done) trials"))])
            progress("the space has no unevaluated valid configuration left; stopping at \(done) trials")
            return []
        }
        let seconds = Date().timeIntervalSince(t0) / Double(proposals.count)
        for prop in proposals {
            let id = trials.count
            // A promotion keeps the seed of the trial it promotes: with prefix runs it is the same
            // run; with annealed runs the same data sample and initialisation (common random numbers).
            let seed = prop.promotes.map { trials[$0].seed } ?? trialSeed(id)
            var t = TrialRecord(id: id, candidate: prop.candidate, seed: seed, baseline: prop.baseline, status: .running)
            t.proposalSeconds = seconds
            t.hyperparameters = prop.origin == .optimizer ? hyper : []
            t.origin = prop.origin
            t.fidelity = prop.fidelity
            t.continues = prop.continues
            t.aim = prop.aim
            t.replicates = prop.replicates
            var fields: [(key: String, value: JSONValue)] = [("id", .number(id))] + prop.candidate.jsonMembers(in: spec.space)
            fields += [("seed", .number(Int(t.seed))), ("origin", .string(prop.origin.rawValue))]
            if let name = prop.baseline { fields.append(("baseline", .string(name))) }
            if let f = prop.fidelity { fields.append(("fidelity", f.json)) }
            if let k = prop.continues { fields.append(("continues", .number(k))) }
            if let name = prop.aim { fields.append(("aims_at", .string(name))) }
            if let k = prop.replicates { fields.append(("replicates", .number(k))) }
            fields.append(("proposal_seconds", .number(seconds)))
            if !t.hyperparameters.isEmpty { fields.append(("gp", .array(hyper.map { .array($0.map { .number($0) }) }))) }
            try journal.append(.trialStarted, fields)
            trials.append(t)
        }
        return proposals.indices.map { trials.count - proposals.count + $0 }
    }

    /// The next `count` candidates in order of precedence: baselines not yet run, (journals that
    /// keep it apart, `MethodTrial.extra`) the sensitivity method's own choice, the rest of the
    /// initial design, (with fidelities) the paired
    /// evaluations, then the optimiser's proposals (with the GP hyperparameters it fitted). Never a
    /// configuration already taken, except a promotion to a higher fidelity.
    func propose(count: Int) throws -> (proposals: [Proposed], gp: [[Double]]) {
        var proposals: [Proposed] = []
        let start = startingFidelity
        var taken = Set(trials.compactMap { $0.config.map { spec.space.key($0) } })
        for (name, c) in spec.baselines where proposals.count < count && !trials.contains(where: { $0.baseline == name }) {
            proposals.append(Proposed(candidate: c, baseline: name, origin: .baseline, fidelity: start))
            if let cfg = c.config { taken.insert(spec.space.key(cfg)) }
        }
        taken.formUnion(exactPlanKeys)
        for c in spec.starting where proposals.count < count {
            let id = identity(c)
            guard !trials.contains(where: { $0.origin == .start && identity($0.candidate) == id }),
                  !proposals.contains(where: { $0.origin == .start && identity($0.candidate) == id }) else { continue }
            if let cfg = c.config, !taken.insert(spec.space.key(cfg)).inserted { continue }
            proposals.append(Proposed(candidate: c, origin: .start, fidelity: start))
        }
        if let m = methodChoice, Study.methodTrial(journal, spec: spec) == .extra, proposals.count < count,
           !trials.contains(where: { $0.origin == .method }), !proposals.contains(where: { $0.origin == .method }) {
            if taken.insert(spec.space.key(m)).inserted { proposals.append(Proposed(candidate: .config(m), origin: .method,
                                                                                    fidelity: start)) }
        }
        if design == nil { design = try initialDesign() }
        let design = self.design ?? []
        var k = designTrialCount
        // Rules 6: once the cheap fidelity is dropped, baselines to the target first, then design rows
        // only while the target design is short of `targetDesignSize`.
        let cutDesign = k < design.count && Study.proposalRules(journal) >= 6 && spec.fidelity != nil && cheapFidelitiesMislead
        if cutDesign { proposals += pairProposals(count: count - proposals.count, design: design) }
        let cap = cutDesign ? targetDesignSize : Int.max
        var reached = cutDesign ? targetIdentities(pending: proposals).count : 0
        while proposals.count < count && k < design.count && reached < cap {
            if taken.insert(spec.space.key(design[k].0)).inserted {
                proposals.append(Proposed(candidate: .config(design[k].0), origin: design[k].1, fidelity: start))
                reached += 1
            }
            k += 1
        }
        if reached >= cap { k = design.count }
        if k >= design.count { proposals += pairProposals(count: count - proposals.count, design: design, pending: proposals) }
        if k >= design.count { proposals += targetDesignProposals(count: count - proposals.count, design: design, pending: proposals) }
        guard proposals.count < count && k >= design.count else { return (proposals, []) }
        if let replicate = replicateProposal(pending: proposals) {
            proposals.append(replicate)
            guard proposals.count < count else { return (proposals, []) }
        }
        let history = observations
        let pending = trials.filter { $0.status != .finished }.compactMap(\.config) + proposals.compactMap(\.candidate.config)
        let warm = trials.last(where: { !$0.hyperparameters.isEmpty })?.hyperparameters ?? []
        let n = max(1, trials.filter { $0.origin == .optimizer }.count + 1)
        let levels = spec.fidelity?.levels ?? []
        let p = try optimizer.ask(history: history, pending: pending, count: count - proposals.count,
                                  seed: spec.seed &* 1_000_003 &+ UInt64(trials.count), iteration: n, warmStarts: warm,
                                  distances: levels.map { spec.fidelity!.distance($0) }, goal: baselineGoal(iteration: n))
        let aim = baselineAim(iteration: n)?.baseline
        var streak = currentCheapStreak
        for (i, c) in p.configs.enumerated() {
            guard spec.fidelity != nil else { proposals.append(Proposed(candidate: .config(c), origin: .optimizer, aim: aim)); continue }
            let (f, promotes) = chooseFidelity(c, worth: i < p.worth.count ? p.worth[i] : [], streak: streak)
            streak = f == spec.fidelity?.target ? 0 : streak + 1
            proposals.append(Proposed(candidate: .config(c), origin: .optimizer, fidelity: f, promotes: promotes,
                                      cheapRuns: spec.fidelity?.cheapRuns ?? .prefix, aim: aim))
        }
        return (proposals, p.hyperparameters)
    }

    /// The finished trials as the optimiser sees them: their configurations, and, in studies that
    /// keep baselines in the model (`baselinesInModel`), the baselines given as PEFT plans at their
    /// points of the space (`PEFTSpace.point(of:)`); a plan the space cannot hold is left out.
    var observations: [Observation] { finished.compactMap(observation) }

    /// Where a candidate given as a plan sits in the space, when it does.
    func planPoint(_ candidate: Candidate) -> PEFTSpace.PlanPoint? {
        guard let plan = candidate.plan, let dims = spec.problem.dimensions else { return nil }
        return PEFTSpace.point(of: plan, learningRate: spec.fileLearningRate, in: spec.space, layers: dims.layers)
    }

    /// The keys of configurations that a trial given as a plan trained exactly: never proposed again.
    var exactPlanKeys: [String] {
        guard baselinesInModel else { return [] }
        return trials.compactMap { t in planPoint(t.candidate).flatMap { $0.exact ? spec.space.key($0.nearest) : nil } }
    }

    /// How many initial configurations a prior draws (`priors.initial_fraction` of them); none
    /// when a stratified design's prior has no opinion (its rows would decode as the hypercube's).
    var initialFromPrior: Int {
        guard let prior, Study.priorDesign(journal, spec: spec) == .random || prior.hasOpinion else { return 0 }
        return Int((spec.priors.initialFraction * Double(spec.initial)).rounded())
    }

    /// The trials begun from the initial design (the method's own trial among them when it is a
    /// design row, `MethodTrial.design`).
    var designTrialCount: Int {
        let methodInDesign = Study.methodTrial(journal, spec: spec) == .design
        return trials.filter { $0.origin == .design || $0.origin == .prior || (methodInDesign && $0.origin == .method) }.count
    }

    /// The initial design, each point tagged with where it came from: a Latin hypercube whose
    /// first `initialFromPrior` rows are read through the prior (`PriorSettings.InitialDesign`),
    /// with the method's own choice in place of the prior's last row (`MethodTrial.design`).
    func initialDesign() throws -> [(Config, TrialRecord.Origin)] {
        let rows = initialFromPrior
        var design: [(Config, TrialRecord.Origin)]
        if let prior, rows > 0, Study.priorDesign(journal, spec: spec) == .random {
            design = try randomPriorDesign(prior, rows: rows)
        } else {
            let row = hypercubeRow, space = spec.space
            var decode = row
            if let prior, rows > 0 { decode = { i, x in i < rows ? prior.config(atQuantiles: x) : row?(i, x) ?? space.decode(x) } }
            design = try optimizer.initialDesign(count: spec.initial, seed: spec.seed, decode: decode).enumerated().map {
                ($1, $0 < rows ? .prior : .design)
            }
        }
        guard let m = methodChoice, Study.methodTrial(journal, spec: spec) == .design, !design.isEmpty else { return design }
        // A row that is already the method's choice becomes its trial; otherwise the method's choice
        // takes the prior's last row, or, where the prior drew none, the hypercube's last.
        let key = spec.space.key(m)
        let place = design.firstIndex { spec.space.key($0.0) == key } ?? (design.lastIndex { $0.1 == .prior } ?? design.count - 1)
        design[place] = (m, .method)
        return design
    }

    /// How row i of the hypercube becomes a configuration, where it is not `SearchSpace.decode`
    /// (nil): with proposal rules 2, in a PEFT space of four or more methods that can each be off,
    /// every fourth row keeps one method only (`PEFTSpace.singleModule`), cycling through them.
    /// Why a quarter, and only there: drawn uniformly, such a union space turns on about five of six
    /// methods at once, and 8 rows hold almost never a method alone (0 of 60 hypercube rows in
    /// `EquivalenceTests`); with three methods a tenth of the rows already are, and on the mock
    /// (which rewards stacking) making half the rows single-method cost 0.05 of target
    /// hypervolume (0.500 against 0.549 over 20 seeds), so it is not done there.
    var hypercubeRow: ((Int, [Double]) -> Config)? {
        guard singleMethodRows, Study.proposalRules(journal) >= 2, spec.problem.dimensions != nil,
              PEFTSpace.switchableModules(spec.space) >= 4 else { return nil }
        let space = spec.space, offset = Int(spec.seed % 64)   // another study seed, other methods first
        return { i, x in
            let c = space.decode(x)
            return i % 4 == 3 ? PEFTSpace.singleModule(c, preferred: offset + i / 4, in: space) : c
        }
    }

    /// The design of journals written before `prior_design` existed: `rows` independent draws from
    /// the prior, then the first rows of a hypercube of `spec.initial` points (so it resumes as it began).
    func randomPriorDesign(_ prior: SensitivityPrior, rows: Int) throws -> [(Config, TrialRecord.Origin)] {
        var out: [(Config, TrialRecord.Origin)] = []
        var seen = Set<String>()
        var rng = SplitMix64(seed: spec.seed ^ 0x9121_0A)
        var attempts = 0
        while out.count < rows && attempts < 1000 {
            attempts += 1
            let c = try prior.sample(&rng)
            if seen.insert(spec.space.key(c)).inserted { out.append((c, .prior)) }
        }
        for c in try optimizer.initialDesign(count: spec.initial, seed: spec.seed, decode: hypercubeRow) where out.count < spec.initial {
            if seen.insert(spec.space.key(c)).inserted { out.append((c, .design)) }
        }
        return out
    }

    /// Values in the objectives' order as progress lines and reports show them:
    /// "score 0.8652, trainable_params 74498".
    func namedValues(_ values: [Double]) -> String {
        zip(spec.objectives, values).map { "\($0.name) \(Study.format($1))" }.joined(separator: ", ")
    }

    static func format(_ x: Double) -> String {
        if x == x.rounded() && abs(x) < 1e5 { return String(Int(x)) }
        if x != 0 && (abs(x) >= 1e5 || abs(x) < 1e-3) { return String(format: "%.4g", x) }
        return String(format: "%.4f", x)
    }
}
