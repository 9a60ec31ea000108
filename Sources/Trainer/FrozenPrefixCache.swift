import JSONKit
import Space
import Foundation

/// Hidden states entering layer L, computed once with dropout off in the frozen part.
///
/// When a candidate's lowest adapted layer is L, everything below L is frozen: in eval mode
/// the states entering L do not depend on the candidate, the epoch or the batch (padding keys
/// are masked, so a row's states do not depend on its batch-mates). They are computed once per
/// (model, rows, max length, L) and reused across epochs and trials. What changes against
/// training without the cache: dropout in the embeddings and in layers below L is off (their
/// output is deterministic); layers from L up train with dropout as usual.
///
/// Storage: rows concatenated ([Σ len_i, H]), Float32 or Float16, in memory or in a file that
/// is written once (to a temporary name, then renamed) and memory-mapped, so that several
/// processes with the same key share one copy.
public final class FrozenPrefixCache {
    public enum Precision: String, Sendable { case fp32, fp16 }

    public let layer: Int
    public let hiddenSize: Int
    public let offsets: [Int]
    public let lengths: [Int]
    public let precision: Precision
    /// The file backing the cache, when it is mapped.
    public let path: String?
    private let base: UnsafeMutableRawPointer
    private let byteCount: Int
    private let owner: Owner

    /// Bytes the cache of these rows would take.
    public static func bytes(lengths: [Int], hiddenSize: Int, precision: Precision) -> Int {
        lengths.reduce(0, +) * hiddenSize * (precision == .fp32 ? 4 : 2)
    }

    /// Computes the cache in memory.
    public convenience init(model: any TrainableModel, encodings: [WordPieceTokenizer.Encoding], layer: Int, padId: Int32,
                            precision: Precision = .fp32, batchSize: Int = 64) throws(TrainerError) {
        let lengths = encodings.map(\.ids.count)
        let bytes = Self.bytes(lengths: lengths, hiddenSize: model.hiddenSize, precision: precision)
        let mem = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
        self.init(layer: layer, hiddenSize: model.hiddenSize, lengths: lengths, precision: precision,
                  base: mem, byteCount: bytes, owner: .memory(mem), path: nil)
        try fill(model: model, encodings: encodings, padId: padId, batchSize: batchSize)
    }

    /// Maps the cache file at `path` when it exists and matches these rows; otherwise computes
    /// the cache, writes it there atomically and maps it.
    public convenience init(model: any TrainableModel, encodings: [WordPieceTokenizer.Encoding], layer: Int, padId: Int32,
                            precision: Precision = .fp32, file path: String, batchSize: Int = 64) throws(TrainerError) {
        let lengths = encodings.map(\.ids.count)
        let H = model.hiddenSize
        let header = Self.header(layer: layer, hiddenSize: H, lengths: lengths, precision: precision)
        let bytes = Self.bytes(lengths: lengths, hiddenSize: H, precision: precision)
        if !FileManager.default.fileExists(atPath: path) {
            let tmp = try FrozenPrefixCache(model: model, encodings: encodings, layer: layer, padId: padId,
                                        precision: precision, batchSize: batchSize)
            var data = Data(header)
            data.append(Data(bytesNoCopy: tmp.base, count: bytes, deallocator: .none))
            // Unique per writer (process and call): concurrent writers each rename a whole file into place.
            let partial = path + ".partial-\(getpid())-\(UUID().uuidString)"
            guard FileManager.default.createFile(atPath: partial, contents: data), rename(partial, path) == 0 else {
                unlink(partial)
                throw .write(path: path, message: "cannot write the frozen-prefix cache: \(String(cString: strerror(errno)))")
            }
        }
        let (mapped, total) = try Self.map(path)
        guard total == header.count + bytes, memcmp(mapped, header, header.count) == 0 else {
            munmap(mapped, total)
            throw .file(path: path, message: "frozen-prefix cache does not match these rows (stale file? delete it)")
        }
        self.init(layer: layer, hiddenSize: H, lengths: lengths, precision: precision,
                  base: mapped + header.count, byteCount: bytes, owner: .mapping(mapped, total), path: path)
    }

    private init(layer: Int, hiddenSize: Int, lengths: [Int], precision: Precision, base: UnsafeMutableRawPointer,
                 byteCount: Int, owner: Owner, path: String?) {
        self.layer = layer
        self.hiddenSize = hiddenSize
        self.lengths = lengths
        var offs: [Int] = []
        var total = 0
        for n in lengths { offs.append(total); total += n }
        offsets = offs
        self.precision = precision
        self.base = base
        self.byteCount = byteCount
        self.owner = owner
        self.path = path
    }

    deinit {
        switch owner {
        case .memory(let p): p.deallocate()
        case .mapping(let p, let n): munmap(p, n)
        }
    }

    private enum Owner {
        case memory(UnsafeMutableRawPointer)
        case mapping(UnsafeMutableRawPointer, Int)
    }

    /// Magic, version, layer, H, precision, row count and a hash of the row lengths: a file
    /// made for other rows, another layer or another model width is refused.
    static func header(layer: Int, hiddenSize: Int, lengths: [Int], precision: Precision) -> [UInt8] {
        var h = FNV1a()
        for n in lengths { h.mix(UInt64(n)) }
        var out = Array("APFXCACHE1".utf8)
        for v in [UInt64(layer), UInt64(hiddenSize), precision == .fp32 ? 4 : 2, UInt64(lengths.count), h.value] {
            withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
        }
        while out.count % 64 != 0 { out.append(0) }  // keep the data 64-byte aligned
        return out
    }

    static func map(_ path: String) throws(TrainerError) -> (UnsafeMutableRawPointer, Int) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .file(path: path, message: "cannot open the frozen-prefix cache: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size > 0 else { throw .file(path: path, message: "empty frozen-prefix cache file") }
        let n = Int(st.st_size)
        guard let p = mmap(nil, n, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw .file(path: path, message: "cannot map the frozen-prefix cache: \(String(cString: strerror(errno)))")
        }
        return (p, n)
    }

    /// Runs the embeddings and layers 0..<layer on every encoding (length-sorted batches, no dropout).
    private func fill(model: any TrainableModel, encodings: [WordPieceTokenizer.Encoding], padId: Int32,
                      batchSize: Int) throws(TrainerError) {
        let H = hiddenSize
        let order = encodings.indices.sorted { lengths[$0] < lengths[$1] }
        for s in stride(from: 0, to: order.count, by: batchSize) {
            let idx = Array(order[s..<min(s + batchSize, order.count)])
            let batch = TokenBatch(idx.map { encodings[$0] }, padId: padId)
            let states = try model.forwardPrefix(batch, upTo: layer)
            for (r, i) in idx.enumerated() {
                let src = states + r * batch.length * H, n = lengths[i] * H
                switch precision {
                case .fp32:
                    (base.assumingMemoryBound(to: Float.self) + offsets[i] * H).update(from: src, count: n)
                case .fp16:
                    let dst = base.assumingMemoryBound(to: UInt16.self) + offsets[i] * H
                    for j in 0..<n { dst[j] = Float16(src[j]).bitPattern }
                }
            }
        }
    }

    /// Writes rows `rows` into `out` [B·T, H] padded to `length` (padding rows zeroed).
    func gather(rows: [Int], length T: Int, into out: UnsafeMutablePointer<Float>) {
        let H = hiddenSize
        for (b, i) in rows.enumerated() {
            let n = lengths[i], dst = out + b * T * H
            switch precision {
            case .fp32:
                dst.update(from: base.assumingMemoryBound(to: Float.self) + offsets[i] * H, count: n * H)
            case .fp16:
                let src = base.assumingMemoryBound(to: UInt16.self) + offsets[i] * H
                for j in 0..<(n * H) { dst[j] = Float(Float16(bitPattern: src[j])) }
            }
            if n < T { (out + (b * T + n) * H).update(repeating: 0, count: (T - n) * H) }
        }
    }
}
