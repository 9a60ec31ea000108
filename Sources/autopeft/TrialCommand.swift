import JSONKit
import Foundation
import Space
import Search
import Trainer
import Runner

extension CLI {
    /// `autopeft trial SPACE.json --candidate JSON --seed S [--trial K] [--threads N]`: evaluate one
    /// candidate of a space (`{"config": {...}}` or `{"peft": {...}}`); one JSON line on stdout with
    /// its measured values and metrics, and its known objectives' values under `known`. What worker
    /// processes run. `--seed` is the trial's seed, which a search's `training.seed` overrides (common
    /// random numbers); `--training-seed` trains with the seed given in any case.
    static func trial(_ args: [String]) -> Int32 {
        let parsed = Commands.trial.parse(args)
        guard case let .arguments(pos, opts) = parsed, let text = opts["candidate"] else { return parsed.exitCode }
        let nThreads = threads(opts)
        BLAS.setThreads(nThreads)
        if opts["lifeline"] != nil { exitWhenStandardInputCloses() }
        let trainingSeed = opts.seed("training-seed")
        let seed = trainingSeed ?? opts.seed("seed") ?? 0, id = Int(opts.seed("trial") ?? 0)
        do {
            let spec = try StudySpec(file: pos[0], modelReader: ModelSource.dimensions)
            let candidate = try readCandidate(text, space: spec.space)
            let evaluator: any Evaluator
            if case .training = spec.problem {
                let trainer = try TrainerEvaluator(spec: spec, progress: printErr)
                if trainingSeed != nil { trainer.usesTheFilesSeed = false }
                if opts["preempt-checkpoint"] != nil { trainer.stopRequested = Preemption.watch() }
                evaluator = trainer
            } else {
                evaluator = SyntheticEvaluator(spec: spec, inWorker: true)
            }
            var request = TrialRequest(candidate: candidate, seed: seed, trial: id, fidelity: opts.integer("examples").map(Fidelity.init),
                                       checkpoints: opts["checkpoints"])
            if let k = opts.seed("continues"), let m = opts.integer("continues-examples") {
                request.resume = (Int(k), Fidelity(examples: m))
            }
            request.cheapRuns = opts["cheap-runs"].flatMap(CheapRuns.init) ?? spec.fidelity?.cheapRuns ?? .prefix
            request.preemptTo = opts["preempt-checkpoint"]
            let o = try evaluator.evaluate(request)
            if let file = opts["result"] {
                do { try Data((o.json.serialized() + "\n").utf8).write(to: URL(fileURLWithPath: file), options: .atomic) }
                catch { throw IOFailure(path: file, reason: "cannot write the result: " + SystemErrors.explain(error)) }
            }
            print(withKnownValues(o.json, spec: spec, candidate: candidate).serialized())
            return ExitCode.success
        } catch TrainerError.interrupted(let step, let dir) {
            printErr("autopeft trial: stopped by SIGTERM at step \(step); the state is in \(dir); the same command continues from it")
            return 143
        } catch {
            printErr("autopeft trial: \(error)")
            // A cluster job's trial failed on its own terms: say so in its result, so the driver
            // records the failure instead of submitting the job again.
            if let file = opts["result"] {
                let failure = JSONValue.object([("error", .string("\(error)"))]).serialized() + "\n"
                try? Data(failure.utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
            }
            return ExitCode.failure
        }
    }
}

/// The outcome's JSON with `known`: the candidate's known objectives (trainable parameters), so
/// that a harness driving `autopeft trial` needs no second count. Drivers read only `values`,
/// `metrics` and `seconds`, so a worker's result means what it did.
private func withKnownValues(_ outcome: JSONValue, spec: StudySpec, candidate: Candidate) -> JSONValue {
    guard case .object(var members) = outcome else { return outcome }
    let known = zip(spec.objectives, spec.knownValues(candidate)).filter { $0.1.isFinite }
    guard !known.isEmpty else { return outcome }
    members.append(("known", .object(known.map { (key: $0.0.name, value: .number($0.1)) })))
    return .object(members)
}

/// The `--candidate` argument: `{"config": {...}}` or `{"peft": {...}}`, every key known.
private func readCandidate(_ text: String, space: SearchSpace) throws -> Candidate {
    let v: JSONValue
    do { v = try JSONParser.parse(text) } catch { throw ConfigError(file: "--candidate", path: "", message: "\(error)") }
    let r = JSONReader(v, path: "candidate")
    let candidate = try Candidate(reading: r, space: space)
    try r.finish()
    return candidate
}

/// A worker's lifeline: the driver holds the write end of the worker's standard input and never
/// writes. When the driver exits in any way (kill -9 included) the kernel closes it, the read
/// returns end-of-file, and the worker exits with 143 (as on SIGTERM) instead of training on as
/// an orphan.
func exitWhenStandardInputCloses() {
    let watcher = Thread {
        var byte: UInt8 = 0
        while true {
            let n = read(0, &byte, 1)
            if n == 0 || (n < 0 && errno != EINTR) { _exit(143) }
        }
    }
    watcher.start()
}

/// SIGTERM in a cluster job (Slurm sends it ahead of a preemption or a time limit, `--signal`):
/// the training loop sees the flag at its next step, saves its state and the trial exits 143.
enum Preemption {
    final class Flag: @unchecked Sendable {
        private var raised = false
        private let lock = NSLock()
        func raise() { lock.lock(); raised = true; lock.unlock() }
        var isRaised: Bool { lock.lock(); defer { lock.unlock() }; return raised }
    }
    nonisolated(unsafe) private static var source: DispatchSourceSignal?

    /// Installs the SIGTERM watcher; returns what the trainer polls.
    static func watch() -> () -> Bool {
        let flag = Flag()
        signal(SIGTERM, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
        s.setEventHandler { flag.raise() }
        s.resume()
        source = s
        return { flag.isRaised }
    }
}
