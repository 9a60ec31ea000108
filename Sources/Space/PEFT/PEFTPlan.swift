/// Which layers a module is placed in.
public enum LayerSelection: Equatable, Sendable {
    case all
    case only([Int])

    /// The sorted layer indices for a model of `count` layers.
    public func resolve(count: Int) -> [Int] {
        switch self {
        case .all: return Array(0..<count)
        case .only(let l): return Array(Set(l)).sorted()
        }
    }
}

/// LoRA: `W x + (alpha/r) · B A dropout(x)` on chosen linear targets in chosen layers.
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
}

/// What a candidate adds to a frozen model: the trainer's input and a search's output.
///
/// The classification/regression head is always trained in full and is counted
/// separately by `trainableParameters(dims:labels:)`.
public struct PEFTPlan: Equatable, Sendable {
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

    /// Checks the plan against a model's dimensions (layers in range, rank not larger than the matrix).
    public func validate(for dims: ModelDimensions) throws(ConfigError) {
        if let lora {
            if lora.rank < 1 { throw ConfigError(path: "peft.lora.rank", message: "expected a positive rank, got \(lora.rank)") }
            if lora.targets.isEmpty { throw ConfigError(path: "peft.lora.targets", message: "expected at least one target") }
            for t in lora.targets {
                let (i, o) = dims.shape(of: t)
                if lora.rank > min(i, o) {
                    throw ConfigError(path: "peft.lora.rank", message: "rank \(lora.rank) exceeds min(\(i), \(o)) of \(t.rawValue)")
                }
            }
            try Self.check(lora.layers, path: "peft.lora.layers", dims: dims)
        }
        for (name, a) in [("serial_adapter", serialAdapter), ("parallel_adapter", parallelAdapter)] {
            guard let a else { continue }
            switch a.sizes {
            case let .uniform(m, layers):
                if m > 4 * dims.hiddenSize {
                    throw ConfigError(path: "peft.\(name).size", message: "size \(m) exceeds 4 × hidden size (\(4 * dims.hiddenSize))")
                }
                try Self.check(layers, path: "peft.\(name).layers", dims: dims)
            case let .perLayer(ms):
                if ms.count != dims.layers {
                    throw ConfigError(path: "peft.\(name).sizes", message: "expected \(dims.layers) sizes (one per layer), got \(ms.count)")
                }
                for (l, m) in ms.enumerated() where m > 4 * dims.hiddenSize {
                    throw ConfigError(path: "peft.\(name).sizes[\(l)]", message: "size \(m) exceeds 4 × hidden size (\(4 * dims.hiddenSize))")
                }
            }
        }
        if let prefix { try Self.check(prefix.layers, path: "peft.prefix.layers", dims: dims) }
        if let ia3 { try Self.check(ia3.layers, path: "peft.ia3.layers", dims: dims) }
        if let bitfit { try Self.check(bitfit.layers, path: "peft.bitfit.layers", dims: dims) }
    }

    static func check(_ layers: LayerSelection, path: String, dims: ModelDimensions) throws(ConfigError) {
        guard case .only(let ls) = layers else { return }
        if ls.isEmpty { throw ConfigError(path: path, message: "expected at least one layer") }
        for (k, l) in ls.enumerated() where !(0..<dims.layers).contains(l) {
            throw ConfigError(path: "\(path)[\(k)]", message: "layer \(l) is out of range 0...\(dims.layers - 1)")
        }
    }

    /// Trainable scalars the PEFT modules add, computed from the dimensions alone.
    public func moduleParameters(dims: ModelDimensions) -> Int {
        var n = 0
        if let lora {
            let perLayer = lora.targets.reduce(0) { $0 + dims.loraParameters(rank: lora.rank, target: $1) }
            n += perLayer * lora.layers.resolve(count: dims.layers).count
        }
        for a in [serialAdapter, parallelAdapter].compactMap({ $0 }) {
            for (_, m) in a.resolve(count: dims.layers) { n += dims.bottleneckParameters(size: m) }
        }
        if let prefix {
            let nl = prefix.layers.resolve(count: dims.layers).count
            if let p = prefix.projection {
                n += dims.projectedPrefixParameters(length: prefix.length, projection: p, layers: nl)
            } else {
                n += nl * dims.prefixParameters(length: prefix.length)
            }
        }
        if let ia3 {
            n += ia3.sites.reduce(0) { $0 + dims.ia3Parameters($1) } * ia3.layers.resolve(count: dims.layers).count
        }
        if let bitfit {
            n += bitfit.biases.reduce(0) { $0 + dims.bitfitParameters($1) } * bitfit.layers.resolve(count: dims.layers).count
        }
        return n
    }

    /// Every layer that holds a trainable module.
    public func adaptedLayers(layers count: Int) -> Set<Int> {
        var s = Set<Int>()
        if let lora { s.formUnion(lora.layers.resolve(count: count)) }
        for a in [serialAdapter, parallelAdapter].compactMap({ $0 }) { s.formUnion(a.resolve(count: count).map(\.layer)) }
        if let prefix { s.formUnion(prefix.layers.resolve(count: count)) }
        if let ia3 { s.formUnion(ia3.layers.resolve(count: count)) }
        if let bitfit { s.formUnion(bitfit.layers.resolve(count: count)) }
        return s
    }

    /// Trainable scalars of the whole candidate: modules plus the head (`labels × hidden + labels`).
    public func trainableParameters(dims: ModelDimensions, labels: Int) -> Int {
        moduleParameters(dims: dims) + labels * dims.hiddenSize + labels
    }

    /// The lowest layer holding a trainable module; nil when only the head trains.
    public func lowestAdaptedLayer(layers: Int) -> Int? {
        adaptedLayers(layers: layers).min()
    }
}

extension PEFTPlan {
    /// Parses the `peft` object: any of `lora`, `serial_adapter`, `parallel_adapter`, `prefix`,
    /// `ia3` and `bitfit` (see README). An empty object trains the head alone.
    public init(reading r: JSONReader) throws(ConfigError) {
        var plan = PEFTPlan()
        if let l = try r.optional("lora") {
            let rank = try l.required("rank").int(in: 1...65536, what: "a positive rank")
            let alpha = try l.optional("alpha")?.double() ?? Double(rank)
            let dropout = try l.optional("dropout")?.double(in: 0...0.99, what: "a dropout probability") ?? 0
            var targets: [LinearTarget] = []
            for t in try l.required("targets").array() {
                let name = try t.string()
                guard let target = LinearTarget(name: name) else {
                    var msg = "unknown LoRA target \"\(name)\"; expected one of \(LinearTarget.allCases.map(\.rawValue).joined(separator: ", "))"
                    if let m = didYouMean(name, among: LinearTarget.allCases.map(\.rawValue)) { msg += " (did you mean \"\(m)\"?)" }
                    throw t.error(msg)
                }
                targets.append(target)
            }
            let layers = try LayerSelection(reading: l.optional("layers"))
            let initialization = LoRASpec.Initialization(rawValue: try l.optional("init")?.choice(["kaiming", "pissa"]) ?? "kaiming")!
            try l.finish()
            plan.lora = LoRASpec(rank: rank, alpha: alpha, dropout: dropout, targets: targets, layers: layers, initialization: initialization)
        }
        for (key, defaultScale) in [("serial_adapter", 1.0), ("parallel_adapter", 4.0)] {
            guard let a = try r.optional(key) else { continue }
            var spec: AdapterSpec
            if let sizes = try a.optional("sizes") {
                var ms: [Int] = []
                for item in try sizes.array() { ms.append(try item.int(in: 0...1_000_000, what: "a bottleneck size")) }
                let size = try a.optional("size"), layers = try a.optional("layers")
                if size != nil || layers != nil {
                    throw a.error("give either \"sizes\" (one per layer) or \"size\" with \"layers\", not both", at: a.path + ".sizes")
                }
                spec = AdapterSpec(perLayer: ms)
            } else {
                let m = try a.required("size").int(in: 1...1_000_000, what: "a positive bottleneck size")
                spec = AdapterSpec(size: m, layers: try LayerSelection(reading: a.optional("layers")))
            }
            spec.scale = key == "parallel_adapter" ? try a.optional("scale")?.double() ?? defaultScale : 1
            try a.finish()
            if key == "serial_adapter" { plan.serialAdapter = spec } else { plan.parallelAdapter = spec }
        }
        if let p = try r.optional("prefix") {
            let length = try p.required("length").int(in: 1...4096, what: "a prefix length")
            let projection = try p.optional("projection")?.int(in: 1...65536, what: "a projection hidden size")
            plan.prefix = PrefixSpec(length: length, layers: try LayerSelection(reading: p.optional("layers")), projection: projection)
            try p.finish()
        }
        if let i = try r.optional("ia3") {
            let sites = try i.optional("sites")?.enumArray(of: IA3Spec.Site.self) ?? IA3Spec.Site.allCases
            plan.ia3 = IA3Spec(sites: sites, layers: try LayerSelection(reading: i.optional("layers")))
            try i.finish()
        }
        if let b = try r.optional("bitfit") {
            let biases = try b.optional("biases")?.enumArray(of: BitFitSpec.Bias.self) ?? BitFitSpec.Bias.allCases
            plan.bitfit = BitFitSpec(biases: biases, layers: try LayerSelection(reading: b.optional("layers")))
            try b.finish()
        }
        try r.finish()
        self = plan
    }
}

extension LayerSelection {
    /// `"all"`, absent (all), or an array of 0-based layer indices.
    public init(reading r: JSONReader?) throws(ConfigError) {
        guard let r else { self = .all; return }
        if case .string(let s) = r.value {
            guard s == "all" else { throw r.error("expected \"all\" or an array of layer indices, got \"\(s)\"") }
            self = .all
            return
        }
        var ls: [Int] = []
        for item in try r.array() { ls.append(try item.int(in: 0...4095, what: "a layer index")) }
        self = .only(ls)
    }
}
