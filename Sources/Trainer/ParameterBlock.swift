/// Every trainable tensor of a candidate in one allocation, with named views into it.
///
/// `values`, `grads` and the optimiser's moments share one size table, so AdamW and
/// gradient clipping walk one contiguous range; the frozen base is never written.
public final class ParameterBlock {
    public struct View: Sendable {
        public let name: String    // HF/PEFT-style name, e.g. "encoder.layer.0.attention.self.query.lora_A"
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public private(set) var views: [View] = []
    public private(set) var values = FloatBuffer(count: 0)
    public private(set) var grads = FloatBuffer(count: 0)
    public private(set) var count = 0
    private var sealed = false

    public init() {}

    /// Reserves a tensor; returns its offset. Call `seal()` once all are declared.
    public func declare(_ name: String, shape: [Int]) -> Int {
        precondition(!sealed, "ParameterBlock.declare after seal")
        let v = View(name: name, shape: shape, offset: count)
        views.append(v)
        count += v.count
        return v.offset
    }

    public func seal() {
        sealed = true
        values = FloatBuffer(count: count)
        grads = FloatBuffer(count: count)
    }

    public func value(_ offset: Int) -> UnsafeMutablePointer<Float> { values.pointer + offset }
    public func grad(_ offset: Int) -> UnsafeMutablePointer<Float> { grads.pointer + offset }
    public func zeroGrads() { grads.zero() }
    public func view(named name: String) -> View? { views.first { $0.name == name } }
}
