import XCTest
@testable import Trainer

/// Results do not depend on the worker count: a training step on 1, 2 and 3 workers gives
/// bit-identical logits and gradients under the kernel this process runs (whatever
/// `OPENBLAS_CORETYPE` the environment sets). `KernelAgreementTests` repeats this under every
/// kernel the CPU can run, in subprocesses.
final class ParallelTests: XCTestCase {
    override func tearDown() { BLAS.setThreads(1) }

    func testOneTwoAndThreeWorkersAgreeBitForBit() throws {
        let one = try KernelProbe.trainingStep(workers: 1)
        for workers in [2, 3] {
            let other = try KernelProbe.trainingStep(workers: workers)
            XCTAssertNil(firstBitDifference(one.logits, other.logits), "logits, 1 vs \(workers) workers, kernel \(BLAS.coreName)")
            XCTAssertNil(firstBitDifference(one.gradients, other.gradients), "gradients, 1 vs \(workers) workers, kernel \(BLAS.coreName)")
        }
    }

    func testBlocksDependOnlyOnTheShape() {
        XCTAssertEqual(Parallel.blocks(10, parts: 3), [0..<3, 3..<6, 6..<10])
        XCTAssertEqual(Parallel.blocks(2, parts: 4), [0..<1, 1..<2])
        XCTAssertEqual(Parallel.blocks(0, parts: 4), [0..<0])
        for workers in [1, 2, 3, 7] {
            BLAS.setThreads(workers)
            var seen: [Range<Int>] = []
            let lock = NSLock()
            Parallel.forBlocks(100, parts: 12) { _, r in lock.lock(); seen.append(r); lock.unlock() }
            XCTAssertEqual(seen.sorted { $0.lowerBound < $1.lowerBound }, Parallel.blocks(100, parts: 12), "\(workers) workers")
        }
        // The GEMM split is a function of the shape: the same for any worker count.
        XCTAssertEqual(BLAS.gemmBlocks(2048, m: 2048, n: 384, k: 384), BLAS.maxGEMMBlocks)
        XCTAssertEqual(BLAS.gemmBlocks(48, m: 48, n: 384, k: 384), 1, "under 64 rows: not cut")
        XCTAssertEqual(BLAS.gemmBlocks(512, m: 512, n: 8, k: 8), 1, "under 2M multiply-adds: one call")
    }
}

/// The first index where two arrays differ in their bits, described; nil when they are equal.
func firstBitDifference(_ a: [Float], _ b: [Float]) -> String? {
    guard a.count == b.count else { return "lengths differ: \(a.count) vs \(b.count)" }
    let diff = zip(a, b).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
    guard let first = diff.first else { return nil }
    let maxAbs = diff.map { abs($0.element.0 - $0.element.1) }.max() ?? 0
    return "\(diff.count) of \(a.count) values differ; first at [\(first.offset)]: \(first.element.0) vs \(first.element.1); max "
        + "|diff| \(maxAbs)"
}
