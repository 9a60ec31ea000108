import JSONKit
/// BitFit: the named biases train (the linear maps' biases and the LayerNorm shifts).
///
/// Run-file JSON (`peft.bitfit`): `biases` (all eight), `layers` (all). Charges: each linear map's
/// bias to that map; the LayerNorm shifts to none. Trainer: `Sources/Trainer/PEFT/BitFitBiases.swift`.
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

extension BitFitSpec.Bias {
    /// The linear map this bias belongs to; nil for the LayerNorm shifts.
    public var linearTarget: LinearTarget? { LinearTarget(name: rawValue) }

    /// The HF parameter name below `encoder.layer.<i>.`.
    public var parameterPath: String {
        switch self {
        case .attentionNorm: return "attention.output.LayerNorm.bias"
        case .outputNorm: return "output.LayerNorm.bias"
        default: return linearTarget!.modulePath + ".bias"
        }
    }
}

extension ModelDimensions {
    /// One BitFit bias: as wide as the output it shifts.
    /// A bias's width: its linear map's outputs (`shape(of:)`), or the hidden size for a LayerNorm shift.
    public func bitfitParameters(_ bias: BitFitSpec.Bias) -> Int { bias.linearTarget.map { shape(of: $0).outFeatures } ?? hiddenSize }
}

extension BitFitSpec {
    public init(reading b: JSONReader) throws(ConfigError) {
        let biases = try b.optional("biases")?.enumArray(of: Bias.self) ?? Bias.allCases
        self.init(biases: biases, layers: try LayerSelection(reading: b.optional("layers")))
        try b.finish()
    }

    public var json: JSONValue {
        .object([("biases", .array(biases.map { .string($0.rawValue) })), ("layers", layers.json)])
    }

    public func validate(for dims: ModelDimensions, path: String) throws(ConfigError) {
        try layers.validate(for: dims, path: path + ".layers")
    }

    public func parameters(dims: ModelDimensions) -> Int {
        biases.reduce(0) { $0 + dims.bitfitParameters($1) } * layers.resolve(count: dims.layers).count
    }

    public func charges(dims: ModelDimensions) -> [PEFTCharge] {
        layers.resolve(count: dims.layers).flatMap { l in
            biases.compactMap { b in b.linearTarget.map { (l, $0, Double(dims.bitfitParameters(b))) } }
        }
    }
}

extension BitFitSpec {
    /// From a search configuration: on when `bitfit.biases` chose at least one bias.
    init?(searched v: PEFTSpace.ConfigView) throws(ConfigError) {
        guard let biases: [Bias] = try v.cases("bitfit.biases", "BitFit bias") else { return nil }
        self.init(biases: biases, layers: v.selection("bitfit"))
    }
}

extension PEFTMethodKind {
    /// BitFit (`bitfit`): `biases` (the switch: on when not empty), `layers`.
    public static let bitfit = PEFTMethodKind(
        key: "bitfit", parameters: ["biases", "layers"], items: ["biases": BitFitSpec.Bias.allCases.map(\.rawValue)],
        priorHints: ["biases": .items(target: { LinearTarget(name: $0) })],
        read: { r in try BitFitSpec(reading: r) }, searched: { v in try BitFitSpec(searched: v) })
}

extension BitFitSpec {
    /// The inverse of `init?(searched:)`.
    public func searchedValues(layers count: Int) -> [String: PEFTSpace.PlanValue] {
        ["bitfit.biases": .items(biases.map(\.rawValue)), "bitfit.layers": .layers(layers.resolve(count: count))]
    }
}

extension BitFitSpec: PEFTMethodSpec {
    public var key: String { "bitfit" }
    public func adaptedLayers(count: Int) -> [Int] { layers.resolve(count: count) }
}
