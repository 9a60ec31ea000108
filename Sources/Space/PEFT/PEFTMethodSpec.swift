import JSONKit

/// What every PEFT method's spec states about itself, so that `PEFTPlan` composes methods without
/// naming them: its key in a `peft` object, its JSON, its checks against a model, its parameter
/// count and charges, and the layers it adapts. Each conformance lives in the method's own file.
public protocol PEFTMethodSpec: Sendable {
    /// The method's key in a `peft` object, which also begins its space parameters' names.
    var key: String { get }
    /// Its `peft` member (parses back to an equal spec).
    var json: JSONValue { get }
    /// Checks it against a model's dimensions; errors name `path`.
    func validate(for dims: ModelDimensions, path: String) throws(ConfigError)
    /// Trainable scalars it adds.
    func parameters(dims: ModelDimensions) -> Int
    /// The matrices it acts on, each with the parameters charged to it, in layer order.
    func charges(dims: ModelDimensions) -> [PEFTCharge]
    /// The layers holding one of its modules.
    func adaptedLayers(count: Int) -> [Int]
    /// The values its space parameters take for this spec (the inverse of reading it from a search
    /// configuration), by full parameter name: where a baseline sits in a space (`PEFTSpace.point(of:)`).
    func searchedValues(layers count: Int) -> [String: PEFTSpace.PlanValue]
}

/// A PEFT method as a kind: its key, its space parameters, and how a `peft` object or a search
/// configuration makes its spec. Each method defines its kind in its own file; `all` is the
/// registry, in the plan's one order (every sum, list and JSON over methods follows it).
public struct PEFTMethodKind: Sendable {
    /// Its key in a `peft` object, which also begins its space parameters' names.
    public let key: String
    /// Its space parameters after `<key>.`, its switch first (the size, rank, length or list that
    /// turns it off at 0 or empty). `layers` is its own layer mask (else the shared one).
    public let parameters: [String]
    /// The items each list parameter may hold, by the name after `<key>.`.
    public let items: [String: [String]]
    /// What a sensitivity prior may believe of its parameters, by the name after `<key>.`.
    public let priorHints: [String: PriorHint]
    /// DiffoRA's supernet: the method in every layer at the middle of the space's non-zero sizes,
    /// given `middle` (of a parameter name) and the space; nil for a method the supernet leaves out.
    public let supernet: (@Sendable (_ middle: (String) -> Int?, _ space: SearchSpace) -> (any PEFTMethodSpec)?)?
    // Closures with untyped throws: stored closures with typed throws crashed (Swift 6.3.1); the
    // methods below give the typed error back.
    private let reader: @Sendable (JSONReader) throws -> any PEFTMethodSpec
    private let searcher: @Sendable (PEFTSpace.ConfigView) throws -> (any PEFTMethodSpec)?

    init(key: String, parameters: [String], items: [String: [String]] = [:], priorHints: [String: PriorHint] = [:],
         supernet: (@Sendable (_ middle: (String) -> Int?, _ space: SearchSpace) -> (any PEFTMethodSpec)?)? = nil,
         read: @escaping @Sendable (JSONReader) throws -> any PEFTMethodSpec,
         searched: @escaping @Sendable (PEFTSpace.ConfigView) throws -> (any PEFTMethodSpec)?) {
        self.key = key
        self.parameters = parameters
        self.items = items
        self.priorHints = priorHints
        self.supernet = supernet
        self.reader = read
        self.searcher = searched
    }

    /// Its spec from its `peft` member.
    public func read(_ r: JSONReader) throws(ConfigError) -> any PEFTMethodSpec {
        do { return try reader(r) } catch { throw PEFTMethodKind.configError(error, key: key) }
    }

    /// Its spec from a search configuration; nil when the configuration turns it off.
    func searched(_ v: PEFTSpace.ConfigView) throws(ConfigError) -> (any PEFTMethodSpec)? {
        do { return try searcher(v) } catch { throw PEFTMethodKind.configError(error, key: key) }
    }

    /// The closures throw only `ConfigError`s (they call typed-throwing initialisers).
    static func configError(_ error: any Error, key: String) -> ConfigError {
        error as? ConfigError ?? ConfigError(path: key, message: "\(error)")
    }

    /// Its switch's full name (`lora.rank`).
    public var switchParameter: String { "\(key).\(parameters[0])" }

    /// The methods, in the plan's one order: LoRA, serial, parallel, prefix, (IA)³, BitFit.
    public static let all: [PEFTMethodKind] = [.lora, .serialAdapter, .parallelAdapter, .prefix, .ia3, .bitfit]

    /// The kind with this key.
    public static func named(_ key: String) -> PEFTMethodKind? { all.first { $0.key == key } }

    /// The method a space parameter belongs to, with the parameter's name after `<key>.` (a
    /// per-layer size `serial_adapter.size[2]` as `size`); nil for the shared mask and training settings.
    public static func owner(of name: String) -> (kind: PEFTMethodKind, parameter: String)? {
        guard let dot = name.firstIndex(of: "."), let kind = named(String(name[..<dot])) else { return nil }
        var rest = String(name[name.index(after: dot)...])
        if let open = rest.firstIndex(of: "[") { rest = String(rest[..<open]) }
        return (kind, rest)
    }
}

/// What a sensitivity prior (SPT's rule, `SensitivityPrior` in Search) may believe of one of a
/// method's parameters.
public enum PriorHint: Sendable {
    /// A size whose module costs `cost(size)` trainable parameters per layer and serves `targets`;
    /// `perLayer`: in the layer a per-layer size (`size[l]`) names, else in an average layer.
    case size(cost: @Sendable (Double, ModelDimensions) -> Double, targets: [LinearTarget], perLayer: Bool)
    /// A rank whose module costs `cost(rank)` per target and serves the best single one of `among`
    /// in each layer (averaged over layers).
    case bestTarget(cost: @Sendable (Double, ModelDimensions) -> Double, among: [LinearTarget])
    /// A list whose items are each charged to a matrix (nil: none; the prior is neutral on it).
    case items(target: @Sendable (String) -> LinearTarget?)
}

/// A bottleneck adapter with where it sits: serial and parallel adapters are two methods of one spec.
public struct PlacedAdapter: PEFTMethodSpec {
    public var placement: AdapterSpec.Placement
    public var spec: AdapterSpec

    public var key: String { placement.key }
    public var json: JSONValue { spec.json(placement: placement) }
    public func validate(for dims: ModelDimensions, path: String) throws(ConfigError) { try spec.validate(for: dims, path: path) }
    public func parameters(dims: ModelDimensions) -> Int { spec.parameters(dims: dims) }
    public func charges(dims: ModelDimensions) -> [PEFTCharge] { spec.charges(dims: dims, placement: placement) }
    public func adaptedLayers(count: Int) -> [Int] { spec.resolve(count: count).map(\.layer) }
    public func searchedValues(layers count: Int) -> [String: PEFTSpace.PlanValue] {
        spec.searchedValues(layers: count, placement: placement)
    }
}

extension PEFTMethodKind {
    static func adapter(_ placement: AdapterSpec.Placement) -> PEFTMethodKind {
        // A serial adapter serves the FFN output; a parallel one the whole FFN.
        let size = PriorHint.size(cost: { m, dims in dims.bottleneckParameters(size: m) },
                                  targets: placement == .serial ? [.output] : [.intermediate, .output], perLayer: true)
        return PEFTMethodKind(key: placement.key, parameters: placement == .serial ? ["size", "layers"] : ["size", "layers", "scale"],
                       priorHints: ["size": size],
                       supernet: { middle, _ in
                           middle("\(placement.key).size").map {
                               PlacedAdapter(placement: placement, spec: placement == .serial ? AdapterSpec(size: $0) : AdapterSpec(size: $0, scale: 4))
                           }
                       },
                       read: { r in PlacedAdapter(placement: placement, spec: try AdapterSpec(reading: r, placement: placement)) },
                       searched: { v in AdapterSpec(searched: v, placement: placement).map { PlacedAdapter(placement: placement, spec: $0) } })
    }

    /// Serial bottleneck adapters (`serial_adapter`), after the feed-forward output.
    public static let serialAdapter = adapter(.serial)
    /// Parallel bottleneck adapters (`parallel_adapter`), beside the feed-forward sublayer.
    public static let parallelAdapter = adapter(.parallel)
}
