import XCTest
import TestSupport
import Foundation

/// `autopeft search` and `autopeft report` end to end on synthetic problems, and the kill test.
final class SearchCLITests: XCTestCase {

    func folder() -> String { scratchDirectory("search-cli") }

    func testSearchThenResumeThenReport() throws {
        let d = folder()
        let space = d + "/zdt2.json"
        // Each trial is recorded to cost 10 s, so the study's trial seconds are known exactly.
        try #"{"name": "zdt2", "problem": {"name": "zdt2", "cost_seconds": 10}, "search": {"trials": 14, "initial": 6}}"#
            .write(toFile: space, atomically: true, encoding: .utf8)
        let r = try runAutopeft(["search", space, "--out", d + "/study"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertTrue(r.err.contains("new study \"zdt2\""), r.err)
        XCTAssertTrue(r.err.contains("trial 14/14: f1 "), r.err)
        XCTAssertTrue(r.err.contains("proposal") && r.err.contains("HV "), r.err)
        // The whole study's progress beside the per-trial lines, then the front and the report.
        XCTAssertTrue(r.err.contains("study: 1/14 trials done, ") && r.err.contains(" left\n"), r.err)
        XCTAssertTrue(r.err.contains("study: 14/14 trials done, "), r.err)
        XCTAssertTrue(r.err.contains("Pareto front ("), r.err)
        XCTAssertTrue(r.err.hasSuffix("autopeft search: report: \(d)/study/report.html\n"), r.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/study/report.html"))
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        XCTAssertEqual(summary["finished"] as? Int, 14)
        XCTAssertGreaterThan(summary["hypervolume"] as? Double ?? 0, 0)
        XCTAssertFalse((summary["front"] as? [Any] ?? []).isEmpty)
        XCTAssertEqual(summary["trial_seconds"] as? Double, 140)

        let again = try runAutopeft(["search", space, "--out", d + "/study", "--trials", "16"])
        XCTAssertEqual(again.code, 0, again.err)
        XCTAssertTrue(again.err.contains("resuming the study in \(d)/study: 14 trials done"), again.err)
        XCTAssertTrue(again.err.contains("trial 16/16"), again.err)
        XCTAssertFalse(again.err.contains("the budget is spent"), again.err)
        let spent = try runAutopeft(["search", space, "--out", d + "/study", "--trials", "10", "--no-report"])
        XCTAssertEqual(spent.code, 0, spent.err)
        XCTAssertTrue(spent.err.contains("16 trials done (16 finished), 0 to re-run, budget 10 (use --fresh to start over); the budget "
            + "is spent, so nothing runs: raise --trials to search on"), spent.err)
        XCTAssertFalse(spent.err.contains("trial 11/"), spent.err)
        // A resumed run's summary counts the whole study's trials, and its own wall clock apart.
        let resumed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(again.out.utf8)) as? [String: Any])
        XCTAssertEqual(resumed["trial_seconds"] as? Double, 160)
        XCTAssertLessThan(resumed["seconds"] as? Double ?? .infinity, 160)

        let fresh = try runAutopeft(["search", space, "--out", d + "/study", "--fresh"])
        XCTAssertEqual(fresh.code, 2)
        XCTAssertTrue(fresh.err.contains("--fresh starts over only into a new folder"), fresh.err)

        let rep = try runAutopeft(["report", d + "/study"])
        XCTAssertEqual(rep.code, 0, rep.err)
        for f in ["report.md", "report.html", "pareto.svg", "hypervolume.svg", "trials.csv"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/study/" + f), f)
        }
    }

    /// A study records its space file relative to the study folder, so a folder made in one place
    /// and moved (with its space file) to another opens, resumes and renders there, and neither
    /// its journal nor its report names either place.
    func testMovedStudyOpensResumesAndRendersWithoutMachinePaths() throws {
        let a = folder(), b = folder()
        try FileManager.default.removeItem(atPath: b)
        try #"{"name": "moved", "problem": {"name": "peft_mock"}, "search": {"trials": 6, "initial": 4}, "space": {"lora": {"rank": [0, 4, 8]}, "layers": {"type": "layer_mask"}}}"#
            .write(toFile: a + "/space.json", atomically: true, encoding: .utf8)
        let first = try runAutopeft(["search", a + "/space.json", "--out", a + "/runs/study"])
        XCTAssertEqual(first.code, 0, first.err)
        try FileManager.default.moveItem(atPath: a, toPath: b)

        let rep = try runAutopeft(["report", b + "/runs/study"])
        XCTAssertEqual(rep.code, 0, rep.err)
        let resumed = try runAutopeft(["search", b + "/space.json", "--out", b + "/runs/study", "--trials", "8"])
        XCTAssertEqual(resumed.code, 0, resumed.err)
        XCTAssertTrue(resumed.err.contains("resuming the study in \(b)/runs/study: 6 trials done"), resumed.err)
        XCTAssertTrue(resumed.err.contains("trial 8/8"), resumed.err)
        let again = try runAutopeft(["report", b + "/runs/study"])
        XCTAssertEqual(again.code, 0, again.err)

        for f in ["journal.jsonl", "report.md", "report.html", "trials.csv"] {
            let text = try String(contentsOfFile: b + "/runs/study/" + f, encoding: .utf8)
            for place in [a, b, NSTemporaryDirectory()] {
                XCTAssertFalse(text.contains(place), "\(f) names \(place)")
            }
        }
        let md = try String(contentsOfFile: b + "/runs/study/report.md", encoding: .utf8)
        XCTAssertTrue(md.contains("| space file | ../../space.json (from the study folder) |"), md)
        XCTAssertTrue(md.contains("`autopeft search ../../space.json --out .`"), md)
    }

    /// Two processes running the same study write the same trials, values and GP fits to the last
    /// bit (a sum over a dictionary once followed each process's hash seed and differed in the last
    /// digit, which then steered the GP elsewhere).
    func testTheSameStudyInTwoProcessesIsIdenticalBitForBit() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let d = folder()
        func trials(_ out: String) throws -> [String] {
            let r = try runAutopeft(["search", root + "/spaces/autopeft-mock.json", "--out", d + "/" + out, "--trials", "24",
                                     "--no-report"])
            XCTAssertEqual(r.code, 0, r.err)
            return try String(contentsOfFile: d + "/" + out + "/journal.jsonl", encoding: .utf8).split(separator: "\n").compactMap { line in
                guard var o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], (o["op"] as? String)?.hasPrefix("trial") == true else { return nil }
                o["seconds"] = nil; o["proposal_seconds"] = nil
                return String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self)
            }
        }
        let a = try trials("a"), b = try trials("b")
        XCTAssertEqual(a.count, 48)
        XCTAssertEqual(a, b)
    }

    /// A command's exit status, its output discarded.
    func sh(_ args: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// A tmpfs of `size` at `mnt` (root only: elsewhere the test is skipped, or fails under CI=true).
    func mountTmpfs(_ mnt: String, size: String) throws {
        guard getuid() == 0, try sh(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", mnt]) == 0 else {
            try missing("mounting a tmpfs needs root")
        }
    }

    /// A full disk: the search stops with the system's reason and what to do (exit 1); once space
    /// is freed the same command resumes, with every finished trial kept as it was. Needs root for
    /// a 12 KiB tmpfs (CI runs as root; elsewhere the test is skipped, or fails under CI=true).
    func testFullDiskStopsClearlyAndResumesLosingNothing() throws {
        let d = folder(), mnt = d + "/small"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        try mountTmpfs(mnt, size: "12k")
        defer { _ = try? sh(["umount", mnt]) }
        let space = d + "/z.json"
        try #"{"name": "z", "problem": {"name": "zdt1"}, "search": {"trials": 60, "initial": 5}}"#.write(toFile: space, atomically: true, encoding: .utf8)
        let full = try runAutopeft(["search", space, "--out", mnt + "/s", "--no-report"])
        XCTAssertEqual(full.code, 1, full.err)
        XCTAssertTrue(full.err.contains("cannot append to the journal: No space left on device: the disk is full; free space and "
            + "run the same command again to resume"), full.err)
        func finished() throws -> [String] {
            try String(contentsOfFile: mnt + "/s/journal.jsonl", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
                .dropLast().filter { $0.contains("\"trial_finished\"") }.map { String($0).replacingOccurrences(of: #","seconds":[0-9.e-]+"#, with: "", options: .regularExpression) }
        }
        let before = try finished()
        XCTAssertGreaterThan(before.count, 5)
        XCTAssertEqual(try sh(["mount", "-o", "remount,size=1m", mnt]), 0)
        let resumed = try runAutopeft(["search", space, "--out", mnt + "/s", "--no-report"])
        XCTAssertEqual(resumed.code, 0, resumed.err)
        XCTAssertTrue(resumed.err.contains("resuming the study"), resumed.err)
        let after = try finished()
        XCTAssertEqual(after.count, 60)
        XCTAssertEqual(Array(after.prefix(before.count)), before, "finished trials kept as they were")
    }

    /// A read-only filesystem under a finished study: the report, a resumed search and a saved
    /// candidate each stop with the system's reason and what to do (exit 1), and the journal is
    /// unchanged. Needs root for the tmpfs (as the full-disk test).
    func testReadOnlyFilesystemIsReportedWithWhatToDo() throws {
        let d = folder(), mnt = d + "/ro"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        try mountTmpfs(mnt, size: "1m")
        defer { _ = try? sh(["umount", mnt]) }
        let space = d + "/z.json"
        try #"{"name": "z", "problem": {"name": "zdt1"}, "search": {"trials": 8, "initial": 5}}"#.write(toFile: space, atomically: true, encoding: .utf8)
        let first = try runAutopeft(["search", space, "--out", mnt + "/s", "--no-report"])
        XCTAssertEqual(first.code, 0, first.err)
        let journal = try String(contentsOfFile: mnt + "/s/journal.jsonl", encoding: .utf8)
        XCTAssertEqual(try sh(["mount", "-o", "remount,ro", mnt]), 0)
        let report = try runAutopeft(["report", mnt + "/s"])
        XCTAssertEqual(report.code, 1, report.err)
        XCTAssertTrue(report.err.contains("cannot write the report: Read-only file system: the study folder is on a read-only filesystem"), report.err)
        let resumed = try runAutopeft(["search", space, "--out", mnt + "/s", "--trials", "10", "--no-report"])
        XCTAssertEqual(resumed.code, 1, resumed.err)
        XCTAssertTrue(resumed.err.contains("Read-only file system") && resumed.err.contains("use --out on a writable one"), resumed.err)
        if (try? RepositoryData.requireModel()) != nil {
            let train = try runAutopeft(["train", RepositoryData.root + "/examples/sst2-quick.json", "--save", mnt + "/candidate"])
            XCTAssertEqual(train.code, 1, train.err)
            XCTAssertTrue(train.err.contains("read-only filesystem; write to a writable one"), train.err)
        }
        XCTAssertEqual(try String(contentsOfFile: mnt + "/s/journal.jsonl", encoding: .utf8), journal, "nothing finished is lost")
    }

    /// Worker processes die with their driver, however it dies (SIGKILL, SIGTERM): they hold a
    /// lifeline pipe to it and exit when it closes.
    func testWorkersDoNotOutliveTheirDriver() throws {
        let d = folder()
        for (name, sig) in [("kill", SIGKILL), ("term", SIGTERM)] {
            let space = d + "/orphans-\(name).json"
            try #"{"name": "o", "problem": {"name": "zdt1", "delay_seconds": 20}, "search": {"trials": 6, "initial": 4}}"#
                .write(toFile: space, atomically: true, encoding: .utf8)
            func workers() throws -> Int {
                let p = Process(), o = Pipe()
                p.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
                p.arguments = ["-f", "autopeft trial \(space)"]
                p.standardOutput = o
                try p.run()
                let text = String(decoding: o.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                p.waitUntilExit()
                return text.split(separator: "\n").count
            }
            let driver = Process()
            driver.executableURL = try autopeftBinary()
            driver.arguments = ["search", space, "--out", d + "/s-\(name)", "--workers", "2"]
            driver.standardOutput = FileHandle.nullDevice
            driver.standardError = FileHandle.nullDevice
            try driver.run()
            var deadline = Date().addingTimeInterval(15)
            while try workers() < 2 && Date() < deadline { usleep(50_000) }
            XCTAssertEqual(try workers(), 2, "\(name): two workers running")
            kill(driver.processIdentifier, sig)
            driver.waitUntilExit()
            deadline = Date().addingTimeInterval(5)
            while try workers() > 0 && Date() < deadline { usleep(50_000) }
            XCTAssertEqual(try workers(), 0, "\(name): workers left running after their driver died")
        }
    }

    /// SIGINT and SIGTERM stop a search at once with exit 130 / 143 and a line saying how to
    /// resume; the same command then finishes the study with every finished trial kept.
    func testSignalsStopWithTheResumeCommandAndLoseNothing() throws {
        let d = folder()
        for (name, sig, code) in [("int", SIGINT, Int32(130)), ("term", SIGTERM, Int32(143))] {
            let space = d + "/sig-\(name).json", out = d + "/s-\(name)"
            try #"{"name": "s", "problem": {"name": "zdt1", "delay_seconds": 0.2}, "search": {"trials": 14, "initial": 4}}"#
                .write(toFile: space, atomically: true, encoding: .utf8)
            func finished() -> [String] {
                ((try? String(contentsOfFile: out + "/journal.jsonl", encoding: .utf8)) ?? "").split(separator: "\n")
                    .filter { $0.contains("\"trial_finished\"") }
                    .map { String($0).replacingOccurrences(of: #","seconds":[0-9.e-]+"#, with: "", options: .regularExpression) }
            }
            let p = Process(), e = Pipe()
            p.executableURL = try autopeftBinary()
            p.arguments = ["search", space, "--out", out, "--no-report"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = e
            try p.run()
            let deadline = Date().addingTimeInterval(20)
            while finished().count < 3 && Date() < deadline { usleep(20_000) }
            kill(p.processIdentifier, sig)
            let err = String(decoding: e.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, code, "\(name): \(err)")
            XCTAssertTrue(err.contains("stopped by SIG\(name.uppercased()); every finished trial is in the journal. Resume with: "
                + "autopeft search \(space) --out \(out)"), err)
            let before = finished()
            XCTAssertGreaterThanOrEqual(before.count, 3)
            XCTAssertLessThan(before.count, 14, "\(name): stopped before the end")
            let resumed = try runAutopeft(["search", space, "--out", out, "--no-report"])
            XCTAssertEqual(resumed.code, 0, resumed.err)
            let after = finished()
            XCTAssertEqual(after.count, 14)
            XCTAssertEqual(Array(after.prefix(before.count)), before, "\(name): finished trials kept")
        }
    }

    func testNoReportLeavesNoReport() throws {
        let d = folder()
        let space = d + "/z.json"
        try #"{"name": "z", "problem": {"name": "zdt1"}, "search": {"trials": 3, "initial": 2}}"#.write(toFile: space, atomically: true, encoding: .utf8)
        let r = try runAutopeft(["search", space, "--out", d + "/study", "--no-report"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertFalse(r.err.contains("report:"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/study/report.html"))
    }

    func testBadSpaceFileIsAClearErrorAndNoStudyIsCreated() throws {
        let d = folder()
        let space = d + "/bad.json"
        try #"{"problem": {"name": "peft_mock"}, "space": {"serial_adapter": {"size": [0, 8, "16"]}}}"#.write(toFile: space, atomically: true, encoding: .utf8)
        let r = try runAutopeft(["search", space, "--out", d + "/study"])
        XCTAssertEqual(r.code, 2)
        XCTAssertTrue(r.err.contains("bad.json: space.serial_adapter.size[2]: expected a number (an ordinal's values are "
            + "numbers), got \"16\""), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/study"))
        XCTAssertEqual(r.out, "")
    }

    /// --workers: trials run in worker processes; a worker killed by SIGKILL fails its trial only,
    /// with the reason, and the search goes on.
    func testWorkersRunTrialsInParallelAndSurviveACrash() throws {
        let d = folder()
        let space = d + "/w.json"
        try #"{"name": "w", "problem": {"name": "zdt1", "delay_seconds": 0.5, "crash_trials": [2]}, "search": {"trials": 8, "initial": 4}}"#
            .write(toFile: space, atomically: true, encoding: .utf8)
        let r = try runAutopeft(["search", space, "--out", d + "/s", "--workers", "2"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertTrue(r.err.contains("2 worker processes"), r.err)
        XCTAssertTrue(r.err.contains("trial 3/8: FAILED: the worker was killed by signal 9"), r.err)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        XCTAssertEqual(summary["finished"] as? Int, 7)
        XCTAssertEqual(summary["failed"] as? Int, 1)
        // How much faster two workers are is measured by bench/search/workers, not asserted here.
    }

    /// scripts/kill-test: 20 SIGKILLs at random moments, resume after each, result identical to an
    /// uninterrupted run (40 trials of ZDT1 with a 0.25 s sleep per trial); the script also asserts
    /// that most kills landed inside trials, a trial was re-run and a torn line was repaired.
    func testKillNineAtRandomMomentsLosesNothing() throws {
        let out = try runKillTest(fidelity: false)
        XCTAssertTrue(out.contains("40 trials finished exactly once"), out)
    }

    /// The same with a multi-fidelity study: cheap trials, paired continuations and target trials,
    /// and the fidelities and continuations each trial records, all equal to the uninterrupted run.
    func testKillNineDuringAMultiFidelityStudyLosesNothing() throws {
        let out = try runKillTest(fidelity: true)
        XCTAssertTrue(out.contains("multi-fidelity,") && out.contains("40 trials finished exactly once"), out)
        XCTAssertFalse(out.contains("multi-fidelity, 0 continuations"), out)
    }

    func runKillTest(fidelity: Bool) throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let p = Process()
        p.executableURL = root.appendingPathComponent("scripts/kill-test")
        p.arguments = ["20", "40"]
        var env = ProcessInfo.processInfo.environment
        env["AUTOPEFT"] = try autopeftBinary().path
        env["FIDELITY"] = fidelity ? "1" : "0"
        p.environment = env
        let o = Pipe(), e = Pipe()
        p.standardOutput = o
        p.standardError = e
        try p.run()
        let out = String(decoding: o.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let err = String(decoding: e.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, out + err)
        print(out)
        return out + err
    }
}
