import XCTest
import TestSupport
@testable import Trainer

final class SafetensorsTests: XCTestCase {
    func write(_ data: Data) -> String {
        let p = scratchDirectory("trainer") + "/t.safetensors"
        XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: data), p)
        return p
    }

    func testRoundTripF32() throws {
        let d = SafetensorsWriter.encode([("a", [2, 3], [1, 2, 3, 4, 5, 6]), ("b", [1], [-7.5])], metadata: ["format": "pt"])
        let f = try SafetensorsFile(path: write(d))
        XCTAssertEqual(try f.floats("a", shape: [2, 3]), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try f.floats("b"), [-7.5])
        XCTAssertEqual(f.metadata["format"], "pt")
    }

    /// F16 and BF16 by hand: 1.0 = 0x3C00 (F16) = 0x3F80 (BF16); -2.5 = 0xC100 (F16) = 0xC020 (BF16).
    func testHalfPrecisionConversion() throws {
        func file(_ dtype: String, _ words: [UInt16]) -> Data {
            var header = Array(#"{"t":{"dtype":"\#(dtype)","shape":[2],"data_offsets":[0,4]}}"#.utf8)
            while header.count % 8 != 0 { header.append(0x20) }
            var d = Data()
            var n = UInt64(header.count).littleEndian
            withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
            d.append(contentsOf: header)
            for w in words { var le = w.littleEndian; withUnsafeBytes(of: &le) { d.append(contentsOf: $0) } }
            return d
        }
        XCTAssertEqual(try SafetensorsFile(path: write(file("F16", [0x3C00, 0xC100]))).floats("t"), [1, -2.5])
        XCTAssertEqual(try SafetensorsFile(path: write(file("BF16", [0x3F80, 0xC020]))).floats("t"), [1, -2.5])
    }

    func testCorruptFilesGiveClearErrors() throws {
        let good = SafetensorsWriter.encode([("a", [4], [1, 2, 3, 4])])
        func message(_ d: Data) -> String {
            do { _ = try SafetensorsFile(path: write(d)); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message(Data([1, 2, 3])).contains("shorter than the 8-byte header length"))
        XCTAssertTrue(message(good.prefix(good.count - 3)).contains("run past the data section"), message(good.prefix(good.count - 3)))
        XCTAssertTrue(message(good.prefix(20)).contains("exceeds the file size"))
        var bad = good
        bad[8] = UInt8(ascii: "x")
        XCTAssertTrue(message(bad).contains("not valid JSON"))
        // A shape whose size overflows is refused, not trapped on.
        var huge = Array(#"{"t":{"dtype":"F32","shape":[100000000000,100000000000],"data_offsets":[0,4]}}"#.utf8)
        while huge.count % 8 != 0 { huge.append(0x20) }
        var hugeFile = Data(), n = UInt64(huge.count).littleEndian
        withUnsafeBytes(of: &n) { hugeFile.append(contentsOf: $0) }
        hugeFile.append(contentsOf: huge + [0, 0, 0, 0])
        XCTAssertTrue(message(hugeFile).contains("tensor \"t\": shape [100000000000, 100000000000] is too large"), message(hugeFile))
        let wrongShape = try SafetensorsFile(path: write(good))
        XCTAssertThrowsError(try wrongShape.floats("a", shape: [2, 3])) { XCTAssertTrue("\($0)".contains("expected [2, 3]")) }
        XCTAssertThrowsError(try wrongShape.floats("missing")) { XCTAssertTrue("\($0)".contains("missing tensor \"missing\"")) }
    }
}
