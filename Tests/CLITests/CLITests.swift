import XCTest
import TestSupport

struct BinaryNotFound: Error, CustomStringConvertible {
    let searched: [String]
    var description: String { "autopeft binary not found beside the tests: \(searched)" }
}

/// The built autopeft binary beside the test executable.
func autopeftBinary() throws -> URL {
    // On Linux the test bundle is one executable inside the build folder; on macOS a bundle beside it.
    let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    let candidates = [testBinary.deletingLastPathComponent(), Bundle(for: CLITests.self).bundleURL.deletingLastPathComponent()]
        .map { $0.appendingPathComponent("autopeft") }
    guard let bin = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
        throw BinaryNotFound(searched: candidates.map(\.path))
    }
    return bin
}

/// Runs the built binary with `args`: exit code, stdout, stderr.
func runAutopeft(_ args: [String]) throws -> (code: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = try autopeftBinary()
    p.arguments = args
    let o = Pipe(), e = Pipe()
    p.standardOutput = o
    p.standardError = e
    try p.run()
    // Read stderr on another thread so that neither pipe can fill up and block the child.
    final class Box: @unchecked Sendable { var data = Data() }
    let errBox = Box()
    let reader = Thread { errBox.data = e.fileHandleForReading.readDataToEndOfFile() }
    reader.start()
    let out = o.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    while reader.isExecuting || !reader.isFinished { usleep(1000) }
    return (p.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: errBox.data, as: UTF8.self))
}

/// Runs the built `autopeft` binary and checks its exit codes and messages.
final class CLITests: XCTestCase {

    func run(_ args: [String]) throws -> (code: Int32, out: String, err: String) { try runAutopeft(args) }

    func testUnknownCommandSuggests() throws {
        let r = try run(["trainn"])
        XCTAssertEqual(r.code, 2)
        XCTAssertTrue(r.err.contains("unknown command \"trainn\" (did you mean \"train\"?)"), r.err)
    }

    func testMissingRunFileIsAClearError() throws {
        let r = try run(["train", "/nonexistent/run.json"])
        XCTAssertEqual(r.code, 2)
        // The system's reason once, not restated ("... : the file does not exist").
        XCTAssertEqual(r.err, "autopeft train: /nonexistent/run.json: cannot read run file: No such file or directory\n")
        XCTAssertEqual(r.out, "", "stdout stays clean on errors")
    }

    /// A folder where a file belongs is named as such, not as "The operation could not be
    /// completed" (DatasetReaderTests checks a data file).
    func testAFolderGivenForAFileIsAClearError() throws {
        let dir = scratchDirectory("cli")
        for args in [["train", dir], ["search", dir], ["score", dir]] {
            let r = try run(args)
            XCTAssertEqual(r.code, 2, args[0])
            XCTAssertTrue(r.err.contains("\(dir): cannot read ") && r.err.contains("file: it is a folder; expected a file"), r.err)
            XCTAssertEqual(r.out, "", "stdout stays clean on errors")
        }
    }

    func testMissingModelDirectoryIsAClearError() throws {
        let dir = scratchDirectory("cli")
        let p = dir + "/run.json"
        XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: Data(#"{"model": "nope", "task": {"name": "sst2", "train": "t", "dev": "d"}}"#.utf8)))
        let r = try run(["train", p, "--threads", "1"])
        XCTAssertEqual(r.code, 2)
        XCTAssertTrue(r.err.contains("/nope: model not found"), r.err)
        XCTAssertTrue(r.err.contains("a Hugging Face model directory or a GGUF file"), "says what a model is: \(r.err)")
    }

    func testDoctorPrintsJSONWithTheKernel() throws {
        let r = try run(["doctor"])
        XCTAssertEqual(r.code, 0)
        XCTAssertTrue(r.out.contains("\"blas_core\""), r.out)
    }
}

/// Results agree across OpenBLAS kernels: the doctor's probe (a training step and eval logits of a
/// seeded tiny BERT) under the generic kernel and under each optimised kernel this CPU can run.
final class KernelAgreementTests: XCTestCase {
    struct Doctor { let core: String; let logits: [Double]; let digests: [String: String] }

    /// `autopeft doctor` under `core`, or under the environment as it is when nil.
    func probe(_ core: String?) throws -> Doctor {
        let bin = try autopeftBinary()
        let p = Process()
        p.executableURL = bin
        p.arguments = ["doctor"]
        var env = ProcessInfo.processInfo.environment
        if let core { env["OPENBLAS_CORETYPE"] = core }
        env["AUTOPEFT_BLAS_REEXEC"] = nil
        p.environment = env
        let o = Pipe()
        p.standardOutput = o
        p.standardError = Pipe()
        try p.run()
        let data = o.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let name = obj["blas_core"] as? String, let logits = obj["probe_logits"] as? [Double],
              let digests = obj["step_digest_by_workers"] as? [String: String] else {
            throw BinaryNotFound(searched: ["doctor output: \(String(decoding: data, as: UTF8.self))"])
        }
        return Doctor(core: name, logits: logits, digests: digests)
    }

    /// The OpenBLAS kernels this CPU can run, the generic one first.
    var cores: [String] {
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        var cores = ["Prescott"]
        if flags.contains(" avx2") { cores.append("Haswell") }
        if flags.contains(" avx512f") { cores.append("SkylakeX") }
        if flags.contains(" avx512_bf16") { cores.append("Cooperlake") }
        return cores
    }

    /// Under every kernel, and under whatever the environment sets, 1, 2 and 3 workers give the
    /// same bits for a training step's logits and gradients.
    func testWorkerCountsAgreeBitForBitUnderEveryKernel() throws {
        for core in [nil] + cores.map(Optional.some) {
            let d = try probe(core)
            let label = core.map { "OPENBLAS_CORETYPE=\($0)" } ?? "the environment's kernel (\(d.core))"
            XCTAssertEqual(Set(d.digests.keys), ["1", "2", "3"], label)
            XCTAssertEqual(Set(d.digests.values).count, 1, "\(label): digests by worker count \(d.digests)")
        }
    }

    func testProbeAgreesAcrossKernels() throws {
        let cores = self.cores
        let reference = try probe("Prescott")
        XCTAssertEqual(reference.core.lowercased(), "prescott")
        for core in cores.dropFirst() {
            let other = try probe(core)
            XCTAssertEqual(other.core.lowercased(), core.lowercased(), "OPENBLAS_CORETYPE=\(core) was not honoured")
            XCTAssertEqual(other.logits.count, reference.logits.count)
            for (a, b) in zip(other.logits, reference.logits) {
                XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), "\(core) vs Prescott")
            }
        }
    }
}

/// The exit codes every command follows (README, "Exit codes"): 0 success, 1 the work failed,
/// 2 bad input or usage; each case with the message that names what was wrong. Options are
/// checked before anything is written.
final class ExitCodeTests: XCTestCase {
    func testTypicalFailuresOfEachCommand() throws {
        let d = scratchDirectory("exit")
        let space = d + "/z.json"
        try #"{"name": "z", "problem": {"name": "zdt1"}, "search": {"trials": 3, "initial": 2}}"#.write(toFile: space, atomically: true, encoding: .utf8)
        let ok = try runAutopeft(["search", space, "--out", d + "/study"])
        XCTAssertEqual(ok.code, 0, ok.err)
        try "not a directory".write(toFile: d + "/file", atomically: true, encoding: .utf8)
        let cases: [(args: [String], code: Int32, says: String)] = [
            (["--version"], 0, ""),
            (["nonsense"], 2, "unknown command"),
            (["train"], 2, "autopeft train: expected RUN.json, got none"),
            (["train", d + "/missing.json"], 2, "cannot read run file"),
            (["train", space, "--seed", "x"], 2, "--seed expects a non-negative integer"),
            (["search", space, "--out", d + "/w0", "--workers", "0"], 2, "--workers expects a positive integer"),
            (["search", space, "--out", d + "/t0", "--trials", "many"], 2, "--trials expects a positive integer"),
            (["search", space, "--bogus", "1"], 2, "unknown option --bogus"),
            (["search", d + "/missing.json"], 2, "cannot read the space file"),
            (["search", space, "--out", d + "/study", "--fresh"], 2, "--fresh starts over only into a new folder"),
            (["search", space, "--out", d + "/file/study"], 1, "/file: is a file, not a folder"),
            (["report", d + "/nowhere"], 2, "no journal.jsonl"),
            (["report", d + "/study"], 0, ""),
            (["reevaluate", d + "/nowhere"], 2, "no journal.jsonl"),
            (["reevaluate", d + "/study"], 2, "is a synthetic study"),
            (["reevaluate", d + "/study", "--seeds", "0"], 2, "--seeds expects a positive integer"),
            (["score", space, "--method", "magic"], 2, "--method expects spt or diffora"),
            (["score", space, "--budget", "-5"], 2, "--budget expects a positive number"),
            (["train", space, "--threads", "0"], 2, "--threads expects a positive integer"),
            (["trial", space, "--candidate", "{}", "--trial", "-1"], 2, "--trial expects a non-negative integer"),
            (["trial", space, "--candidate", "{"], 1, "--candidate: line 1, column 2: expected a string key"),
            (["trial", space, "--candidate", #"{"x": 1}"#], 1, #"candidate: expected "config" (a configuration of the space) or "peft""#),
            (["predict", d + "/nowhere", "--data", d + "/x.tsv"], 2, "/nowhere: not a saved candidate: no run.json in it"),
            (["predict", d + "/nowhere"], 2, "autopeft predict: missing --data FILE"),
            (["export", d + "/nowhere", "--out", d + "/e"], 2, "/nowhere: not a saved candidate: no run.json in it"),
            (["export", d + "/study", "--out", d + "/e"], 2, "/study: not a saved candidate: no run.json in it (save one with"),
            (["doctor", "extra"], 2, "takes no arguments"),
        ]
        for c in cases {
            let r = try runAutopeft(c.args)
            XCTAssertEqual(r.code, c.code, "autopeft \(c.args.joined(separator: " ")): \(r.err)")
            if !c.says.isEmpty { XCTAssertTrue(r.err.contains(c.says), "autopeft \(c.args.joined(separator: " ")): \(r.err)") }
            if c.code != 0 { XCTAssertEqual(r.out, "", "stdout stays clean on errors: \(c.args)") }
        }
        for rejected in ["w0", "t0"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/" + rejected), "a rejected option wrote \(rejected)")
        }
    }
}

/// `autopeft CMD --help` for every command lists exactly the options the command accepts: each
/// listed option is known to the parser, and every other command's options are refused.
final class CommandHelpTests: XCTestCase {
    static let commands = ["search", "report", "score", "reevaluate", "train", "predict", "export", "trial", "doctor"]

    func options(_ command: String) throws -> [String] {
        let r = try runAutopeft([command, "--help"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertTrue(r.out.hasPrefix("USAGE\n  autopeft \(command)"), r.out)
        XCTAssertTrue(r.out.contains("EXAMPLE\n  autopeft \(command)"), r.out)
        return r.out.split(separator: "\n").filter { $0.hasPrefix("  --") }.map { String($0.dropFirst(4).prefix { $0 != " " }) }
    }

    func testHelpListsExactlyTheAcceptedOptions() throws {
        var listed: [String: [String]] = [:]
        for c in Self.commands { listed[c] = try options(c) }
        XCTAssertEqual(listed["search"], ["out", "trials", "fresh", "force", "workers", "budget-seconds", "executor", "cancel-on-stop",
                                          "threads", "no-report"])
        let every = Set(listed.values.joined())
        let general = try runAutopeft(["help"])
        XCTAssertEqual(general.code, 0)
        for c in Self.commands {
            let mine = Set(listed[c] ?? [])
            for o in mine {
                let r = try runAutopeft([c, "--\(o)"])
                XCTAssertFalse(r.err.contains("unknown option"), "autopeft \(c) --\(o) is listed but refused: \(r.err)")
                XCTAssertTrue(general.out.contains("--\(o)"), "autopeft help omits --\(o)")
            }
            for o in every.subtracting(mine) {
                let r = try runAutopeft([c, "--\(o)", "1"])
                XCTAssertEqual(r.code, 2, "autopeft \(c) --\(o)")
                XCTAssertTrue(r.err.contains("autopeft \(c): unknown option --\(o)"),
                              "autopeft \(c) --\(o) is not listed but accepted: \(r.err)")
            }
            let usage = general.out.split(separator: "\n").first { $0.hasPrefix("  autopeft \(c) ") || $0 == "  autopeft \(c)" }
            XCTAssertNotNil(usage, "autopeft help lists \(c)")
        }
    }
}
