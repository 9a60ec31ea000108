import JSONKit
import Foundation
import Space

/// A reader for the safetensors format: an 8-byte little-endian header length,
/// a JSON header `{name: {dtype, shape, data_offsets: [begin, end]}}`, then the data.
///
/// Every header field is validated (dtype known, shape × element size equal to the
/// byte range, ranges inside the file, no overlap), so a truncated or corrupt file
/// gives a `TrainerError.file` naming the problem, never a trap.
public struct SafetensorsFile {
    public enum DType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", i64 = "I64", i32 = "I32", f64 = "F64", u8 = "U8", i8 = "I8", bool = "BOOL"
        var size: Int {
            switch self {
            case .f64, .i64: return 8
            case .f32, .i32: return 4
            case .f16, .bf16: return 2
            case .u8, .i8, .bool: return 1
            }
        }
    }

    public struct TensorInfo: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public let range: Range<Int>  // byte range inside the data section
        public var elementCount: Int { shape.reduce(1, *) }
    }

    public let path: String
    public let tensors: [String: TensorInfo]
    public let metadata: [String: String]
    private let data: Data
    private let dataStart: Int

    public init(path: String) throws(TrainerError) {
        let data: Data
        do { data = try SystemErrors.readFile(path, mapped: true) }
        catch { throw .file(path: path, message: "cannot read safetensors file: " + error.reason) }
        try self.init(data: data, path: path)
    }

    public init(data: Data, path: String) throws(TrainerError) {
        func fail(_ m: String) -> TrainerError { .file(path: path, message: "invalid safetensors: \(m)") }
        guard data.count >= 8 else { throw fail("file is \(data.count) bytes, shorter than the 8-byte header length") }
        var headerLen: UInt64 = 0
        for i in 0..<8 { headerLen |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard headerLen <= UInt64(data.count - 8), headerLen <= 100_000_000 else {
            throw fail("header length \(headerLen) exceeds the file size \(data.count) (truncated file?)")
        }
        let hdrBytes = [UInt8](data[(data.startIndex + 8)..<(data.startIndex + 8 + Int(headerLen))])
        let header: JSONValue
        do { header = try JSONParser.parse(bytes: hdrBytes) } catch { throw fail("header is not valid JSON (\(error))") }
        guard case .object(let members) = header else { throw fail("header is not a JSON object") }
        let dataStart = 8 + Int(headerLen)
        let dataLen = data.count - dataStart
        var tensors: [String: TensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, v) in members {
            if name == "__metadata__" {
                if case .object(let ms) = v { for (k, mv) in ms { if case .string(let s) = mv { metadata[k] = s } } }
                continue
            }
            tensors[name] = try Self.tensorInfo(name, v, dataLength: dataLen, fail: fail)
        }
        let sorted = tensors.values.sorted { $0.range.lowerBound < $1.range.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.range.upperBound > b.range.lowerBound && !a.range.isEmpty
            && !b.range.isEmpty {
            throw fail("tensors \"\(a.name)\" and \"\(b.name)\" overlap")
        }
        self.path = path
        self.tensors = tensors
        self.metadata = metadata
        self.data = data
        self.dataStart = dataStart
    }

    /// One tensor's header entry, checked against the data section's length.
    static func tensorInfo(_ name: String, _ v: JSONValue, dataLength dataLen: Int,
                           fail: (String) -> TrainerError) throws(TrainerError) -> TensorInfo {
        guard case .string(let dt)? = v["dtype"], let dtype = DType(rawValue: dt) else {
            throw fail("tensor \"\(name)\": missing or unknown dtype \(v["dtype"]?.kindDescription ?? "(none)")")
        }
        guard case .array(let shapeV)? = v["shape"] else { throw fail("tensor \"\(name)\": missing shape") }
        var shape: [Int] = []
        for s in shapeV {
            guard case .number(let d, _) = s, d >= 0, d == d.rounded(), d < 1e12 else {
                throw fail("tensor \"\(name)\": shape entries must be non-negative integers")
            }
            shape.append(Int(d))
        }
        guard case .array(let offs)? = v["data_offsets"], offs.count == 2,
              case .number(let b, _) = offs[0], case .number(let e, _) = offs[1], b >= 0, e >= b, e < 1e15 else {
            throw fail("tensor \"\(name)\": data_offsets must be [begin, end] with begin <= end")
        }
        let range = Int(b)..<Int(e)
        // Checked arithmetic: a hostile shape must not overflow (and trap) before it is refused.
        var expected = dtype.size
        for d in shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: d)
            guard !overflow, product < 1 << 50 else { throw fail("tensor \"\(name)\": shape \(shape) is too large") }
            expected = product
        }
        guard range.count == expected else {
            throw fail("tensor \"\(name)\": \(range.count) bytes for shape \(shape) of \(dt) (expected \(expected))")
        }
        guard range.upperBound <= dataLen else {
            throw fail("tensor \"\(name)\": bytes \(range.lowerBound)..<\(range.upperBound) run past the data section of "
                + "\(dataLen) bytes (truncated file?)")
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, range: range)
    }

    /// The tensor `name` converted to Float32 (F32, F16 and BF16 are accepted).
    public func floats(_ name: String) throws(TrainerError) -> [Float] {
        guard let t = tensors[name] else { throw .file(path: path, message: "missing tensor \"\(name)\"") }
        let n = t.elementCount
        var out = [Float](repeating: 0, count: n)
        let start = data.startIndex + dataStart + t.range.lowerBound
        let dtype = t.dtype
        var failure: TrainerError?
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let base = raw.baseAddress!.advanced(by: start - data.startIndex)
            out.withUnsafeMutableBufferPointer { o in
                switch dtype {
                case .f32:
                    memcpy(o.baseAddress!, base, n * 4)  // little-endian host
                case .f16:
                    for i in 0..<n { o[i] = Float(Float16(bitPattern: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
                case .bf16:
                    for i in 0..<n {
                        let bits = UInt32(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16
                        o[i] = Float(bitPattern: bits)
                    }
                default:
                    failure = .file(path: path, message: "tensor \"\(name)\" has dtype \(dtype.rawValue); expected F32, F16 or BF16")
                }
            }
        }
        if let failure { throw failure }
        return out
    }

    /// The tensor `name` after checking its shape.
    public func floats(_ name: String, shape: [Int]) throws(TrainerError) -> [Float] {
        guard let t = tensors[name] else { throw .file(path: path, message: "missing tensor \"\(name)\"") }
        guard t.shape == shape else {
            throw .file(path: path, message: "tensor \"\(name)\" has shape \(t.shape); expected \(shape) from config.json")
        }
        return try floats(name)
    }
}

/// Writes F32 tensors in the safetensors format (used by exports and test fixtures).
public enum SafetensorsWriter {
    public static func encode(_ tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String] = [:]) -> Data {
        var members: [(key: String, value: JSONValue)] = []
        if !metadata.isEmpty {
            members.append(("__metadata__", .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        var offset = 0
        for t in tensors {
            let bytes = t.values.count * 4
            members.append((t.name, .object([
                ("dtype", .string("F32")),
                ("shape", .array(t.shape.map { JSONValue.number($0) })),
                ("data_offsets", .array([.number(offset), .number(offset + bytes)])),
            ])))
            offset += bytes
        }
        var header = Array(JSONValue.object(members).serialized().utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }  // pad so the data section is aligned
        var out = Data()
        var len = UInt64(header.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for t in tensors { t.values.withUnsafeBytes { out.append(contentsOf: $0) } }
        return out
    }
}
