import JSONKit
/// (IA)³: learned scaling vectors (initialised to 1) on keys, values and the FFN's inner activation.
///
/// Run-file JSON (`peft.ia3`): `sites` (all three), `layers` (all). Charges: each vector, as wide
/// as what it scales, to the matrix whose output it scales. Trainer: `Sources/Trainer/PEFT/IA3Vector.swift`.
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

extension IA3Spec.Site {
    /// The weight matrix whose output this vector scales (the FFN's inner activation is the
    /// `intermediate` map's output).
    public var chargedTarget: LinearTarget {
        switch self {
        case .key: return .key
        case .value: return .value
        case .feedforward: return .intermediate
        }
    }

    /// The module PEFT hangs the vector on (below `encoder.layer.<i>.`): key and value scale their
    /// map's output, the feed-forward vector scales the input of `output.dense`.
    public var modulePath: String { self == .feedforward ? LinearTarget.output.modulePath : chargedTarget.modulePath }
}

extension ModelDimensions {
    /// One (IA)³ scaling vector: as wide as what it scales.
    /// The scaled activation's width: the FFN's inner size, or the keys' and values' (kvHeads · head dimension).
    public func ia3Parameters(_ site: IA3Spec.Site) -> Int {
        switch site {
        case .feedforward: return intermediateSize
        case .key: return shape(of: .key).outFeatures
        case .value: return shape(of: .value).outFeatures
        }
    }
}

extension IA3Spec {
    public init(reading i: JSONReader) throws(ConfigError) {
        let sites = try i.optional("sites")?.enumArray(of: Site.self) ?? Site.allCases
        self.init(sites: sites, layers: try LayerSelection(reading: i.optional("layers")))
        try i.finish()
    }

    public var json: JSONValue {
        .object([("sites", .array(sites.map { .string($0.rawValue) })), ("layers", layers.json)])
    }

    public func validate(for dims: ModelDimensions, path: String) throws(ConfigError) {
        try layers.validate(for: dims, path: path + ".layers")
    }

    public func parameters(dims: ModelDimensions) -> Int {
        sites.reduce(0) { $0 + dims.ia3Parameters($1) } * layers.resolve(count: dims.layers).count
    }

    public func charges(dims: ModelDimensions) -> [PEFTCharge] {
        layers.resolve(count: dims.layers).flatMap { l in sites.map { s in (l, s.chargedTarget, Double(dims.ia3Parameters(s))) } }
    }
}

extension IA3Spec {
    /// From a search configuration: on when `ia3.sites` chose at least one site.
    init?(searched v: PEFTSpace.ConfigView) throws(ConfigError) {
        guard let sites: [Site] = try v.cases("ia3.sites", "(IA)³ site") else { return nil }
        self.init(sites: sites, layers: v.selection("ia3"))
    }
}

extension PEFTMethodKind {
    /// (IA)³ (`ia3`): `sites` (the switch: on when not empty), `layers`.
    public static let ia3 = PEFTMethodKind(
        key: "ia3", parameters: ["sites", "layers"], items: ["sites": IA3Spec.Site.allCases.map(\.rawValue)],
        priorHints: ["sites": .items(target: { IA3Spec.Site(rawValue: $0)?.chargedTarget ?? .intermediate })],
        read: { r in try IA3Spec(reading: r) }, searched: { v in try IA3Spec(searched: v) })
}

extension IA3Spec {
    /// The inverse of `init?(searched:)`.
    public func searchedValues(layers count: Int) -> [String: PEFTSpace.PlanValue] {
        ["ia3.sites": .items(sites.map(\.rawValue)), "ia3.layers": .layers(layers.resolve(count: count))]
    }
}

extension IA3Spec: PEFTMethodSpec {
    public var key: String { "ia3" }
    public func adaptedLayers(count: Int) -> [Int] { layers.resolve(count: count) }
}
