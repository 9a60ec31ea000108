/// Bottleneck adapter: `down (H→m) → ReLU → up (m→H)`, per-layer size m (0 = none in that layer).
///
/// Serial (Pfeiffer placement): on the FFN output, `fo ← fo + up(relu(down(fo)))`, before the
/// residual LayerNorm. Parallel (He et al. 2022): beside the FFN, reading its input h,
/// `fo ← fo + scale · up(relu(down(h)))`.
public struct AdapterSpec: Equatable, Sendable {
    /// One size for every selected layer, or one size per layer (`perLayer[l]`, 0 = none).
    public enum Sizes: Equatable, Sendable {
        case uniform(Int, LayerSelection)
        case perLayer([Int])
    }
    public var sizes: Sizes
    /// Output scale (parallel adapters; 1 for serial).
    public var scale: Double

    public init(size: Int, layers: LayerSelection = .all, scale: Double = 1) {
        sizes = .uniform(size, layers)
        self.scale = scale
    }

    public init(perLayer: [Int], scale: Double = 1) {
        sizes = .perLayer(perLayer)
        self.scale = scale
    }

    /// (layer, bottleneck size) for a model of `count` layers, in layer order (layers without an
    /// adapter absent). An array, not a dictionary: sums over it must not depend on a hash seed,
    /// which differs from process to process.
    public func resolve(count: Int) -> [(layer: Int, size: Int)] {
        switch sizes {
        case let .uniform(m, layers):
            guard m > 0 else { return [] }
            return layers.resolve(count: count).sorted().map { ($0, m) }
        case let .perLayer(ms):
            return ms.enumerated().filter { $0.element > 0 && $0.offset < count }.map { ($0.offset, $0.element) }
        }
    }
}

/// Prefix tuning: per layer, `length` trainable key and value vectors prepended in attention.
/// With `projection` (a hidden size), the prefixes are reparameterised as
/// `MLP(embedding)`: embedding [length, H] → Linear(H, p) → tanh → Linear(p, 2·H) per layer,
/// all of which train (and count).
public struct PrefixSpec: Equatable, Sendable {
    public var length: Int
    public var layers: LayerSelection
    public var projection: Int?
    public init(length: Int, layers: LayerSelection = .all, projection: Int? = nil) {
        self.length = length
        self.layers = layers
        self.projection = projection
    }
}

/// (IA)³: learned scaling vectors (initialised to 1) on keys, values and the FFN's inner activation.
public struct IA3Spec: Equatable, Sendable {
    public enum Site: String, CaseIterable, Comparable, Sendable {
        case key, value, feedforward
        public static func < (a: Site, b: Site) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
    }
    public var sites: [Site]
    public var layers: LayerSelection
    public init(sites: [Site] = Site.allCases, layers: LayerSelection = .all) {
        self.sites = Array(Set(sites)).sorted()
        self.layers = layers
    }
}

/// BitFit: the named biases train (the linear maps' biases and the LayerNorm shifts).
public struct BitFitSpec: Equatable, Sendable {
    public enum Bias: String, CaseIterable, Comparable, Sendable {
        case query, key, value
        case attentionOutput = "attention.output"
        case intermediate, output
        case attentionNorm = "attention.output.LayerNorm"
        case outputNorm = "output.LayerNorm"
        public static func < (a: Bias, b: Bias) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
    }
    public var biases: [Bias]
    public var layers: LayerSelection
    public init(biases: [Bias] = Bias.allCases, layers: LayerSelection = .all) {
        self.biases = Array(Set(biases)).sorted()
        self.layers = layers
    }
}
