import JSONKit
/// What a candidate adds to a frozen model: the trainer's input and a search's output.
///
/// Each method lives in its own file (spec, JSON, checks, parameter count and charges):
/// `LoRA.swift`, `BottleneckAdapter.swift` (serial and parallel), `Prefix.swift`, `IA3.swift`,
/// `BitFit.swift`. The plan only composes them. The classification/regression head is always
/// trained in full and is counted separately by `trainableParameters(dims:labels:)`.
public struct PEFTPlan: Equatable, Sendable {
    // One stored field per method. (Storage as `[any PEFTMethodSpec]` was tried: Swift 6.3.1
    // miscompiled `(try? PEFTSpace.plan(…)).map { … }` over it, a crash in debug builds.)
    public var lora: LoRASpec?
    public var serialAdapter: AdapterSpec?
    public var parallelAdapter: AdapterSpec?
    public var prefix: PrefixSpec?
    public var ia3: IA3Spec?
    public var bitfit: BitFitSpec?

    public init(lora: LoRASpec? = nil, serialAdapter: AdapterSpec? = nil, parallelAdapter: AdapterSpec? = nil,
                prefix: PrefixSpec? = nil, ia3: IA3Spec? = nil, bitfit: BitFitSpec? = nil) {
        self.lora = lora
        self.serialAdapter = serialAdapter
        self.parallelAdapter = parallelAdapter
        self.prefix = prefix
        self.ia3 = ia3
        self.bitfit = bitfit
    }

    /// A plan of these methods (the last of each key).
    public init(methods given: [any PEFTMethodSpec]) {
        for m in given { set(m) }
    }

    /// Puts `spec` in as its method (replacing one there).
    public mutating func set(_ spec: any PEFTMethodSpec) {
        switch spec {
        case let s as LoRASpec: lora = s
        case let a as PlacedAdapter where a.placement == .serial: serialAdapter = a.spec
        case let a as PlacedAdapter: parallelAdapter = a.spec
        case let s as PrefixSpec: prefix = s
        case let s as IA3Spec: ia3 = s
        case let s as BitFitSpec: bitfit = s
        default: preconditionFailure("a method PEFTPlan has no field for: \(spec.key)")
        }
    }

    /// The method with this key, if present.
    public func method(_ key: String) -> (any PEFTMethodSpec)? { methods.first { $0.key == key } }

    /// The adapters present, with their placement, serial first.
    public var adapters: [(placement: AdapterSpec.Placement, spec: AdapterSpec)] {
        [(AdapterSpec.Placement.serial, serialAdapter), (.parallel, parallelAdapter)].compactMap { p, a in a.map { (p, $0) } }
    }

    /// The methods present, in the plan's one order (`PEFTMethodKind.all`): LoRA, serial, parallel,
    /// prefix, (IA)³, BitFit. Every sum, list and JSON over methods follows it.
    public var methods: [any PEFTMethodSpec] {
        var out: [any PEFTMethodSpec] = []
        if let lora { out.append(lora) }
        for (placement, spec) in adapters { out.append(PlacedAdapter(placement: placement, spec: spec)) }
        if let prefix { out.append(prefix) }
        if let ia3 { out.append(ia3) }
        if let bitfit { out.append(bitfit) }
        return out
    }

    /// Checks the plan against a model's dimensions (layers in range, rank not larger than the matrix).
    public func validate(for dims: ModelDimensions) throws(ConfigError) {
        for m in methods { try m.validate(for: dims, path: "peft." + m.key) }
    }

    /// Trainable scalars the PEFT modules add, computed from the dimensions alone.
    public func moduleParameters(dims: ModelDimensions) -> Int {
        methods.reduce(0) { $0 + $1.parameters(dims: dims) }
    }

    /// The matrices the plan's modules act on, each with the module parameters charged to it, in
    /// method order (`methods`), then layer order. Sums over it follow this order, so it must not change.
    public func charges(dims: ModelDimensions) -> [PEFTCharge] {
        methods.flatMap { $0.charges(dims: dims) }
    }

    /// Every layer that holds a trainable module.
    public func adaptedLayers(layers count: Int) -> Set<Int> {
        methods.reduce(into: Set<Int>()) { $0.formUnion($1.adaptedLayers(count: count)) }
    }

    /// Trainable scalars of the whole candidate: modules plus the head (`headParameters`).
    public func trainableParameters(dims: ModelDimensions, labels: Int, denseHead: Bool = false) -> Int {
        moduleParameters(dims: dims) + PEFTPlan.headParameters(dims: dims, labels: labels, denseHead: denseHead)
    }

    /// The head's trainable scalars: the classifier (`labels × hidden`, `+ labels` with a bias) and, for a head
    /// with its own dense layer (RoBERTa's classification head, `"head": "dense"`), `hidden² + hidden`.
    public static func headParameters(dims: ModelDimensions, labels: Int, denseHead: Bool) -> Int {
        labels * dims.hiddenSize + (dims.classifierBias ? labels : 0) + (denseHead ? dims.hiddenSize * dims.hiddenSize + dims.hiddenSize : 0)
    }

    /// The lowest layer holding a trainable module; nil when only the head trains.
    public func lowestAdaptedLayer(layers: Int) -> Int? {
        adaptedLayers(layers: layers).min()
    }
}

extension PEFTPlan {
    /// Parses the `peft` object: any of `lora`, `serial_adapter`, `parallel_adapter`, `prefix`,
    /// `ia3` and `bitfit` (see each method's file). An empty object trains the head alone.
    public init(reading r: JSONReader) throws(ConfigError) {
        var plan = PEFTPlan()
        for kind in PEFTMethodKind.all {
            if let m = try r.optional(kind.key) { plan.set(try kind.read(m)) }
        }
        try r.finish()
        self = plan
    }

    /// The plan as the `peft` object of a run file (parses back to an equal plan).
    public var json: JSONValue {
        .object(methods.map { (key: $0.key, value: $0.json) })
    }
}
