import Foundation
import Space
import Trainer

/// Exit codes: 0 success, 1 runtime failure (training diverged, I/O), 2 usage or input error.
enum ExitCode {
    static let success: Int32 = 0, failure: Int32 = 1, usage: Int32 = 2
}

final class StderrProgress: ProgressSink {
    let prefix: String
    init(prefix: String = "") { self.prefix = prefix }
    func report(_ line: String) { FileHandle.standardError.write(Data((prefix + line + "\n").utf8)) }
}

func printErr(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

enum CLI {
    static let usage = """
    autopeft — find the best parameter-efficient fine-tuning configuration for a model and a task.

    USAGE
      autopeft train RUN.json [--seed N] [--threads N]   Fine-tune one configuration; prints a JSON result on stdout.
      autopeft doctor                                    Print the BLAS kernel, threads and CPU facts.
      autopeft help                                      This text.

    Progress goes to stderr; stdout holds only the machine-readable result.
    """

    static func main(_ args: [String]) -> Int32 {
        guard let cmd = args.first else { printErr(usage); return ExitCode.usage }
        let rest = Array(args.dropFirst())
        switch cmd {
        case "train": return train(rest)
        case "doctor": return doctor()
        case "help", "--help", "-h": print(usage); return ExitCode.success
        case "--version", "version": print("autopeft 0.1.0"); return ExitCode.success
        default:
            var msg = "autopeft: unknown command \"\(cmd)\""
            if let m = didYouMean(cmd, among: ["train", "doctor", "help"]) { msg += " (did you mean \"\(m)\"?)" }
            printErr(msg + "\n\n" + usage)
            return ExitCode.usage
        }
    }

    /// Parses `--name value` options; unknown options are usage errors.
    static func options(_ args: [String], known: Set<String>) -> (positional: [String], options: [String: String])? {
        var pos: [String] = [], opts: [String: String] = [:]
        var i = 0
        while i < args.count {
            let a = args[i]
            if a.hasPrefix("--") {
                let name = String(a.dropFirst(2))
                guard known.contains(name) else {
                    var msg = "autopeft: unknown option \(a)"
                    if let m = didYouMean(name, among: Array(known)) { msg += " (did you mean --\(m)?)" }
                    printErr(msg)
                    return nil
                }
                guard i + 1 < args.count else { printErr("autopeft: option \(a) needs a value"); return nil }
                opts[name] = args[i + 1]
                i += 2
            } else {
                pos.append(a)
                i += 1
            }
        }
        return (pos, opts)
    }

    static func threads(_ opts: [String: String]) -> Int? {
        if let t = opts["threads"] {
            guard let n = Int(t), n >= 1 else { printErr("autopeft: --threads expects a positive integer, got \"\(t)\""); return nil }
            return n
        }
        return ProcessInfo.processInfo.activeProcessorCount
    }

    static func train(_ args: [String]) -> Int32 {
        guard let (pos, opts) = options(args, known: ["seed", "threads"]) else { return ExitCode.usage }
        guard pos.count == 1 else { printErr("autopeft train: expected one run file, e.g. autopeft train examples/sst2-quick.json"); return ExitCode.usage }
        guard let nThreads = threads(opts) else { return ExitCode.usage }
        BLAS.setThreads(nThreads)
        do throws(TrainerError) {
            var config = try RunConfig(contentsOf: pos[0])
            if let s = opts["seed"] {
                guard let v = UInt64(s) else { printErr("autopeft train: --seed expects a non-negative integer, got \"\(s)\""); return ExitCode.usage }
                config.training.seed = v
            }
            printErr("autopeft: loading \(config.model) (BLAS kernel \(BLAS.coreName), \(nThreads) threads)")
            let tuner = try FineTuner(config: config)
            let sink = StderrProgress()
            tuner.progress = sink
            let (result, _) = try tuner.run()
            print(result.json(extra: [("blas_core", .string(BLAS.coreName)), ("threads", .number(nThreads)),
                                      ("head", .string(config.head.rawValue))]).serialized())
            return ExitCode.success
        } catch {
            printErr("autopeft train: \(error)")
            if case .training = error { return ExitCode.failure }
            return ExitCode.usage
        }
    }

    static func doctor() -> Int32 {
        let flags = BLASKernel.cpuFlags()
        var cpu = "unknown"
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            cpu = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let simd = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "amx_bf16"].filter(flags.contains)
        BLAS.setThreads(ProcessInfo.processInfo.activeProcessorCount)
        let probe: [Float]
        do { probe = try KernelProbe.logits() } catch {
            printErr("autopeft doctor: kernel probe failed: \(error)")
            return ExitCode.failure
        }
        let out: JSONValue = .object([
            ("cpu", .string(cpu)), ("cores", .number(ProcessInfo.processInfo.activeProcessorCount)),
            ("simd", .array(simd.map { .string($0) })),
            ("blas_core", .string(BLAS.coreName)), ("blas_core_choice", .string(BLASKernel.choiceDescription)),
            ("blas_config", .string(BLAS.configString)),
            ("probe_logits", .array(probe.map { .number(Double($0)) })),
        ])
        print(out.serialized())
        return ExitCode.success
    }
}
