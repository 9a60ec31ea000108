import JSONKit
import Foundation
import Space
import Search
import Trainer
import Runner

extension CLI {
    /// `autopeft reevaluate DIR [--seeds N] [--threads N]`: retrain the Pareto configurations and the
    /// baselines at the space file's `final` fidelity with N seeds (0…N−1), appending each result
    /// to `DIR/reevaluation.jsonl` (resumable: finished runs are skipped). A seed-0 run the search
    /// trained at these settings is taken from the journal (`--retrain` trains it again). The first
    /// run trained here that finishes (a diverged seed leaves it to the next) keeps its candidates in `DIR/exports/trial-<k>/` with their HF PEFT or
    /// AdapterHub export in `adapter/`.
    /// Then the report is written again with the re-evaluated scores (unless `--no-report`).
    static func reevaluate(_ args: [String]) -> Int32 {
        let parsed = Commands.reevaluate.parse(args)
        guard case let .arguments(pos, opts) = parsed else { return parsed.exitCode }
        let nThreads = threads(opts)
        BLAS.setThreads(nThreads)
        let dir = pos[0]
        do {
            let study = try Study(readingDirectory: dir)
            var final = study.spec.final
            // The final stage may be set or changed in the space file after the search (it is not
            // part of the study's identity): prefer the file's, when it is still the same study.
            if let current = try? StudySpec(file: study.spec.file, modelReader: ModelSource.dimensions), current.spaceHash == study.spec.spaceHash {
                final = current.final
            }
            if let n = opts.integer("rows") { final.trainExamples = n }
            if let n = opts.integer("epochs") { final.epochs = n }
            if let n = opts.integer("seeds") { final.seeds = n }
            guard case .training = study.spec.problem else {
                printErr("autopeft reevaluate: \(dir) is a synthetic study; re-evaluation retrains real candidates")
                return ExitCode.usage
            }
            let evaluator = try TrainerEvaluator(spec: study.spec, final: final, progress: printErr)
            let frontOnly = opts.flag("front-only")
            let stage = FinalStage.Runner(study: study, directory: dir, seeds: final.seeds, evaluator: evaluator, baselines: !frontOnly,
                                          retrain: opts.flag("retrain"))
            let failed: Int
            do { failed = try stage.run(progress: { printErr("autopeft reevaluate: " + $0) }) } catch let e as FinalStage.Runner.MixedFidelity {
                printErr("autopeft reevaluate: \(e)")
                return ExitCode.usage
            }
            let summary = try reevaluationSummary(study, directory: dir, baselines: !frontOnly, seeds: final.seeds, failed: failed)
            print(summary.serialized())
            if failed > 0 { printErr("autopeft reevaluate: \(failed) runs failed (listed in the report); the others are recorded") }
            // The report's front and baseline table show the re-evaluated means: rewrite it, as search does.
            if !opts.flag("no-report") {
                study.constantPredictionScore = TrainerEvaluator.constantPredictionScore(study.spec)
                guard writeReport(study, to: dir, command: "reevaluate", done: "the runs are recorded") else { return ExitCode.failure }
            }
            return failed > 0 ? ExitCode.failure : ExitCode.success
        } catch {
            printErr("autopeft reevaluate: \(error)")
            return ExitCode.of(error)
        }
    }

    /// reevaluate's stdout: per re-evaluated trial its search-time values and its final-stage mean,
    /// sd and n; the failed runs; and the front's hypervolume (also said on stderr).
    static func reevaluationSummary(_ study: Study, directory dir: String, baselines: Bool, seeds: Int, failed: Int) throws -> JSONValue {
        let re = try Reevaluation.read(directory: dir)
        let rows: [JSONValue] = Reevaluation.targets(study, baselines: baselines).map { id in
            let t = study.trials[id]
            var m: [(key: String, value: JSONValue)] = [("trial", .number(id)), ("search_values", .array(t.values.map { .number($0) }))]
            if let b = t.baseline { m.append(("baseline", .string(b))) }
            if let s = re?.stats(trial: id) { m += [("mean", .number(s.mean)), ("sd", .number(s.sd)), ("n", .number(s.n))] }
            return .object(m)
        }
        var summary: [(key: String, value: JSONValue)] = [("study", .string(study.spec.name)), ("reevaluated", .array(rows)),
                                                          ("failed_runs", .number(failed))]
        if let hv = re?.frontHypervolume(study) {
            let reference = zip(study.spec.objectives, study.spec.reference).map { (key: $0.name, value: JSONValue.number($1)) }
            let perSeed = (0..<seeds).map { s in re?.frontHypervolume(study, seed: s).map { JSONValue.number($0) } ?? .null }
            summary.append(("front_hypervolume", .object([("value", .number(hv)), ("parameters", .string("log10")),
                                                           ("score", .string("mean over seeds")), ("per_seed", .array(perSeed)),
                                                           ("reference", .object(reference))])))
            printErr("autopeft reevaluate: the front's hypervolume, mean score against log10 parameters (reference "
                + "\(reference.map { "\($0.key) \($0.value.plainText)" }.joined(separator: ", "))): \(String(format: "%.4f", hv))")
        }
        return .object(summary)
    }
}
