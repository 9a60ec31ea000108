import Foundation
import XCTest
import TestSupport
@testable import Trainer

/// Paths inside the repository, found from this file's location.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let model = root + "/models/all-MiniLM-L6-v2"
    static let glue = root + "/data/glue"
    static var fixtures: String { Bundle.module.resourcePath! + "/Fixtures" }

    static func requireModel() throws -> String { try RepositoryData.requireModel() }
    static func requireGLUE() throws -> String { try RepositoryData.requireGLUE() }
}
