import XCTest
@testable import Trainer

/// AdamW, the learning-rate schedule and gradient clipping against values computed by hand and HF's schedule.
final class OptimizerTests: XCTestCase {
    func testAdamWOneStepByHand() {
        // p = 1, g = 0.5, lr = 0.1, wd = 0.01: p ← 1·(1 − 0.001) − 0.1 · m̂/(√v̂ + ε), m̂ = 0.5, √v̂ = 0.5 → 0.999 − 0.1
        let block = ParameterBlock()
        _ = block.declare("p", shape: [1])
        block.seal()
        block.values[0] = 1
        block.grads[0] = 0.5
        let opt = AdamW(parameterCount: 1, weightDecay: 0.01)
        opt.update(block, learningRate: 0.1)
        XCTAssertEqual(block.values[0], 0.899, accuracy: 1e-6)
    }

    func testLinearScheduleMatchesHF() {
        let s = LinearSchedule(base: 1, warmupFraction: 0.06, totalSteps: 100)  // warmup 6 steps
        XCTAssertEqual(s.learningRate(step: 0), 0)
        XCTAssertEqual(s.learningRate(step: 3), 0.5, accuracy: 1e-12)
        XCTAssertEqual(s.learningRate(step: 6), 1, accuracy: 1e-12)
        XCTAssertEqual(s.learningRate(step: 53), 0.5, accuracy: 1e-12)
        XCTAssertEqual(s.learningRate(step: 100), 0)
    }

    func testGradientClipping() {
        let block = ParameterBlock()
        _ = block.declare("p", shape: [2])
        block.seal()
        block.grads[0] = 3
        block.grads[1] = 4
        XCTAssertEqual(clipGradientNorm(block, maxNorm: 1), 5)
        XCTAssertEqual(block.grads[0], 0.6, accuracy: 1e-5)
        XCTAssertEqual(block.grads[1], 0.8, accuracy: 1e-5)
    }
}
