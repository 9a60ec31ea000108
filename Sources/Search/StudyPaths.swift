import Foundation

/// Paths a study records: relative to the study folder, so that a journal or a report never
/// carries the folders of the machine that made it, and a study folder moved together with
/// its space file (a clone, a copy) still finds it.
public enum StudyPaths {
    /// `path` as seen from `directory` (both as given, relative to the working directory or
    /// absolute), e.g. `../../spaces/x.json` for `spaces/x.json` from `results/x`. Lexical: it
    /// does not follow symbolic links.
    public static func relative(_ path: String, from directory: String) -> String {
        let target = components(absolute(path)), base = components(absolute(directory))
        var common = 0
        while common < min(target.count, base.count) && target[common] == base[common] { common += 1 }
        let ups = [String](repeating: "..", count: base.count - common)
        let rest = ups + target[common...]
        return rest.isEmpty ? "." : rest.joined(separator: "/")
    }

    /// A recorded path resolved from the study folder: absolute paths (journals before this
    /// rule) stay as they are.
    public static func resolve(_ recorded: String, inStudy directory: String) -> String {
        recorded.hasPrefix("/") ? recorded : normalised(directory.isEmpty ? recorded : directory + "/" + recorded)
    }

    /// `a/./b/../c` → `a/c`; leading `..` of a relative path are kept.
    public static func normalised(_ path: String) -> String {
        var out: [String] = []
        for c in path.split(separator: "/", omittingEmptySubsequences: true).map(String.init) where c != "." {
            if c == "..", let last = out.last, last != ".." { out.removeLast() } else if c == ".."
                && path.hasPrefix("/") { continue } else { out.append(c) }
        }
        let joined = out.joined(separator: "/")
        return path.hasPrefix("/") ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    static func absolute(_ path: String) -> String {
        normalised(path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path)
    }

    static func components(_ absolutePath: String) -> [String] {
        absolutePath.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }
}
