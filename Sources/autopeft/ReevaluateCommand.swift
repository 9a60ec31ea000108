import Foundation
import Space
import Search
import Trainer
import Runner

extension CLI {
    /// `autopeft reevaluate DIR [--seeds N] [--threads N]`: retrain the Pareto configurations and the
    /// baselines at the space file's `final` fidelity with N seeds (0…N−1), appending each result
    /// to `DIR/reevaluation.jsonl` (resumable: finished runs are skipped). Seed 0's trained candidates
    /// are kept in `DIR/exports/trial-<k>/` with their HF PEFT or AdapterHub export in `adapter/`.
    static func reevaluate(_ args: [String]) -> Int32 {
        let parsed = Commands.reevaluate.parse(args)
        guard case let .arguments(pos, opts) = parsed else { return parsed.exitCode }
        guard let nThreads = threads(opts) else { return ExitCode.usage }
        BLAS.setThreads(nThreads)
        let dir = pos[0]
        do {
            let study = try Study(readingDirectory: dir)
            var final = study.spec.final
            // The final stage may be set or changed in the space file after the search (it is not
            // part of the study's identity): prefer the file's, when it is still the same study.
            if let current = try? StudySpec(file: study.spec.file), current.spaceHash == study.spec.spaceHash {
                final = current.final
            }
            if let r = opts["rows"] {
                guard let n = Int(r), n >= 1 else { printErr("autopeft reevaluate: --rows expects a positive integer, got \"\(r)\""); return ExitCode.usage }
                final.trainExamples = n
            }
            if let e = opts["epochs"] {
                guard let n = Int(e), n >= 1 else { printErr("autopeft reevaluate: --epochs expects a positive integer, got \"\(e)\""); return ExitCode.usage }
                final.epochs = n
            }
            if let s = opts["seeds"] {
                guard let n = Int(s), n >= 1 else { printErr("autopeft reevaluate: --seeds expects a positive integer, got \"\(s)\""); return ExitCode.usage }
                final.seeds = n
            }
            guard case .training = study.spec.problem else {
                printErr("autopeft reevaluate: \(dir) is a synthetic study; re-evaluation retrains real candidates")
                return ExitCode.usage
            }
            let journal = try Journal(path: Reevaluation.path(dir))
            let earlier = try Reevaluation.read(directory: dir)
            let done = Set((earlier?.runs.map { "\($0.trial):\($0.seed)" } ?? []) + (earlier?.failures.map { "\($0.trial):\($0.seed)" } ?? []))
            let evaluator = try TrainerEvaluator(spec: study.spec, final: final, progress: printErr)
            // One fidelity per file: record it, and refuse to mix another into it.
            let settings: JSONValue = .object([
                ("train_examples", evaluator.base.training.trainExamples.map { .number($0) } ?? .string("all")),
                ("epochs", .number(evaluator.base.training.epochs)), ("learning_rate", .number(evaluator.base.training.learningRate)),
                ("max_length", .number(evaluator.base.task.maxLength)),
            ])
            if let earlier = try Reevaluation.read(directory: dir)?.settings {
                if earlier != settings {
                    printErr("autopeft reevaluate: \(Reevaluation.path(dir)) holds runs at \(earlier.serialized()); these settings are \(settings.serialized()). Move the file away to re-evaluate at another fidelity.")
                    return ExitCode.usage
                }
            } else {
                try journal.append(.studyNote, [("final", settings)])
            }
            let targets = Reevaluation.targets(study)
            let total = targets.count * final.seeds
            var k = 0, failed = 0
            printErr("autopeft reevaluate: \(targets.count) configurations (Pareto front and baselines) × \(final.seeds) seeds at \(final.trainExamples.map(String.init) ?? "all") rows, \(evaluator.base.training.epochs) epochs, max length \(evaluator.base.task.maxLength); \(done.count) runs already done")
            for id in targets {
                let t = study.trials[id]
                for seed in 0..<final.seeds {
                    k += 1
                    if done.contains("\(id):\(seed)") { continue }
                    let start = Date()
                    // Seed 0's model is kept and exported: the adapters users load.
                    let outcome: TrialOutcome
                    do {
                        outcome = try evaluator.evaluate(t.candidate, seed: UInt64(seed), trial: id,
                                                         saveTo: seed == 0 ? "\(dir)/exports/trial-\(id + 1)" : nil)
                    } catch TrainerError.training(let reason) {
                        // A diverging run fails alone: recorded with the reason, the others go on.
                        failed += 1
                        try journal.append(.reevaluated, [("trial", .number(id)), ("seed", .number(seed)), ("error", .string("training: \(reason)")),
                                                          ("seconds", .number(Date().timeIntervalSince(start)))])
                        printErr("autopeft reevaluate: \(k)/\(total): trial \(id + 1) seed \(seed): FAILED: training: \(reason)")
                        continue
                    }
                    let score = outcome.values["score"] ?? .nan
                    let seconds = Date().timeIntervalSince(start)
                    try journal.append(.reevaluated, [("trial", .number(id)), ("seed", .number(seed)), ("score", .number(score)),
                                                      ("metrics", .object(outcome.metrics.sorted { $0.key < $1.key }.map { (key: $0.key, value: .number($0.value)) })),
                                                      ("seconds", .number(seconds))])
                    printErr("autopeft reevaluate: \(k)/\(total): trial \(id + 1)\(t.baseline.map { " [\($0)]" } ?? "") seed \(seed): score \(String(format: "%.4f", score)) (search-time \(String(format: "%.4f", t.values.first ?? .nan))) | \(String(format: "%.1f", seconds)) s")
                }
            }
            let re = try Reevaluation.read(directory: dir)
            let rows: [JSONValue] = targets.map { id in
                let t = study.trials[id]
                var m: [(key: String, value: JSONValue)] = [("trial", .number(id)), ("search_values", .array(t.values.map { .number($0) }))]
                if let b = t.baseline { m.append(("baseline", .string(b))) }
                if let s = re?.stats(trial: id) { m += [("mean", .number(s.mean)), ("sd", .number(s.sd)), ("n", .number(s.n))] }
                return .object(m)
            }
            print(JSONValue.object([("study", .string(study.spec.name)), ("reevaluated", .array(rows)), ("failed_runs", .number(failed))]).serialized())
            if failed > 0 { printErr("autopeft reevaluate: \(failed) runs failed (listed in the report); the others are recorded") }
            return failed > 0 ? ExitCode.failure : ExitCode.success
        } catch {
            printErr("autopeft reevaluate: \(error)")
            return ExitCode.of(error)
        }
    }
}
