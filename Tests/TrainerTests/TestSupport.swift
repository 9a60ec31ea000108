import Foundation
import XCTest
@testable import Trainer

/// Paths inside the repository, found from this file's location.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let model = root + "/models/all-MiniLM-L6-v2"
    static let glue = root + "/data/glue"
    static var fixtures: String { Bundle.module.resourcePath! + "/Fixtures" }

    /// The real model, or a skip that says how to get it (scripts/setup fetches it; CI always has it).
    static func requireModel() throws -> String {
        guard FileManager.default.fileExists(atPath: model + "/model.safetensors") else {
            throw XCTSkip("all-MiniLM-L6-v2 not found at \(model); run scripts/setup --no-run")
        }
        return model
    }

    static func requireGLUE() throws -> String {
        guard FileManager.default.fileExists(atPath: glue + "/SST-2/dev.tsv") else {
            throw XCTSkip("GLUE data not found at \(glue); run scripts/setup --no-run")
        }
        return glue
    }
}

func temporaryDirectory() -> String {
    let d = NSTemporaryDirectory() + "autopeft-test-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}
