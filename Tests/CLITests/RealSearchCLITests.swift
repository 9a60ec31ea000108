import XCTest
import TestSupport
import Foundation

/// The whole product on the real model and real data, at a tiny fidelity: SPT and DiffoRA scores,
/// a search with baselines and the SPT prior, the final stage with exports, and the report.
final class RealSearchCLITests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func testTinyRealSearchEndToEnd() throws {
        let model = try RepositoryData.requireModel(), glue = try RepositoryData.requireGLUE()
        let d = scratchDirectory("real")
        let space = d + "/tiny.json"
        try """
        {"name": "tiny", "model": "\(model)",
         "task": {"format": "glue", "name": "sst2", "train": "\(glue)/SST-2/train.tsv", "dev": "\(glue)/SST-2/dev.tsv", "max_length": 24},
         "head": "mean",
         "training": {"epochs": 1, "batch_size": 16, "learning_rate": 5e-3, "train_examples": 64, "dev_examples": 64, "seed": 0},
         "search": {"trials": 5, "initial": 2, "reference_point": {"score": 0.4, "trainable_params": 500000}},
         "space": {"layers": {"type": "layer_mask"}, "serial_adapter": {"size": [0, 8, 32]}, "lora": {"rank": [0, 4], "targets": {"type": "subset", "of": ["query", "value"], "min": 1}}},
         "constraints": [{"type": "at_least_one", "of": ["serial_adapter.size", "lora.rank"]}],
         "baselines": [{"name": "prefix 4", "peft": {"prefix": {"length": 4}}},
                       {"name": "LoRA r4 q,v", "config": {"layers": [0, 1, 2, 3, 4, 5], "serial_adapter.size": 0, "lora.rank": 4, "lora.targets": ["query", "value"]}}],
         "priors": {"sensitivity": "spt", "batches": 2, "batch_size": 8, "steps": 3},
         "final": {"train_examples": 96, "epochs": 1, "seeds": 2}}
        """.write(toFile: space, atomically: true, encoding: .utf8)

        let score = try runAutopeft(["score", space, "--method", "diffora", "--out", d + "/scores"])
        XCTAssertEqual(score.code, 0, score.err)
        XCTAssertTrue(score.out.contains("diffora scores") && score.out.contains("diffora choice in this space"), score.out)
        // The supernet's progress shows the time left; the last step (always shown) has none left.
        let steps = score.err.split(separator: "\n").filter { $0.contains("DiffoRA step ") }
        let last = try XCTUnwrap(steps.last, score.err)
        XCTAssertTrue(steps.allSatisfy { $0.contains(" s  ETA ") } && last.hasSuffix("ETA 0m00s"), score.err)
        let counts = try XCTUnwrap(last.split(separator: " ").first { $0.contains("/") }).split(separator: "/")
        XCTAssertEqual(counts.first, counts.last, "the last line is the last step: \(last)")
        let saved = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d
            + "/scores/sensitivity-diffora.json"))) as? [String: Any])
        XCTAssertEqual((saved["gates"] as? [Any])?.count, 6 * 3, "LoRA on query and value, and a serial adapter, in 6 layers")

        let r = try runAutopeft(["search", space, "--out", d + "/study"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertTrue(r.err.contains("trial 1/5 [baseline prefix 4]"), r.err)
        XCTAssertTrue(r.err.contains("trial 3/5 [spt choice]"), r.err)
        // Each trial's training shows its progress (the last step always).
        XCTAssertTrue((1...5).allSatisfy { r.err.contains("  trial \($0): epoch 1/1  step ") }, r.err)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        XCTAssertEqual(summary["finished"] as? Int, 5, r.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/study/sensitivity-spt.json"))

        let fm = FileManager.default
        try fm.copyItem(atPath: d + "/study", toPath: d + "/study-killed")
        try fm.copyItem(atPath: d + "/study", toPath: d + "/study-front")
        let re = try runAutopeft(["reevaluate", d + "/study"])
        XCTAssertEqual(re.code, 0, re.err)
        let lines = try String(contentsOfFile: d + "/study/reevaluation.jsonl", encoding: .utf8).split(separator: "\n")
        let reSummary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(re.out.utf8)) as? [String: Any])
        let targets = try XCTUnwrap(reSummary["reevaluated"] as? [[String: Any]])
        XCTAssertEqual(lines.count, 1 + 2 * targets.count, "the settings, then one line per configuration and seed")
        // Progress: each run's line says the seconds used and, until the last, about how many are left.
        let runLines = re.err.split(separator: "\n").filter { $0.contains(" seed ") && $0.contains(": score ") }
        XCTAssertEqual(runLines.count, 2 * targets.count, re.err)
        XCTAssertTrue(runLines.dropLast().allSatisfy { $0.contains(" used, about ") && $0.hasSuffix(" left") }, re.err)
        XCTAssertTrue(runLines.last.map { $0.hasSuffix(" used") } ?? false, re.err)
        XCTAssertTrue(targets.allSatisfy { ($0["n"] as? Int) == 2 })
        try checkFrontHypervolume(reSummary, searchSummary: summary, study: d + "/study", reference: (0.4, 500_000))
        // Running it again does nothing new (resumable).
        let again = try runAutopeft(["reevaluate", d + "/study"])
        XCTAssertEqual(again.code, 0, again.err)
        XCTAssertEqual(try String(contentsOfFile: d + "/study/reevaluation.jsonl", encoding: .utf8).split(separator: "\n").count,
                       lines.count)

        // Another fidelity is not mixed into the same file.
        let other = try runAutopeft(["reevaluate", d + "/study", "--rows", "50"])
        XCTAssertEqual(other.code, 2)
        XCTAssertTrue(other.err.contains("holds runs at"), other.err)

        try checkKilledReevaluationResumes(d, uninterrupted: Self.runs(d + "/study"))

        // --front-only retrains the front (a baseline on it included) and no other baseline.
        let frontOnly = try runAutopeft(["reevaluate", d + "/study-front", "--front-only"])
        XCTAssertEqual(frontOnly.code, 0, frontOnly.err)
        let frontSummary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(frontOnly.out.utf8)) as? [String: Any])
        let frontIDs = try XCTUnwrap(summary["front"] as? [[String: Any]]).compactMap { $0["id"] as? Int }
        XCTAssertEqual(try XCTUnwrap(frontSummary["reevaluated"] as? [[String: Any]]).compactMap { $0["trial"] as? Int }.sorted(),
                       frontIDs.sorted())
        XCTAssertEqual(Set(try Self.runs(d + "/study-front").keys.map { Int($0.split(separator: ":")[0])! }), Set(frontIDs))
        // reevaluate writes the report again: its front shows the re-evaluated means, no `report` needed.
        XCTAssertTrue(frontOnly.err.contains("autopeft reevaluate: report: \(d)/study-front/report.html"), frontOnly.err)
        let frontReport = try String(contentsOfFile: d + "/study-front/report.md", encoding: .utf8)
        XCTAssertTrue(frontReport.contains("final score, mean ± sd (seeds)"), frontReport)
        let frontRuns = try Self.runs(d + "/study-front")
        for id in frontIDs {
            let scores = (0..<2).compactMap { frontRuns["\(id):\($0)"] }
            let mean = scores.reduce(0, +) / 2, sd = (scores.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)).squareRoot()
            XCTAssertTrue(frontReport.contains(String(format: "%.4f ± %.4f (2)", mean, sd)), "trial \(id + 1): \(frontReport)")
        }

        let rep = try runAutopeft(["report", d + "/study"])
        XCTAssertEqual(rep.code, 0, rep.err)
        let md = try String(contentsOfFile: d + "/study/report.md", encoding: .utf8)
        try checkReportValues(md, study: d + "/study")
        XCTAssertTrue(md.contains("final score, mean ± sd (seeds)"), md)
        XCTAssertTrue(md.contains("| final stage | 96 rows, 1 epoch, learning rate 0.005, max length 24; "), md)
        XCTAssertTrue(md.contains("## Baselines") && md.contains("## Sensitivity prior (spt)"), md)
        XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/study/sensitivity.svg"))
        let exports = try FileManager.default.contentsOfDirectory(atPath: d + "/study/exports")
        XCTAssertEqual(exports.count, targets.count)
        // The LoRA baseline's export is an HF PEFT adapter.
        let lora = try XCTUnwrap(targets.first { ($0["baseline"] as? String) == "LoRA r4 q,v" })
        let id = try XCTUnwrap(lora["trial"] as? Int)
        XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/study/exports/trial-\(id + 1)/adapter/adapter_config.json"))
    }

    /// A multi-fidelity study whose final stage is its target: reevaluate takes each target trial's
    /// seed-0 run from the journal, and those scores are the ones `--retrain` trains again, bit for
    /// bit (continued trials included); cheaper trials on the front are trained, and every front
    /// configuration still gets its export, from the first seed trained that finishes (one whose seed 1
    /// diverged, from seed 2).
    func testReevaluateTakesTheSearchsOwnTargetRunsAsSeedZero() throws {
        let model = try RepositoryData.requireModel(), glue = try RepositoryData.requireGLUE()
        let d = scratchDirectory("reuse")
        try """
        {"name": "reuse", "model": "\(model)",
         "task": {"format": "glue", "name": "sst2", "train": "\(glue)/SST-2/train.tsv", "dev": "\(glue)/SST-2/dev.tsv", "max_length": 24},
         "head": "mean",
         "training": {"epochs": 2, "batch_size": 16, "learning_rate": 5e-3, "train_examples": 64, "dev_examples": 64, "seed": 0},
         "fidelity": {"target": {"train_examples": 64, "epochs": 2}, "cheaper": [32], "paired": 2},
         "search": {"trials": 6, "initial": 3, "reference_point": {"score": 0.4, "trainable_params": 500000}},
         "space": {"layers": {"type": "layer_mask"}, "serial_adapter": {"size": [8, 16]}},
         "final": {"train_examples": 64, "epochs": 2, "seeds": 2}}
        """.write(toFile: d + "/reuse.json", atomically: true, encoding: .utf8)
        let search = try runAutopeft(["search", d + "/reuse.json", "--out", d + "/study", "--no-report"])
        XCTAssertEqual(search.code, 0, search.err)
        try FileManager.default.copyItem(atPath: d + "/study", toPath: d + "/retrained")
        try FileManager.default.copyItem(atPath: d + "/study", toPath: d + "/diverged")
        let reused = try runAutopeft(["reevaluate", d + "/study", "--front-only"])
        XCTAssertEqual(reused.code, 0, reused.err)
        let retrained = try runAutopeft(["reevaluate", d + "/retrained", "--front-only", "--retrain"])
        XCTAssertEqual(retrained.code, 0, retrained.err)

        // Trials at the target (128 examples: 64 rows x 2 epochs) and the reused runs.
        var atTarget = Set<Int>(), fromSearch = Set<Int>()
        for line in try String(contentsOfFile: d + "/study/journal.jsonl", encoding: .utf8).split(separator: "\n") {
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            if o["op"] as? String == "trial_started", (o["fidelity"] as? [String: Any])?["examples"] as? Int == 128,
               let id = o["id"] as? Int { atTarget.insert(id) }
        }
        for line in try String(contentsOfFile: d + "/study/reevaluation.jsonl", encoding: .utf8).split(separator: "\n") {
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            if o["from_search"] as? Bool == true, let id = o["trial"] as? Int {
                XCTAssertEqual(o["seed"] as? Int, 0, String(line))
                fromSearch.insert(id)
            }
        }
        let runs = try Self.runs(d + "/study"), again = try Self.runs(d + "/retrained")
        let front = Set(runs.keys.map { Int($0.split(separator: ":")[0])! })
        XCTAssertFalse(fromSearch.isEmpty, "the front holds target trials: \(front), at the target \(atTarget)")
        XCTAssertEqual(fromSearch, front.intersection(atTarget), "every front trial at the target, and only those")
        XCTAssertEqual(runs, again, "the journal's runs are the runs --retrain trains, bit for bit")
        XCTAssertFalse(again.isEmpty)
        XCTAssertTrue(reused.err.contains("the search's own run at these settings (not trained again)"), reused.err)
        XCTAssertFalse(retrained.err.contains("not trained again"), retrained.err)
        for id in front {
            XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/study/exports/trial-\(id + 1)/run.json"), "trial \(id + 1)'s export")
        }

        // A diverged run leaves the export to the next seed: the file a final stage leaves when
        // seed 1 of every reused trial diverged (its settings line, then the failures), resumed
        // with a third seed, exports seed 2 of those trials.
        let note = try XCTUnwrap(try String(contentsOfFile: d + "/study/reevaluation.jsonl", encoding: .utf8)
            .split(separator: "\n").first)
        let failures = fromSearch.sorted().map {
            #"{"op":"reevaluated","trial":\#($0),"seed":1,"error":"training: the loss is not finite","seconds":1}"#
        }
        try ([String(note)] + failures).map { $0 + "\n" }.joined().write(toFile: d + "/diverged/reevaluation.jsonl", atomically: true,
                                                                       encoding: .utf8)
        let resumed = try runAutopeft(["reevaluate", d + "/diverged", "--front-only", "--seeds", "3", "--no-report"])
        XCTAssertEqual(resumed.code, 0, resumed.err)
        let afterFailure = try Self.runs(d + "/diverged")
        for id in front {
            XCTAssertEqual(afterFailure["\(id):2"]?.isFinite, true, "trial \(id + 1)'s seed 2: \(afterFailure)")
            XCTAssertEqual(afterFailure["\(id):1"]?.isNaN, fromSearch.contains(id), "seed 1 failed where it was written so: \(afterFailure)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/diverged/exports/trial-\(id + 1)/run.json"),
                          "trial \(id + 1) keeps an export although \(fromSearch.contains(id) ? "its seed 1 failed" : "it trained seed 0")")
        }
    }

    /// `fidelity.cheap_runs`: an annealed cheap trial of N examples is the plain run of N rows × 1
    /// epoch (its own schedule) bit for bit, while a prefix trial stops the target run after N
    /// examples: the same data, other steps and another score.
    func testAnAnnealedCheapTrialIsARunOfItsOwn() throws {
        let model = try RepositoryData.requireModel(), glue = try RepositoryData.requireGLUE()
        let d = scratchDirectory("annealed")
        func space(rows: Int, epochs: Int, fidelity: String) -> String {
            """
            {"name": "annealed", "model": "\(model)",
             "task": {"format": "glue", "name": "sst2", "train": "\(glue)/SST-2/train.tsv", "dev": "\(glue)/SST-2/dev.tsv", "max_length": 24},
             "head": "mean",
             "training": {"epochs": \(epochs), "batch_size": 16, "learning_rate": 5e-3, "train_examples": \(rows), "dev_examples": 64, "seed": 0},
             "search": {"trials": 4, "reference_point": {"score": 0.4, "trainable_params": 500000}},
             "space": {"serial_adapter": {"size": [8, 16]}}\(fidelity)}
            """
        }
        try space(rows: 64, epochs: 2, fidelity: #", "fidelity": {"target": {"train_examples": 64, "epochs": 2}, "cheaper": [32], "cheap_runs": "annealed"}"#)
            .write(toFile: d + "/mf.json", atomically: true, encoding: .utf8)
        try space(rows: 32, epochs: 1, fidelity: "").write(toFile: d + "/plain.json", atomically: true, encoding: .utf8)
        let candidate = #"{"config": {"serial_adapter.size": 8}}"#
        func outcome(_ args: [String]) throws -> [String: Any] {
            let r = try runAutopeft(["trial"] + args + ["--candidate", candidate, "--threads", "1"])
            XCTAssertEqual(r.code, 0, r.err)
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        }
        func values(_ o: [String: Any]) -> (score: Double?, steps: Double?) {
            ((o["values"] as? [String: Any])?["score"] as? Double, (o["metrics"] as? [String: Any])?["steps"] as? Double)
        }
        let annealed = values(try outcome([d + "/mf.json", "--examples", "32"]))
        let plain = values(try outcome([d + "/plain.json"]))
        let prefix = values(try outcome([d + "/mf.json", "--examples", "32", "--cheap-runs", "prefix", "--checkpoints", d + "/ck"]))
        XCTAssertEqual(annealed.steps, 2, "32 rows in batches of 16")
        XCTAssertNotNil(annealed.score)
        XCTAssertEqual(annealed.score, plain.score, "the plain run of 32 rows, bit for bit")
        XCTAssertEqual(prefix.steps, 2, "the first 2 of the target run's 8 steps")
        XCTAssertNotEqual(prefix.score, annealed.score, "a prefix is scored mid-schedule")
        XCTAssertTrue(FileManager.default.fileExists(atPath: d + "/ck/trial-0"), "a prefix keeps its checkpoint")
    }

    /// SPT asked for more batches than the training rows fill scores the batches there are (it
    /// trapped on an empty row range before), says so, and records the batches it used.
    func testSPTWithFewerRowsThanBatchesScoresWhatThereIs() throws {
        let model = try RepositoryData.requireModel(), glue = try RepositoryData.requireGLUE()
        let d = scratchDirectory("spt-rows")
        try """
        {"name": "spt-rows", "model": "\(model)",
         "task": {"format": "glue", "name": "sst2", "train": "\(glue)/SST-2/train.tsv", "dev": "\(glue)/SST-2/dev.tsv", "max_length": 24},
         "head": "mean", "training": {"epochs": 1, "batch_size": 16, "train_examples": 40, "seed": 0},
         "search": {"trials": 4, "reference_point": {"score": 0.4, "trainable_params": 500000}},
         "space": {"serial_adapter": {"size": [8, 16]}}, "priors": {"sensitivity": "spt", "batches": 8, "batch_size": 16}}
        """.write(toFile: d + "/space.json", atomically: true, encoding: .utf8)
        let r = try runAutopeft(["score", d + "/space.json", "--method", "spt", "--out", d + "/scores", "--threads", "1"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertTrue(r.err.contains("40 training rows fill 3 batches of 16, not 8"), r.err)
        let saved = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: d
            + "/scores/sensitivity-spt.json"))) as? [String: Any])
        let settings = try XCTUnwrap((saved["scores_record"] as? [String: Any])?["settings"] as? [String: Any])
        XCTAssertEqual(settings["batches"] as? Double, 3)
    }

    /// Two processes that need the same frozen-prefix cache file at once both build it and rename
    /// it into place: both succeed with the same score, and one whole file remains, no partial one.
    func testTwoProcessesWritingTheSameCacheFile() throws {
        let model = try RepositoryData.requireModel(), glue = try RepositoryData.requireGLUE()
        let d = scratchDirectory("cache")
        try """
        {"model": "\(model)", "task": {"format": "glue", "name": "sst2", "train": "\(glue)/SST-2/train.tsv", "dev": "\(glue)/SST-2/dev.tsv", "max_length": 32},
         "peft": {"lora": {"rank": 2, "targets": ["query", "value"], "layers": [4, 5]}}, "head": "mean",
         "training": {"epochs": 1, "batch_size": 16, "train_examples": 96, "dev_examples": 64, "cache_dir": "\(d)/cache"}}
        """.write(toFile: d + "/run.json", atomically: true, encoding: .utf8)
        final class Box: @unchecked Sendable { var results: [(code: Int32, out: String, err: String)?] = [nil, nil]; let lock = NSLock() }
        let box = Box()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let r = try? runAutopeft(["train", d + "/run.json", "--threads", "1"])
            box.lock.lock(); box.results[i] = r; box.lock.unlock()
        }
        let a = try XCTUnwrap(box.results[0]), b = try XCTUnwrap(box.results[1])
        XCTAssertEqual(a.code, 0, a.err)
        XCTAssertEqual(b.code, 0, b.err)
        let sa = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(a.out.utf8)) as? [String: Any])
        let sb = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(b.out.utf8)) as? [String: Any])
        XCTAssertEqual(sa["score"] as? Double, sb["score"] as? Double)
        let files = try FileManager.default.contentsOfDirectory(atPath: d + "/cache").sorted()
        XCTAssertEqual(files.count, 2, "one train and one dev cache file: \(files)")
        XCTAssertFalse(files.contains { $0.contains("partial") }, "\(files)")
        // A third run maps the files and gets the same score again.
        let c = try runAutopeft(["train", d + "/run.json", "--threads", "1"])
        XCTAssertTrue(c.err.contains("frozen-prefix cache: reusing"), c.err)
        let sc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(c.out.utf8)) as? [String: Any])
        XCTAssertEqual(sc["score"] as? Double, sa["score"] as? Double)
    }

    /// The reevaluate summary's front hypervolume against one computed here, independently: the
    /// search's front with each trial's mean final score (and with each seed's), a sweep over
    /// log10 parameters.
    func checkFrontHypervolume(_ re: [String: Any], searchSummary: [String: Any], study: String,
                               reference: (score: Double, params: Double)) throws {
        let runs = try Self.runs(study)
        let front = try XCTUnwrap(searchSummary["front"] as? [[String: Any]])
        func volume(_ score: (Int) -> Double?) throws -> Double {
            var points: [(params: Double, score: Double)] = []
            for f in front {
                let id = try XCTUnwrap(f["id"] as? Int)
                let params = try XCTUnwrap((f["values"] as? [String: Any])?["trainable_params"] as? Double)
                points.append((log10(params), try XCTUnwrap(score(id), "front trial \(id) was re-evaluated")))
            }
            // Sweep by parameters ascending: each point adds the strip up to the next better score.
            var v = 0.0, best = reference.score
            for p in points.sorted(by: { $0.params < $1.params }) where p.score > best && p.params < log10(reference.params) {
                v += (log10(reference.params) - p.params) * (p.score - best)
                best = p.score
            }
            return v
        }
        let mean = try volume { id in
            let s = runs.filter { $0.key.hasPrefix("\(id):") }.map(\.value)
            return s.isEmpty ? nil : s.reduce(0, +) / Double(s.count)
        }
        let hv = try XCTUnwrap(re["front_hypervolume"] as? [String: Any])
        XCTAssertEqual(hv["parameters"] as? String, "log10")
        XCTAssertEqual(try XCTUnwrap(hv["value"] as? Double), mean, accuracy: 1e-12)
        XCTAssertGreaterThan(mean, 0)
        let perSeed = try XCTUnwrap(hv["per_seed"] as? [Double])
        XCTAssertEqual(perSeed.count, 2, "one volume per seed")
        for (seed, v) in perSeed.enumerated() { XCTAssertEqual(v, try volume { runs["\($0):\(seed)"] }, accuracy: 1e-12, "seed \(seed)") }
    }

    /// (trial, seed) → score of a study's final-stage runs, read from reevaluation.jsonl.
    static func runs(_ study: String) throws -> [String: Double] {
        var out: [String: Double] = [:]
        for line in try String(contentsOfFile: study + "/reevaluation.jsonl", encoding: .utf8).split(separator: "\n") {
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard o["op"] as? String == "reevaluated", let t = o["trial"] as? Int, let s = o["seed"] as? Int else { continue }
            let key = "\(t):\(s)"
            XCTAssertNil(out[key], "\(study): run \(key) recorded twice")
            out[key] = o["score"] as? Double ?? .nan
        }
        return out
    }

    /// reevaluate killed (SIGKILL) after its first run, then started again: it finishes the rest,
    /// nothing is recorded twice, and every score equals the uninterrupted run's.
    func checkKilledReevaluationResumes(_ d: String, uninterrupted: [String: Double]) throws {
        let p = Process()
        p.executableURL = try autopeftBinary()
        p.arguments = ["reevaluate", d + "/study-killed"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let file = d + "/study-killed/reevaluation.jsonl"
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, p.isRunning {
            if let text = try? String(contentsOfFile: file, encoding: .utf8), text.split(separator: "\n").count >= 2 { break }
            usleep(20_000)
        }
        XCTAssertTrue(p.isRunning, "reevaluate finished before it could be killed")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let partial = try Self.runs(d + "/study-killed")
        XCTAssertLessThan(partial.count, uninterrupted.count, "the kill landed before the end")
        let again = try runAutopeft(["reevaluate", d + "/study-killed"])
        XCTAssertEqual(again.code, 0, again.err)
        XCTAssertEqual(try Self.runs(d + "/study-killed"), uninterrupted, "resumed runs equal the uninterrupted ones, each once")
    }

    /// A final stage whose runs diverge: each run is recorded as failed with the reason, the others
    /// go on, the command exits 1, and the report lists the failures. Built to diverge: an STS-B
    /// train file whose rows 65-96 carry a target of 1e300, so the search (first 64 rows) trains
    /// and the final stage (96 rows) meets an infinite squared error.
    func testDivergingFinalStageRunsFailAlone() throws {
        let model = try RepositoryData.requireModel(), glue = try RepositoryData.requireGLUE()
        let d = scratchDirectory("diverge")
        let rows = try String(contentsOfFile: glue + "/STS-B/train.tsv", encoding: .utf8).split(separator: "\n").prefix(97).map(String.init)
        let poisoned = rows.enumerated().map { i, row -> String in
            guard i > 64 else { return row }
            var f = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            f[f.count - 1] = "1e300"
            return f.joined(separator: "\t")
        }
        try (poisoned.joined(separator: "\n") + "\n").write(toFile: d + "/train.tsv", atomically: true, encoding: .utf8)
        try """
        {"name": "diverge", "model": "\(model)",
         "task": {"format": "glue", "name": "stsb", "train": "\(d)/train.tsv", "dev": "\(glue)/STS-B/dev.tsv", "max_length": 24},
         "head": "mean", "training": {"epochs": 1, "batch_size": 16, "train_examples": 64, "dev_examples": 32, "sample": "first"},
         "search": {"trials": 2, "initial": 2, "reference_point": {"score": -1, "trainable_params": 500000}},
         "space": {"lora": {"rank": [2, 4], "targets": ["query", "value"]}},
         "final": {"train_examples": 96, "epochs": 1, "seeds": 2}}
        """.write(toFile: d + "/space.json", atomically: true, encoding: .utf8)
        let s = try runAutopeft(["search", d + "/space.json", "--out", d + "/study", "--no-report"])
        XCTAssertEqual(s.code, 0, s.err)
        let r = try runAutopeft(["reevaluate", d + "/study"])
        XCTAssertEqual(r.code, 1, r.err)
        XCTAssertTrue(r.err.contains("FAILED: training:"), r.err)
        let lines = try String(contentsOfFile: d + "/study/reevaluation.jsonl", encoding: .utf8).split(separator: "\n")
        let failed = lines.filter { $0.contains("\"error\"") }
        XCTAssertEqual(failed.count, lines.count - 1, "every run failed alone and was recorded: \(lines)")
        XCTAssertGreaterThanOrEqual(failed.count, 2)
        let again = try runAutopeft(["reevaluate", d + "/study"])
        XCTAssertEqual(try String(contentsOfFile: d + "/study/reevaluation.jsonl", encoding: .utf8).split(separator: "\n").count,
                       lines.count,
                       "failed runs are not retried: \(again.err)")
        let rep = try runAutopeft(["report", d + "/study"])
        XCTAssertEqual(rep.code, 0, rep.err)
        let md = try String(contentsOfFile: d + "/study/report.md", encoding: .utf8)
        XCTAssertTrue(md.contains("## Final-stage runs that failed"), md)
        let listed = md.split(separator: "\n").filter { $0.hasPrefix("- trial ") && $0.contains(", seed ") && $0.contains(": training: ") }
        XCTAssertEqual(listed.count, failed.count, md)
    }

    /// A search trial built to diverge (a searched learning rate of 1e30) is recorded failed with
    /// the reason and the step, the search goes on with the others, no finished trial carries its
    /// values (the GP only reads finished trials), and the report lists it.
    func testADivergingSearchTrialIsRecordedFailedWithItsStep() throws {
        let model = try RepositoryData.requireModel(), glue = try RepositoryData.requireGLUE()
        let d = scratchDirectory("diverge-search")
        try """
        {"name": "diverge-search", "model": "\(model)",
         "task": {"format": "glue", "name": "sst2", "train": "\(glue)/SST-2/train.tsv", "dev": "\(glue)/SST-2/dev.tsv", "max_length": 24},
         "head": "mean", "training": {"epochs": 1, "batch_size": 16, "train_examples": 48, "dev_examples": 32, "max_grad_norm": 0},
         "search": {"trials": 3, "initial": 2, "reference_point": {"score": 0, "trainable_params": 500000}},
         "space": {"lora": {"rank": [2], "targets": ["query", "value"]}, "training": {"learning_rate": [0.005, 1e30]}}}
        """.write(toFile: d + "/space.json", atomically: true, encoding: .utf8)
        let s = try runAutopeft(["search", d + "/space.json", "--out", d + "/study"])
        XCTAssertEqual(s.code, 0, s.err)
        XCTAssertTrue(s.err.contains("FAILED: training: loss is"), s.err)
        let journal = try String(contentsOfFile: d + "/study/journal.jsonl", encoding: .utf8)
        let failed = journal.split(separator: "\n").filter { $0.contains("\"trial_failed\"") }
        XCTAssertGreaterThanOrEqual(failed.count, 1, journal)
        for f in failed { XCTAssertTrue(f.contains("at epoch 1, step ") && f.contains("1e+30"), String(f)) }
        let finished = journal.split(separator: "\n").filter { $0.contains("\"trial_finished\"") }
        XCTAssertEqual(finished.count + failed.count, 3, "every trial ended once")
        XCTAssertGreaterThanOrEqual(finished.count, 1, "the others went on")
        let md = try String(contentsOfFile: d + "/study/report.md", encoding: .utf8)
        XCTAssertTrue(md.contains("## Failed trials") && md.contains(": training: loss is"), md)
    }

    /// The report's final scores and its baseline verdicts, recomputed here from
    /// the journal and reevaluation.jsonl.
    func checkReportValues(_ md: String, study: String) throws {
        var trials: [Int: (score: Double, params: Double, baseline: String?)] = [:]
        for line in try String(contentsOfFile: study + "/journal.jsonl", encoding: .utf8).split(separator: "\n") {
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let id = o["id"] as? Int ?? -1
            if o["op"] as? String == "trial_started" { trials[id] = (.nan, .nan, o["baseline"] as? String) }
            if o["op"] as? String == "trial_finished", let v = o["values"] as? [String: Double] {
                trials[id]?.score = v["score"] ?? .nan
                trials[id]?.params = v["trainable_params"] ?? .nan
            }
        }
        let runs = try Self.runs(study)
        var checked = 0
        for (id, b) in trials where b.baseline != nil {
            let name = b.baseline!
            let row = try XCTUnwrap(md.split(separator: "\n").first { $0.hasPrefix("| \(name) (trial \(id + 1)) |") }, "no row for \(name)")
            let beaters = trials.filter { $0.value.baseline == nil && $0.value.score >= b.score
                && $0.value.params <= b.params }.keys.sorted()
            if beaters.isEmpty {
                XCTAssertTrue(row.contains("**not matched: "), String(row))
            } else {
                // The verdict names one of them, a front point where one is (the other baseline may dominate them all).
                if row.contains("none of them on the front") {
                    XCTAssertTrue(row.contains("by \(beaters.count) search trial") && row.contains("e.g. trial \(beaters[0] + 1) ("), String(row))
                } else {
                    let named = try XCTUnwrap(beaters.first { row.contains("front trial \($0 + 1) (") }, "\(row) vs \(beaters)")
                    let others = beaters.count - 1
                    XCTAssertTrue(others == 0 || row.contains("and \(others) other search trial"), "\(row): \(named) and \(others) others")
                }
            }
            let scores = (0..<2).compactMap { runs["\(id):\($0)"] }
            XCTAssertEqual(scores.count, 2, name)
            let mean = scores.reduce(0, +) / 2, sd = (scores.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)).squareRoot()
            XCTAssertTrue(row.contains(String(format: "%.4f ± %.4f (2)", mean, sd)), "\(row): expected final \(mean) ± \(sd)")
            checked += 1
        }
        XCTAssertEqual(checked, 2, "both baselines checked")
    }
}
