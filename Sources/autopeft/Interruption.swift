import Foundation
import Search

/// SIGINT (Ctrl-C) and SIGTERM (also how Slurm preemption begins) during a search stop it at once
/// with exit 130 or 143 and a line saying how to resume. Nothing finished is lost: every result
/// is journaled (written and fsynced) before the next trial starts, and the handler waits for a
/// journal write in progress to complete; a trial in flight re-runs on resume with its seed, and
/// worker processes exit with their lifeline.
enum Interruption {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    /// `beforeExit` runs first and returns a sentence for the message (the Slurm executor cancels or
    /// lists its jobs there).
    static func stopOnSignals(resume command: String, beforeExit: @escaping @Sendable () -> String = { "" }) {
        for (sig, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                Journal.holdWrites()
                let extra = beforeExit()
                let message = "\nautopeft search: stopped by \(name); every finished trial is in the journal. \(extra)"
                    + "Resume with: \(command)\n"
                FileHandle.standardError.write(Data(message.utf8))
                _exit(128 + sig)
            }
            source.resume()
            sources.append(source)
        }
    }
}
