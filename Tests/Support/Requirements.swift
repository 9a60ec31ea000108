import Foundation
import XCTest

/// What a test needs is not there (the model, GLUE): a skip on a developer's machine, a failure in
/// CI (`CI=true`), where a green run must mean every test ran.
public func missing(_ what: String) throws -> Never {
    if ProcessInfo.processInfo.environment["CI"] == "true" { throw MissingRequirement(message: what
        + " (CI=true: a missing requirement fails)") }
    throw XCTSkip(what)
}

public struct MissingRequirement: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// The repository's all-MiniLM-L6-v2 and GLUE folders (scripts/setup provides both), or `missing`.
public enum RepositoryData {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    public static let model = root + "/models/all-MiniLM-L6-v2"
    public static let glue = root + "/data/glue"

    @discardableResult public static func requireModel() throws -> String {
        guard FileManager.default.fileExists(atPath: model + "/model.safetensors") else {
            try missing("all-MiniLM-L6-v2 not found at \(model); run scripts/setup --no-run")
        }
        return model
    }

    /// SmolLM2-135M-Instruct's GGUF file (scripts/setup fetches it).
    @discardableResult public static func requireSmolLM2() throws -> String {
        let path = root + "/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
        guard FileManager.default.fileExists(atPath: path) else { try missing("SmolLM2 not found at \(path); run scripts/setup --no-run") }
        return path
    }

    @discardableResult public static func requireGLUE() throws -> String {
        guard FileManager.default.fileExists(atPath: glue + "/SST-2/dev.tsv") else {
            try missing("GLUE data not found at \(glue); run scripts/setup --no-run")
        }
        return glue
    }
}
