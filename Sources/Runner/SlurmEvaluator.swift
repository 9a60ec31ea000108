import JSONKit
import Foundation
import Space
import Search

/// Runs each trial as a Slurm job (`sbatch` of `autopeft trial`), on the cluster the user has.
///
/// One writer: the job writes its outcome to `slurm/trial-<k>.result.json` in the study folder
/// (a temporary file, then a rename) and the driver reads it; only the driver writes the journal.
/// The job's id is kept in `slurm/trial-<k>.job` (and journaled by the study) the moment `sbatch`
/// returns, so a driver killed and started again re-attaches: a result already written is read,
/// a job still queued or running is waited for, and only a trial with neither is submitted again.
/// A job that fails, is cancelled or is lost with its node is submitted again up to `retries`
/// times, then the trial fails with Slurm's reason. The study keeps `q` trials in flight by
/// evaluating a batch on q threads (the worker machinery), so proposals, seeds and the journal are
/// those of the in-process executor with the same batch.
public final class SlurmEvaluator: Evaluator, @unchecked Sendable {
    /// The space file's `"executor"` section: what `sbatch` gets.
    public struct Settings: Sendable {
        public var partition: String?
        public var time: String?
        public var memory: String?
        public var cpusPerTask: Int
        public var account: String?
        public var qos: String?
        /// Free-form `sbatch` arguments, passed as given.
        public var extra: [String]
        /// Trials in flight at once.
        public var jobs: Int
        /// Submissions of one trial after the first, when its job fails, is cancelled or is lost.
        public var retries: Int
        /// Seconds between polls of the queue.
        public var poll: Double

        public init(partition: String? = nil, time: String? = nil, memory: String? = nil, cpusPerTask: Int = 1, account: String? = nil,
                    qos: String? = nil, extra: [String] = [], jobs: Int = 2, retries: Int = 2, poll: Double = 1) {
            self.partition = partition
            self.time = time
            self.memory = memory
            self.cpusPerTask = cpusPerTask
            self.account = account
            self.qos = qos
            self.extra = extra
            self.jobs = jobs
            self.retries = retries
            self.poll = poll
        }

        /// `"executor": {"kind": "slurm", "partition": …, "time": "01:00:00", "mem": "4G",
        /// "cpus_per_task": 2, "account": …, "qos": …, "extra": ["--exclusive"], "jobs": 2,
        /// "retries": 2, "poll_seconds": 1}`.
        public init(reading r: JSONReader) throws(ConfigError) {
            self.init()
            _ = try r.optional("kind")?.choice(["slurm", "local"])
            partition = try r.optional("partition")?.string()
            time = try r.optional("time")?.string()
            memory = try r.optional("mem")?.string()
            cpusPerTask = try r.optional("cpus_per_task")?.int(in: 1...1024, what: "a CPU count") ?? 1
            account = try r.optional("account")?.string()
            qos = try r.optional("qos")?.string()
            extra = try r.optional("extra")?.array().map { a throws(ConfigError) in try a.string() } ?? []
            jobs = try r.optional("jobs")?.int(in: 1...10_000, what: "a number of jobs in flight") ?? 2
            retries = try r.optional("retries")?.int(in: 0...100, what: "a number of retries") ?? 2
            poll = try r.optional("poll_seconds")?.double(in: 0.05...600, what: "seconds") ?? 1
            try r.finish()
        }
    }

    let spec: StudySpec
    let settings: Settings
    let folder: String
    let studyName: String
    let progress: @Sendable (String) -> Void
    /// Called with (trial, job id, attempt) when a job is submitted or re-attached, for the journal.
    let submitted: @Sendable (Int, String, Int) -> Void
    /// Jobs in flight, for `scancel` when the driver is asked to stop them.
    static let inFlight = JobRegistry()

    public init(spec: StudySpec, directory: String, settings: Settings, progress: @escaping @Sendable (String) -> Void,
                submitted: @escaping @Sendable (Int, String, Int) -> Void) throws {
        self.spec = spec
        self.settings = settings
        folder = URL(fileURLWithPath: directory).standardizedFileURL.path + "/slurm"
        studyName = spec.name
        self.progress = progress
        self.submitted = submitted
        try FileSystem.createDirectory(folder)
        guard Self.which("sbatch") != nil, Self.which("squeue") != nil else {
            throw Study.Failure(message: "--executor slurm needs sbatch and squeue on the PATH (a Slurm login node)")
        }
    }

    func path(_ trial: Int, _ suffix: String) -> String { "\(folder)/trial-\(trial).\(suffix)" }

    public func evaluate(_ request: TrialRequest) throws -> TrialOutcome {
        let k = request.trial
        var attempt = 0
        // Re-attach: a job recorded for this trial that is still queued or running is waited for.
        var job = (try? String(contentsOfFile: path(k, "job"), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let j = job, !j.isEmpty, Self.state(of: j).active {
            progress("  trial \(k + 1): re-attached to Slurm job \(j)")
            submitted(k, j, 0)
        } else {
            job = nil
        }
        while true {
            if let outcome = try readResult(k) { return outcome }
            if job == nil {
                job = try submit(request, attempt: attempt)
            }
            let (finalState, reason) = wait(for: job!, trial: k)
            Self.inFlight.remove(job!)
            if let outcome = try readResult(k) { return outcome }
            attempt += 1
            guard attempt <= settings.retries else {
                throw Study.Failure(message: "Slurm job \(job!) \(finalState)\(reason.isEmpty ? "" : " (\(reason))") after "
                    + "\(attempt) submissions; log: \(path(k, "log"))")
            }
            progress("  trial \(k + 1): Slurm job \(job!) \(finalState)\(reason.isEmpty ? "" : " (\(reason))"); submitting again "
                + "(\(attempt) of \(settings.retries))")
            job = nil
        }
    }

    /// The outcome the job wrote, when it did; the trial's own error (a diverging run) is thrown:
    /// the trial failed, the job did not, and submitting it again would fail the same way.
    func readResult(_ k: Int) throws -> TrialOutcome? {
        guard let data = FileManager.default.contents(atPath: path(k, "result.json")),
              let v = try? JSONParser.parse(bytes: [UInt8](data)) else { return nil }
        if case .string(let error)? = v["error"] { throw Study.Failure(message: error) }
        return TrialOutcome(reading: v)
    }

    /// `sbatch` of `autopeft trial` for the request; returns the job id, kept in trial-<k>.job.
    func submit(_ request: TrialRequest, attempt: Int) throws -> String {
        let k = request.trial
        try? FileManager.default.removeItem(atPath: path(k, "result.json"))
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
        let candidate = JSONValue.object(request.candidate.jsonMembers(in: spec.space)).serialized()
        let space = URL(fileURLWithPath: spec.file).standardizedFileURL.path
        let trialArgs = [exe, "trial", space, "--candidate", candidate, request.ownSeed ? "--training-seed" : "--seed", "\(request.seed)", "--trial", "\(k)",
                         "--threads", "\(settings.cpusPerTask)", "--result", path(k, "result.json"),
                         "--preempt-checkpoint", path(k, "state")]
            + WorkerEvaluator.fidelityArguments(request)
        var args = ["--parsable", "--job-name", "autopeft:\(studyName):trial-\(k + 1)", "--output", path(k, "log"), "--open-mode", "append",
                    "--cpus-per-task", "\(settings.cpusPerTask)", "--signal", "B:TERM@60", "--requeue"]
        if let p = settings.partition { args += ["--partition", p] }
        if let t = settings.time { args += ["--time", t] }
        if let m = settings.memory { args += ["--mem", m] }
        if let a = settings.account { args += ["--account", a] }
        if let q = settings.qos { args += ["--qos", q] }
        args += settings.extra
        args += ["--wrap", trialArgs.map(Self.shellQuoted).joined(separator: " ")]
        let (status, out, err) = Self.run("sbatch", args)
        let job = out.split(separator: ";").first.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        guard status == 0, !job.isEmpty, job.allSatisfy(\.isNumber) else {
            throw Study.Failure(message: "sbatch failed (exit \(status)): \(err.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        try Data((job + "\n").utf8).write(to: URL(fileURLWithPath: path(k, "job")), options: .atomic)
        Self.inFlight.add(job)
        submitted(k, job, attempt)
        progress("  trial \(k + 1): Slurm job \(job) submitted\(attempt > 0 ? " (attempt \(attempt + 1))" : "")")
        return job
    }

    /// Polls until the job has left the queue; returns its last state and reason.
    func wait(for job: String, trial k: Int) -> (state: String, reason: String) {
        var last = (state: "PENDING", reason: "")
        while true {
            let s = Self.state(of: job)
            if !s.active { return s.state.isEmpty ? last : (s.state, s.reason) }
            last = (s.state, s.reason)
            if FileManager.default.fileExists(atPath: path(k, "result.json")) { return last }
            usleep(UInt32(settings.poll * 1e6))
        }
    }

    /// A job's state: `squeue` while it is in the queue, then `sacct` (with accounting) or
    /// `scontrol show job` (while the controller remembers it). `active` while pending, running,
    /// configuring, completing, suspended or requeued.
    static func state(of job: String) -> (state: String, reason: String, active: Bool) {
        let (status, out, _) = run("squeue", ["-h", "-j", job, "-o", "%T|%r"])
        if status == 0 {
            let line = out.split(separator: "\n").first.map(String.init) ?? ""
            if !line.isEmpty {
                let parts = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                return (parts[0], parts.count > 1 ? parts[1] : "", true)
            }
        }
        let (cs, cout, _) = run("scontrol", ["show", "job", job, "-o"])
        if cs == 0, let field = cout.split(separator: " ").first(where: { $0.hasPrefix("JobState=") }) {
            let state = String(field.dropFirst("JobState=".count))
            let reason = cout.split(separator: " ").first(where: { $0.hasPrefix("Reason=") }).map { String($0.dropFirst(7)) } ?? ""
            let active = ["PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING"].contains(state)
            return (state, reason == "None" ? "" : reason, active)
        }
        let (as_, aout, _) = run("sacct", ["-n", "-X", "-P", "-j", job, "-o", "State,Reason"])
        if as_ == 0, let line = aout.split(separator: "\n").first {
            let parts = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            return (parts[0], parts.count > 1 ? parts[1] : "", false)
        }
        return ("", "", false)
    }

    /// How many of this process's jobs are queued or running.
    public static var jobsInFlight: Int { inFlight.all.count }

    /// Cancels the jobs in flight (`scancel`); returns how many.
    @discardableResult
    public static func cancelInFlight() -> Int {
        let jobs = inFlight.all
        if !jobs.isEmpty { _ = run("scancel", jobs) }
        return jobs.count
    }

    static func which(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static func run(_ tool: String, _ args: [String]) -> (status: Int32, out: String, err: String) {
        guard let exe = which(tool) else { return (127, "", "\(tool) not found") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { return (126, "", "\(error)") }
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    static func shellQuoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

/// The job ids in flight, shared by the evaluator's threads and the signal handler.
final class JobRegistry: @unchecked Sendable {
    private var jobs: Set<String> = []
    private let lock = NSLock()
    func add(_ j: String) { lock.lock(); jobs.insert(j); lock.unlock() }
    func remove(_ j: String) { lock.lock(); jobs.remove(j); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return jobs.sorted() }
}
