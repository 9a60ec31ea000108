import JSONKit
import Foundation
import Space
import Search
import Trainer

/// Runs each trial in a worker process (`autopeft trial`), so that a batch of trials trains in
/// parallel and a crash, an out-of-memory kill or a trap in one trial fails that trial only.
/// BLAS threads are split: N workers on C cores get max(1, C / N) threads each.
public final class WorkerEvaluator: Evaluator, @unchecked Sendable {
    let spec: StudySpec
    let threadsPerWorker: Int
    let progress: @Sendable (String) -> Void

    public init(spec: StudySpec, workers: Int, cores: Int, progress: @escaping @Sendable (String) -> Void) {
        self.spec = spec
        threadsPerWorker = max(1, cores / max(workers, 1))
        self.progress = progress
    }

    public func evaluate(_ request: TrialRequest) throws -> TrialOutcome {
        let trial = request.trial
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        if !FileManager.default.isExecutableFile(atPath: p.executableURL!.path), let exe = Bundle.main.executablePath {
            p.executableURL = URL(fileURLWithPath: exe)
        }
        let candidateJSON = JSONValue.object(request.candidate.jsonMembers(in: spec.space))
        p.arguments = ["trial", spec.file, "--candidate", candidateJSON.serialized(), request.ownSeed ? "--training-seed" : "--seed", "\(request.seed)", "--trial", "\(trial)",
                       "--threads", "\(threadsPerWorker)", "--lifeline"] + Self.fidelityArguments(request)
        let out = Pipe(), err = Pipe(), lifeline = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = lifeline
        try p.run()
        // Kept open (and never written) until the worker ends; closed by the kernel if this process dies.
        defer { try? lifeline.fileHandleForWriting.close() }
        // Forward the worker's progress as it comes; keep its last line for error messages.
        final class Tail: @unchecked Sendable { var last = ""; let lock = NSLock() }
        let tail = Tail()
        let forward = progress
        let reader = Thread {
            var buffer = Data()
            while true {
                let chunk = err.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let nl = buffer.firstIndex(of: 0x0A) {
                    let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex...nl)
                    tail.lock.lock(); tail.last = line; tail.lock.unlock()
                    forward("  [worker, trial \(trial + 1)] " + line)
                }
            }
        }
        reader.start()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        while !reader.isFinished { usleep(1000) }
        tail.lock.lock(); let last = tail.last; tail.lock.unlock()
        if p.terminationReason == .uncaughtSignal {
            throw Study.Failure(message: "the worker was killed by signal "
                + "\(p.terminationStatus)\(p.terminationStatus == 9 ? " (out of memory?)" : "") — last message: \(last)")
        }
        guard p.terminationStatus == 0 else {
            throw Study.Failure(message: "the worker failed (exit \(p.terminationStatus)): \(last)")
        }
        return TrialOutcome(reading: try JSONParser.parse(bytes: [UInt8](data)))
    }

    /// The request's fidelity, continuation and checkpoint folder as `autopeft trial` options.
    static func fidelityArguments(_ request: TrialRequest) -> [String] {
        var args: [String] = []
        if let f = request.fidelity { args += ["--examples", "\(f.examples)", "--cheap-runs", request.cheapRuns.rawValue] }
        if let r = request.resume { args += ["--continues", "\(r.trial)", "--continues-examples", "\(r.fidelity.examples)"] }
        if let c = request.checkpoints { args += ["--checkpoints", c] }
        return args
    }
}
