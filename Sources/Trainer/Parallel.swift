import Dispatch

/// The trainer's one source of parallelism.
///
/// OpenBLAS runs single-threaded; autopeft splits work itself: GEMMs by blocks of rows (or
/// columns), attention by (batch, head) pairs, row-wise ops by rows. With OpenBLAS's own
/// threads, its idle workers spin on sched_yield (21% of a profiled step) while the
/// elementwise ops run on one core.
///
/// **Results never depend on the worker count.** Every split is a function of the problem's
/// shape alone (`blocks`), never of `workers`: 1, 2 or N workers run the same blocks, and so
/// issue the same OpenBLAS calls on the same shapes. The workers only decide who runs which
/// block. This matters because a BLAS kernel may sum an output element in a different order
/// for a different M (edge tiles, small-matrix paths, K blocking), never for the same call.
/// Reductions across blocks are done after the parallel part, in block order.
public enum Parallel {
    /// Worker count; set once at start-up (`BLAS.setThreads`), read everywhere.
    nonisolated(unsafe) public private(set) static var workers = 1

    static func setWorkers(_ n: Int) { workers = max(1, n) }

    /// Splits 0..<count into `parts` contiguous ranges whose sizes differ by at most one
    /// (fewer when count < parts). Depends only on its arguments.
    public static func blocks(_ count: Int, parts: Int) -> [Range<Int>] {
        let p = max(1, min(parts, count))
        return (0..<p).map { i in (count * i / p)..<(count * (i + 1) / p) }
    }

    /// Runs `body(worker, block)` for every block of `blocks(count, parts:)`. Worker w runs blocks
    /// w, w + W, w + 2W, … (W = min(workers, block count)), so `worker` can index per-worker scratch.
    /// The caller guarantees that blocks write disjoint memory (hence raw pointers may be captured).
    public static func forBlocks(_ count: Int, parts: Int, _ body: (_ worker: Int, _ block: Range<Int>) -> Void) {
        let bs = blocks(count, parts: parts)
        let w = min(workers, bs.count)
        guard w > 1 else { for b in bs { body(0, b) }; return }
        withoutActuallyEscaping(body) { escapable in
            let sendable = unsafeBitCast(escapable, to: (@Sendable (Int, Range<Int>) -> Void).self)
            DispatchQueue.concurrentPerform(iterations: w) { worker in
                for i in stride(from: worker, to: bs.count, by: w) { sendable(worker, bs[i]) }
            }
        }
    }

    /// Row-wise work (LayerNorm, GELU): blocks of at least `minimum` rows, at most `maxRowBlocks`
    /// of them (12 divides evenly among 1, 2, 3, 4 or 6 workers).
    public static func forRows(_ count: Int, minimum: Int, _ body: (Range<Int>) -> Void) {
        forBlocks(count, parts: min(maxRowBlocks, count / max(1, minimum))) { _, rows in body(rows) }
    }
    static let maxRowBlocks = 12

    /// The number of workers `forBlocks(count, parts:)` uses: how much per-worker scratch to hold.
    public static func workerCount(_ count: Int, parts: Int) -> Int { max(1, min(workers, parts, count)) }
}
