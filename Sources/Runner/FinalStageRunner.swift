import JSONKit
import Foundation
import Space
import Search
import Trainer

extension FinalStage {
    /// The final stage of a study: each Pareto configuration and each baseline retrained with
    /// `seeds` seeds by the evaluator (at the final fidelity), each run appended to
    /// `DIR/reevaluation.jsonl` as it finishes, so that a killed stage resumes where it stopped.
    /// Where the search itself trained a configuration's seed-0 run at these settings (a
    /// target-fidelity trial), that run is recorded from the journal (`from_search`) instead of
    /// being trained again, unless `retrain`. The first run trained here that finishes keeps its model
    /// in `DIR/exports/trial-<k>/` with its adapter export. A run whose training diverges is recorded
    /// as failed with the reason and is not retried; the others go on.
    public struct Runner {
        /// The file already holds runs at other settings: one fidelity per file.
        public struct MixedFidelity: Error, CustomStringConvertible {
            public let message: String
            public var description: String { message }
        }

        let study: Study
        let dir: String
        let seeds: Int
        let evaluator: TrainerEvaluator
        /// Retrain the baselines off the front too (false: the front only, as when the baselines'
        /// final-stage scores come from another study of the same task).
        let baselines: Bool
        /// Train seed 0 even where the search trained the same run.
        let retrain: Bool

        public init(study: Study, directory: String, seeds: Int, evaluator: TrainerEvaluator, baselines: Bool = true,
                    retrain: Bool = false) {
            self.study = study
            self.dir = directory
            self.seeds = seeds
            self.evaluator = evaluator
            self.baselines = baselines
            self.retrain = retrain
        }

        /// Whether trial `id`'s seed-0 run is taken from the search. Not with one seed: then
        /// nothing would be trained here, and the exports come from a run trained here.
        func fromSearch(_ id: Int) -> Bool {
            !retrain && seeds > 1 && evaluator.searchTrainedTheFinalRun(study.trials[id], seed: 0)
        }

        /// The settings every run of reevaluation.jsonl shares (one fidelity per file).
        var settings: JSONValue {
            .object([
                ("train_examples", evaluator.base.training.trainExamples.map { .number($0) } ?? .string("all")),
                ("epochs", .number(evaluator.base.training.epochs)), ("learning_rate", .number(evaluator.base.training.learningRate)),
                ("max_length", .number(evaluator.base.task.maxLength)),
            ])
        }

        /// Opens reevaluation.jsonl: the runs it already holds (finished or failed), as
        /// "trial:seed"; records these settings in a new file and refuses a file at other ones.
        func open() throws -> (journal: Journal, earlier: Reevaluation?, done: Set<String>) {
            let journal = try Journal(path: Reevaluation.path(dir))
            let earlier = try Reevaluation.read(directory: dir)
            let done = Set((earlier?.runs.map { "\($0.trial):\($0.seed)" } ?? [])
                + (earlier?.failures.map { "\($0.trial):\($0.seed)" } ?? []))
            if let recorded = earlier?.settings {
                if recorded != settings {
                    throw MixedFidelity(message: "\(Reevaluation.path(dir)) holds runs at \(recorded.serialized()); these settings "
                        + "are \(settings.serialized()). Move the file away to re-evaluate at another fidelity.")
                }
            } else {
                try journal.append(.studyNote, [("final", settings)])
            }
            return (journal, earlier, done)
        }

        /// Runs what is not done yet; returns the number of runs that failed in this call.
        public func run(progress: (String) -> Void) throws -> Int {
            let (journal, earlier, done) = try open()
            let targets = Reevaluation.targets(study, baselines: baselines)
            let total = targets.count * seeds
            let reused = Set(targets.filter(fromSearch))
            let todo = targets.map { id in (0..<seeds).filter { !(($0 == 0 && reused.contains(id)) || done.contains("\(id):\($0)")) }.count }
                .reduce(0, +)
            let stageStart = Date()
            var k = 0, failed = 0, ranHere = 0
            // The first run trained here that finishes keeps its model and export (the adapters
            // users load); a seed that diverged leaves them to the next one.
            var exported = Set(earlier?.runs.filter { !$0.fromSearch }.map(\.trial) ?? [])
            // Seconds used by this call and, from its pace so far, those left.
            func pace() -> String {
                ranHere += 1
                let used = Date().timeIntervalSince(stageStart)
                return "; \(Study.duration(used)) used" + (ranHere < todo
                    ? ", about \(Study.duration(used / Double(ranHere) * Double(todo - ranHere))) left" : "")
            }
            progress("\(targets.count) configurations (Pareto front\(baselines ? " and baselines" : "")) × \(seeds) seeds at "
                + "\(evaluator.base.training.trainExamples.map(String.init) ?? "all") rows, \(evaluator.base.training.epochs) "
                + "epochs, max length \(evaluator.base.task.maxLength); \(done.count) runs already done")
            let scoreIndex = study.spec.objectives.firstIndex { $0.name == Objective.Name.score } ?? 0
            for id in targets {
                let t = study.trials[id]
                let name = "trial \(id + 1)\(t.baseline.map { " [\($0)]" } ?? "")"
                for seed in 0..<seeds {
                    k += 1
                    if done.contains("\(id):\(seed)") { continue }
                    if seed == 0 && reused.contains(id) {
                        let score = t.values.indices.contains(scoreIndex) ? t.values[scoreIndex] : .nan
                        try record(journal, trial: id, seed: 0, score: score, metrics: t.metrics, seconds: 0, fromSearch: true)
                        progress("\(k)/\(total): \(name) seed 0: score \(String(format: "%.4f", score)), the search's own run "
                            + "at these settings (not trained again)")
                        continue
                    }
                    let start = Date()
                    let outcome: TrialOutcome
                    do {
                        outcome = try evaluator.evaluate(TrialRequest(candidate: t.candidate, seed: UInt64(seed), trial: id),
                                                         saveTo: exported.contains(id) ? nil : "\(dir)/exports/trial-\(id + 1)")
                    } catch TrainerError.training(let reason) {
                        // A diverging run fails alone: recorded with the reason, the others go on.
                        failed += 1
                        try journal.append(.reevaluated, [("trial", .number(id)), ("seed", .number(seed)),
                                                          ("error", .string("training: \(reason)")),
                                                          ("seconds", .number(Date().timeIntervalSince(start)))])
                        progress("\(k)/\(total): \(name) seed \(seed): FAILED: training: \(reason)" + pace())
                        continue
                    }
                    exported.insert(id)
                    let score = outcome.values[Objective.Name.score] ?? .nan
                    let seconds = Date().timeIntervalSince(start)
                    try record(journal, trial: id, seed: seed, score: score, metrics: outcome.metrics, seconds: seconds, fromSearch: false)
                    progress("\(k)/\(total): \(name) seed \(seed): score "
                        + "\(String(format: "%.4f", score)) (search-time \(String(format: "%.4f", t.values.first ?? .nan))) | "
                        + "\(String(format: "%.1f", seconds)) s" + pace())
                }
            }
            return failed
        }

        /// Appends one finished run to reevaluation.jsonl; `fromSearch` marks a run taken from the journal.
        func record(_ journal: Journal, trial id: Int, seed: Int, score: Double, metrics: [String: Double], seconds: Double,
                    fromSearch: Bool) throws {
            let metricsJSON = JSONValue.object(metrics.sorted { $0.key < $1.key }.map { (key: $0.key, value: .number($0.value)) })
            try journal.append(.reevaluated, [("trial", .number(id)), ("seed", .number(seed)), ("score", .number(score)),
                                              ("metrics", metricsJSON), ("seconds", .number(seconds))]
                + (fromSearch ? [("from_search", .bool(true))] : []))
        }
    }
}
