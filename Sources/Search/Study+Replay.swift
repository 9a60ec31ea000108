import JSONKit
import Foundation
import Space

extension Study {
    /// Trial records from a journal's lines, and whether it holds a `study_created` record.
    static func replay(_ journal: Journal, spec: StudySpec) throws -> ([TrialRecord], Bool) {
        var trials: [TrialRecord] = []
        var created = false
        for (op, rec, line) in journal.records {
            let path = "\(journal.path):\(line)"
            switch op {
            case .studyCreated:
                created = true
                if let doc = rec["spec"], StudySpec.hash(of: doc) != spec.spaceHash {
                    throw Failure(message: "\(journal.path) belongs to a study made from a different space file (only search.trials may "
                        + "change when resuming); run with --out NEW_DIR, or --fresh --force to start over")
                }
            case .trialStarted:
                let t = try startedTrial(JSONReader(rec, path: "trial_started", file: path), spec: spec)
                guard t.id == trials.count else { throw Failure(message: "\(path): trial ids out of order at trial \(t.id); the "
                    + "journal is corrupt") }
                trials.append(t)
            case .trialFinished, .trialFailed:
                let r = JSONReader(rec, path: op.rawValue, file: path)
                let id = try r.required("id").int()
                guard trials.indices.contains(id) else { throw Failure(message: "\(path): result for unknown trial \(id)") }
                trials[id].seconds = try r.optional("seconds")?.double() ?? 0
                if op == .trialFailed {
                    trials[id].status = .failed
                    trials[id].error = try r.optional("error")?.string()
                } else {
                    let values = try r.required("values")
                    trials[id].values = try spec.objectives.map { o throws(ConfigError) in try values.required(o.name).double() }
                    if let m = try r.optional("metrics"), case .object(let members) = m.value {
                        for mm in members { if case .number(let x, _) = mm.value { trials[id].metrics[mm.key] = x } }
                    }
                    trials[id].status = .finished
                }
            case .trialSubmitted:
                let r = JSONReader(rec, path: op.rawValue, file: path)
                let id = try r.required("id").int()
                if trials.indices.contains(id), let job = try r.optional("job")?.string(), !trials[id].jobs.contains(job) {
                    trials[id].jobs.append(job)
                }
            case .studyNote, .reevaluated, .fidelityAgreement:
                break
            }
        }
        return (trials, created)
    }

    /// A trial as its `trial_started` record describes it, still running.
    static func startedTrial(_ r: JSONReader, spec: StudySpec) throws -> TrialRecord {
        let id = try r.required("id").int()
        let candidate = try Candidate(reading: r, space: spec.space)
        let seed = try r.required("seed").int(in: 0...Int(UInt32.max), what: "a trial seed")
        var t = TrialRecord(id: id, candidate: candidate, seed: UInt64(seed), status: .running)
        t.baseline = try r.optional("baseline")?.string()
        t.origin = try r.optional("origin")?.enumValue(of: TrialRecord.Origin.self) ?? .optimizer
        t.proposalSeconds = try r.optional("proposal_seconds")?.double() ?? 0
        t.fidelity = try r.optional("fidelity").map { f throws(ConfigError) in try Fidelity(reading: f) }
        t.continues = try r.optional("continues")?.int(in: 0...max(0, id - 1), what: "an earlier trial's id")
        t.aim = try r.optional("aims_at")?.string()
        t.replicates = try r.optional("replicates")?.int(in: 0...max(0, id - 1), what: "an earlier trial's id")
        if let gp = try r.optional("gp") {
            t.hyperparameters = try gp.array().map { row throws(ConfigError) in
                try row.array().map { x throws(ConfigError) in try x.double() }
            }
        }
        return t
    }
}
