import JSONKit
import Space

/// Errors the trainer reports to users: each names the file (and line or tensor) and what was expected.
public enum TrainerError: Error, CustomStringConvertible, Sendable {
    /// An input file that cannot be read or is not what was expected.
    case file(path: String, message: String)
    /// An output that cannot be written (a full disk, no permission): the work failed, not the input.
    case write(path: String, message: String)
    case data(path: String, line: Int, message: String)
    case config(ConfigError)
    case model(String)
    case training(String)
    /// Asked to stop (a cluster's preemption signal) at `step`; the state was saved to `checkpoint`.
    case interrupted(step: Int, checkpoint: String)

    public var description: String {
        switch self {
        case let .file(path, message), let .write(path, message): return "\(path): \(message)"
        case let .data(path, line, message): return "\(path):\(line): \(message)"
        case let .config(e): return e.description
        case let .model(m): return "model: \(m)"
        case let .training(m): return "training: \(m)"
        case let .interrupted(step, checkpoint): return "training: stopped at step \(step) when asked; the state is in \(checkpoint)"
        }
    }
}
