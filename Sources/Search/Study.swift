import Foundation
import Space

/// One trial as the journal records it.
public struct TrialRecord: Sendable {
    public enum Status: String, Sendable { case running, finished, failed }
    public var id: Int
    public var candidate: Candidate
    public var seed: UInt64
    /// The baseline's name when the trial is a baseline.
    public var baseline: String?
    public var status: Status
    /// Objective values in the study's objective order (finished trials).
    public var values: [Double] = []
    public var metrics: [String: Double] = [:]
    public var seconds: Double = 0
    public var proposalSeconds: Double = 0
    public var error: String?
    /// GP hyperparameters fitted for the proposal (warm starts on resume).
    public var hyperparameters: [[Double]] = []
    /// Where the candidate came from: `baseline`, `method` (the sensitivity method's own choice),
    /// `prior` or `design` (initial design), `optimizer`.
    public var origin: String = "optimizer"

    /// The configuration, when the candidate is one of the space.
    public var config: Config? { candidate.config }
}

/// A search as an ask/tell loop over its journal (ARCHITECTURE §1, §7).
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

    public private(set) var spec: StudySpec
    public let directory: String
    /// The space file as the journal records it: relative to the study folder (absolute only in
    /// journals written before that rule).
    public let spaceFileFromStudy: String
    public private(set) var trials: [TrialRecord] = []
    /// True when the journal held an earlier run of this study.
    public let resumed: Bool
    /// Warnings from opening (a torn last line).
    public let warnings: [String]
    let journal: Journal
    var optimizer: Optimizer
    /// The sensitivity prior and its method's own choice, when the space file asks for priors.
    public let prior: SensitivityPrior?
    let methodChoice: Config?

    /// Opens (or creates) the study in `directory`.
    /// - Parameters:
    ///   - fresh: start over; refused when the folder already holds trials unless `force`, in which
    ///     case the old journal is kept beside the new one as `journal.<time>.jsonl`.
    ///   - sensitivity: the scores behind a `"priors"` setting (computed by the caller, saved in the
    ///     study folder so that a resumed study uses the same ones).
    public init(spec: StudySpec, directory: String, fresh: Bool = false, force: Bool = false, sensitivity: SensitivityScores? = nil) throws {
        self.spec = spec
        self.directory = directory
        spaceFileFromStudy = StudyPaths.relative(spec.file, from: directory)
        let fm = FileManager.default
        try FileSystem.createDirectory(directory)
        let path = directory + "/journal.jsonl"
        if fresh, let attrs = try? fm.attributesOfItem(atPath: path), (attrs[.size] as? Int ?? 0) > 0 {
            guard force else {
                throw Failure(message: "\(directory) already holds a study; --fresh starts over only into a new folder (--out DIR) or with --force, which keeps the old journal as journal.<time>.jsonl")
            }
            let stamp = Int(Date().timeIntervalSince1970)
            try fm.moveItem(atPath: path, toPath: directory + "/journal.\(stamp).jsonl")
        }
        journal = try Journal(path: path)
        warnings = journal.warnings
        optimizer = Optimizer(space: spec.space, objectives: spec.objectives, reference: spec.reference,
                              settings: { var s = Optimizer.Settings(); s.kernel = spec.kernel; s.priorWeight = spec.priors.weight; return s }(),
                              knownValues: spec.knownValues)
        if let sensitivity, let dims = spec.problem.dimensions, spec.priors.method != "none" {
            let p = SensitivityPrior(scores: sensitivity, space: spec.space, dims: dims)
            prior = p
            optimizer.prior = p
            methodChoice = try p.methodChoice(dims: dims, seed: spec.seed)
        } else {
            if spec.priors.method != "none" { throw Failure(message: "the space file asks for \(spec.priors.method) priors but no scores were given") }
            prior = nil
            methodChoice = nil
        }
        var created = false
        (trials, created) = try Study.replay(journal, spec: spec)
        resumed = created
        if !created {
            var extra: [(key: String, value: JSONValue)] = []
            if let d = spec.problem.dimensions {
                extra.append(("model_dimensions", .object([("hidden_size", .number(d.hiddenSize)), ("intermediate_size", .number(d.intermediateSize)),
                                                            ("num_hidden_layers", .number(d.layers)), ("num_attention_heads", .number(d.heads))])))
            }
            try journal.append(.studyCreated, extra + [("format", .number(1)), ("name", .string(spec.name)), ("space_hash", .string(spec.spaceHash)),
                                               ("file", .string(spaceFileFromStudy)), ("trials", .number(spec.trials)),
                                               ("created", .string(ISO8601DateFormatter().string(from: Date()))), ("spec", spec.document)])
        }
    }

    /// Trial records from a journal's lines, and whether it holds a `study_created` record.
    static func replay(_ journal: Journal, spec: StudySpec) throws -> ([TrialRecord], Bool) {
        var trials: [TrialRecord] = []
        var created = false
        let path = journal.path
        for (op, rec) in journal.records {
            switch op {
            case .studyCreated:
                created = true
                if let doc = rec["spec"], StudySpec.hash(of: doc) != spec.spaceHash {
                    throw Failure(message: "\(path) belongs to a study made from a different space file (only search.trials may change when resuming); run with --out NEW_DIR, or --fresh --force to start over")
                }
            case .trialStarted:
                let r = JSONReader(rec, path: "trial_started", file: path)
                let id = try r.required("id").int()
                let candidate = try Candidate(reading: r, space: spec.space)
                var t = TrialRecord(id: id, candidate: candidate, seed: UInt64(try r.required("seed").int()), status: .running)
                t.baseline = try r.optional("baseline")?.string()
                t.origin = try r.optional("origin")?.string() ?? "optimizer"
                t.proposalSeconds = try r.optional("proposal_seconds")?.double() ?? 0
                if let gp = try r.optional("gp") { t.hyperparameters = try gp.array().map { row throws(ConfigError) in try row.array().map { x throws(ConfigError) in try x.double() } } }
                guard id == trials.count else { throw Failure(message: "\(path): trial ids out of order at trial \(id); the journal is corrupt") }
                trials.append(t)
            case .trialFinished, .trialFailed:
                let r = JSONReader(rec, path: op.rawValue, file: path)
                let id = try r.required("id").int()
                guard trials.indices.contains(id) else { throw Failure(message: "\(path): result for unknown trial \(id)") }
                if op == .trialFailed {
                    trials[id].status = .failed
                    trials[id].error = try r.optional("error")?.string()
                } else {
                    let values = try r.required("values")
                    trials[id].values = try spec.objectives.map { o throws(ConfigError) in try values.required(o.name).double() }
                    if let m = try r.optional("metrics"), case .object(let members) = m.value {
                        for mm in members { if case .number(let x, _) = mm.value { trials[id].metrics[mm.key] = x } }
                    }
                    trials[id].seconds = try r.optional("seconds")?.double() ?? 0
                    trials[id].status = .finished
                }
            case .studyNote, .reevaluated:
                break
            }
        }
        return (trials, created)
    }

    /// Opens a study folder read-only (no lock): the spec from the journal's `study_created`
    /// record, then the trials. For reports, also while a search is running.
    public init(readingDirectory directory: String) throws {
        let path = directory + "/journal.jsonl"
        guard FileManager.default.fileExists(atPath: path) else { throw Failure(message: "\(directory): no journal.jsonl (is this a study folder made by autopeft search?)") }
        let journal = try Journal(path: path, readOnly: true)
        guard let created = journal.records.first(where: { $0.op == .studyCreated })?.record, let doc = created["spec"] else {
            throw Failure(message: "\(path): no study_created record")
        }
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
            recorded = ModelDimensions(hiddenSize: try r.required("hidden_size").int(), intermediateSize: try r.required("intermediate_size").int(),
                                       layers: try r.required("num_hidden_layers").int(), heads: try r.required("num_attention_heads").int())
        }
        spec = try StudySpec(document: doc, file: file, dimensions: recorded)
        self.directory = directory
        self.journal = journal
        warnings = journal.warnings
        optimizer = Optimizer(space: spec.space, objectives: spec.objectives, reference: spec.reference, knownValues: spec.knownValues)
        prior = nil
        methodChoice = nil
        (trials, resumed) = try Study.replay(journal, spec: spec)
        if case .number(let n, _)? = created["trials"] { spec.trials = max(Int(n), trials.count) }
    }

    public var finished: [TrialRecord] { trials.filter { $0.status == .finished } }

    /// Finished trials' objective values in minimisation form.
    public var minimisedPoints: [[Double]] { finished.map { t in zip(spec.objectives, t.values).map { $0.minimised($1) } } }

    public var hypervolume: Double {
        Hypervolume.compute(minimisedPoints, reference: zip(spec.objectives, spec.reference).map { $0.minimised($1) })
    }

    /// Ids of the Pareto-optimal finished trials.
    public var frontIDs: [Int] {
        let f = finished
        return Pareto.frontIndices(minimisedPoints).map { f[$0].id }
    }

    func trialSeed(_ id: Int) -> UInt64 {
        var g = SplitMix64(seed: spec.seed &* 0x9E37_79B9 &+ UInt64(id))
        return g.next() >> 33   // 31 bits: small enough for every consumer's seed type
    }

    /// Runs trials until `spec.trials` are done (finished or failed), resuming unfinished ones first.
    /// Order: baselines, the sensitivity method's own choice, the initial design (part drawn from
    /// the prior), then the optimiser. `progress` receives one line per event.
    /// - Parameter workers: trials of a batch evaluated at once (the evaluator must be safe to call
    ///   from several threads, as the worker-process evaluator is); 1 runs them one by one.
    public func run(evaluator: any Evaluator, workers: Int = 1, progress: (String) -> Void) throws {
        let design = try initialDesign()
        runStarted = Date()
        trialsAtStart = trials.filter { $0.status != .running }.count
        while true {
            // Re-run trials that started but never finished, with their recorded seed.
            let unfinished = trials.filter { $0.status == .running }.map(\.id)
            for id in unfinished {
                progress("trial \(id + 1)/\(spec.trials): re-running (started before the last stop, never finished), seed \(trials[id].seed)")
            }
            if workers > 1 && unfinished.count > 1 {
                try executeConcurrently(unfinished, evaluator: evaluator, progress: progress)
            } else {
                for id in unfinished { try execute(id, evaluator: evaluator, progress: progress) }
            }
            let done = trials.count
            guard done < spec.trials else { break }
            let count = min(max(spec.batch, workers), spec.trials - done)
            var proposals: [(candidate: Candidate, baseline: String?, origin: String)] = []
            var hyper: [[Double]] = []
            let t0 = Date()
            var taken = Set(trials.compactMap { $0.config.map { spec.space.key($0) } })
            for (name, c) in spec.baselines where proposals.count < count && !trials.contains(where: { $0.baseline == name }) {
                proposals.append((c, name, "baseline"))
                if let cfg = c.config { taken.insert(spec.space.key(cfg)) }
            }
            if let m = methodChoice, proposals.count < count, !trials.contains(where: { $0.origin == "method" }),
               !proposals.contains(where: { $0.origin == "method" }) {
                if taken.insert(spec.space.key(m)).inserted { proposals.append((.config(m), nil, "method")) }
            }
            var k = trials.filter { $0.origin == "design" || $0.origin == "prior" }.count
            while proposals.count < count && k < design.count {
                if taken.insert(spec.space.key(design[k].0)).inserted { proposals.append((.config(design[k].0), nil, design[k].1)) }
                k += 1
            }
            if proposals.count < count && k >= design.count {
                let history = finished.compactMap { t in t.config.map { Observation(config: $0, values: t.values) } }
                let pending = trials.filter { $0.status != .finished }.compactMap(\.config) + proposals.compactMap(\.candidate.config)
                let warm = trials.last(where: { !$0.hyperparameters.isEmpty })?.hyperparameters ?? []
                let n = max(1, trials.filter { $0.origin == "optimizer" }.count + 1)
                let p = try optimizer.ask(history: history, pending: pending, count: count - proposals.count,
                                          seed: spec.seed &* 1_000_003 &+ UInt64(trials.count), iteration: n, warmStarts: warm)
                proposals += p.configs.map { (.config($0), nil, "optimizer") }
                hyper = p.hyperparameters
                if p.configs.isEmpty && proposals.isEmpty {
                    try journal.append(.studyNote, [("text", .string("no unevaluated valid configuration is left; the search stops at \(done) trials"))])
                    progress("the space has no unevaluated valid configuration left; stopping at \(done) trials")
                    break
                }
            }
            let seconds = Date().timeIntervalSince(t0) / Double(max(proposals.count, 1))
            for prop in proposals {
                let id = trials.count
                var t = TrialRecord(id: id, candidate: prop.candidate, seed: trialSeed(id), baseline: prop.baseline, status: .running)
                t.proposalSeconds = seconds
                t.hyperparameters = prop.origin == "optimizer" ? hyper : []
                t.origin = prop.origin
                var fields: [(key: String, value: JSONValue)] = [("id", .number(id))] + prop.candidate.jsonMembers(in: spec.space)
                fields += [("seed", .number(Int(t.seed))), ("origin", .string(prop.origin))]
                if let name = prop.baseline { fields.append(("baseline", .string(name))) }
                fields.append(("proposal_seconds", .number(seconds)))
                if !t.hyperparameters.isEmpty { fields.append(("gp", .array(hyper.map { .array($0.map { .number($0) }) }))) }
                try journal.append(.trialStarted, fields)
                trials.append(t)
            }
            let ids = proposals.indices.map { trials.count - proposals.count + $0 }
            if workers > 1 && ids.count > 1 {
                try executeConcurrently(ids, evaluator: evaluator, progress: progress)
            } else {
                for id in ids { try execute(id, evaluator: evaluator, progress: progress) }
            }
            warnIfScoresAreFlat(progress)
        }
    }

    /// The initial design: a share drawn from the prior (when there is one), the rest a Latin
    /// hypercube; each point tagged with where it came from.
    func initialDesign() throws -> [(Config, String)] {
        let fromPrior = prior.map { _ in Int((spec.priors.initialFraction * Double(spec.initial)).rounded()) } ?? 0
        var out: [(Config, String)] = []
        var seen = Set<String>()
        if let prior {
            var rng = SplitMix64(seed: spec.seed ^ 0x9121_0A)
            var attempts = 0
            while out.count < fromPrior && attempts < 1000 {
                attempts += 1
                let c = try prior.sample(&rng)
                if seen.insert(spec.space.key(c)).inserted { out.append((c, "prior")) }
            }
        }
        for c in try optimizer.initialDesign(count: spec.initial, seed: spec.seed) where out.count < spec.initial {
            if seen.insert(spec.space.key(c)).inserted { out.append((c, "design")) }
        }
        return out
    }

    /// Low fidelity is where searches silently die: when most finished trials score within 0.5
    /// points of one another (e.g. all at the majority-class rate), say so loudly, once per five trials.
    func warnIfScoresAreFlat(_ progress: (String) -> Void) {
        guard let j = spec.objectives.firstIndex(where: { $0.name == "score" }), case .training = spec.problem else { return }
        let scores = finished.map { $0.values[j] }
        guard scores.count >= 5, scores.count % 5 == 0 else { return }
        var counts: [Int: Int] = [:]
        for s in scores { counts[Int((s * 200).rounded()), default: 0] += 1 }
        if let top = counts.max(by: { $0.value < $1.value }), Double(top.value) > 0.5 * Double(scores.count) {
            progress("WARNING: \(top.value) of \(scores.count) trials score \(String(format: "%.3f", Double(top.key) / 200)) (±0.005): probably the majority-class rate, i.e. nothing learned at this fidelity; raise training.learning_rate, rows or epochs, or the search is ranking noise")
        }
    }

    /// When this process's `run` started, and how many trials were done then: the ETA counts only
    /// the trials this run finished, so a resumed study does not divide by time it did not see.
    var runStarted: Date?
    var trialsAtStart = 0

    /// The whole study's progress: trials done of the budget, seconds so far and an estimate of
    /// those left from this run's trials (trial costs differ, so it is a rough guide).
    func studyProgressLine() -> String? {
        guard let started = runStarted else { return nil }
        let done = trials.filter { $0.status != .running }.count
        let elapsed = Date().timeIntervalSince(started)
        var line = "study: \(done)/\(spec.trials) trials done, \(Self.duration(elapsed)) elapsed"
        let ranHere = done - trialsAtStart
        if ranHere > 0 && done < spec.trials {
            line += ", about \(Self.duration(elapsed / Double(ranHere) * Double(spec.trials - done))) left"
        }
        return line
    }

    static func duration(_ s: Double) -> String {
        s < 120 ? String(format: "%.0f s", s) : s < 7200 ? String(format: "%.1f min", s / 60) : String(format: "%.1f h", s / 3600)
    }

    /// Runs one recorded trial and journals its result.
    func execute(_ id: Int, evaluator: any Evaluator, progress: (String) -> Void) throws {
        let t0 = Date()
        let result = Result { try evaluator.evaluate(trials[id].candidate, seed: trials[id].seed, trial: id) }
        try record(id, result, seconds: Date().timeIntervalSince(t0), progress: progress)
    }

    /// Runs several recorded trials at once (one thread each; the evaluator runs them in worker
    /// processes), then journals their results in id order from this thread.
    func executeConcurrently(_ ids: [Int], evaluator: any Evaluator, progress: (String) -> Void) throws {
        final class Results: @unchecked Sendable {
            var items: [(Result<TrialOutcome, Error>, Double)?]
            let lock = NSLock()
            init(_ n: Int) { items = Array(repeating: nil, count: n) }
        }
        struct Job: @unchecked Sendable { let evaluator: any Evaluator; let candidates: [(Candidate, UInt64, Int)] }
        let results = Results(ids.count)
        let job = Job(evaluator: evaluator, candidates: ids.map { (trials[$0].candidate, trials[$0].seed, $0) })
        DispatchQueue.concurrentPerform(iterations: ids.count) { k in
            let (c, seed, id) = job.candidates[k]
            let t0 = Date()
            let r = Result { try job.evaluator.evaluate(c, seed: seed, trial: id) }
            results.lock.lock(); results.items[k] = (r, Date().timeIntervalSince(t0)); results.lock.unlock()
        }
        for (k, id) in ids.enumerated() {
            guard let (r, secs) = results.items[k] else { continue }
            try record(id, r, seconds: secs, progress: progress)
        }
    }

    /// Journals a trial's outcome: finished with its objective values, or failed with the reason.
    func record(_ id: Int, _ result: Result<TrialOutcome, Error>, seconds: Double, progress: (String) -> Void) throws {
        let t = trials[id]
        do {
            let outcome = try result.get()
            let known = spec.knownValues(t.candidate)
            var values: [Double] = []
            for (j, o) in spec.objectives.enumerated() {
                let v = o.known ? known[j] : outcome.values[o.name] ?? .nan
                guard v.isFinite else { throw Failure(message: "objective \(o.name) is \(v) (not a finite number)") }
                values.append(v)
            }
            try journal.append(.trialFinished, [
                ("id", .number(id)),
                ("values", .object(zip(spec.objectives, values).map { (key: $0.name, value: .number($1)) })),
                ("metrics", .object(outcome.metrics.sorted { $0.key < $1.key }.map { (key: $0.key, value: .number($0.value)) })),
                ("seconds", .number(seconds)),
            ])
            trials[id].values = values
            trials[id].metrics = outcome.metrics
            trials[id].seconds = seconds
            trials[id].status = .finished
            let shown = zip(spec.objectives, values).map { "\($0.name) \(Study.format($1))" }.joined(separator: ", ")
            let front = frontIDs
            progress("trial \(id + 1)/\(spec.trials)\(t.baseline.map { " [baseline \($0)]" } ?? (t.origin == "method" ? " [\(spec.priors.method) choice]" : "")): \(shown) | \(String(format: "%.2f", seconds)) s, proposal \(String(format: "%.2f", t.proposalSeconds)) s | HV \(Study.format(hypervolume)), front \(front.count)\(front.contains(id) ? " (new point on the front)" : "")")
            if let line = studyProgressLine() { progress(line) }
        } catch let error as Journal.Failure {
            throw error
        } catch {
            let message = "\(error)"
            try journal.append(.trialFailed, [("id", .number(id)), ("error", .string(message)), ("seconds", .number(seconds))])
            trials[id].status = .failed
            trials[id].error = message
            progress("trial \(id + 1)/\(spec.trials): FAILED: \(message)")
            if let line = studyProgressLine() { progress(line) }
        }
    }

    static func format(_ x: Double) -> String {
        if x == x.rounded() && abs(x) < 1e5 { return String(Int(x)) }
        if x != 0 && (abs(x) >= 1e5 || abs(x) < 1e-3) { return String(format: "%.4g", x) }
        return String(format: "%.4f", x)
    }
}
