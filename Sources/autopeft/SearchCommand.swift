import Foundation
import Space
import Search
import Trainer

extension CLI {
    /// `autopeft search SPACE.json [--out DIR] [--trials N] [--fresh [--force]]`
    static func search(_ args: [String]) -> Int32 {
        guard let (pos, opts) = options(args, known: ["out", "trials", "threads"], flags: ["fresh", "force"]) else { return ExitCode.usage }
        guard pos.count == 1 else { printErr("autopeft search: expected one space file, e.g. autopeft search spaces/sst2-autopeft.json"); return ExitCode.usage }
        guard let nThreads = threads(opts) else { return ExitCode.usage }
        BLAS.setThreads(nThreads)
        var spec: StudySpec
        do { spec = try StudySpec(file: pos[0]) } catch {
            printErr("autopeft search: \(error)")
            return ExitCode.usage
        }
        if let t = opts["trials"] {
            guard let n = Int(t), n >= 1 else { printErr("autopeft search: --trials expects a positive integer, got \"\(t)\""); return ExitCode.usage }
            spec.trials = n
        }
        let dir = opts["out"] ?? "results/\(spec.name)"
        let study: Study
        do {
            study = try Study(spec: spec, directory: dir, fresh: opts["fresh"] != nil, force: opts["force"] != nil)
        } catch {
            printErr("autopeft search: \(error)")
            return ExitCode.usage
        }
        for w in study.warnings { printErr("autopeft search: warning: \(w)") }
        let done = study.trials.filter { $0.status != .running }.count
        if study.resumed {
            printErr("autopeft search: resuming the study in \(dir): \(done) trials done (\(study.finished.count) finished), \(study.trials.count - done) to re-run, budget \(spec.trials) (use --fresh to start over)")
        } else {
            printErr("autopeft search: new study \"\(spec.name)\" in \(dir): \(spec.trials) trials (\(spec.initial) initial), objectives \(spec.objectives.map { "\($0.goal.rawValue) \($0.name)" }.joined(separator: ", "))")
        }
        let evaluator: any Evaluator
        do {
            switch spec.problem {
            case .training: evaluator = try TrainerEvaluator(spec: spec, progress: printErr)
            default: evaluator = SyntheticEvaluator(spec: spec)
            }
        } catch {
            printErr("autopeft search: \(error)")
            return ExitCode.usage
        }
        let start = Date()
        do {
            try study.run(evaluator: evaluator) { printErr("autopeft search: " + $0) }
        } catch {
            printErr("autopeft search: \(error)")
            return ExitCode.failure
        }
        print(summary(study, seconds: Date().timeIntervalSince(start)).serialized())
        return ExitCode.success
    }

    /// The machine-readable result of a search: budget, hypervolume and the Pareto front.
    static func summary(_ study: Study, seconds: Double) -> JSONValue {
        let spec = study.spec
        let front = study.frontIDs.map { id -> JSONValue in
            let t = study.trials[id]
            var m: [(key: String, value: JSONValue)] = [("id", .number(id)), t.config.map { ("config", spec.space.json($0)) } ?? ("peft", t.candidate.plan?.json ?? .null),
                                                       ("values", .object(zip(spec.objectives, t.values).map { (key: $0.name, value: .number($1)) }))]
            if let b = t.baseline { m.append(("baseline", .string(b))) }
            return .object(m)
        }
        return .object([
            ("study", .string(spec.name)), ("directory", .string(study.directory)), ("resumed", .bool(study.resumed)),
            ("trials", .number(study.trials.count)), ("finished", .number(study.finished.count)),
            ("failed", .number(study.trials.filter { $0.status == .failed }.count)),
            ("objectives", .array(spec.objectives.map { .string($0.name) })),
            ("reference_point", .array(spec.reference.map { .number($0) })),
            ("hypervolume", .number(study.hypervolume)), ("seconds", .number(seconds)), ("front", .array(front)),
        ])
    }
}

extension CLI {
    /// `autopeft report DIR`
    static func report(_ args: [String]) -> Int32 {
        guard let (pos, _) = options(args, known: []) else { return ExitCode.usage }
        guard pos.count == 1 else { printErr("autopeft report: expected a study folder, e.g. autopeft report results/sst2-autopeft"); return ExitCode.usage }
        do {
            let study = try Study(readingDirectory: pos[0])
            for w in study.warnings { printErr("autopeft report: warning: \(w)") }
            let files = try Report.write(study, to: pos[0])
            for f in files { printErr("autopeft report: wrote \(f)") }
            print(summary(study, seconds: 0).serialized())
            return ExitCode.success
        } catch {
            printErr("autopeft report: \(error)")
            return ExitCode.usage
        }
    }
}
