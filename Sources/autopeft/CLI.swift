import JSONKit
import Foundation
import Space
import Trainer
import Runner
import Search

/// Exit codes: 0 success; 1 the work failed (a training run diverged, a file could not be
/// written, the journal is locked or cannot be written); 2 bad input or usage (options, space and
/// run files, data, model files, study folders, candidates that cannot be exported).
enum ExitCode {
    static let success: Int32 = 0, failure: Int32 = 1, usage: Int32 = 2

    /// The exit code of a command that stopped with `error`: the one rule every command follows.
    static func of(_ error: Error) -> Int32 {
        switch error {
        case is ConfigError, is PEFTExport.Unsupported, is Study.Failure: return usage
        case let e as TrainerError:
            switch e {
            case .training, .write, .interrupted: return failure
            case .file, .data, .config, .model: return usage
            }
        default: return failure
        }
    }
}

final class StderrProgress: ProgressSink {
    let prefix: String
    init(prefix: String = "") { self.prefix = prefix }
    func report(_ line: String) { FileHandle.standardError.write(Data((prefix + line + "\n").utf8)) }
}

func printErr(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

/// A path as a log shows it: relative to the working folder when it lies below it, so that a log
/// kept with results names no folder of the machine that made it.
func displayPath(_ path: String) -> String {
    let here = FileManager.default.currentDirectoryPath + "/"
    return path.hasPrefix(here) ? String(path.dropFirst(here.count)) : path
}

enum CLI {
    static func main(_ args: [String]) -> Int32 {
        guard let cmd = args.first else { printErr(Commands.usage); return ExitCode.usage }
        let rest = Array(args.dropFirst())
        switch cmd {
        case "train": return train(rest)
        case "search": return search(rest)
        case "report": return report(rest)
        case "score": return score(rest)
        case "reevaluate": return reevaluate(rest)
        case "trial": return trial(rest)
        case "predict": return predict(rest)
        case "export": return export(rest)
        case "doctor": return doctor(rest)
        case "help", "--help", "-h": print(Commands.usage, terminator: ""); return ExitCode.success
        case "--version", "version": print("autopeft 0.1.0"); return ExitCode.success
        default:
            var msg = "autopeft: unknown command \"\(cmd)\""
            if let m = didYouMean(cmd, among: Commands.all.map(\.name) + ["help"]) { msg += " (did you mean \"\(m)\"?)" }
            printErr(msg + "\n\n" + Commands.usage)
            return ExitCode.usage
        }
    }

    /// `--threads`, or the number of cores.
    static func threads(_ opts: [String: String]) -> Int {
        opts.integer("threads") ?? ProcessInfo.processInfo.activeProcessorCount
    }

    static func train(_ args: [String]) -> Int32 {
        let parsed = Commands.train.parse(args)
        guard case let .arguments(pos, opts) = parsed else { return parsed.exitCode }
        let nThreads = threads(opts)
        BLAS.setThreads(nThreads)
        let seed = opts.seed("seed")
        do throws(TrainerError) {
            var config = try RunConfig(contentsOf: pos[0])
            if let seed { config.training.seed = seed }
            printErr("autopeft: loading \(displayPath(config.model)) (BLAS kernel \(BLAS.coreName), \(nThreads) threads)")
            // Fail before training, not after, when the candidate could not be kept.
            if let dir = opts["save"] {
                do { try FileSystem.createDirectory(dir) } catch {
                    throw TrainerError.write(path: error.path, message: error.code == 0 ? error.reason
                                             : "cannot create the folder: " + SystemErrors.explain(code: error.code))
                }
            }
            let tuner = try FineTuner(config: config)
            let sink = StderrProgress()
            tuner.progress = sink
            let (result, model) = try tuner.run()
            if let dir = opts["save"] {
                try CandidateArchive.save(model, config: config, result: result, to: dir)
                printErr("autopeft: saved the trained candidate to \(dir)")
            }
            print(result.json(extra: [("blas_core", .string(BLAS.coreName)), ("threads", .number(nThreads)),
                                      ("head", .string(config.head.rawValue))]).serialized())
            return ExitCode.success
        } catch {
            printErr("autopeft train: \(error)")
            return ExitCode.of(error)
        }
    }

    static func predict(_ args: [String]) -> Int32 {
        let parsed = Commands.predict.parse(args)
        guard case let .arguments(pos, opts) = parsed, let data = opts["data"] else { return parsed.exitCode }
        let nThreads = threads(opts)
        BLAS.setThreads(nThreads)
        do throws(TrainerError) {
            let (config, tuner, trained) = try CandidateArchive.load(pos[0])
            let spec = config.task.spec
            let rows = try DatasetReader.read(data, task: spec, requireLabels: false)
            if let lm = trained as? DecoderLanguageModel { return try generate(lm, tuner: tuner, rows: rows) }
            guard let model = trained as? any SequenceClassifier else { throw TrainerError.model("nothing to predict with") }
            let outputs = try tuner.predict(model: model, examples: rows, progress: StderrProgress(prefix: "autopeft predict: "))
            var out = ""
            for (i, o) in outputs.enumerated() {
                var m: [(key: String, value: JSONValue)] = [("row", .number(i))]
                if let classes = spec.classes {
                    let k = o.indices.max { o[$0] < o[$1] } ?? 0
                    m += [("logits", .array(o.map { .number(Double($0)) })), ("label", .string(classes[k])), ("index", .number(k))]
                } else {
                    m.append(("value", .number(Double(o[0]))))
                }
                out += JSONValue.object(m).serialized() + "\n"
            }
            FileHandle.standardOutput.write(Data(out.utf8))
            let labelled = rows.allSatisfy { row in
                switch row.label {
                case .classIndex(let c): return c >= 0
                case .value(let v): return v.isFinite
                case .sequence: return false
                }
            }
            if labelled {
                let metrics = FineTuner.score(outputs: outputs, examples: rows, task: spec)
                printErr("autopeft predict: \(rows.count) rows; "
                    + metrics.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.4f", $0.value))" }.joined(separator: ", "))
            }
            return ExitCode.success
        } catch {
            printErr("autopeft predict: \(error)")
            return ExitCode.of(error)
        }
    }

    /// `predict` on a causal-LM candidate: one JSON line a row with its greedy generation (the
    /// task's `max_new_tokens`, at least 1), and the dev metrics on stderr when every row has a reference.
    static func generate(_ model: DecoderLanguageModel, tuner: FineTuner, rows: [Example]) throws(TrainerError) -> Int32 {
        guard (tuner.config.task.spec.languageModeling?.maxNewTokens ?? 0) > 0 else {
            throw TrainerError.config(ConfigError(path: "task.max_new_tokens",
                                                  message: "the candidate's task sets no max_new_tokens: there is nothing to generate"))
        }
        let generated = try tuner.generate(model: model, examples: rows, progress: StderrProgress(prefix: "autopeft predict: "))
        var out = ""
        for (i, g) in generated.enumerated() {
            out += JSONValue.object([("row", .number(i)), ("generation", .string(g))]).serialized() + "\n"
        }
        FileHandle.standardOutput.write(Data(out.utf8))
        let references = rows.allSatisfy { if case .sequence(let r) = $0.label { return r.reference != nil }; return false }
        if references {
            let metrics = try tuner.evaluate(languageModel: model, examples: rows)
            printErr("autopeft predict: \(rows.count) rows; "
                + metrics.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.4f", $0.value))" }.joined(separator: ", "))
        }
        return ExitCode.success
    }

    static func export(_ args: [String]) -> Int32 {
        let parsed = Commands.export.parse(args)
        guard case let .arguments(pos, opts) = parsed, let out = opts["out"] else { return parsed.exitCode }
        do {
            let (config, _, model) = try CandidateArchive.load(pos[0])
            let (format, notes) = opts.flag("merged") ? ("merged", try MergedExport.write(model, config: config, to: out))
                : try CandidateExport.write(model, config: config, to: out)
            for n in notes { printErr("autopeft export: note: \(n)") }
            print(JSONValue.object([("export", .string(out)), ("format", .string(format)),
                                    ("exact", .bool(notes.allSatisfy { $0.hasPrefix("PiSSA") }))]).serialized())
            return ExitCode.success
        } catch {
            printErr("autopeft export: \(error)")
            return ExitCode.of(error)
        }
    }

    static func doctor(_ args: [String]) -> Int32 {
        let parsed = Commands.doctor.parse(args)
        guard case .arguments = parsed else { return parsed.exitCode }
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
        var digests: [(key: String, value: JSONValue)] = []
        do {
            probe = try KernelProbe.logits()
            // The same training step on 1, 2 and 3 workers: equal digests mean bit-identical results.
            for w in 1...3 {
                let step = try KernelProbe.trainingStep(workers: w)
                digests.append(("\(w)", .string(KernelProbe.digest(step.logits + step.gradients))))
            }
        } catch {
            printErr("autopeft doctor: kernel probe failed: \(error)")
            return ExitCode.failure
        }
        let independent = Set(digests.map { $0.value.serialized() }).count == 1
        let out: JSONValue = .object([
            ("cpu", .string(cpu)), ("cores", .number(ProcessInfo.processInfo.activeProcessorCount)),
            ("simd", .array(simd.map { .string($0) })),
            ("blas_core", .string(BLAS.coreName)), ("blas_core_choice", .string(BLASKernel.choiceDescription)),
            ("blas_config", .string(BLAS.configString)),
            ("probe_logits", .array(probe.map { .number(Double($0)) })),
            ("step_digest_by_workers", .object(digests)), ("worker_count_independent", .bool(independent)),
        ])
        print(out.serialized())
        return ExitCode.success
    }
}
