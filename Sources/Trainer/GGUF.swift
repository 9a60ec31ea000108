import JSONKit
import Foundation

/// A reader for GGUF files (llama.cpp's format, version 2 and 3): the header, the metadata
/// key-value pairs, the tensor infos, and the tensors, dequantized to Float32 block by block.
///
/// Layout (little-endian): magic `GGUF`, version u32, tensor count u64, metadata count u64; each
/// metadata pair is a string key (u64 length + UTF-8), a value type u32 and the value; each tensor
/// info is a name, a dimension count u32, the dimensions u64 (the fastest-varying first: a PyTorch
/// `[out, in]` weight is `[in, out]` here), a ggml type u32 and an offset u64 into the data section,
/// which starts at the next multiple of `general.alignment` (32 by default) after the infos.
///
/// Types read (block layouts as llama.cpp's ggml-common.h defines them, 32 values a block):
/// F32, F16, BF16; Q8_0 {f16 d; i8 q[32]}: x = q·d; Q4_0 {f16 d; u8 q[16]}: x = (q − 8)·d;
/// Q4_1 {f16 d; f16 m; u8 q[16]}: x = q·d + m. In Q4 blocks, value j < 16 is the low nibble of
/// byte j and value j + 16 its high nibble. Every other type is refused by name.
///
/// Every field is checked (counts, lengths and offsets inside the file, types known), so a truncated
/// or corrupt file gives a `TrainerError.file` naming the problem, never a trap.
public struct GGUFFile {
    /// A metadata value.
    public indirect enum Value: Equatable, Sendable {
        case int(Int64), uint(UInt64), float(Double), bool(Bool), string(String), array([Value])

        public var int: Int? {
            switch self {
            case .int(let x): return Int(exactly: x)
            case .uint(let x): return Int(exactly: x)
            default: return nil
            }
        }
        public var double: Double? {
            switch self {
            case .float(let x): return x
            case .int(let x): return Double(x)
            case .uint(let x): return Double(x)
            default: return nil
            }
        }
        public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    }

    /// The tensor types of ggml this reader knows, by their numbers in ggml.h.
    public enum TensorType: UInt32, Sendable {
        case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q8_0 = 8, bf16 = 30

        /// Values per block and bytes per block.
        var block: (values: Int, bytes: Int) {
            switch self {
            case .f32: return (1, 4)
            case .f16, .bf16: return (1, 2)
            case .q4_0: return (32, 18)
            case .q4_1: return (32, 20)
            case .q8_0: return (32, 34)
            }
        }

        /// ggml's names of the types it has (for refusals), by number.
        static let ggmlNames: [UInt32: String] = [
            0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K",
            12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL",
            21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16",
        ]
        public var name: String { Self.ggmlNames[rawValue] ?? "type \(rawValue)" }
    }

    public struct TensorInfo: Sendable {
        public let name: String
        public let type: TensorType
        /// GGUF's order: the fastest-varying dimension first.
        public let dimensions: [Int]
        /// The byte range inside the data section.
        public let range: Range<Int>
        public var elementCount: Int { dimensions.reduce(1, *) }
        /// PyTorch's order: the slowest-varying dimension first.
        public var shape: [Int] { dimensions.reversed() }
    }

    public let path: String
    public let version: Int
    public let metadata: [String: Value]
    public let tensors: [String: TensorInfo]
    /// Tensor names in file order.
    public let tensorNames: [String]
    private let data: Data
    private let dataStart: Int

    public init(path: String) throws(TrainerError) {
        let data: Data
        do { data = try SystemErrors.readFile(path, mapped: true) }
        catch { throw .file(path: path, message: "cannot read GGUF file: " + error.reason) }
        try self.init(data: data, path: path)
    }

    public init(data: Data, path: String) throws(TrainerError) {
        var r = Reader(data: data, path: path)
        guard try r.bytes(4) == Array("GGUF".utf8) else { throw r.fail("not a GGUF file (no GGUF magic at the start)") }
        let version = Int(try r.u32())
        guard version == 2 || version == 3 else { throw r.fail("GGUF version \(version); expected 2 or 3") }
        let tensorCount = try r.count(try r.u64(), what: "tensor count", limit: 1 << 20)
        let metadataCount = try r.count(try r.u64(), what: "metadata count", limit: 1 << 20)
        var metadata: [String: Value] = [:]
        for _ in 0..<metadataCount {
            let key = try r.string()
            metadata[key] = try r.value(type: try r.u32(), key: key, depth: 0)
        }
        var infos: [(name: String, type: UInt32, dims: [Int], offset: Int)] = []
        for _ in 0..<tensorCount {
            let name = try r.string()
            let n = try r.count(UInt64(try r.u32()), what: "dimension count of \"\(name)\"", limit: 8)
            var dims: [Int] = []
            for _ in 0..<n { dims.append(try r.count(try r.u64(), what: "dimension of \"\(name)\"", limit: 1 << 40)) }
            let type = try r.u32()
            let offset = try r.count(try r.u64(), what: "offset of \"\(name)\"", limit: 1 << 50)
            infos.append((name, type, dims, offset))
        }
        let alignment = metadata["general.alignment"]?.int ?? 32
        guard alignment > 0, alignment <= 1 << 16 else { throw r.fail("general.alignment \(alignment) is not a usable alignment") }
        let start = (r.position + alignment - 1) / alignment * alignment
        guard start <= data.count else { throw r.fail("the data section starts at byte \(start), past the end (truncated file?)") }
        var tensors: [String: TensorInfo] = [:]
        for info in infos {
            guard let type = TensorType(rawValue: info.type) else {
                let name = TensorType.ggmlNames[info.type].map { "\($0)" } ?? "unknown type \(info.type)"
                throw r.fail("tensor \"\(info.name)\" is \(name); this reader takes F32, F16, BF16, Q8_0, Q4_0 and Q4_1")
            }
            var count = 1
            for d in info.dims {
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, p < 1 << 40 else { throw r.fail("tensor \"\(info.name)\": dimensions \(info.dims) are too large") }
                count = p
            }
            let block = type.block
            guard count % block.values == 0, info.dims.first.map({ $0 % block.values == 0 }) ?? true else {
                throw r.fail("tensor \"\(info.name)\": \(info.dims) does not split into \(type.name) blocks of \(block.values)")
            }
            let bytes = count / block.values * block.bytes
            guard info.offset % alignment == 0, start + info.offset + bytes <= data.count else {
                throw r.fail("tensor \"\(info.name)\": bytes \(info.offset)..<\(info.offset + bytes) of the data section are misaligned "
                    + "or run past the end of the file (truncated file?)")
            }
            guard tensors[info.name] == nil else { throw r.fail("tensor \"\(info.name)\" appears twice") }
            tensors[info.name] = TensorInfo(name: info.name, type: type, dimensions: info.dims, range: info.offset..<(info.offset + bytes))
        }
        self.path = path
        self.version = version
        self.metadata = metadata
        self.tensors = tensors
        self.tensorNames = infos.map(\.name)
        self.data = data
        self.dataStart = start
    }

    /// The tensor `name` as Float32 values in PyTorch's row-major order (`shape`).
    public func floats(_ name: String) throws(TrainerError) -> [Float] {
        guard let t = tensors[name] else { throw .file(path: path, message: "missing tensor \"\(name)\"") }
        var out = [Float](repeating: 0, count: t.elementCount)
        withTensorBytes(t) { base in
            out.withUnsafeMutableBufferPointer { o in GGUFFile.dequantize(t.type, from: base, into: o.baseAddress!, count: o.count) }
        }
        return out
    }

    /// Runs `body` on the first byte of tensor `t`'s data.
    func withTensorBytes<R>(_ t: TensorInfo, _ body: (UnsafeRawPointer) -> R) -> R {
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in body(raw.baseAddress!.advanced(by: dataStart + t.range.lowerBound)) }
    }

    /// Dequantizes `count` values of `type` from `src` (whole blocks) into `dst`.
    static func dequantize(_ type: TensorType, from src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        func half(_ offset: Int) -> Float { Float(Float16(bitPattern: src.loadUnaligned(fromByteOffset: offset, as: UInt16.self))) }
        switch type {
        case .f32:
            for i in 0..<count { dst[i] = src.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
        case .f16:
            for i in 0..<count { dst[i] = half(2 * i) }
        case .bf16:
            for i in 0..<count { dst[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
        case .q8_0:
            for b in 0..<(count / 32) {
                let o = b * 34, d = half(o)
                for j in 0..<32 { dst[b * 32 + j] = d * Float(src.load(fromByteOffset: o + 2 + j, as: Int8.self)) }
            }
        case .q4_0:   // x = (q − 8)·d, the integer subtraction first, as ggml does
            for b in 0..<(count / 32) {
                let o = b * 18, d = half(o)
                for j in 0..<16 {
                    let q = src.load(fromByteOffset: o + 2 + j, as: UInt8.self)
                    dst[b * 32 + j] = Float(Int(q & 0x0F) - 8) * d
                    dst[b * 32 + j + 16] = Float(Int(q >> 4) - 8) * d
                }
            }
        case .q4_1:   // x = q·d + m
            for b in 0..<(count / 32) {
                let o = b * 20, d = half(o), m = half(o + 2)
                for j in 0..<16 {
                    let q = src.load(fromByteOffset: o + 4 + j, as: UInt8.self)
                    dst[b * 32 + j] = Float(q & 0x0F) * d + m
                    dst[b * 32 + j + 16] = Float(q >> 4) * d + m
                }
            }
        }
    }

    /// A cursor over the file's bytes whose every read is bounds-checked.
    struct Reader {
        let data: Data
        let path: String
        var position = 0

        func fail(_ message: String) -> TrainerError { .file(path: path, message: "invalid GGUF: \(message)") }

        mutating func bytes(_ n: Int) throws(TrainerError) -> [UInt8] {
            guard n >= 0, position + n <= data.count else {
                throw fail("\(n) bytes wanted at byte \(position), past the end of the \(data.count)-byte file (truncated file?)")
            }
            defer { position += n }
            return [UInt8](data[(data.startIndex + position)..<(data.startIndex + position + n)])
        }

        mutating func integer(_ n: Int) throws(TrainerError) -> UInt64 {
            try bytes(n).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        }

        mutating func u32() throws(TrainerError) -> UInt32 { UInt32(try integer(4)) }
        mutating func u64() throws(TrainerError) -> UInt64 { try integer(8) }

        func count(_ x: UInt64, what: String, limit: Int) throws(TrainerError) -> Int {
            guard x <= UInt64(limit) else { throw fail("\(what) \(x) is beyond \(limit) (corrupt file?)") }
            return Int(x)
        }

        mutating func string() throws(TrainerError) -> String {
            let n = try count(try u64(), what: "string length", limit: 1 << 30)
            guard let s = String(bytes: try bytes(n), encoding: .utf8) else { throw fail("a string at byte \(position - n) is not UTF-8") }
            return s
        }

        /// A metadata value of GGUF type `type` (arrays hold one type; nested arrays are allowed).
        mutating func value(type: UInt32, key: String, depth: Int) throws(TrainerError) -> Value {
            switch type {
            case 0: return .uint(try integer(1))
            case 1: return .int(Int64(Int8(truncatingIfNeeded: try integer(1))))
            case 2: return .uint(try integer(2))
            case 3: return .int(Int64(Int16(truncatingIfNeeded: try integer(2))))
            case 4: return .uint(try integer(4))
            case 5: return .int(Int64(Int32(truncatingIfNeeded: try integer(4))))
            case 6: return .float(Double(Float(bitPattern: UInt32(try integer(4)))))
            case 7: return .bool(try integer(1) != 0)
            case 8: return .string(try string())
            case 9:
                guard depth < 4 else { throw fail("metadata \"\(key)\": arrays nested deeper than 4") }
                let elementType = try u32()
                let n = try count(try u64(), what: "length of metadata array \"\(key)\"", limit: 1 << 26)
                var out: [Value] = []
                out.reserveCapacity(n)
                for _ in 0..<n { out.append(try value(type: elementType, key: key, depth: depth + 1)) }
                return .array(out)
            case 10: return .uint(try integer(8))
            case 11: return .int(Int64(bitPattern: try integer(8)))
            case 12: return .float(Double(bitPattern: try integer(8)))
            default: throw fail("metadata \"\(key)\" has value type \(type); expected 0-12")
            }
        }
    }
}
