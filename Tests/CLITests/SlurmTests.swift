import XCTest
import Foundation
import TestSupport

/// The Slurm executor on a real one-node Slurm (`scripts/slurm-local start`): the tests start the
/// cluster and fail, never skip, when it cannot start.
final class SlurmTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    override func setUpWithError() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.root + "/scripts/slurm-local")
        p.arguments = ["start"]
        let err = Pipe()
        p.standardError = err
        try p.run()
        // Bounded: a daemon that kept the script's descriptors once made this wait forever.
        final class Box: @unchecked Sendable { var message = "" }
        let box = Box(), done = DispatchSemaphore(value: 0)
        Thread {
            box.message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            done.signal()
        }.start()
        guard done.wait(timeout: .now() + 180) == .success else {
            XCTFail("scripts/slurm-local start did not return within 180 s (a daemon it started may hold its descriptors)")
            throw XCTSkip("no cluster")
        }
        guard p.terminationStatus == 0 else {
            XCTFail("the local Slurm cluster did not start (scripts/slurm-local start): \(box.message)")
            throw XCTSkip("no cluster")
        }
    }

    func folder() -> String { scratchDirectory("slurm") }

    func space(_ d: String, trials: Int, delay: Double = 0, extra: String = "") throws -> String {
        let text = #"{"name": "slurm-test", "problem": {"name": "zdt1", "dimensions": 4, "delay_seconds": \#(delay)},"#
            + #""search": {"trials": \#(trials), "initial": 6, "seed": 3, "batch": 2},"#
            + #""executor": {"kind": "slurm", "jobs": 2, "poll_seconds": 0.2\#(extra)}}"#
        try text.write(toFile: d + "/space.json", atomically: true, encoding: .utf8)
        return d + "/space.json"
    }

    /// The journal's trials: (started record without timings, finished values) by id.
    func trials(_ dir: String) throws -> [Int: (started: String, values: String)] {
        var out: [Int: (started: String, values: String)] = [:]
        for line in try String(contentsOfFile: dir + "/journal.jsonl", encoding: .utf8).split(separator: "\n") {
            guard var o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let id = o["id"] as? Int else { continue }
            switch o["op"] as? String {
            case "trial_started":
                o["proposal_seconds"] = nil
                let s = String(decoding: try JSONSerialization.data(withJSONObject: o, options: .sortedKeys), as: UTF8.self)
                out[id, default: ("", "")].started = s
            case "trial_finished":
                let v = String(decoding: try JSONSerialization.data(withJSONObject: o["values"] ?? [:], options: .sortedKeys), as: UTF8.self)
                out[id, default: ("", "")].values = v
            default: break
            }
        }
        return out
    }

    func submissions(_ dir: String) throws -> [(trial: Int, job: String)] {
        try String(contentsOfFile: dir + "/journal.jsonl", encoding: .utf8).split(separator: "\n").compactMap { line in
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], o["op"] as? String == "trial_submitted",
                  let id = o["id"] as? Int, let job = o["job"] as? String else { return nil }
            return (id, job)
        }
    }

    /// 20 trials, 2 jobs in flight: the journal equals the in-process executor's with the same
    /// batch, configuration for configuration, seed for seed and value for value; every trial's
    /// job id is journaled and its log is in the study folder.
    func testSlurmSearchJournalsWhatTheInProcessSearchDoes() throws {
        let d = folder()
        let file = try space(d, trials: 20)
        let s = try runAutopeft(["search", file, "--out", d + "/slurm", "--no-report"])
        XCTAssertEqual(s.code, 0, s.err)
        let l = try runAutopeft(["search", file, "--out", d + "/local", "--executor", "local", "--no-report"])
        XCTAssertEqual(l.code, 0, l.err)
        let a = try trials(d + "/slurm"), b = try trials(d + "/local")
        XCTAssertEqual(a.count, 20)
        for id in 0..<20 {
            XCTAssertEqual(a[id]?.started, b[id]?.started, "trial \(id) started")
            XCTAssertEqual(a[id]?.values, b[id]?.values, "trial \(id) values")
        }
        let jobs = try submissions(d + "/slurm")
        XCTAssertEqual(Set(jobs.map(\.trial)), Set(0..<20), "every trial's job is journaled")
        XCTAssertEqual(Set(jobs.map(\.job)).count, 20, "one job per trial")
        for id in 0..<20 { XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/slurm/slurm/trial-\(id).log"), "log of trial \(id)") }
    }

    /// A job cancelled while it runs is submitted again and the trial finishes; a trial whose jobs
    /// keep failing is recorded failed with Slurm's reason after the retries.
    func testACancelledJobIsSubmittedAgain() throws {
        let d = folder()
        let file = try space(d, trials: 4, delay: 4)
        let (p, _) = try startSearch(file, out: d + "/s")
        var cancelled: String?
        _ = try whenReady(seconds: 20) {
            guard let first = try? submissions(d + "/s").first, runningJobs().contains(first.job) else { return false }
            try shell("scancel", [first.job])
            cancelled = first.job
            return true
        }
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertNotNil(cancelled, "a running job was cancelled")
        let jobs = try submissions(d + "/s")
        let first = try XCTUnwrap(jobs.first)
        XCTAssertEqual(jobs.filter { $0.trial == first.trial }.count, 2, "the cancelled trial was submitted again")
        XCTAssertEqual(try trials(d + "/s").values.filter { !$0.values.isEmpty }.count, 4, "every trial finished")
    }

    /// kill -9 of the driver while jobs run, then the same command: it re-attaches to the running
    /// jobs (no trial submitted twice while its job runs), loses nothing, and ends as an
    /// uninterrupted run does.
    func testADriverKilledWhileJobsRunReattaches() throws {
        let d = folder()
        let file = try space(d, trials: 8, delay: 3)
        let (p, _) = try startSearch(file, out: d + "/s")
        var killedWith: [String] = []
        _ = whenReady(seconds: 30) {
            let jobs = (try? submissions(d + "/s")) ?? []
            guard jobs.count >= 4, Set(jobs.suffix(2).map(\.job)).isSubset(of: Set(runningJobs())) else { return false }
            kill(p.processIdentifier, SIGKILL)
            killedWith = jobs.suffix(2).map(\.job)
            return true
        }
        p.waitUntilExit()
        XCTAssertEqual(killedWith.count, 2, "the driver was killed while two jobs ran")
        let r = try runAutopeft(["search", file, "--out", d + "/s", "--no-report"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertTrue(r.err.contains("re-attached"), r.err)
        let jobs = try submissions(d + "/s")
        for job in killedWith {
            let trial = try XCTUnwrap(jobs.first { $0.job == job }?.trial)
            XCTAssertEqual(Set(jobs.filter { $0.trial == trial }.map(\.job)), [job], "trial \(trial) kept its one job")
        }
        try assertSameValuesAsInProcess(file, d + "/s", count: 8)
    }

    /// slurmd stopped while jobs run and started again: the study still finishes every trial, as
    /// the in-process executor does.
    func testSlurmdStoppedAndStartedMidStudy() throws {
        let d = folder()
        let file = try space(d, trials: 8, delay: 2)
        let (p, err) = try startSearch(file, out: d + "/s")
        let bounced = try whenReady(seconds: 30) {
            guard let jobs = try? submissions(d + "/s"), jobs.count >= 3, !runningJobs().isEmpty else { return false }
            try shell("pkill", ["-x", "slurmd"])
            sleep(3)
            try shell("slurmd", [])
            return true
        }
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertTrue(bounced, "slurmd was stopped while a job ran")
        XCTAssertEqual(p.terminationStatus, 0, log)
        try assertSameValuesAsInProcess(file, d + "/s", count: 8)
    }

    /// A 3-trial search on the real model, each trial a Slurm job that loads MiniLM and trains.
    func testARealMiniLMSearchRunsAsSlurmJobs() throws {
        let model = try RepositoryData.requireModel(), glue = try RepositoryData.requireGLUE()
        let d = folder()
        let text = """
        {"name": "slurm-real", "model": "\(model)",
         "task": {"format": "glue", "name": "sst2", "train": "\(glue)/SST-2/train.tsv", "dev": "\(glue)/SST-2/dev.tsv", "max_length": 32},
         "training": {"epochs": 1, "batch_size": 16, "learning_rate": 0.005, "train_examples": 64, "dev_examples": 64, "seed": 0},
         "space": {"lora": {"rank": [2, 4], "targets": {"type": "subset", "of": ["query", "value"], "min": 1}}},
         "search": {"trials": 3, "initial": 3, "seed": 1},
         "executor": {"kind": "slurm", "jobs": 2, "poll_seconds": 0.3, "cpus_per_task": 1}}
        """
        try text.write(toFile: d + "/space.json", atomically: true, encoding: .utf8)
        let r = try runAutopeft(["search", d + "/space.json", "--out", d + "/s", "--no-report"])
        XCTAssertEqual(r.code, 0, r.err)
        let t = try trials(d + "/s")
        XCTAssertEqual(t.values.filter { !$0.values.isEmpty }.count, 3, r.err)
        XCTAssertEqual(try submissions(d + "/s").count, 3)
        let log = try String(contentsOfFile: d + "/s/slurm/trial-0.log", encoding: .utf8)
        XCTAssertTrue(log.contains("step"), "the job's training progress is in its log: \(log)")
    }

    /// `autopeft search FILE --out OUT` in the background; its stderr is collected.
    func startSearch(_ file: String, out: String) throws -> (process: Process, stderr: Pipe) {
        let p = Process()
        p.executableURL = try autopeftBinary()
        p.arguments = ["search", file, "--out", out, "--no-report"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return (p, err)
    }

    /// Polls every 0.1 s (up to `seconds`) until `act` says it acted.
    func whenReady(seconds: Double, _ act: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<Int(seconds * 10) {
            usleep(100_000)
            if try act() { return true }
        }
        return false
    }

    /// The study in `dir` holds `count` trials with the values the in-process executor gives.
    func assertSameValuesAsInProcess(_ file: String, _ dir: String, count: Int) throws {
        let reference = try runAutopeft(["search", file, "--out", dir + "-reference", "--executor", "local", "--no-report"])
        XCTAssertEqual(reference.code, 0, reference.err)
        let a = try trials(dir), b = try trials(dir + "-reference")
        XCTAssertEqual(a.count, count)
        for id in 0..<count { XCTAssertEqual(a[id]?.values, b[id]?.values, "trial \(id)") }
    }

    func runningJobs() -> [String] {
        ((try? shell("squeue", ["-h", "-t", "RUNNING", "-o", "%i"])) ?? "").split(separator: "\n").map(String.init)
    }

    @discardableResult
    func shell(_ tool: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [tool] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

/// A cluster job asked to stop (SIGTERM: Slurm's warning ahead of a preemption or a time limit)
/// saves its training state and exits 143; the same command continues from that state and
/// reaches the uninterrupted run's result exactly. Needs no cluster.
final class PreemptionTests: XCTestCase {
    func testATrialStoppedBySIGTERMContinuesToTheUninterruptedResult() throws {
        let model = try RepositoryData.requireModel(), glue = try RepositoryData.requireGLUE()
        let d = scratchDirectory("preempt")
        let space = """
        {"name": "preempt", "model": "\(model)",
         "task": {"format": "glue", "name": "sst2", "train": "\(glue)/SST-2/train.tsv", "dev": "\(glue)/SST-2/dev.tsv", "max_length": 32},
         "training": {"epochs": 2, "batch_size": 16, "learning_rate": 0.005, "train_examples": 320, "dev_examples": 64, "seed": 0},
         "space": {"lora": {"rank": [4], "dropout": 0.1, "targets": ["query", "value"]}}}
        """
        try space.write(toFile: d + "/space.json", atomically: true, encoding: .utf8)
        func trial(_ result: String, preempt: String?) throws -> Process {
            let p = Process()
            p.executableURL = try autopeftBinary()
            p.arguments = ["trial", d + "/space.json", "--candidate",
                           #"{"peft": {"lora": {"rank": 4, "alpha": 8, "dropout": 0.1, "targets": ["query", "value"]}}}"#, "--seed", "3", "--threads", "1",
                           "--result", result] + (preempt.map { ["--preempt-checkpoint", $0] } ?? [])
            p.standardOutput = FileHandle.nullDevice
            return p
        }
        let whole = try trial(d + "/whole.json", preempt: nil)
        whole.standardError = FileHandle.nullDevice
        try whole.run()
        whole.waitUntilExit()
        XCTAssertEqual(whole.terminationStatus, 0)

        let first = try trial(d + "/result.json", preempt: d + "/state")
        let err = Pipe()
        first.standardError = err
        try first.run()
        // SIGTERM once training has begun (progress lines come every 2 s) and taken a few steps.
        var seen = ""
        while !seen.contains("step ") && first.isRunning {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        usleep(1_500_000)
        kill(first.processIdentifier, SIGTERM)
        seen += String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 143, seen)
        XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/state/state.json"), seen)
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/result.json"), "no result: the trial did not end")

        let second = try trial(d + "/result.json", preempt: d + "/state")
        let err2 = Pipe()
        second.standardError = err2
        try second.run()
        let log = String(decoding: err2.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        second.waitUntilExit()
        XCTAssertEqual(second.terminationStatus, 0, log)
        XCTAssertTrue(log.contains("continuing from step"), log)
        let a = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/whole.json"))) as? [String: Any]
        let b = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d + "/result.json"))) as? [String: Any]
        XCTAssertEqual((a?["values"] as? [String: Double])?["score"], (b?["values"] as? [String: Double])?["score"])
        XCTAssertEqual((a?["metrics"] as? [String: Double])?["final_loss"], (b?["metrics"] as? [String: Double])?["final_loss"])
    }
}
