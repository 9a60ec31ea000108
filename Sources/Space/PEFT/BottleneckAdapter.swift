import JSONKit
/// Bottleneck adapter: `down (H→m) → ReLU → up (m→H)`, per-layer size m (0 = none in that layer).
///
/// Serial (Pfeiffer placement): on the FFN output, `fo ← fo + up(relu(down(fo)))`, before the
/// residual LayerNorm. Parallel (He et al. 2022): beside the FFN, reading its input h,
/// `fo ← fo + scale · up(relu(down(h)))`.
/// Run-file JSON (`peft.serial_adapter`, `peft.parallel_adapter`): `size` with `layers`, or `sizes`
/// (one per layer); parallel adapters also `scale` (default 4). Charges: 2Hm + m + H per layer, to
/// `output` (serial) or half to `intermediate` and half to `output` (parallel, beside the whole FFN).
/// Trainer: `Sources/Trainer/PEFT/BottleneckAdapter.swift`.
public struct AdapterSpec: Equatable, Sendable {
    /// Where the adapter sits; also its key in a run file (`serial_adapter`, `parallel_adapter`).
    public enum Placement: String, Sendable {
        case serial, parallel
        public var key: String { rawValue + "_adapter" }
    }
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

extension ModelDimensions {
    /// A bottleneck adapter of width m (serial or parallel): down H×m plus its bias m, up m×H
    /// plus its bias H.
    public func bottleneckParameters<T: Numeric>(size m: T) -> T {
        let h = T(exactly: hiddenSize)!
        return 2 * h * m + m + h
    }
}

extension AdapterSpec {
    public init(reading a: JSONReader, placement: Placement) throws(ConfigError) {
        if let sizes = try a.optional("sizes") {
            var ms: [Int] = []
            for item in try sizes.array() { ms.append(try item.int(in: 0...1_000_000, what: "a bottleneck size")) }
            let size = try a.optional("size"), layers = try a.optional("layers")
            if size != nil || layers != nil {
                throw a.error("give either \"sizes\" (one per layer) or \"size\" with \"layers\", not both", at: a.path + ".sizes")
            }
            self.init(perLayer: ms)
        } else {
            let m = try a.required("size").int(in: 1...1_000_000, what: "a positive bottleneck size")
            self.init(size: m, layers: try LayerSelection(reading: a.optional("layers")))
        }
        scale = placement == .parallel ? try a.optional("scale")?.double() ?? 4 : 1
        try a.finish()
    }

    public func json(placement: Placement) -> JSONValue {
        var m: [(key: String, value: JSONValue)]
        switch sizes {
        case let .uniform(size, layers): m = [("size", .number(size)), ("layers", layers.json)]
        case let .perLayer(ms): m = [("sizes", .array(ms.map { .number($0) }))]
        }
        if placement == .parallel { m.append(("scale", .number(scale))) }
        return .object(m)
    }

    /// Sizes at most 4 × hidden, one size per layer when per-layer, layers in range.
    public func validate(for dims: ModelDimensions, path: String) throws(ConfigError) {
        let limit = 4 * dims.hiddenSize
        switch sizes {
        case let .uniform(m, layers):
            if m > limit { throw ConfigError(path: path + ".size", message: "size \(m) exceeds 4 × hidden size (\(limit))") }
            try layers.validate(for: dims, path: path + ".layers")
        case let .perLayer(ms):
            if ms.count != dims.layers {
                throw ConfigError(path: path + ".sizes", message: "expected \(dims.layers) sizes (one per layer), got \(ms.count)")
            }
            for (l, m) in ms.enumerated() where m > limit {
                throw ConfigError(path: path + ".sizes[\(l)]", message: "size \(m) exceeds 4 × hidden size (\(limit))")
            }
        }
    }

    public func parameters(dims: ModelDimensions) -> Int {
        resolve(count: dims.layers).reduce(0) { $0 + dims.bottleneckParameters(size: $1.size) }
    }

    public func charges(dims: ModelDimensions, placement: Placement) -> [PEFTCharge] {
        resolve(count: dims.layers).flatMap { l, m -> [PEFTCharge] in
            let c = Double(dims.bottleneckParameters(size: m))
            return placement == .serial ? [(l, .output, c)] : [(l, .intermediate, c / 2), (l, .output, c / 2)]
        }
    }
}

extension AdapterSpec {
    /// From a search configuration: `<key>.size` (on when > 0) with `<key>.layers` or the shared
    /// mask, or per-layer `<key>.size[l]` (0 outside the mask); `parallel_adapter.scale` (default 4).
    init?(searched v: PEFTSpace.ConfigView, placement: Placement) {
        let key = placement.key
        let scale = placement == .parallel ? v.number("parallel_adapter.scale") ?? 4 : 1
        if let m = v.number("\(key).size") {
            guard m > 0 else { return nil }
            self.init(size: Int(m), layers: v.selection(key), scale: scale)
        } else if v.config["\(key).size[0]"] != nil {
            let mask = v.config["\(key).layers"]?.bits ?? v.shared
            let sizes = (0..<v.layers).map { l -> Int in
                if let mask, l < mask.count, !mask[l] { return 0 }
                return Int(v.number("\(key).size[\(l)]") ?? 0)
            }
            guard sizes.contains(where: { $0 > 0 }) else { return nil }
            self.init(perLayer: sizes, scale: scale)
        } else {
            return nil
        }
    }
}

extension AdapterSpec {
    /// The inverse of `init?(searched:placement:)`: one size (the largest where layers differ, so
    /// the point is not exact), or per-layer sizes, and the layers that hold an adapter.
    public func searchedValues(layers count: Int, placement: Placement) -> [String: PEFTSpace.PlanValue] {
        let key = placement.key
        let resolved = resolve(count: count)
        let sizes = Set(resolved.map(\.size))
        var out: [String: PEFTSpace.PlanValue] = ["\(key).size": .number(Double(sizes.max() ?? 0)),
                                                  "\(key).layers": .layers(resolved.map(\.layer))]
        if sizes.count > 1 { out["\(key).size"] = .inexact(.number(Double(sizes.max() ?? 0))) }
        for l in 0..<count { out["\(key).size[\(l)]"] = .number(Double(resolved.first { $0.layer == l }?.size ?? 0)) }
        if placement == .parallel { out["\(key).scale"] = .number(scale) }
        return out
    }
}
