import Foundation
import XCTest
import TestSupport
@testable import Trainer

/// The GGUF reader against what the `gguf` package writes and reads (Fixtures/gguf, made by
/// tools/make_gguf_fixture.py): every metadata type, and each tensor type dequantized exactly as
/// `gguf.quants.dequantize` does; and corrupt files refused with what is wrong, never a trap.
final class GGUFTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/gguf").path

    func testMetadataOfEveryTypeReadsAsTheGGUFPackageReadsIt() throws {
        let file = try GGUFFile(path: Self.fixture + "/tiny.gguf")
        XCTAssertEqual(file.version, 3)
        let m = file.metadata
        XCTAssertEqual(m["general.architecture"]?.string, "llama")
        XCTAssertEqual(m["llama.block_count"]?.int, 2)
        XCTAssertEqual(m["test.int32"]?.int, -7)
        XCTAssertEqual(m["test.uint8"]?.int, 200)
        XCTAssertEqual(m["test.int8"]?.int, -100)
        XCTAssertEqual(m["test.uint16"]?.int, 60000)
        XCTAssertEqual(m["test.int16"]?.int, -30000)
        XCTAssertEqual(m["test.uint64"]?.int, (1 << 40) + 3)
        XCTAssertEqual(m["test.int64"]?.int, -(1 << 40) - 3)
        XCTAssertEqual(m["llama.rope.freq_base"]?.double, 100000)
        XCTAssertEqual(m["test.float64"]?.double, 0.1)
        XCTAssertEqual(m["test.bool"], .bool(true))
        XCTAssertEqual(m["tokenizer.ggml.model"]?.string, "gpt2")
        XCTAssertEqual(m["tokenizer.ggml.tokens"], .array(["<s>", "</s>", "héllo", "Ġworld"].map(GGUFFile.Value.string)))
        XCTAssertEqual(m["test.ints"], .array([.int(1), .int(-2), .int(3)]))
        XCTAssertEqual(m["test.nested"], .array([.array([.int(1), .int(2)]), .array([.int(3)])]))
        // Every key the gguf package read is here.
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.fixture + "/expected.json")))
                                     as? [String: Any])
        let keys = try XCTUnwrap(expected["metadata"] as? [String: Any]).keys
        XCTAssertEqual(Set(m.keys), Set(keys))
    }

    func testEachTensorTypeDequantizesAsTheGGUFPackageDoes() throws {
        let file = try GGUFFile(path: Self.fixture + "/tiny.gguf")
        let reference = try SafetensorsFile(path: Self.fixture + "/expected.safetensors")
        XCTAssertEqual(Set(file.tensors.keys), Set(reference.tensors.keys))
        let types: [String: GGUFFile.TensorType] = ["f32.weight": .f32, "f16.weight": .f16, "bf16.weight": .bf16, "q8_0.weight": .q8_0,
                                                    "q4_0.weight": .q4_0, "q4_1.weight": .q4_1, "norm.weight": .f32]
        for (name, type) in types {
            let t = try XCTUnwrap(file.tensors[name], name)
            XCTAssertEqual(t.type, type, name)
            XCTAssertEqual(t.shape, reference.tensors[name]?.shape, name)
            let ours = try file.floats(name), theirs = try reference.floats(name)
            XCTAssertEqual(ours.count, theirs.count, name)
            XCTAssertEqual(zip(ours, theirs).map { abs($0 - $1) }.max() ?? 0, 0, "\(name): not the gguf package's values")
        }
        XCTAssertEqual(file.tensorNames.first, "f32.weight", "file order")
    }

    /// A truncated file and an unsupported tensor type are refused with what is wrong.
    func testCorruptFilesAreRefusedWithWhatIsWrong() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.fixture + "/tiny.gguf"))
        for cut in [0, 3, 20, 200, bytes.count / 2, bytes.count - 1] {
            XCTAssertThrowsError(try GGUFFile(data: bytes.prefix(cut), path: "cut.gguf"), "cut at \(cut)") {
                XCTAssertTrue("\($0)".hasPrefix("cut.gguf: "), "\($0)")
            }
        }
        var notGGUF = bytes
        notGGUF[0] = UInt8(ascii: "X")
        XCTAssertThrowsError(try GGUFFile(data: notGGUF, path: "x.gguf")) { XCTAssertTrue("\($0)".contains("no GGUF magic"), "\($0)") }
        // The Q4_1 tensor's type field, set to Q4_K (12): refused by name.
        let name = Array("q4_1.weight".utf8)
        let at = try XCTUnwrap((0..<(bytes.count - name.count)).first { bytes[bytes.startIndex + $0..<bytes.startIndex + $0 + name.count].elementsEqual(name) })
        var k = bytes
        // After the name: dimension count u32 (2), two u64 dimensions, then the type u32.
        let typeAt = bytes.startIndex + at + name.count + 4 + 16
        XCTAssertEqual(bytes[typeAt], 3, "the fixture's Q4_1 type field")
        k[typeAt] = 12
        XCTAssertThrowsError(try GGUFFile(data: k, path: "k.gguf")) {
            XCTAssertTrue("\($0)".contains("\"q4_1.weight\" is Q4_K") && "\($0)".contains("Q4_1"), "\($0)")
        }
    }
}
