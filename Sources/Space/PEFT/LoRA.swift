import JSONKit
/// LoRA: `W x + (alpha/r) · B A dropout(x)` on chosen linear targets in chosen layers.
///
/// Run-file JSON (`peft.lora`): `rank`, `alpha` (default 2 × rank, `defaultAlpha`), `dropout` (0), `targets`,
/// `layers` (all), `init` (`"kaiming"` or `"pissa"`). Charges: r·(in + out) to each target.
/// Trainer: `Sources/Trainer/PEFT/LoRALinear.swift`.
public struct LoRASpec: Equatable, Sendable {
    /// How A and B start: PEFT's default (A Kaiming-uniform, B zero), or PiSSA (the top-r
    /// singular triplets of W, with W replaced by the residual W − (alpha/r)·B·A).
    public enum Initialization: String, Sendable { case kaiming, pissa }
    public var rank: Int
    public var alpha: Double
    public var dropout: Double
    public var targets: [LinearTarget]
    public var layers: LayerSelection
    public var initialization: Initialization

    public init(rank: Int, alpha: Double, dropout: Double = 0, targets: [LinearTarget], layers: LayerSelection = .all,
                initialization: Initialization = .kaiming) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targets = Array(Set(targets)).sorted()
        self.layers = layers
        self.initialization = initialization
    }

    /// The factor applied to `B A x`.
    public var scaling: Double { alpha / Double(rank) }

    /// The alpha a run file, a space or a supernet gets when it names none: twice the rank (a
    /// scaling of 2), the common choice of LoRA practice (rank 8, alpha 16).
    public static func defaultAlpha(rank: Int) -> Double { Double(2 * rank) }
}

extension ModelDimensions {
    /// LoRA of rank r on one linear map: A is r×in, B is out×r.
    public func loraParameters<T: Numeric>(rank r: T, target: LinearTarget) -> T {
        let (i, o) = shape(of: target)
        return r * (T(exactly: i)! + T(exactly: o)!)
    }
}

extension LoRASpec {
    public init(reading l: JSONReader) throws(ConfigError) {
        let rank = try l.required("rank").int(in: 1...65536, what: "a positive rank")
        let alpha = try l.optional("alpha")?.double() ?? LoRASpec.defaultAlpha(rank: rank)
        let dropout = try l.optional("dropout")?.double(in: 0...0.99, what: "a dropout probability") ?? 0
        var targets: [LinearTarget] = []
        for t in try l.required("targets").array() {
            let name = try t.string()
            guard let target = LinearTarget(name: name) else {
                let names = LinearTarget.allCases.map(\.rawValue)
                var msg = "unknown LoRA target \"\(name)\"; expected one of \(names.joined(separator: ", "))"
                if let m = didYouMean(name, among: names) { msg += " (did you mean \"\(m)\"?)" }
                throw t.error(msg)
            }
            targets.append(target)
        }
        let layers = try LayerSelection(reading: l.optional("layers"))
        let initialization = Initialization(rawValue: try l.optional("init")?.choice(["kaiming", "pissa"]) ?? "kaiming")!
        try l.finish()
        self.init(rank: rank, alpha: alpha, dropout: dropout, targets: targets, layers: layers, initialization: initialization)
    }

    public var json: JSONValue {
        .object([
            ("rank", .number(rank)), ("alpha", .number(alpha)), ("dropout", .number(dropout)),
            ("targets", .array(targets.map { .string($0.rawValue) })), ("layers", layers.json),
            ("init", .string(initialization.rawValue)),
        ])
    }

    /// A positive rank no larger than any target matrix, at least one target, layers in range.
    public func validate(for dims: ModelDimensions, path: String) throws(ConfigError) {
        if rank < 1 { throw ConfigError(path: path + ".rank", message: "expected a positive rank, got \(rank)") }
        if targets.isEmpty { throw ConfigError(path: path + ".targets", message: "expected at least one target") }
        for t in targets {
            if t == .gate && !dims.gatedFeedForward {
                throw ConfigError(path: path + ".targets", message: "target \"gate\" needs a gated feed-forward (Llama-family "
                    + "decoders), which this model has not; expected one of " + dims.linearTargets.map(\.rawValue).joined(separator: ", "))
            }
            let (i, o) = dims.shape(of: t)
            if rank > min(i, o) {
                throw ConfigError(path: path + ".rank", message: "rank \(rank) exceeds min(\(i), \(o)) of \(t.rawValue)")
            }
        }
        try layers.validate(for: dims, path: path + ".layers")
    }

    public func parameters(dims: ModelDimensions) -> Int {
        let perLayer = targets.reduce(0) { $0 + dims.loraParameters(rank: rank, target: $1) }
        return perLayer * layers.resolve(count: dims.layers).count
    }

    /// Each target is charged its own A and B.
    public func charges(dims: ModelDimensions) -> [PEFTCharge] {
        layers.resolve(count: dims.layers).flatMap { l in
            targets.map { t in (l, t, Double(dims.loraParameters(rank: rank, target: t))) }
        }
    }
}

extension LoRASpec {
    /// From a search configuration: on when `lora.rank` > 0 and a target is chosen; `lora.targets`
    /// (default query, value), `lora.alpha` (default 2 × rank), `lora.dropout`, `lora.init`.
    init?(searched v: PEFTSpace.ConfigView) throws(ConfigError) {
        guard let r = v.number("lora.rank"), r > 0 else { return nil }
        var targets: [LinearTarget] = []
        for t in v.list("lora.targets") ?? ["query", "value"] {
            guard let lt = LinearTarget(name: t) else { throw ConfigError(path: "space.lora.targets",
                                                                          message: "unknown LoRA target \"\(t)\"") }
            targets.append(lt)
        }
        guard !targets.isEmpty else { return nil }
        let rank = Int(r)
        let initName = v.config["lora.init"]?.choice ?? "kaiming"
        guard let ini = Initialization(rawValue: initName) else {
            throw ConfigError(path: "space.lora.init", message: "expected \"kaiming\" or \"pissa\", got \"\(initName)\"")
        }
        self.init(rank: rank, alpha: v.number("lora.alpha") ?? LoRASpec.defaultAlpha(rank: rank), dropout: v.number("lora.dropout") ?? 0,
                  targets: targets, layers: v.selection("lora"), initialization: ini)
    }
}

extension PEFTMethodKind {
    /// LoRA (`lora`): `rank` (the switch), `targets`, `alpha`, `dropout`, `init`, `layers`.
    public static let lora = PEFTMethodKind(
        key: "lora", parameters: ["rank", "targets", "alpha", "dropout", "init", "layers"],
        items: ["targets": LinearTarget.allCases.map(\.rawValue)],
        priorHints: ["rank": .bestTarget(cost: { r, dims in dims.loraParameters(rank: r, target: .query) },
                                         among: [.query, .key, .value, .attentionOutput]),
                     "targets": .items(target: { LinearTarget(name: $0) })],
        supernet: { middle, space in
            // On every target the space offers (query and value when it names none).
            guard let r = middle("lora.rank") else { return nil }
            var targets: [LinearTarget] = [.query, .value]
            switch space.parameter("lora.targets")?.domain {
            case .subset(let items, _)?: targets = items.compactMap(LinearTarget.init(name:))
            case .fixed(.strings(let s))?: targets = s.compactMap(LinearTarget.init(name:))
            case .categorical(let c)?: targets = c.compactMap(LinearTarget.init(name:))
            default: break
            }
            return LoRASpec(rank: r, alpha: LoRASpec.defaultAlpha(rank: r), targets: targets)
        },
        read: { r in try LoRASpec(reading: r) }, searched: { v in try LoRASpec(searched: v) })
}

extension LoRASpec {
    /// The inverse of `init?(searched:)`: the values a space's `lora.*` parameters take for this
    /// spec (`PEFTSpace.point(of:)`).
    public func searchedValues(layers count: Int) -> [String: PEFTSpace.PlanValue] {
        ["lora.rank": .number(Double(rank)), "lora.targets": .items(targets.map(\.rawValue)), "lora.alpha": .number(alpha),
         "lora.dropout": .number(dropout), "lora.init": .items([initialization.rawValue]), "lora.layers": .layers(layers.resolve(count: count))]
    }
}

extension LoRASpec: PEFTMethodSpec {
    public var key: String { "lora" }
    public func adaptedLayers(count: Int) -> [Int] { layers.resolve(count: count) }
}
