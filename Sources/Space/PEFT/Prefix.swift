import JSONKit
/// Prefix tuning: per layer, `length` trainable key and value vectors prepended in attention.
/// With `projection` (a hidden size), the prefixes are reparameterised as
/// `MLP(embedding)`: embedding [length, H] → Linear(H, p) → tanh → Linear(p, 2·H) per layer,
/// all of which train (and count).
///
/// Where the real tokens' positions start (`positions`): at 0 by default, as in AdapterHub (which
/// the AutoPEFT code used): the prefix lives inside attention and takes no positions. `shifted`
/// starts them after the prefix, as HF BERT does given past key values; only that form loads in
/// HF PEFT. Measured (SST-2, one seed, 4000 × 3): the shift took a six-method stack from 0.103
/// to 0.000 MCC, and a prefix alone from 0.059 to 0.026.
///
/// Run-file JSON (`peft.prefix`): `length`, `layers` (all), `projection` (none), `positions`
/// (`"zero"` | `"shifted"`, default zero). Charges: the method's parameters spread evenly over its
/// layers, half to `key`, half to `value`.
/// Trainer: `Sources/Trainer/PEFT/PrefixTuning.swift`.
public struct PrefixSpec: Equatable, Sendable {
    public var length: Int
    public var layers: LayerSelection
    public var projection: Int?
    public var positions: Positions

    public enum Positions: String, Sendable, CaseIterable {
        /// Real tokens start at position 0 (AdapterHub; the default).
        case zero
        /// Real tokens start at position `length` (HF BERT with past key values; HF PEFT).
        case shifted
    }

    public init(length: Int, layers: LayerSelection = .all, projection: Int? = nil, positions: Positions = .zero) {
        self.length = length
        self.layers = layers
        self.projection = projection
        self.positions = positions
    }

    /// Where the first real token sits: `length` when shifted, else 0.
    public var positionOffset: Int { positions == .shifted ? length : 0 }
}

extension ModelDimensions {
    /// Prefix tuning without a projection, per layer: a key and a value vector per prefix token, as
    /// wide as the keys (`kvHeads · headDim`: the hidden size in an encoder).
    public func prefixParameters<T: Numeric>(length p: T) -> T { 2 * p * T(exactly: kvHeads * headDim)! }

    /// Prefix tuning with the MLP reparameterisation (embedding [P, H] → p → tanh → 2·K per layer,
    /// K the key/value width), in all `layers` at once: every MLP weight trains.
    public func projectedPrefixParameters(length p: Int, projection q: Int, layers: Int) -> Int {
        let h = hiddenSize, k = kvHeads * headDim
        return p * h + h * q + q + q * 2 * k * layers + 2 * k * layers
    }
}

extension PrefixSpec {
    public init(reading p: JSONReader) throws(ConfigError) {
        let length = try p.required("length").int(in: 1...4096, what: "a prefix length")
        let projection = try p.optional("projection")?.int(in: 1...65536, what: "a projection hidden size")
        let positions = try p.optional("positions")?.enumValue(of: Positions.self) ?? .zero
        self.init(length: length, layers: try LayerSelection(reading: p.optional("layers")), projection: projection,
                  positions: positions)
        try p.finish()
    }

    public var json: JSONValue {
        var m: [(key: String, value: JSONValue)] = [("length", .number(length)), ("layers", layers.json)]
        if let projection { m.append(("projection", .number(projection))) }
        m.append(("positions", .string(positions.rawValue)))
        return .object(m)
    }

    public func validate(for dims: ModelDimensions, path: String) throws(ConfigError) {
        try layers.validate(for: dims, path: path + ".layers")
    }

    public func parameters(dims: ModelDimensions) -> Int {
        let nl = layers.resolve(count: dims.layers).count
        if let projection { return dims.projectedPrefixParameters(length: length, projection: projection, layers: nl) }
        return nl * dims.prefixParameters(length: length)
    }

    public func charges(dims: ModelDimensions) -> [PEFTCharge] {
        let ls = layers.resolve(count: dims.layers)
        let perLayer = Double(parameters(dims: dims)) / Double(max(ls.count, 1))
        return ls.flatMap { l in [(l, LinearTarget.key, perLayer / 2), (l, .value, perLayer / 2)] }
    }
}

extension PrefixSpec {
    /// From a search configuration: on when `prefix.length` > 0; `prefix.projection` (0 or absent:
    /// flat prefixes), `prefix.layers` or the shared mask.
    init?(searched v: PEFTSpace.ConfigView) {
        guard let p = v.number("prefix.length"), p > 0 else { return nil }
        let projection = v.number("prefix.projection").flatMap { $0 > 0 ? Int($0) : nil }
        let positions = v.config["prefix.positions"]?.choice.flatMap(Positions.init(rawValue:)) ?? .zero
        self.init(length: Int(p), layers: v.selection("prefix"), projection: projection, positions: positions)
    }
}

extension PEFTMethodKind {
    /// Prefix tuning (`prefix`): `length` (the switch), `projection`, `layers`, `positions`.
    public static let prefix = PEFTMethodKind(
        key: "prefix", parameters: ["length", "projection", "layers", "positions"],
        priorHints: ["length": .size(cost: { p, dims in dims.prefixParameters(length: p) }, targets: [.key, .value], perLayer: false)],
        supernet: { middle, _ in middle("prefix.length").map { PrefixSpec(length: $0) } },
        read: { r in try PrefixSpec(reading: r) }, searched: { v in PrefixSpec(searched: v) })
}

extension PrefixSpec {
    /// The inverse of `init?(searched:)` (no projection is 0).
    public func searchedValues(layers count: Int) -> [String: PEFTSpace.PlanValue] {
        ["prefix.length": .number(Double(length)), "prefix.projection": .number(Double(projection ?? 0)),
         "prefix.layers": .layers(layers.resolve(count: count)), "prefix.positions": .items([positions.rawValue])]
    }
}

extension PrefixSpec: PEFTMethodSpec {
    public var key: String { "prefix" }
    public func adaptedLayers(count: Int) -> [Int] { layers.resolve(count: count) }
}
