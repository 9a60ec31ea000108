import Dispatch

/// The trainer's one source of parallelism.
///
/// OpenBLAS runs single-threaded; autopeft splits work itself: GEMMs by rows, attention by
/// (batch, head) pairs, row-wise ops by rows. With OpenBLAS's own threads, its idle workers
/// spin on sched_yield (21% of a profiled step) while the elementwise ops run on one core.
/// Splitting a GEMM by rows does not change any output element's arithmetic, so results do
/// not depend on the thread count.
public enum Parallel {
    /// Worker count; set once at start-up (`BLAS.setThreads`), read everywhere.
    nonisolated(unsafe) public private(set) static var workers = 1

    static func setWorkers(_ n: Int) { workers = max(1, n) }

    /// Runs `body(chunk)` for chunk 0..<n, concurrently when there are several workers.
    /// The caller guarantees that chunks write disjoint memory (hence raw pointers may be captured).
    public static func forEach(_ n: Int, _ body: (Int) -> Void) {
        guard n > 1, workers > 1 else { for i in 0..<n { body(i) }; return }
        withoutActuallyEscaping(body) { escapable in
            let sendable = unsafeBitCast(escapable, to: (@Sendable (Int) -> Void).self)
            DispatchQueue.concurrentPerform(iterations: n, execute: sendable)
        }
    }

    /// Splits 0..<count into one contiguous range per worker (fewer when count is small).
    public static func ranges(_ count: Int, minimum: Int = 1) -> [Range<Int>] {
        let parts = max(1, min(workers, count / max(1, minimum)))
        return (0..<parts).map { p in (count * p / parts)..<(count * (p + 1) / parts) }
    }

    /// Runs `body(range)` over a split of 0..<count.
    public static func forRanges(_ count: Int, minimum: Int = 1, _ body: (Range<Int>) -> Void) {
        let rs = ranges(count, minimum: minimum)
        forEach(rs.count) { body(rs[$0]) }
    }
}
