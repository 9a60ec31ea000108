import Foundation

/// Chooses OpenBLAS's kernel for this CPU before OpenBLAS initialises.
///
/// Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise recent AMD and Intel
/// CPUs and falls back to a generic SSE kernel ("Prescott"), 2-4× slower. OpenBLAS
/// reads `OPENBLAS_CORETYPE` once, in its library constructor, so the variable must
/// be in the environment when the process starts: `ensureBestKernel` sets it and
/// re-executes the program once. A user's own `OPENBLAS_CORETYPE` is always respected.
public enum BLASKernel {
    static let marker = "AUTOPEFT_BLAS_REEXEC"

    /// The OpenBLAS core name for a set of /proc/cpuinfo flags, or nil to keep OpenBLAS's choice.
    public static func preferredCore(flags: Set<String>) -> String? {
        let avx512 = ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(flags.contains)
        if avx512 && flags.contains("avx512_bf16") { return "Cooperlake" }
        if avx512 { return "SkylakeX" }
        if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
        return nil
    }

    /// The flags of the first CPU in /proc/cpuinfo (empty when unreadable).
    public static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }

    /// Re-executes the current program with `OPENBLAS_CORETYPE` set, when it is unset and a better
    /// kernel is known. Returns normally when nothing needs doing or re-execution is impossible.
    public static func ensureBestKernel() {
        let env = ProcessInfo.processInfo.environment
        guard env["OPENBLAS_CORETYPE"] == nil, env[marker] == nil, let core = preferredCore(flags: cpuFlags()) else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv(marker, core, 1)
        let args = CommandLine.arguments
        var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cargs.append(nil)
        execv("/proc/self/exe", &cargs)
        // execv returned: it failed. Carry on with OpenBLAS's own choice.
        unsetenv("OPENBLAS_CORETYPE")
    }

    /// Where the kernel choice came from, for `autopeft doctor`.
    public static var choiceDescription: String {
        let env = ProcessInfo.processInfo.environment
        if let m = env[marker] { return "\(m) (chosen by autopeft from the CPU flags)" }
        if let c = env["OPENBLAS_CORETYPE"] { return "\(c) (OPENBLAS_CORETYPE set by the user)" }
        return "OpenBLAS's own detection"
    }
}
