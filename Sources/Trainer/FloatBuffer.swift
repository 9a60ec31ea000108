/// A fixed-size, zero-initialised block of Float32 owned by one object.
///
/// Hot loops take its raw pointer: no bounds checks, no copy-on-write. The
/// buffer is never resized; owners allocate a new one at a larger capacity.
public final class FloatBuffer {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { pointer.deallocate() }

    public subscript(i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }

    public func zero() { pointer.update(repeating: 0, count: count) }

    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// A grow-only scratch/activation buffer: `ensure(n)` reallocates only when `n` exceeds capacity.
public struct GrowableBuffer {
    public private(set) var storage = FloatBuffer(count: 0)
    public init() {}
    public mutating func ensure(_ n: Int) -> UnsafeMutablePointer<Float> {
        if storage.count < n { storage = FloatBuffer(count: n) }
        return storage.pointer
    }
    public var pointer: UnsafeMutablePointer<Float> { storage.pointer }
}
