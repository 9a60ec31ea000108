import XCTest
import Foundation
@testable import Trainer

/// The vectorised exp and erf against libm (Double) on a dense grid.
final class VectorMathTests: XCTestCase {
    func testExpRelativeErrorBelow3e7() {
        var worst = 0.0
        for i in stride(from: -8700, through: 8800, by: 7) {
            let x = Float(i) / 100
            let v = vexp(Vec16(repeating: x))[0]
            let ref = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(v) - ref) / ref)
        }
        XCTAssertLessThan(worst, 3e-7)
    }

    func testErfAbsoluteErrorBelow3e7() {
        var worst = 0.0
        for i in stride(from: -600, through: 600, by: 1) {
            let x = Float(i) / 100
            worst = max(worst, abs(Double(verf(Vec16(repeating: x))[0]) - Foundation.erf(Double(x))))
        }
        XCTAssertLessThan(worst, 3e-7)
    }

    func testPartialLoadsAndStores() {
        let src: [Float] = (0..<5).map(Float.init)
        var dst = [Float](repeating: -1, count: 7)
        src.withUnsafeBufferPointer { s in dst.withUnsafeMutableBufferPointer { d in
            Vec16.load(s.baseAddress!, count: 5).store(d.baseAddress!, count: 5)
        } }
        XCTAssertEqual(dst, [0, 1, 2, 3, 4, -1, -1])
    }
}
