import JSONKit
import Foundation

/// Writing what the trainer saves (candidates, exports), with errors that name the path and give
/// the system's reason in the user's terms (`SystemErrors`): a full disk says so.
enum OutputFiles {
    /// Creates `dir` and its parents (`FileSystem.createDirectory`: the error names the component
    /// that failed, a file in the way among them).
    static func createFolder(_ dir: String) throws(TrainerError) {
        do { try FileSystem.createDirectory(dir) } catch { throw .write(path: error.path, message: error.reason) }
    }

    /// Writes `data` to `path` atomically (a reader never sees half a file).
    static func write(_ data: Data, to path: String) throws(TrainerError) {
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) }
        catch { throw .write(path: path, message: "cannot write: " + SystemErrors.explain(error)) }
    }

    static func write(_ text: String, to path: String) throws(TrainerError) {
        try write(Data(text.utf8), to: path)
    }
}
