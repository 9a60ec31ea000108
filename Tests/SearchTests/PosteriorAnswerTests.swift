import XCTest
import TestSupport
import Foundation
import Space
@testable import Search

/// Issue 41's answer by posterior mean, on the PEFT mock with Gaussian noise on the score (the true
/// score is the mock's own, `PEFTMock.score`, known exactly).
final class PosteriorAnswerTests: XCTestCase {
    func spec(_ text: String) throws -> StudySpec {
        let file = scratchDirectory("posterior") + "/space.json"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return try StudySpec(file: file)
    }

    func mock(seed: Int, noise: Double, trials: Int = 30) -> String {
        """
        {"name": "noisy", "problem": {"name": "peft_mock", "layers": 6, "noise": \(noise)},
         "search": {"trials": \(trials), "initial": 8, "seed": \(seed), "reference_point": {"score": 0.5, "trainable_params": 3e6}},
         "space": {"layers": {"type": "layer_mask", "min_on": 1},
                   "lora": {"rank": [0, 2, 4, 8, 16], "targets": {"type": "subset", "of": ["query", "value", "output"], "min": 1}},
                   "serial_adapter": {"size": [0, 8, 16, 32, 64]}},
         "constraints": [{"type": "at_least_one", "of": ["lora.rank", "serial_adapter.size"]}]}
        """
    }

    /// The hypervolume (score against log10 parameters) of trials' values as `value` gives them.
    func volume(_ study: Study, _ ids: [Int], _ value: (Int) -> [Double]) -> Double {
        let o = study.spec.objectives
        let reference = zip(o, study.spec.reference).map { $0.hypervolumeCoordinate($1, logParameters: true) }
        return Hypervolume.compute(ids.map { id in zip(o, value(id)).map { $0.hypervolumeCoordinate($1, logParameters: true) } },
                                   reference: reference)
    }

    /// Over 6 search seeds, the front chosen by posterior mean holds configurations whose true
    /// hypervolume is at least the observed-best front's, and it claims less than it holds by far
    /// less: the observed front's claimed volume is its luckiest runs'.
    func testThePosteriorFrontIsCloserToTheTrueFrontThanTheObservedOne() throws {
        var trueGain: [Double] = [], optimismObserved: [Double] = [], optimismPosterior: [Double] = []
        for seed in 0..<6 {
            let s = try spec(mock(seed: seed, noise: 0.02))
            let study = try Study(spec: s, directory: scratchDirectory("posterior") + "/s")
            try study.run(evaluator: SyntheticEvaluator(spec: s)) { _ in }
            guard case .peftMock(let dims, _) = s.problem else { return XCTFail("not the mock") }
            func truth(_ id: Int) -> [Double] {
                var v = study.trials[id].values
                v[0] = PEFTMock.score(try! s.plan(study.trials[id].candidate), dims: dims)
                return v
            }
            XCTAssertNotNil(study.answerPosterior, "seed \(seed): a new study answers by posterior mean")
            let posterior = study.frontIDs, observed = study.observedFrontIDs
            let trueP = volume(study, posterior, truth), trueO = volume(study, observed, truth)
            trueGain.append(trueP - trueO)
            optimismPosterior.append(volume(study, posterior, study.estimatedValues) - trueP)
            optimismObserved.append(volume(study, observed) { study.trials[$0].values } - trueO)
        }
        func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
        let gains = trueGain.map { String(format: "%+.4f", $0) }.joined(separator: " ")
        print(String(format: "posterior vs observed front over 6 seeds: true HV gain %@ (mean %+.4f); claimed − true HV: observed %.4f, "
            + "posterior %.4f", gains, mean(trueGain), mean(optimismObserved), mean(optimismPosterior)))
        XCTAssertGreaterThanOrEqual(mean(trueGain), 0, "the posterior's choice is no worse in truth")
        XCTAssertLessThan(abs(mean(optimismPosterior)), 0.5 * mean(optimismObserved), "the posterior front claims less than half the excess")
    }

    /// The posterior verdicts of a study on the union mock (noise 0.01) with the four usual
    /// baselines: one per baseline; "beaten" names a searched front point no larger than the
    /// baseline whose posterior mean is higher; every probability is the one the joint posterior gives.
    func testAStudysVerdictsByThePosteriorAreConsistent() throws {
        let s = try spec(EquivalenceTests.unionSpace(trials: 30, seed: 1, extra: BaselinesInModelTests.usualBaselines))
        let study = try Study(spec: s, directory: scratchDirectory("posterior") + "/s")
        try study.run(evaluator: SyntheticEvaluator(spec: s)) { _ in }
        let verdicts = try XCTUnwrap(study.noiseVerdicts)
        XCTAssertEqual(verdicts.count, 4)
        let posterior = try XCTUnwrap(study.answerPosterior)
        for (v, n) in zip(study.baselineVerdicts, verdicts) {
            print("\(v.baseline.baseline!): \(study.describe(n))")
            XCTAssert((0...1).contains(n.probability))
            guard let id = n.against else { XCTAssertEqual(n.kind, .notMatched); continue }
            XCTAssertTrue(study.frontIDs.contains(id))
            XCTAssertNil(study.trials[id].baseline)
            XCTAssertLessThanOrEqual(study.trials[id].values[1], v.baseline.values[1], "no larger than the baseline")
            XCTAssertEqual(n.probabilityBetter, study.probabilityBetter(id, than: v.baseline.id, in: 0, posterior: posterior), accuracy: 1e-12)
            if n.kind == .beaten { XCTAssertGreaterThan(study.estimatedValues(id)[0], study.estimatedValues(v.baseline.id)[0]) }
        }
    }

    /// The verdicts on a constructed posterior: two configurations with the same true score are
    /// tied within noise; a clearly better one beats; a clearly worse one does not match.
    func testVerdictsOnAConstructedPosterior() {
        func posterior(_ meanA: Double, _ meanB: Double, sd: Double, correlation: Double) -> AnswerPosterior {
            let v = sd * sd
            return AnswerPosterior(ids: [0, 1], pointOfTrial: [0: 0, 1: 1], means: [[meanA, 100], [meanB, 100]], sds: [[sd, 0], [sd, 0]],
                                   covariances: [0: [v, correlation * v, correlation * v, v]], noiseSD: [0: 0.005])
        }
        let tied = posterior(0.85, 0.85, sd: 0.004, correlation: 0.2)
        XCTAssertEqual(tied.probability(0, betterThan: 1, in: 0, goal: .maximize), 0.5, accuracy: 1e-12)
        XCTAssertEqual(NoiseVerdict(against: 0, probabilityBetter: tied.probability(0, betterThan: 1, in: 0, goal: .maximize)).kind, .tied)
        // 0.01 apart with sd 0.004 each and correlation 0.2: the difference's sd is 0.004·√1.6 = 0.00506, z = 1.976.
        let apart = posterior(0.86, 0.85, sd: 0.004, correlation: 0.2)
        let p = apart.probability(0, betterThan: 1, in: 0, goal: .maximize)
        XCTAssertEqual(p, 0.9759, accuracy: 1e-3)
        XCTAssertEqual(NoiseVerdict(against: 0, probabilityBetter: p).kind, .beaten)
        XCTAssertEqual(NoiseVerdict(against: 1, probabilityBetter: 1 - p).kind, .notMatched)
        XCTAssertEqual(NoiseVerdict(against: nil, probabilityBetter: 0).kind, .notMatched)
        // For a minimised objective the order turns.
        XCTAssertEqual(apart.probability(0, betterThan: 1, in: 0, goal: .minimize), 1 - p, accuracy: 1e-12)
        // Known objectives (no covariance) compare exactly.
        XCTAssertEqual(apart.probability(0, betterThan: 1, in: 1, goal: .minimize), 0.5)
    }
    /// The replicate rule (proposal rules 7): nothing on a noiseless problem; on a noisy one at most
    /// a fifth of the trials after the design, each at the target with a new seed, on configurations
    /// nearer the true front than the study's trials are on average.
    func testReplicatesGoWhereTheFrontIsUncertainAndNowhereWithoutNoise() throws {
        // A problem that declares no noise: no replicate, and the answer is the runs'.
        let clean = try spec(mock(seed: 2, noise: 0, trials: 36))
        let quiet = try Study(spec: clean, directory: scratchDirectory("posterior") + "/s")
        try quiet.run(evaluator: SyntheticEvaluator(spec: clean)) { _ in }
        XCTAssertEqual(quiet.trials.filter { $0.origin == .replicate }.count, 0, "no replicate without noise")
        XCTAssertTrue(quiet.runsAreExact)
        XCTAssertNil(quiet.answerPosterior)
        XCTAssertEqual(quiet.frontIDs, quiet.observedFrontIDs)

        var gapsReplicated: [Double] = [], gapsAll: [Double] = [], spent = 0, after = 0
        for seed in 0..<3 {
            let s = try spec(mock(seed: seed, noise: 0.02, trials: 36))
            let study = try Study(spec: s, directory: scratchDirectory("posterior") + "/s")
            try study.run(evaluator: SyntheticEvaluator(spec: s)) { _ in }
            guard case .peftMock(let dims, _) = s.problem else { return XCTFail("not the mock") }
            let truth = study.trials.map { PEFTMock.score(try! s.plan($0.candidate), dims: dims) }
            // The true front's score at a size: the best true score among evaluated configurations no larger.
            func gap(_ id: Int) -> Double {
                let n = study.trials[id].values[1]
                return study.trials.indices.filter { study.trials[$0].values[1] <= n }.map { truth[$0] }.max()! - truth[id]
            }
            let replicates = study.trials.filter { $0.origin == .replicate }
            for r in replicates {
                let k = try XCTUnwrap(r.replicates)
                XCTAssertEqual(s.space.key(r.config!), s.space.key(study.trials[k].config!))
                XCTAssertNotEqual(r.seed, study.trials[k].seed, "another training seed")
                XCTAssertNil(study.trials[k].baseline)
                gapsReplicated.append(gap(k))
            }
            gapsAll += study.trials.indices.filter { study.trials[$0].origin != .replicate }.map(gap)
            spent += replicates.count
            after += study.trials.filter { $0.origin == .optimizer || $0.origin == .replicate }.count
        }
        func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(max(x.count, 1)) }
        print(String(format: "replicates: %d of %d trials after the design; true-front gap of replicated configurations %.4f, "
            + "of all %.4f", spent, after, mean(gapsReplicated), mean(gapsAll)))
        XCTAssertGreaterThan(spent, 0)
        XCTAssertLessThanOrEqual(Double(spent), Study.replicateShare * Double(after) + 3, "at most a fifth (one per study of rounding)")
        XCTAssertLessThan(mean(gapsReplicated), mean(gapsAll))
    }

    /// A noisy study stopped part-way, with replicates before and after the stop, resumes to the
    /// same journal as one that ran through.
    func testAStudyWithReplicatesResumesAsItBegan() throws {
        let a = try spec(mock(seed: 1, noise: 0.02, trials: 36))
        let whole = try Study(spec: a, directory: scratchDirectory("posterior") + "/s")
        try whole.run(evaluator: SyntheticEvaluator(spec: a)) { _ in }
        let firstReplicate = try XCTUnwrap(whole.trials.first { $0.origin == .replicate }?.id, "the noisy study replicates")
        var b = try spec(mock(seed: 1, noise: 0.02, trials: 36))
        b.trials = firstReplicate + 3
        let dir = scratchDirectory("posterior") + "/s"
        try Study(spec: b, directory: dir).run(evaluator: SyntheticEvaluator(spec: b)) { _ in }
        b.trials = 36
        let resumed = try Study(spec: b, directory: dir)
        try resumed.run(evaluator: SyntheticEvaluator(spec: b)) { _ in }
        XCTAssertEqual(resumed.trials.map { b.space.key($0.config!) }, whole.trials.map { a.space.key($0.config!) })
        XCTAssertEqual(resumed.trials.map(\.values), whole.trials.map(\.values))
        XCTAssertEqual(resumed.trials.map(\.replicates), whole.trials.map(\.replicates))
        XCTAssertEqual(resumed.frontIDs, whole.frontIDs)
    }
}
