import XCTest
import TestSupport
import Foundation
import Space
@testable import Trainer

/// A run trained in segments through checkpoints ends bit for bit where the uninterrupted run ends.
final class TrainingCheckpointTests: XCTestCase {
    static let mixed = PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, dropout: 0.1, targets: [.query, .output]),
                                serialAdapter: AdapterSpec(size: 4, layers: .only([1])), prefix: PrefixSpec(length: 2, projection: 5),
                                ia3: IA3Spec(sites: [.value]), bitfit: BitFitSpec(biases: [.outputNorm]))

    func segments(_ stops: [Int], plan: PEFTPlan, dir: String) throws -> (TrainResult, [Float]) {
        var last: (TrainResult, any TrainableModel)?
        for (k, stop) in stops.enumerated() {
            let segment = TrainingSegment(stopAfterSteps: stop, resumeFrom: k == 0 ? nil : dir + "/c\(k - 1)", checkpointTo: dir + "/c\(k)")
            last = try syntheticTuner(seed: 7, epochs: 3, plan: plan, in: dir).run(segment)
            XCTAssertEqual(last!.0.steps, min(stop, 48), "stop \(stop)")
            XCTAssertEqual(last!.0.resumedFromStep, k == 0 ? nil : stops[k - 1], "segment \(k) continued from the last stop")
        }
        return (last!.0, last!.1.block.values.array)
    }

    func testSegmentsThroughCheckpointsEqualTheUninterruptedRun() throws {
        for plan in [Self.mixed, PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, dropout: 0.1, targets: [.value], layers: .only([1])))] {
            let dir = scratchDirectory("trainer")
            let (whole, model) = try syntheticTuner(seed: 7, epochs: 3, plan: plan, in: dir).run()
            XCTAssertEqual(whole.steps, 48)
            // Mid-epoch (7, 21), on an epoch boundary (32) and the end (a stop past it is clamped).
            let (result, values) = try segments([7, 21, 32, 100], plan: plan, dir: dir)
            XCTAssertTrue(values == model.block.values.array, "trained weights equal bit for bit")
            XCTAssertEqual(result.score, whole.score)
            XCTAssertEqual(result.finalLoss, whole.finalLoss)
        }
    }

    func testAMissingOrTornCheckpointStartsOverAndReachesTheSameState() throws {
        let dir = scratchDirectory("trainer")
        func tuner() throws -> FineTuner { try syntheticTuner(seed: 7, epochs: 3, plan: Self.mixed, in: dir) }
        let (_, model) = try tuner().run(TrainingSegment(stopAfterSteps: 20))
        let (intact, _) = try tuner().run(TrainingSegment(stopAfterSteps: 9, checkpointTo: dir + "/c"))
        XCTAssertNotNil(TrainingCheckpoint.read(dir + "/c", fingerprint: try tuner().fingerprint).0, "the checkpoint as written reads")
        XCTAssertEqual(intact.steps, 9)
        // Torn two ways: a json that no longer matches intact tensors, and truncated tensors.
        try FileManager.default.copyItem(atPath: dir + "/c", toPath: dir + "/t")
        let json = try String(contentsOfFile: dir + "/c/state.json", encoding: .utf8)
        XCTAssertTrue(json.contains("\"step\":9"))
        try json.replacingOccurrences(of: "\"step\":9", with: "\"step\":8").write(toFile: dir + "/c/state.json", atomically: true, encoding: .utf8)
        let tensors = try Data(contentsOf: URL(fileURLWithPath: dir + "/t/state.safetensors"))
        try tensors.dropLast(4).write(to: URL(fileURLWithPath: dir + "/t/state.safetensors"))
        for torn in ["c", "t"] {
            let (checkpoint, reason) = TrainingCheckpoint.read(dir + "/" + torn, fingerprint: try tuner().fingerprint)
            XCTAssertNil(checkpoint, torn)
            XCTAssertTrue(reason.contains("torn"), reason)
        }
        for resume in [dir + "/c", dir + "/t", dir + "/nowhere"] {
            let (r, m) = try tuner().run(TrainingSegment(stopAfterSteps: 20, resumeFrom: resume))
            XCTAssertNil(r.resumedFromStep, "started over")
            XCTAssertTrue(m.block.values.array == model.block.values.array, resume)
        }
    }

    /// A cheap segment scored after a cool-down branch: the branch trains (the score is not the
    /// plain stop's), the checkpoint is the stop's, so the continued run is still the uninterrupted
    /// one bit for bit; a stop inside the branch saves the stop's state and the retry scores the same.
    func testACoolDownBranchIsScoredButNotContinued() throws {
        let dir = scratchDirectory("trainer")
        func tuner() throws -> FineTuner { try syntheticTuner(seed: 7, epochs: 3, plan: Self.mixed, in: dir) }
        let (_, whole) = try tuner().run()
        var cooled = TrainingSegment(stopAfterSteps: 10, checkpointTo: dir + "/c")
        cooled.coolDownShare = 0.25
        XCTAssertEqual(cooled.coolDownSteps(stop: 10, total: 48), 3, "⌈0.25 · 10⌉")
        XCTAssertEqual(cooled.coolDownSteps(stop: 48, total: 48), 0, "no branch at the end of the run")
        let (branch, branchModel) = try tuner().run(cooled)
        XCTAssertEqual(branch.steps, 13)
        XCTAssertEqual(TrainingCheckpoint.read(dir + "/c", fingerprint: try tuner().fingerprint).0?.step, 10)
        let (_, plain) = try tuner().run(TrainingSegment(stopAfterSteps: 10))
        XCTAssertFalse(branchModel.block.values.array == plain.block.values.array, "the branch trained")
        let (rest, continued) = try tuner().run(TrainingSegment(resumeFrom: dir + "/c"))
        XCTAssertEqual(rest.resumedFromStep, 10)
        XCTAssertTrue(continued.block.values.array == whole.block.values.array, "continued from the stop, not the branch")

        // Asked to stop two steps into the branch: the stop's state is saved, and the retry (from
        // it) cools down again to the same weights.
        var preempted = cooled
        preempted.checkpointTo = dir + "/c2"
        preempted.preemptTo = dir + "/p"
        let interrupted = try tuner()
        var calls = 0
        interrupted.stopRequested = { calls += 1; return calls > 12 }
        XCTAssertThrowsError(try interrupted.run(preempted)) { error in
            guard case TrainerError.interrupted(let step, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(step, 10)
        }
        XCTAssertEqual(TrainingCheckpoint.read(dir + "/p", fingerprint: try tuner().fingerprint).0?.step, 10)
        let (retried, retriedModel) = try tuner().run(preempted)
        XCTAssertEqual(retried.resumedFromStep, 10)
        XCTAssertTrue(retriedModel.block.values.array == branchModel.block.values.array)
        XCTAssertEqual(retried.score, branch.score)
    }

    func testACheckpointOfAnotherRunIsRefused() throws {
        let dir = scratchDirectory("trainer")
        _ = try syntheticTuner(seed: 7, epochs: 3, plan: Self.mixed, in: dir).run(TrainingSegment(stopAfterSteps: 5, checkpointTo: dir + "/c"))
        let other = try syntheticTuner(seed: 8, epochs: 3, plan: Self.mixed, in: dir)
        let (checkpoint, reason) = TrainingCheckpoint.read(dir + "/c", fingerprint: other.fingerprint)
        XCTAssertNil(checkpoint)
        XCTAssertTrue(reason.contains("another run"), reason)
        let (_, fresh) = try other.run(TrainingSegment(stopAfterSteps: 5))
        let (r, resumed) = try syntheticTuner(seed: 8, epochs: 3, plan: Self.mixed, in: dir)
            .run(TrainingSegment(stopAfterSteps: 5, resumeFrom: dir + "/c"))
        XCTAssertNil(r.resumedFromStep)
        XCTAssertTrue(resumed.block.values.array == fresh.block.values.array, "the other run's state was not used")
    }
}
