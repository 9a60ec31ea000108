import Foundation
import XCTest
@testable import Trainer

/// Paths inside the repository, found from this file's location.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let model = root + "/models/all-MiniLM-L6-v2"
    static let glue = root + "/data/glue"
    static var fixtures: String { Bundle.module.resourcePath! + "/Fixtures" }

    /// The real model (scripts/setup fetches it), or `missing`.
    static func requireModel() throws -> String {
        guard FileManager.default.fileExists(atPath: model + "/model.safetensors") else {
            try missing("all-MiniLM-L6-v2 not found at \(model); run scripts/setup --no-run")
        }
        return model
    }

    /// The GLUE data (scripts/setup links it), or `missing`.
    static func requireGLUE() throws -> String {
        guard FileManager.default.fileExists(atPath: glue + "/SST-2/dev.tsv") else {
            try missing("GLUE data not found at \(glue); run scripts/setup --no-run")
        }
        return glue
    }
}

/// What a test needs is not there: a skip on a developer's machine, a failure in CI (`CI=true`),
/// where a green run must mean every test ran.
func missing(_ what: String) throws -> Never {
    if ProcessInfo.processInfo.environment["CI"] == "true" { throw MissingRequirement(message: what + " (CI=true: a missing requirement fails)") }
    throw XCTSkip(what)
}

struct MissingRequirement: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

func temporaryDirectory() -> String {
    let d = NSTemporaryDirectory() + "autopeft-test-" + UUID().uuidString
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}
