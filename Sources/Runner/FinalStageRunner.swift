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
            var members: [(key: String, value: JSONValue)] = [
                ("train_examples", evaluator.base.training.trainExamples.map { .number($0) } ?? .string("all")),
                ("epochs", .number(evaluator.base.training.epochs)), ("learning_rate", .number(evaluator.base.training.learningRate)),
                ("max_length", .number(evaluator.base.task.maxLength)),
            ]
            // A study that selected on validation rows: its final stage scores on dev (older files say nothing).
            if study.selection.kind == .validation { members.append(("scored_on", .string("dev"))) }
            return .object(members)
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
            let reused = Set(targets.filter(fromSearch))
            let runs = targets.flatMap { id in (0..<seeds).map { (id: id, seed: $0) } }
            let todo = runs.filter { !done.contains("\($0.id):\($0.seed)") && !($0.seed == 0 && reused.contains($0.id)) }
            var pace = Pace(todo: todo.count)
            var failed = 0
            // The first run trained here that finishes keeps its model and export (the adapters
            // users load); a seed that diverged leaves them to the next one.
            var exported = Set(earlier?.runs.filter { !$0.fromSearch }.map(\.trial) ?? [])
            progress("\(targets.count) configurations (Pareto front\(baselines ? " and baselines" : "")) × \(seeds) seeds at "
                + "\(evaluator.base.training.trainExamples.map(String.init) ?? "all") rows, \(evaluator.base.training.epochs) "
                + "epochs, max length \(evaluator.base.task.maxLength); \(done.count) runs already done")
            for (k, (id, seed)) in runs.enumerated() where !done.contains("\(id):\(seed)") {
                let t = study.trials[id]
                let name = "\(k + 1)/\(runs.count): trial \(id + 1)\(t.baseline.map { " [\($0)]" } ?? "") seed \(seed)"
                if seed == 0 && reused.contains(id) {
                    try record(journal, trial: id, seed: 0, score: searchScore(t), metrics: t.metrics, seconds: 0, fromSearch: true)
                    progress("\(name): score \(String(format: "%.4f", searchScore(t))), the search's own run at these settings "
                        + "(not trained again)")
                    continue
                }
                let outcome = try train(t, seed: seed, journal: journal,
                                        exportTo: exported.contains(id) ? nil : "\(dir)/exports/trial-\(id + 1)")
                if outcome.failed { failed += 1 } else { exported.insert(id) }
                progress("\(name): \(outcome.line)" + pace.next())
            }
            return failed
        }

        /// Trains one run and records it. A diverging run is recorded as failed, with the reason,
        /// so that it fails alone and the others go on. Returns its progress line.
        func train(_ t: TrialRecord, seed: Int, journal: Journal, exportTo: String?) throws -> (line: String, failed: Bool) {
            let start = Date()
            let outcome: TrialOutcome
            do {
                outcome = try evaluator.evaluate(TrialRequest(candidate: t.candidate, seed: UInt64(seed), trial: t.id),
                                                 saveTo: exportTo)
            } catch TrainerError.training(let reason) {
                try journal.append(.reevaluated, [("trial", .number(t.id)), ("seed", .number(seed)),
                                                  ("error", .string("training: \(reason)")),
                                                  ("seconds", .number(Date().timeIntervalSince(start)))])
                return ("FAILED: training: \(reason)", true)
            }
            let score = outcome.values[Objective.Name.score] ?? .nan
            let seconds = Date().timeIntervalSince(start)
            try record(journal, trial: t.id, seed: seed, score: score, metrics: outcome.metrics, seconds: seconds, fromSearch: false)
            return ("score \(String(format: "%.4f", score)) (search-time \(String(format: "%.4f", searchScore(t)))) | "
                + "\(String(format: "%.1f", seconds)) s", false)
        }

        /// The score the search measured for a trial (NaN where it has none).
        func searchScore(_ t: TrialRecord) -> Double {
            let index = study.spec.objectives.firstIndex { $0.name == Objective.Name.score } ?? 0
            return t.values.indices.contains(index) ? t.values[index] : .nan
        }

        /// Seconds used by this call and, from its pace so far, those left.
        struct Pace {
            let todo: Int
            let start = Date()
            var ran = 0

            mutating func next() -> String {
                ran += 1
                let used = Date().timeIntervalSince(start)
                let left = ran < todo ? ", about \(Study.duration(used / Double(ran) * Double(todo - ran))) left" : ""
                return "; \(Study.duration(used)) used" + left
            }
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
