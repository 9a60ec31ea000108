import Foundation

/// A file or folder the system would not let us create or write, with the system's own reason
/// (strerror), e.g. "No space left on device" or "Permission denied".
public struct IOFailure: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    /// The errno behind it, when the system gave one.
    public var code: Int32 = 0
    public init(path: String, reason: String, code: Int32 = 0) { self.path = path; self.reason = reason; self.code = code }
    public var description: String { "\(path): \(reason)" }
}

public enum FileSystem {
    /// `mkdir -p`: creates `path` and its missing parents; the error names the component that failed
    /// and why (a file in the way, no permission, a read-only or full filesystem).
    public static func createDirectory(_ path: String) throws(IOFailure) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + component
            if mkdir(prefix, 0o755) == 0 { continue }
            let err = errno
            var st = stat()
            guard err == EEXIST, stat(prefix, &st) == 0 else {
                throw IOFailure(path: prefix, reason: "cannot create the folder: " + SystemErrors.explain(code: err), code: err)
            }
            guard st.st_mode & S_IFMT == S_IFDIR else { throw IOFailure(path: prefix, reason: "is a file, not a folder") }
        }
    }
}
