import JSONKit
import Foundation
import Space
import Search
import Trainer
import Runner

extension CLI {
    /// `autopeft search SPACE.json [--out DIR] [--trials N] [--fresh [--force]]`
    static func search(_ args: [String]) -> Int32 {
        let parsed = Commands.search.parse(args)
        guard case let .arguments(pos, opts) = parsed else { return parsed.exitCode }
        let nThreads = threads(opts)
        BLAS.setThreads(nThreads)
        var workers = opts.integer("workers") ?? 1
        var onSlurm = opts["executor"] == "slurm"
        let study: Study, evaluator: any Evaluator, dir: String
        do {
            var spec = try StudySpec(file: pos[0], modelReader: ModelSource.dimensions)
            if let n = opts.integer("trials") { spec.trials = n }
            if let s = opts.number("budget-seconds") { spec.budgetSeconds = s }
            dir = opts["out"] ?? "results/\(spec.name)"
            var trainer: TrainerEvaluator?
            if case .training = spec.problem { trainer = try TrainerEvaluator(spec: spec, progress: printErr) }
            let scores = try spec.priors.method.map {
                try SensitivityStore.scores(spec: spec, directory: dir, method: $0, trainer: trainer, fresh: opts.flag("fresh"),
                                            progress: printErr)
            }
            study = try Study(spec: spec, directory: dir, fresh: opts.flag("fresh"), force: opts.flag("force"), sensitivity: scores,
                              constantPredictionScore: TrainerEvaluator.constantPredictionScore(spec),
                              selection: TrainerEvaluator.selection(spec))
            if opts["executor"] == nil, (try? spec.executor?.optional("kind")?.string()) == "slurm" { onSlurm = true }
            (evaluator, workers) = try searchEvaluator(study, directory: dir, onSlurm: onSlurm, workers: workers, threads: nThreads,
                                                       trainer: trainer)
        } catch {
            printErr("autopeft search: \(error)")
            return ExitCode.of(error)
        }
        announce(study, directory: dir, workers: workers, threads: nThreads)
        let start = Date()
        let slurm = onSlurm
        let resume = ["autopeft", "search", pos[0], "--out", dir] + (opts["workers"].map { ["--workers", $0] } ?? [])
            + (slurm ? ["--executor", "slurm"] : [])
        let cancelOnStop = opts.flag("cancel-on-stop")
        Interruption.stopOnSignals(resume: resume.joined(separator: " ")) { slurm ? slurmJobsOnStop(cancel: cancelOnStop) : "" }
        do {
            try study.run(evaluator: evaluator, workers: workers) { printErr("autopeft search: " + $0) }
        } catch {
            printErr("autopeft search: \(error)")
            return ExitCode.of(error)
        }
        for line in Report.terminalSummary(study) { printErr(line) }
        let wrote = opts.flag("no-report") || writeReport(study, to: dir, command: "search", done: "the study is complete")
        print(summary(study, seconds: Date().timeIntervalSince(start)).serialized())
        return wrote ? ExitCode.success : ExitCode.failure
    }

    /// What runs the search's trials, and how many at once: Slurm jobs (as many as the executor's
    /// `jobs`), worker processes, the trainer in this process, or a synthetic problem.
    static func searchEvaluator(_ study: Study, directory dir: String, onSlurm: Bool, workers: Int, threads: Int,
                                trainer: TrainerEvaluator?) throws -> (any Evaluator, workers: Int) {
        let spec = study.spec
        if onSlurm {
            let settings = try spec.executor.map { r throws(ConfigError) in try SlurmEvaluator.Settings(reading: r) }
                ?? SlurmEvaluator.Settings()
            struct Journaling: @unchecked Sendable { let study: Study }  // noteSubmission only appends to the journal, which locks
            let noted = Journaling(study: study)
            return (try SlurmEvaluator(spec: spec, directory: dir, settings: settings, progress: { printErr($0) },
                                       submitted: { noted.study.noteSubmission(trial: $0, job: $1, attempt: $2) }), settings.jobs)
        }
        if workers > 1 { return (WorkerEvaluator(spec: spec, workers: workers, cores: threads, progress: { printErr($0) }), workers) }
        return (trainer ?? SyntheticEvaluator(spec: spec), workers)
    }

    /// On SIGINT/SIGTERM with Slurm jobs in flight: cancels them when asked (`--cancel-on-stop`, or
    /// yes at the prompt on a terminal), else leaves them running for a resume to re-attach to.
    /// Returns the sentence the stop message adds.
    static func slurmJobsOnStop(cancel asked: Bool) -> String {
        let n = SlurmEvaluator.jobsInFlight
        guard n > 0 else { return "" }
        var cancel = asked
        if !cancel && isatty(STDIN_FILENO) != 0 {
            FileHandle.standardError.write(Data("\nautopeft search: cancel the \(n) Slurm jobs in flight (scancel)? [y/N] ".utf8))
            cancel = (readLine() ?? "").lowercased().hasPrefix("y")
        }
        if cancel { return "cancelled \(SlurmEvaluator.cancelInFlight()) Slurm jobs in flight (scancel). " }
        return "\(n) Slurm jobs keep running; resuming re-attaches to them (or scancel them). "
    }

    /// Writes DIR's report at the end of `command`; when it cannot, says what is safe (`done`) and
    /// how to write it later, and returns false.
    static func writeReport(_ study: Study, to dir: String, command: String, done: String) -> Bool {
        do {
            _ = try Report.write(study, to: dir)
            printErr("autopeft \(command): report: \(dir)/report.html")
            return true
        } catch {
            printErr("autopeft \(command): \(done), but the report could not be written: \(error); run autopeft report \(dir)")
            return false
        }
    }

    /// The first lines of a search on stderr: warnings, then what the study is and where it stands.
    static func announce(_ study: Study, directory dir: String, workers: Int, threads: Int) {
        let spec = study.spec
        for w in study.warnings + [study.referenceWarning, study.priorWarning].compactMap({ $0 }) {
            printErr("autopeft search: warning: \(w)")
        }
        let done = study.trials.filter { $0.status != .running }.count
        if study.resumed {
            printErr("autopeft search: resuming the study in \(dir): \(done) trials done (\(study.finished.count) finished), "
                + "\(study.trials.count - done) to re-run, budget \(spec.trials) (use --fresh to start over)"
                + (done >= spec.trials ? "; the budget is spent, so nothing runs: raise --trials to search on" : ""))
        } else {
            let objectives = spec.objectives.map { "\($0.goal.rawValue) \($0.name)" }.joined(separator: ", ")
            printErr("autopeft search: new study \"\(spec.name)\" in \(dir): \(spec.trials) trials (\(spec.baselines.count) baselines, "
                + "\(spec.initial) initial), objectives \(objectives), priors \(spec.priors.methodName)")
        }
        if workers > 1 { printErr("autopeft search: \(workers) worker processes, \(max(1, threads / workers)) BLAS threads each") }
    }

    /// The machine-readable result of a search: budget, hypervolume and the Pareto front.
    /// `seconds` is this run's wall clock; `trial_seconds` the whole study's trials, across resumes,
    /// as the journal records them.
    static func summary(_ study: Study, seconds: Double) -> JSONValue {
        let spec = study.spec
        let front = study.frontIDs.map { id -> JSONValue in
            let t = study.trials[id]
            var m: [(key: String, value: JSONValue)] = [("id", .number(id))] + t.candidate.jsonMembers(in: spec.space) + [
                                                       ("values", .object(zip(spec.objectives,
                                                                              t.values).map { (key: $0.name, value: .number($1)) }))]
            if let b = t.baseline { m.append(("baseline", .string(b))) }
            let believed: [(key: String, value: JSONValue)] = spec.objectives.indices.filter { !spec.objectives[$0].known }.compactMap { j in
                study.posteriorBelief(id, j).map { b in (key: spec.objectives[j].name, value: .object([
                    ("mean", .number(b.mean)), ("low", .number(b.mean - b.halfWidth)), ("high", .number(b.mean + b.halfWidth))])) }
            }
            if !believed.isEmpty { m.append(("posterior", .object(believed))) }
            return .object(m)
        }
        let noise = study.noiseVerdicts
        let baselines = study.baselineVerdicts.enumerated().map { k, v -> JSONValue in
            var m: [(key: String, value: JSONValue)] = [("name", .string(v.baseline.baseline ?? "")), ("id", .number(v.baseline.id)),
                                                        ("matched", .bool(v.isMatched))]
            if let n = noise?[k] {
                m.append(("posterior", .object([("verdict", .string(n.kind.rawValue)), ("probability", .number(n.probability)),
                                                ("against", n.against.map { .number($0) } ?? .null)])))
            }
            return .object(m)
        }
        return .object([
            ("study", .string(spec.name)), ("directory", .string(study.directory)), ("resumed", .bool(study.resumed)),
            ("trials", .number(study.trials.count)), ("finished", .number(study.finished.count)),
            ("failed", .number(study.trials.filter { $0.status == .failed }.count)),
            ("objectives", .array(spec.objectives.map { .string($0.name) })),
            ("reference_point", .array(spec.reference.map { .number($0) })),
            ("selected_on", .string(study.selection.kind.rawValue)), ("answer", .string(study.answerMode.rawValue)),
            ("hypervolume", .number(study.hypervolume)),
            ("hypervolume_log10_params", study.countsParameters ? .number(study.reportedHypervolume) : .null),
            ("hypervolume_posterior", study.posteriorHypervolume.map { .number($0) } ?? .null),
            ("seconds", .number(seconds)), ("trial_seconds", .number(study.secondsSpent)), ("front", .array(front)),
            ("baselines", .array(baselines)),
        ])
    }
}

extension CLI {
    /// `autopeft report DIR`
    static func report(_ args: [String]) -> Int32 {
        let parsed = Commands.report.parse(args)
        guard case let .arguments(pos, _) = parsed else { return parsed.exitCode }
        do {
            let study = try Study(readingDirectory: pos[0])
            study.constantPredictionScore = TrainerEvaluator.constantPredictionScore(study.spec)
            for w in study.warnings { printErr("autopeft report: warning: \(w)") }
            let files = try Report.write(study, to: pos[0])
            for f in files { printErr("autopeft report: wrote \(f)") }
            print(summary(study, seconds: 0).serialized())
            return ExitCode.success
        } catch {
            printErr("autopeft report: \(error)")
            return ExitCode.of(error)
        }
    }
}

extension CLI {
    /// `autopeft score SPACE.json [--method spt|diffora] [--out DIR] [--budget N]`: compute, save and print
    /// (with the method's own choice, within N trainable parameters when given).
    static func score(_ args: [String]) -> Int32 {
        let parsed = Commands.score.parse(args)
        guard case let .arguments(pos, opts) = parsed else { return parsed.exitCode }
        let budget = opts.number("budget")
        let nThreads = threads(opts)
        BLAS.setThreads(nThreads)
        let method = SensitivityScores.Method(rawValue: opts["method"] ?? "spt") ?? .spt
        do {
            var spec = try StudySpec(file: pos[0], modelReader: ModelSource.dimensions)
            spec.priors.method = method
            let dir = opts["out"] ?? "results/\(spec.name)"
            var trainer: TrainerEvaluator?
            if case .training = spec.problem { trainer = try TrainerEvaluator(spec: spec, progress: printErr) }
            let scores = try SensitivityStore.scores(spec: spec, directory: dir, method: method, trainer: trainer, fresh: true,
                                                     progress: printErr)
            print(table(scores))
            if let dims = spec.problem.dimensions {
                let choice = try SensitivityPrior(scores: scores, space: spec.space, dims: dims).methodChoice(dims: dims,
                    seed: spec.seed, budget: budget)
                print("\n\(method) choice in this space\(budget.map { " within \(Int($0)) trainable parameters" } ?? ""): "
                    + "\(spec.space.json(choice).serialized())")
                if let n = spec.space.parameterCount?(choice) { print("trainable parameters: \(Int(n))") }
            }
            return ExitCode.success
        } catch {
            printErr("autopeft score: \(error)")
            return ExitCode.of(error)
        }
    }

    /// Layers × targets, with totals.
    static func table(_ s: SensitivityScores) -> String {
        let names = s.targets.map(\.rawValue)
        let w = max(10, (names.map(\.count).max() ?? 0) + 1)
        func pad(_ x: String) -> String { String(repeating: " ", count: max(0, w - x.count)) + x }
        var out = "\(s.method.rawValue) scores "
            + "(\(s.method == .spt ? "parameters in the global top-τ per weight matrix" : "module scores")), layers × targets\n"
        out += pad("layer") + names.map(pad).joined() + pad("total") + "\n"
        for l in 0..<s.layers {
            out += pad("\(l)") + s.scores[l].map { pad(String(format: "%.0f", $0)) }.joined()
                + pad(String(format: "%.0f", s.perLayer[l])) + "\n"
        }
        out += pad("total") + s.perTarget.map { pad(String(format: "%.0f", $0)) }.joined()
            + pad(String(format: "%.0f", s.perLayer.reduce(0, +)))
        return out
    }
}
