import XCTest
import TestSupport
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Space
@testable import Search

final class StudyTests: XCTestCase {
    func folder() -> String { scratchDirectory("study") }

    func spec(_ text: String, in dir: String) throws -> StudySpec {
        let file = dir + "/space.json"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return try StudySpec(file: file)
    }

    static let zdt = #"{"name": "z", "problem": {"name": "zdt1", "dimensions": 4}, "search": {"trials": 18, "initial": 6, "seed": 3}}"#

    func journalTrials(_ dir: String) throws -> [(config: String, values: String)] {
        let study = try Study(readingDirectory: dir)
        return study.trials.map { (study.spec.space.json($0.config!).serialized(), "\($0.values)") }
    }

    /// Stopping after 10 trials and resuming to 18 equals one uninterrupted run of 18.
    func testResumedStudyEqualsAnUninterruptedOne() throws {
        let a = folder(), b = folder()
        let full = try spec(Self.zdt, in: a)
        try Study(spec: full, directory: a + "/s").run(evaluator: SyntheticEvaluator(spec: full)) { _ in }
        var part = try spec(Self.zdt, in: b)
        part.trials = 10
        try Study(spec: part, directory: b + "/s").run(evaluator: SyntheticEvaluator(spec: part)) { _ in }
        part.trials = 18
        let resumed = try Study(spec: part, directory: b + "/s")
        XCTAssertTrue(resumed.resumed)
        XCTAssertEqual(resumed.finished.count, 10)
        try resumed.run(evaluator: SyntheticEvaluator(spec: part)) { _ in }
        let x = try journalTrials(a + "/s"), y = try journalTrials(b + "/s")
        XCTAssertEqual(x.count, 18)
        XCTAssertEqual(x.map(\.config), y.map(\.config))
        XCTAssertEqual(x.map(\.values), y.map(\.values))
    }

    /// A trial started but not finished (the process died inside it) re-runs with its seed.
    func testUnfinishedTrialReRunsWithItsSeed() throws {
        let d = folder()
        var s = try spec(#"{"name": "z", "problem": {"name": "zdt2", "noise": 0.01}, "search": {"trials": 9, "initial": 5}}"#, in: d)
        try Study(spec: s, directory: d + "/s").run(evaluator: SyntheticEvaluator(spec: s)) { _ in }
        let before = try Study(readingDirectory: d + "/s").trials
        // Cut the last trial_finished line, as if killed between the trial and its record.
        let path = d + "/s/journal.jsonl"
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: true)
        XCTAssertTrue(lines.last!.contains("trial_finished"))
        lines.removeLast()
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        var log: [String] = []
        s.trials = 9
        let study = try Study(spec: s, directory: d + "/s")
        XCTAssertEqual(study.trials.last?.status, .running)
        try study.run(evaluator: SyntheticEvaluator(spec: s)) { log.append($0) }
        XCTAssertTrue(log.first?.contains("trial 9/9: re-running") ?? false, "\(log)")
        XCTAssertEqual(study.trials.count, 9)
        XCTAssertEqual(study.trials.last?.values, before.last?.values, "same seed, same noisy value")
    }

    func testChangedSpaceAndFreshAreGuarded() throws {
        let d = folder()
        let s = try spec(Self.zdt, in: d)
        try Study(spec: s, directory: d + "/s").run(evaluator: SyntheticEvaluator(spec: s)) { _ in }
        let changed = try spec(Self.zdt.replacingOccurrences(of: "\"seed\": 3", with: "\"seed\": 4"), in: d)
        XCTAssertThrowsError(try Study(spec: changed, directory: d + "/s")) { e in
            XCTAssertTrue("\(e)".contains("different space file"), "\(e)")
        }
        XCTAssertThrowsError(try Study(spec: changed, directory: d + "/s", fresh: true)) { e in
            XCTAssertTrue("\(e)".contains("--fresh starts over only into a new folder"), "\(e)")
        }
        let fresh = try Study(spec: changed, directory: d + "/s", fresh: true, force: true)
        XCTAssertFalse(fresh.resumed)
        XCTAssertEqual(fresh.trials.count, 0)
        let kept = try FileManager.default.contentsOfDirectory(atPath: d + "/s").filter { $0.hasPrefix("journal.")
            && $0 != "journal.jsonl" }
        XCTAssertEqual(kept.count, 1, "the old journal is kept, not deleted")
        // A second writer on the same study is refused while the first holds it.
        XCTAssertThrowsError(try Study(spec: changed, directory: d + "/s")) { e in
            XCTAssertTrue("\(e)".contains("another autopeft process"), "\(e)")
        }
    }

    /// The study's identity ignores number spelling, the trial budget, the description and the
    /// final stage; anything else is a different study.
    func testStudyIdentityIgnoresBudgetSpellingAndFinalStage() throws {
        let d = folder()
        let a = try spec(#"{"problem": {"name": "zdt1", "noise": 5e-3}, "search": {"trials": 5}}"#, in: d)
        let b = try spec(#"{"problem": {"name": "zdt1", "noise": 0.005}, "search": {"trials": 50}, "description": "x"}"#, in: d)
        let c = try spec(#"{"problem": {"name": "zdt1", "noise": 0.006}, "search": {"trials": 5}}"#, in: d)
        XCTAssertEqual(a.spaceHash, b.spaceHash)
        XCTAssertNotEqual(a.spaceHash, c.spaceHash)
    }

    /// A study folder opened where its space file and model are gone (a clone elsewhere): the
    /// report still reads it, with the model's sizes from the journal.
    func testStudyFolderOpensWithoutItsSpaceFileAndModel() throws {
        let d = folder(), src = d + "/src"
        try FileManager.default.createDirectory(atPath: src + "/model", withIntermediateDirectories: true)
        try #"{"hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 3, "num_attention_heads": 2}"#
            .write(toFile: src + "/model/config.json", atomically: true, encoding: .utf8)
        let s = try spec(#"{"name": "t", "model": "\#(src)/model", "task": {"name": "sst2", "train": "x", "dev": "y"}, "training": {}, "space": {"layers": {"type": "layer_mask"}, "lora": {"rank": [0, 2]}}}"#, in: src)
        _ = try Study(spec: s, directory: d + "/study")
        try FileManager.default.removeItem(atPath: src)
        let reopened = try Study(readingDirectory: d + "/study")
        XCTAssertEqual(reopened.spec.problem.dimensions, ModelDimensions(hiddenSize: 8, intermediateSize: 16, layers: 3, heads: 2))
        XCTAssertEqual(reopened.spec.space.parameter("layers")?.width, 3)
    }

    struct Flaky: Evaluator {
        let inner: SyntheticEvaluator
        func evaluate(_ request: TrialRequest) throws -> TrialOutcome {
            if request.trial % 4 == 2 { throw Study.Failure(message: "simulated out of memory") }
            return try inner.evaluate(request)
        }
    }

    /// Failed trials are recorded with their reason, the search goes on, and a failed
    /// configuration is never proposed again.
    func testFailuresAreRecordedAndTheSearchGoesOn() throws {
        let d = folder()
        let s = try spec(Self.zdt, in: d)
        let study = try Study(spec: s, directory: d + "/s")
        try study.run(evaluator: Flaky(inner: SyntheticEvaluator(spec: s))) { _ in }
        XCTAssertEqual(study.trials.count, 18)
        XCTAssertEqual(study.trials.filter { $0.status == .failed }.map(\.id), [2, 6, 10, 14])
        XCTAssertEqual(study.trials.first { $0.status == .failed }?.error, "simulated out of memory")
        XCTAssertEqual(Set(study.trials.map { s.space.key($0.config!) }).count, 18)
        let reread = try Study(readingDirectory: d + "/s")
        XCTAssertEqual(reread.trials.filter { $0.status == .failed }.count, 4)
    }

    /// A failed trial's seconds were spent: they count in the study's seconds (and so against
    /// `budget_seconds`), live and after a resume.
    func testAFailedTrialsSecondsAreSpent() throws {
        struct OutOfMemory: Error {}
        let d = folder()
        let study = try Study(spec: try spec(Self.zdt, in: d), directory: d + "/s")
        let ids = try study.ask(count: 2) { _ in }
        try study.tell(ids[0], .failure(OutOfMemory()), seconds: 7) { _ in }
        try study.tell(ids[1], .success(TrialOutcome(values: ["f1": 0.5, "f2": 0.5])), seconds: 3) { _ in }
        XCTAssertEqual(study.trials.map(\.status), [.failed, .finished])
        XCTAssertEqual(study.secondsSpent, 10)
        XCTAssertEqual(try Study(readingDirectory: d + "/s").secondsSpent, 10)
    }

    /// A journal whose trial seed is not one the study could have drawn (31 bits) is refused with
    /// the file and the field, not trapped on (a negative seed trapped).
    func testACorruptTrialSeedIsAClearError() throws {
        let d = folder()
        let study = try Study(spec: try spec(Self.zdt, in: d), directory: d + "/s")
        _ = try study.ask(count: 1) { _ in }
        let journal = d + "/s/journal.jsonl"
        let text = try String(contentsOfFile: journal, encoding: .utf8)
        let corrupt = text.replacingOccurrences(of: #"("op":"trial_started".*"seed":)[0-9]+"#, with: "$1-1", options: .regularExpression)
        XCTAssertNotEqual(corrupt, text)
        try corrupt.write(toFile: journal, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Study(readingDirectory: d + "/s")) {
            XCTAssertTrue("\($0)".contains(journal) && "\($0)".contains("trial_started.seed") && "\($0)".contains("a trial seed"), "\($0)")
        }
    }

    /// In a space of 12 configurations the study proposes each once and then stops, with a note.
    func testSmallSpaceIsExhaustedWithoutRepeats() throws {
        let d = folder()
        let s = try spec("""
        {"name": "tiny", "problem": {"name": "peft_mock", "layers": 2},
         "search": {"trials": 30, "initial": 3, "reference_point": {"score": 0.5, "trainable_params": 1e6}},
         "space": {"layers": {"type": "layer_mask"}, "serial_adapter": {"size": [0, 8, 64, 128]}},
         "constraints": [{"type": "at_least_one", "of": ["serial_adapter.size"]}]}
        """, in: d)
        let study = try Study(spec: s, directory: d + "/s")
        var log: [String] = []
        try study.run(evaluator: SyntheticEvaluator(spec: s)) { log.append($0) }
        // 3 masks × 3 sizes = 9 valid configurations.
        XCTAssertEqual(study.trials.count, 9)
        XCTAssertEqual(Set(study.trials.map { s.space.key($0.config!) }).count, 9)
        XCTAssertTrue(log.last?.contains("no unevaluated valid configuration left") ?? false, "\(log.last ?? "")")
    }

    /// Batches: q distinct proposals, none already evaluated.
    func testBatchProposalsAreDistinctAndNew() throws {
        let d = folder()
        let s = try spec(#"{"name": "b", "problem": {"name": "branin_currin"}, "search": {"trials": 20, "initial": 8, "batch": 4}}"#, in: d)
        let study = try Study(spec: s, directory: d + "/s")
        try study.run(evaluator: SyntheticEvaluator(spec: s)) { _ in }
        XCTAssertEqual(study.trials.count, 20)
        XCTAssertEqual(Set(study.trials.map { s.space.key($0.config!) }).count, 20)
    }

    struct PreferSmallX0: ConfigurationPrior {
        func logProbability(_ c: Config) -> Double { c["x0"]!.number! < 0.1 ? 0 : -50 }
    }
    struct Flat: ConfigurationPrior {
        func logProbability(_ c: Config) -> Double { -3 }
    }

    /// πBO: no prior and a flat prior give the same proposal; a sharp prior moves it.
    func testFlatPriorLeavesTheProposalAndASharpPriorMovesIt() throws {
        let p = SyntheticProblem.zdt1, space = p.space(dimensions: 4)
        var opt = Optimizer(space: space, objectives: p.objectiveSpecs, reference: p.reference) { _ in [.nan, .nan] }
        let history = try opt.initialDesign(count: 8, seed: 1).map { Observation(config: $0, values: p.evaluate(space.encode($0))) }
        let plain = try opt.ask(history: history, pending: [], count: 1, seed: 5).configs
        opt.prior = Flat()
        XCTAssertEqual(try opt.ask(history: history, pending: [], count: 1, seed: 5).configs.map { space.key($0) },
                       plain.map { space.key($0) })
        opt.prior = PreferSmallX0()
        let guided = try opt.ask(history: history, pending: [], count: 1, seed: 5, iteration: 1).configs
        XCTAssertLessThan(guided[0]["x0"]!.number!, 0.1)
    }

    /// A trial that nothing dominates but that is not better than the reference point in every
    /// objective is no answer: the front leaves it out and the summary and the report name it.
    /// The Pareto set is found here by brute force, independently of `Pareto`.
    func testTheFrontLeavesOutParetoTrialsBeyondTheReference() throws {
        let d = folder()
        let s = try spec(#"{"name": "z", "problem": {"name": "zdt1", "dimensions": 4}, "search": {"trials": 18, "initial": 6, "seed": 3, "reference_point": {"f1": 0.5, "f2": 11}}}"#, in: d)
        try Study(spec: s, directory: d + "/s").run(evaluator: SyntheticEvaluator(spec: s)) { _ in }
        let study = try Study(readingDirectory: d + "/s")
        let done = study.finished
        func dominates(_ u: TrialRecord, _ t: TrialRecord) -> Bool {
            zip(u.values, t.values).allSatisfy { $0 <= $1 } && zip(u.values, t.values).contains { $0 < $1 }
        }
        let pareto = done.filter { t in !done.contains { dominates($0, t) } }.map(\.id).sorted()
        let inside = pareto.filter { study.trials[$0].values[0] < 0.5 && study.trials[$0].values[1] < 11 }
        let beyond = pareto.filter { !inside.contains($0) }
        XCTAssertFalse(inside.isEmpty)
        XCTAssertFalse(beyond.isEmpty, "a Pareto trial with f1 ≥ 0.5: the case under test")
        XCTAssertEqual(study.frontIDs.sorted(), inside)
        XCTAssertEqual(study.paretoBeyondReferenceIDs.sorted(), beyond)
        let named = beyond.map { "trial \($0 + 1)" }.joined(separator: ", ") + " left out: Pareto-optimal, but not better than the "
            + "reference point (f1 \(Study.format(0.5)), f2 \(Study.format(11))) in every objective"
        XCTAssertTrue(Report.terminalSummary(study)[0].hasPrefix("Pareto front (\(inside.count) points); \(named)"),
                      Report.terminalSummary(study)[0])
        _ = try Report.write(study, to: d + "/s")
        let md = try String(contentsOfFile: d + "/s/report.md", encoding: .utf8)
        XCTAssertTrue(md.contains(named + "."), md)
        let csv = try String(contentsOfFile: d + "/s/trials.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        XCTAssertEqual(csv.count, 18, "every trial stays in trials.csv")
    }

    func testReportWritesEveryFileAndMarksTheFront() throws {
        let d = folder()
        let s = try spec(Self.zdt, in: d)
        let study = try Study(spec: s, directory: d + "/s")
        try study.run(evaluator: SyntheticEvaluator(spec: s)) { _ in }
        let files = try Report.write(try Study(readingDirectory: d + "/s"), to: d + "/s")
        XCTAssertEqual(files.map { ($0 as NSString).lastPathComponent },
                       ["pareto.svg", "hypervolume.svg", "trials.csv", "report.md", "report.html"])
        let csv = try String(contentsOfFile: d + "/s/trials.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 1 + 18)
        XCTAssertTrue(csv[0].hasPrefix("trial,status,baseline,origin,aims_at,f1,f2,on_front,hypervolume,seconds,proposal_seconds,seed,x0,x1,x2,x3"),
                      String(csv[0]))
        XCTAssertEqual(csv.dropFirst().filter { $0.split(separator: ",", omittingEmptySubsequences: false)[7] == "1" }.count,
                       study.frontIDs.count)
        // The hypervolume column never falls, and after the last trial it is the study's.
        let volumes = csv.dropFirst().map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[8])! }
        XCTAssertEqual(volumes, volumes.sorted())
        XCTAssertEqual(volumes.last!, study.hypervolume, accuracy: 1e-12)
        XCTAssertLessThan(volumes.first!, volumes.last!)
        for svg in ["pareto.svg", "hypervolume.svg"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: d + "/s/" + svg))
            XCTAssertTrue(XMLParser(data: data).parse(), "\(svg) is well-formed XML")
        }
        let md = try String(contentsOfFile: d + "/s/report.md", encoding: .utf8)
        XCTAssertTrue(md.contains("| hypervolume | \(Study.format(study.hypervolume)) |"), md)
        let frontSection = md.components(separatedBy: "## Pareto front")[1].components(separatedBy: "![")[0]
        XCTAssertEqual(frontSection.split(separator: "\n").filter { $0.hasPrefix("| ") }.count - 1, study.frontIDs.count,
                       "one row per front point")
        let html = try String(contentsOfFile: d + "/s/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("<svg") && html.hasSuffix("</html>\n"))
        let hv = try String(contentsOfFile: d + "/s/hypervolume.svg", encoding: .utf8)
        XCTAssertTrue(hv.contains("<title>trial 18: hypervolume \(Study.format(study.hypervolume))</title>"),
                      "each point says its trial and value")
    }

    /// The hypervolume axis starts a little below the first non-zero value, not at 0 (where all
    /// progress after the first trials was a flat line at the top), and reaches the optimum.
    func testHypervolumeAxisFitsTheData() {
        let (lo, hi) = Report.hypervolumeAxis([0, 0, 0.80, 0.85, 0.86, 0.86], optimum: nil)
        XCTAssertEqual(hi, 0.86)
        XCTAssertEqual(lo, 0.80 - 0.05 * 0.06, accuracy: 1e-12)
        XCTAssertEqual(Report.hypervolumeAxis([0, 0.5, 0.6], optimum: 0.66).upper, 0.66)
        XCTAssertEqual(Report.hypervolumeAxis([0, 0], optimum: nil).lower, 0, "nothing on the front yet")
        XCTAssertEqual(Report.hypervolumeAxis([0.7, 0.7], optimum: nil).lower, 0, "a flat run keeps 0 so the line is visible")
    }

    func testSpaceFileErrors() throws {
        let d = folder()
        func err(_ text: String) -> String { do { _ = try spec(text, in: d); return "no error" } catch { return "\(error)" } }
        XCTAssertTrue(err(#"{"problem": {"name": "zdt9"}}"#).contains(#"problem.name: expected one of "zdt1""#))
        XCTAssertTrue(err(#"{"problem": {"name": "zdt1"}, "serch": {}}"#).contains(#"serch: unknown key "serch" (did you mean "search"?)"#))
        XCTAssertTrue(err(#"{"problem": {"name": "zdt1"}, "search": {"trials": 0}}"#).contains("search.trials: expected a trial count in 1...100000, got 0"))
        XCTAssertTrue(err(#"{"problem": {"name": "zdt1"}, "space": {}}"#).contains("a synthetic problem defines its own space"))
        XCTAssertTrue(err(#"{"task": {}}"#).contains(#"model: expected "model""#))
        XCTAssertTrue(err(#"{"problem": {"name": "peft_mock"}, "space": {"lora": {"rank": [0, 8]}}, "baselines": [{"name": "b", "config": {"lora.rank": 4}}]}"#)
            .contains("baselines[0].config.lora.rank: 4 is not a value of lora.rank"))
        XCTAssertTrue(err(#"{"problem": {"name": "peft_mock"}, "space": {"lora": {"rank": [0, 8]}}, "priors": {"layers": "scores"}}"#)
            .contains(#"priors.layers: expected one of "neutral", "scored", got "scores" (did you mean "scored"?)"#))
        let design = err(#"{"problem": {"name": "peft_mock"}, "space": {"lora": {"rank": [0, 8]}}, "priors": {"initial_design": "lhs"}}"#)
        XCTAssertTrue(design.contains(#"priors.initial_design: expected one of "stratified", "random", got "lhs""#), design)
    }
}

/// The majority-rate warning: when most trials at a fidelity score the same (nothing learned), the
/// search says so, and the report keeps it; checked per fidelity.
final class FlatScoreWarningTests: XCTestCase {
    func testTheRule() {
        XCTAssertNil(Study.flatScoreWarning(scores: [0.509, 0.509, 0.509, 0.509]), "fewer than five trials say nothing")
        XCTAssertNil(Study.flatScoreWarning(scores: [0.509, 0.509, 0.80, 0.82, 0.84]), "two of five is no majority")
        XCTAssertNil(Study.flatScoreWarning(scores: [0.509, 0.509, 0.509, 0.80, 0.82, 0.84]), "three of six is not more than half")
        let w = try? XCTUnwrap(Study.flatScoreWarning(scores: [0.5092, 0.5088, 0.5091, 0.80, 0.84], at: " at 100 examples"))
        XCTAssertEqual(w?.hasPrefix("3 of 5 trials at 100 examples score 0.510 (±0.005)"), true, w ?? "no warning")
        // An objective of any size (a user's own, in the millions) is binned without overflowing an Int.
        XCTAssertNil(Study.flatScoreWarning(scores: [1e300, 2e300, 3e300, 4e300, 5e300]))
    }

    /// With the score of predicting one class everywhere known, trials near it count. MRPC at half
    /// an epoch (results/mrpc-autopeft-mf, trials 1-12; F1 0.8122 predicts "paraphrase" everywhere):
    /// 9 of 12 are within 0.005 of it, which the bins miss (6 in one, 3 in the next); and good
    /// scores clustered far from it are no warning, which the bins would give.
    func testTheRuleWithTheConstantPredictionsScore() {
        let mrpc = [0.8189, 0.8209, 0.8122, 0.8154, 0.8134, 0.8122, 0.8122, 0.8122, 0.8146, 0.8122, 0.8122, 0.8182]
        XCTAssertNil(Study.flatScoreWarning(scores: mrpc), "the bins miss it")
        let w = Study.flatScoreWarning(scores: mrpc, at: " at 1834 examples", constant: 0.81219)
        XCTAssertEqual(w?.hasPrefix("9 of 12 trials at 1834 examples score within 0.005 of 0.8122, what predicting one class"), true,
                       w ?? "no warning")
        let good = [0.835, 0.836, 0.836, 0.837, 0.836, 0.70]
        XCTAssertNotNil(Study.flatScoreWarning(scores: good), "the bins flag a converged cluster")
        XCTAssertNil(Study.flatScoreWarning(scores: good, constant: 0.509), "far from SST-2's majority rate: no warning")
        XCTAssertNil(Study.flatScoreWarning(scores: Array(mrpc.prefix(4)), constant: 0.8122), "fewer than five say nothing")
    }

    /// A reference score below what learning nothing scores is named, with the value to set.
    func testAReferenceBelowTheConstantPredictionIsNamed() throws {
        let s = try study("", in: scratchDirectory("ref"))
        XCTAssertNil(s.referenceWarning, "unknown constant: nothing to say")
        s.constantPredictionScore = 0.8122
        XCTAssertEqual(s.referenceWarning, "the reference point's score 0 is below 0.8122, what predicting one class for every dev "
            + "example scores: configurations that learn nothing add hypervolume; set search.reference_point.score to 0.8122")
        // MRPC dev: 279 of 408 pairs positive, one-class F1 2p/(1 + p) = 0.812227; a reference of
        // 0.8122 is still below it, and the advice rounds up.
        let p = 279.0 / 408
        s.constantPredictionScore = 2 * p / (1 + p)
        s.spec.reference[0] = 0.8122
        XCTAssertEqual(s.referenceWarning, "the reference point's score 0.8122 is below 0.812227, what predicting one class for every "
            + "dev example scores: configurations that learn nothing add hypervolume; set search.reference_point.score to 0.8123")
        s.spec.reference[0] = 0.8123
        XCTAssertNil(s.referenceWarning, "the advised value silences it")
        s.constantPredictionScore = -0.2
        XCTAssertNil(s.referenceWarning, "a reference above it is fine")
    }

    /// Without `search.reference_point.score`, a new study whose caller knows what predicting one
    /// class scores takes that (rounded up) as the score's reference, so it warns of nothing; the
    /// journal keeps it for resumes and reports. A given reference is kept (and warned of), and a
    /// journal written before the reference was recorded keeps the old default of 0.
    func testTheDefaultScoreReferenceIsWhatOneClassScores() throws {
        let d = scratchDirectory("ref-default")
        _ = try study("", in: d)
        let spec = try StudySpec(file: d + "/space.json")
        XCTAssertFalse(spec.scoreReferenceGiven)
        let mrpc = 2 * (279.0 / 408) / (1 + 279.0 / 408)
        try {   // the study (and its lock) ends with this block
            let s = try Study(spec: spec, directory: d + "/new", constantPredictionScore: mrpc)
            XCTAssertEqual(s.spec.reference[0], 0.8123)
            XCTAssertNil(s.referenceWarning)
        }()
        XCTAssertEqual(try Study(readingDirectory: d + "/new").spec.reference[0], 0.8123, "the report's study reads it back")
        XCTAssertEqual(try Study(spec: spec, directory: d + "/new", constantPredictionScore: 0.3).spec.reference[0], 0.8123,
                       "a resume keeps what the study began with")

        // A journal from before the record: the space file's default, 0.
        let journal = d + "/new/journal.jsonl"
        var lines = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[0] = lines[0].replacingOccurrences(of: #","reference_point":[0.8123,"#, with: #","old_reference":[0.8123,"#)
        try (lines.joined(separator: "\n") + "\n").write(toFile: journal, atomically: true, encoding: .utf8)
        XCTAssertEqual(try Study(readingDirectory: d + "/new").spec.reference[0], 0)

        // A reference the space file gives is the study's, and still named when it is too low.
        let given = try String(contentsOfFile: d + "/space.json", encoding: .utf8)
            .replacingOccurrences(of: #""initial": 10}"#, with: #""initial": 10, "reference_point": {"score": 0.5}}"#)
        try given.write(toFile: d + "/given.json", atomically: true, encoding: .utf8)
        let g = try Study(spec: StudySpec(file: d + "/given.json"), directory: d + "/given", constantPredictionScore: mrpc)
        XCTAssertEqual(g.spec.reference[0], 0.5)
        XCTAssertNotNil(g.referenceWarning)
    }

    /// Scores a trial by its fidelity: `flat` where the trial trains `flatAt` examples, spread otherwise.
    struct Scores: Evaluator {
        let flatAt: Int?
        func evaluate(_ request: TrialRequest) throws -> TrialOutcome {
            let spread = 0.7 + 0.01 * Double(request.trial % 20)
            let score = request.fidelity?.examples == flatAt ? 0.5092 : spread
            return TrialOutcome(values: ["score": score, "trainable_params": 1000 + Double(request.trial)])
        }
    }

    func study(_ fidelity: String, in d: String) throws -> Study {
        try FileManager.default.createDirectory(atPath: d + "/model", withIntermediateDirectories: true)
        try #"{"hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 3, "num_attention_heads": 2}"#
            .write(toFile: d + "/model/config.json", atomically: true, encoding: .utf8)
        try #"{"name": "t", "model": "\#(d)/model", "task": {"name": "sst2", "train": "x", "dev": "y"},"#
            .appending(#""training": {"train_examples": 400, "epochs": 1}, "search": {"trials": 10, "initial": 10},"#)
            .appending(#""space": {"layers": {"type": "layer_mask"}, "lora": {"rank": [2, 4, 8]}}\#(fidelity)}"#)
            .write(toFile: d + "/space.json", atomically: true, encoding: .utf8)
        return try Study(spec: StudySpec(file: d + "/space.json"), directory: d + "/study")
    }

    func testACheapFidelitysFlatScoresAreNamedAndTheTargetsAreNot() throws {
        let d = scratchDirectory("flat")
        let s = try study(#", "fidelity": {"target": {"train_examples": 400, "epochs": 1}, "cheaper": [100], "target_share": 0.3}"#, in: d)
        var lines: [String] = []
        try s.run(evaluator: Scores(flatAt: 100)) { lines.append($0) }
        let cheap = s.finished.filter { $0.fidelity?.examples == 100 }.count
        XCTAssertGreaterThanOrEqual(cheap, 5, "the study ran enough cheap trials for the check")
        XCTAssertEqual(s.flatScoreWarnings.count, 1, "\(s.flatScoreWarnings)")
        XCTAssertTrue(s.flatScoreWarnings.first?.hasPrefix("\(cheap) of \(cheap) trials at 100 examples score 0.510") == true,
                      "\(s.flatScoreWarnings)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("WARNING: ") && $0.contains("at 100 examples") }, lines.joined(separator: "\n"))
        let reread = try Study(readingDirectory: d + "/study")
        XCTAssertEqual(reread.flatScoreWarnings, s.flatScoreWarnings, "the report, reading the journal, says the same")
    }

    func testSpreadScoresWarnOfNothingAndFlatOnesAlways() throws {
        let d = scratchDirectory("flat")
        let spread = try study("", in: d + "/a")
        try spread.run(evaluator: Scores(flatAt: -1)) { _ in }
        XCTAssertEqual(spread.finished.count, 10)
        XCTAssertEqual(spread.flatScoreWarnings, [])
        let flat = try study("", in: d + "/b")
        var lines: [String] = []
        try flat.run(evaluator: Scores(flatAt: nil)) { lines.append($0) }
        XCTAssertEqual(flat.flatScoreWarnings.first?.hasPrefix("10 of 10 trials score 0.510"), true, "\(flat.flatScoreWarnings)")
        XCTAssertEqual(lines.filter { $0.hasPrefix("WARNING: ") }.count, 2, "once per five trials")
    }
}
