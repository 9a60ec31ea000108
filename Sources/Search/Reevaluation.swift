import JSONKit
import Foundation
import Space

/// The final stage's results (`reevaluation.jsonl` in the study folder): each Pareto
/// configuration and each baseline retrained at the final fidelity with several seeds.
public struct Reevaluation: Sendable {
    public struct Run: Sendable {
        public var trial: Int
        public var seed: Int
        public var score: Double
        public var seconds: Double
        /// Taken from the search's journal (`from_search`), not trained by the final stage.
        public var fromSearch = false
    }
    public var runs: [Run]
    /// Runs that failed (a diverging loss): recorded with the reason, not retried on resume.
    public struct FailedRun: Sendable {
        public var trial: Int
        public var seed: Int
        public var error: String
    }
    public var failures: [FailedRun] = []
    /// The final stage's settings, as recorded when the runs started (`study_note` with `final`).
    public var settings: JSONValue?

    public static func path(_ directory: String) -> String { directory + "/reevaluation.jsonl" }

    /// Reads the file without locking it; nil when there is none.
    public static func read(directory: String) throws -> Reevaluation? {
        let p = path(directory)
        guard FileManager.default.fileExists(atPath: p) else { return nil }
        return try Reevaluation(journal: Journal(path: p, readOnly: true))
    }

    init(journal: Journal) throws {
        var runs: [Run] = []
        for (op, rec, _) in journal.records where op == .studyNote {
            if let f = rec["final"] { settings = f }
        }
        for (op, rec, line) in journal.records where op == .reevaluated {
            let r = JSONReader(rec, path: "reevaluated", file: "\(journal.path):\(line)")
            let trial = try r.required("trial").int(in: 0...Int.max, what: "a trial id"), seed = try r.required("seed").int(in: 0...Int.max, what: "a seed")
            if let e = try r.optional("error") {
                failures.append(FailedRun(trial: trial, seed: seed, error: try e.string()))
                continue
            }
            runs.append(Run(trial: trial, seed: seed, score: try r.required("score").double(),
                            seconds: try r.optional("seconds")?.double() ?? 0,
                            fromSearch: try r.optional("from_search")?.bool() ?? false))
        }
        self.runs = runs
    }

    /// The recorded settings as text: "4000 rows, 1 epoch, max length 64, seeds 0-2".
    public var settingsDescription: String? {
        guard case .object(let m)? = settings else { return nil }
        func v(_ k: String) -> String? { m.first { $0.key == k }?.value.plainText }
        var parts: [String] = []
        if let r = v("train_examples") { parts.append("\(r) rows") }
        if let e = v("epochs") { parts.append("\(e) epoch\(e == "1" ? "" : "s")") }
        if let l = v("learning_rate") { parts.append("learning rate \(l)") }
        if let l = v("max_length") { parts.append("max length \(l)") }
        if let s = v("seeds") { parts.append("\(s) seeds") }
        return parts.joined(separator: ", ")
    }

    /// Mean, sample standard deviation and count of a trial's final-stage scores.
    public func stats(trial: Int) -> (mean: Double, sd: Double, n: Int)? {
        let s = runs.filter { $0.trial == trial }.map(\.score)
        guard !s.isEmpty else { return nil }
        let m = s.reduce(0, +) / Double(s.count)
        let sd = s.count > 1 ? (s.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(s.count - 1)).squareRoot() : 0
        return (m, sd, s.count)
    }

    /// What the final stage retrains: the Pareto front's trials and, unless `baselines` is false,
    /// every baseline (a baseline on the front is retrained either way), by id.
    public static func targets(_ study: Study, baselines: Bool = true) -> [Int] {
        Array(Set(study.frontIDs + (baselines ? study.answers.filter { $0.baseline != nil }.map(\.id) : []))).sorted()
    }

    /// The study's returned front measured at the final stage: the hypervolume of its trials' mean
    /// scores (the other objectives as the trials recorded them) against the study's reference
    /// point, trainable parameters on a log10 axis unless `logParameters` is false. Nil until
    /// every front trial has a final-stage score: a partly measured front has no honest volume.
    /// With `seed`, that seed's scores instead of the means (the spread of the volume over seeds).
    public func frontHypervolume(_ study: Study, logParameters: Bool = true, seed: Int? = nil) -> Double? {
        let objectives = study.spec.objectives
        guard let scoreIndex = objectives.firstIndex(where: { $0.name == Objective.Name.score }) else { return nil }
        var measured: [TrialRecord] = []
        for id in study.frontIDs {
            let score = seed.map { s in runs.first { $0.trial == id && $0.seed == s }?.score } ?? stats(trial: id)?.mean
            guard let mean = score else { return nil }
            var t = study.trials[id]
            t.values[scoreIndex] = mean
            measured.append(t)
        }
        let points = study.hypervolumePoints(measured, logParameters: logParameters)
        let reference = zip(objectives, study.spec.reference).map { $0.hypervolumeCoordinate($1, logParameters: logParameters) }
        return Hypervolume.compute(points, reference: reference)
    }
}
