import Foundation
import Space

/// The loop's executor: runs started trials through an evaluator and tells the study each outcome.
extension Study {
    /// Runs the recorded trials `ids`: one by one, or at once on `workers` threads when there are
    /// several (the evaluator must then be safe to call from several threads).
    func execute(_ ids: [Int], evaluator: any Evaluator, workers: Int, progress: (String) -> Void) throws {
        if workers > 1 && ids.count > 1 {
            try executeConcurrently(ids, evaluator: evaluator, progress: progress)
        } else {
            for id in ids { try execute(id, evaluator: evaluator, progress: progress) }
        }
    }

    /// What the evaluator needs to run recorded trial `id`: with fidelities, its fidelity, the trial
    /// it continues and the study's checkpoint folder.
    func request(_ id: Int) -> TrialRequest {
        let t = trials[id]
        let resume = t.continues.map { k in (trial: k, fidelity: trials[k].fidelity ?? spec.fidelity?.target ?? Fidelity(examples: 1)) }
        var request = TrialRequest(candidate: t.candidate, seed: t.seed, trial: id, fidelity: t.fidelity, resume: resume,
                                   checkpoints: spec.fidelity == nil ? nil : directory + "/checkpoints")
        request.cheapRuns = spec.fidelity?.cheapRuns ?? .prefix
        request.ownSeed = t.replicates != nil
        return request
    }

    /// Journals Kendall's τ between the cheapest fidelity and the target when a new pair finished
    /// or the cheap fidelities were just dropped, and says when and why they were.
    func recordAgreement(ifMoreThan before: Int, wasDropped: Bool, progress: (String) -> Void) throws {
        let a = fidelityAgreement
        let reason = cheapFidelityDropReason
        guard a.pairs.count > before || (reason != nil) != wasDropped else { return }
        try journal.append(.fidelityAgreement, [("pairs", .number(a.pairs.count)), ("tau", .number(a.tau)),
                                                ("target_only", .bool(reason != nil))])
        progress(String(format: "fidelity agreement: Kendall τ %.2f on %d pairs (cheapest vs target)", a.tau, a.pairs.count)
            + (reason.map { "; \($0): every further trial trains at the target" } ?? ""))
    }

    /// Journals a cluster job submitted (or re-attached to) for trial `id`; safe from any thread.
    public func noteSubmission(trial id: Int, job: String, attempt: Int) {
        try? journal.append(.trialSubmitted, [("id", .number(id)), ("job", .string(job)), ("attempt", .number(attempt))])
    }

    /// Runs one recorded trial and journals its result.
    func execute(_ id: Int, evaluator: any Evaluator, progress: (String) -> Void) throws {
        let t0 = Date()
        let request = request(id)
        let result = Result { try evaluator.evaluate(request) }
        try tell(id, result, seconds: Date().timeIntervalSince(t0), progress: progress)
    }

    /// Runs several recorded trials at once (one thread each; the evaluator runs them in worker
    /// processes), then journals their results in id order from this thread.
    func executeConcurrently(_ ids: [Int], evaluator: any Evaluator, progress: (String) -> Void) throws {
        final class Results: @unchecked Sendable {
            var items: [(Result<TrialOutcome, Error>, Double)?]
            let lock = NSLock()
            init(_ n: Int) { items = Array(repeating: nil, count: n) }
        }
        struct Job: @unchecked Sendable { let evaluator: any Evaluator; let requests: [TrialRequest] }
        let results = Results(ids.count)
        let job = Job(evaluator: evaluator, requests: ids.map(request))
        DispatchQueue.concurrentPerform(iterations: ids.count) { k in
            let t0 = Date()
            let r = Result { try job.evaluator.evaluate(job.requests[k]) }
            results.lock.lock(); results.items[k] = (r, Date().timeIntervalSince(t0)); results.lock.unlock()
        }
        for (k, id) in ids.enumerated() {
            guard let (r, secs) = results.items[k] else { continue }
            try tell(id, r, seconds: secs, progress: progress)
        }
    }

    /// Journals the outcome of a trial `ask` started: finished with its objective values, or
    /// failed with the reason. A journal write that fails is thrown; any other error is the trial's.
    public func tell(_ id: Int, _ result: Result<TrialOutcome, Error>, seconds: Double, progress: (String) -> Void) throws {
        let t = trials[id]
        do {
            let outcome = try result.get()
            let seconds = outcome.seconds ?? seconds
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
            let pairsBefore = spec.fidelity == nil ? 0 : fidelityAgreement.pairs.count
            let droppedBefore = spec.fidelity != nil && cheapFidelitiesMislead
            trials[id].values = values
            trials[id].metrics = outcome.metrics
            trials[id].seconds = seconds
            trials[id].status = .finished
            if spec.fidelity != nil { try recordAgreement(ifMoreThan: pairsBefore, wasDropped: droppedBefore, progress: progress) }
            let shown = namedValues(values)
            let front = observedFrontIDs   // a posterior fit per trial would slow fast evaluators; the end reports the posterior's
            var tag = t.baseline.map { " [baseline \($0)]" } ?? (t.origin == .method ? " [\(spec.priors.methodName) choice]" : "")
            if let f = t.fidelity { tag += isAtTarget(t) ? " @target" : " @\(f.examples) examples" }
            if let k = t.continues { tag += " (continues trial \(k + 1))" }
            if let b = t.aim { tag += " (aims at baseline \(b))" }
            let timing = String(format: "%.2f s, proposal %.2f s", seconds, t.proposalSeconds)
            progress("trial \(id + 1)/\(spec.trials)\(tag): \(shown) | \(timing) | HV \(Study.format(reportedHypervolume)), "
                + "front \(front.count)"
                + (front.contains(id) ? " (new point on the front)" : ""))
            if let line = studyProgressLine() { progress(line) }
        } catch let error as Journal.Failure {
            throw error
        } catch {
            let message = "\(error)"
            try journal.append(.trialFailed, [("id", .number(id)), ("error", .string(message)), ("seconds", .number(seconds))])
            trials[id].status = .failed
            trials[id].error = message
            trials[id].seconds = seconds
            progress("trial \(id + 1)/\(spec.trials): FAILED: \(message)")
            if let line = studyProgressLine() { progress(line) }
        }
    }
}
