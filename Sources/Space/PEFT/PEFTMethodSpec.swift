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
}
