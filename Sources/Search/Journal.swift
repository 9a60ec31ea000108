import JSONKit
import Foundation
import Space

/// The append-only study journal (`results/<name>/journal.jsonl`): one JSON object a line,
/// each with an `op` from a closed set. The journal persists and never proposes.
///
/// Each append is one `write(2)` of a whole line on an `O_APPEND` descriptor followed by
/// `fsync`, so a crash loses at most the line being written. Opening takes an exclusive
/// `flock`: a second process on the same study fails at once with a clear error. Reading
/// tolerates a torn last line (it is reported, then cut off so the next append starts on a
/// fresh line) and refuses a corrupt line elsewhere, naming it.
public final class Journal {
    /// The record kinds (a contract: docs/search.md, "The journal and the report").
    public enum Op: String, CaseIterable, Sendable {
        case studyCreated = "study_created", trialStarted = "trial_started", trialFinished = "trial_finished"
        case trialFailed = "trial_failed", studyNote = "study_note"
        /// Multi-fidelity: Kendall's τ between the cheapest fidelity and the target on the pairs so far.
        case fidelityAgreement = "fidelity_agreement"
        /// A cluster job submitted (or re-attached to) for a trial: its id and attempt.
        case trialSubmitted = "trial_submitted"
        /// `reevaluation.jsonl`: one final-stage training of a trial with one seed.
        case reevaluated
    }

    public struct Failure: Error, CustomStringConvertible {
        public let path: String
        public let message: String
        public var description: String { "\(path): \(message)" }
    }

    public let path: String
    private let fd: Int32
    /// Records read when the journal was opened, in order, then those appended, each with its line
    /// number (from 1), so that an error in a record can name its line.
    public private(set) var records: [(op: Op, record: JSONValue, line: Int)] = []
    /// Warnings from opening (a torn last line).
    public private(set) var warnings: [String] = []

    /// Whether this handle may append (false for readers such as `autopeft report`).
    public let writable: Bool

    /// Opens (creating if needed) and locks the journal, then reads it. A read-only journal
    /// neither locks (a report can read a running study) nor repairs a torn last line.
    public init(path: String, readOnly: Bool = false) throws(Failure) {
        self.path = path
        writable = !readOnly
        let fd = readOnly ? open(path, O_RDONLY | O_CLOEXEC) : open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(path: path, message: "cannot open the journal: \(Self.reason(errno))") }
        guard readOnly || flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            close(fd)
            throw Failure(path: path,
                          message: busy ? "another autopeft process is running this study (the journal is locked); wait for it or stop it"
                                                      : "cannot lock the journal: \(String(cString: strerror(errno)))")
        }
        self.fd = fd
        do { try read() } catch { close(fd); throw error }
    }

    deinit { close(fd) }

    private func read() throws(Failure) {
        var st = stat()
        fstat(fd, &st)
        let size = Int(st.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var got = 0
        while got < size {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, size - got, off_t(got)) }
            guard n > 0 else { throw Failure(path: path, message: "cannot read the journal: \(String(cString: strerror(errno)))") }
            got += n
        }
        var lineStart = 0, lineNo = 0
        while lineStart < size {
            lineNo += 1
            let end = bytes[lineStart...].firstIndex(of: 0x0A)
            let line = Array(bytes[lineStart..<(end ?? size)])
            let isLast = end == nil
            let parsed = try? JSONParser.parse(bytes: line)
            if isLast {
                // No newline: a write cut short by a crash. Report and cut it off.
                warnings.append("journal line \(lineNo) is incomplete (a write cut short by a crash); it is ignored")
                guard writable else { break }
                guard ftruncate(fd, off_t(lineStart)) == 0 else {
                    throw Failure(path: path, message: "cannot truncate the torn last line: \(String(cString: strerror(errno)))")
                }
                break
            }
            guard let value = parsed, case .string(let name)? = value["op"], let op = Op(rawValue: name) else {
                throw Failure(path: path,
                              message: "line \(lineNo) is not a journal record (expected a JSON object with an \"op\" of "
                              + "\(Op.allCases.map(\.rawValue).joined(separator: ", "))); the journal is corrupt")
            }
            records.append((op, value, lineNo))
            lineStart = end! + 1
        }
    }

    /// The system's reason, with what to do for the failures users can fix. Finished trials are
    /// already in the journal; a line cut short is cut off when the study is opened again.
    static func reason(_ code: Int32) -> String {
        let text = String(cString: strerror(code))
        switch code {
        case ENOSPC, EDQUOT:
            return "\(text): the disk is full; free space and run the same command again to resume (finished trials are kept)"
        case EROFS: return "\(text): the study folder is on a read-only filesystem; use --out on a writable one"
        case EACCES, EPERM: return "\(text): no permission to write the study folder"
        default: return text
        }
    }

    /// Held while a record is written and synced: a process stopping on a signal takes it first
    /// (`holdWrites`), so that it never exits halfway through a record.
    private static let writing = NSLock()

    /// Waits for a write in progress to finish and blocks further writes (for a process about to exit).
    public static func holdWrites() { writing.lock() }

    /// Appends one record (`op` first), durably: returns after `fsync`.
    public func append(_ op: Op, _ fields: [(key: String, value: JSONValue)]) throws(Failure) {
        guard writable else { throw Failure(path: path, message: "the journal was opened read-only") }
        Self.writing.lock()
        defer { Self.writing.unlock() }
        let record = JSONValue.object([("op", .string(op.rawValue))] + fields)
        let line = Array((record.serialized() + "\n").utf8)
        // A full disk first takes part of a line (a short count, errno untouched) and then fails
        // with ENOSPC: keep writing until the line is whole or the system says why it is not.
        var written = 0
        while written < line.count {
            let n = line.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n > 0 { written += n; continue }
            if n < 0 && errno == EINTR { continue }
            throw Failure(path: path, message: "cannot append to the journal: " + Self.reason(n < 0 ? errno : EIO))
        }
        guard fsync(fd) == 0 else { throw Failure(path: path, message: "cannot fsync the journal: " + Self.reason(errno)) }
        records.append((op, record, (records.last?.line ?? 0) + 1))
    }
}
