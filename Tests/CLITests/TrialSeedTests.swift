import XCTest
import Foundation
import TestSupport

/// `autopeft trial`'s two seeds: `--seed` is the trial's, which a space file's `training.seed`
/// overrides as it does in a search (common random numbers), while `--training-seed` trains with
/// the seed given whatever the file says. Found when a by-hand check of a search's modules under
/// other seeds got three identical runs.
final class TrialSeedTests: XCTestCase {
    func testTrainingSeedOverridesTheFilesSeedAndSeedDoesNot() throws {
        let model = try RepositoryData.requireModel(), glue = try RepositoryData.requireGLUE()
        let d = scratchDirectory("trial-seed")
        let space = """
        {"name": "trial-seed", "model": "\(model)",
         "task": {"format": "glue", "name": "sst2", "train": "\(glue)/SST-2/train.tsv", "dev": "\(glue)/SST-2/dev.tsv", "max_length": 32},
         "training": {"epochs": 1, "batch_size": 16, "learning_rate": 0.005, "train_examples": 160, "dev_examples": 64, "seed": 0},
         "space": {"lora": {"rank": [4], "dropout": 0.1, "targets": ["query", "value"]}}}
        """
        try space.write(toFile: d + "/space.json", atomically: true, encoding: .utf8)
        func finalLoss(_ seedOptions: [String]) throws -> Double {
            let p = Process()
            p.executableURL = try autopeftBinary()
            p.arguments = ["trial", d + "/space.json", "--threads", "1", "--candidate",
                           #"{"peft": {"lora": {"rank": 4, "alpha": 8, "dropout": 0.1, "targets": ["query", "value"]}}}"#] + seedOptions
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, "trial \(seedOptions)")
            let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            // Its known objective by hand: rank 4 × (384 in + 384 out) × 2 targets × 6 layers, and
            // the head's 384 × 2 + 2.
            XCTAssertEqual((json?["known"] as? [String: Double])?["trainable_params"], Double(4 * 768 * 2 * 6 + 770))
            return try XCTUnwrap((json?["metrics"] as? [String: Double])?["final_loss"], "trial \(seedOptions): \(String(decoding: data, as: UTF8.self))")
        }
        let fileSeed = try finalLoss(["--seed", "3"])
        XCTAssertEqual(try finalLoss(["--seed", "5"]), fileSeed, "the file's training.seed fixes the run whatever --seed says")
        XCTAssertEqual(try finalLoss(["--training-seed", "0"]), fileSeed, "--training-seed 0 is the file's seed, 0")
        XCTAssertNotEqual(try finalLoss(["--seed", "0", "--training-seed", "3"]), fileSeed, "--training-seed 3 trains another run")
    }
}
