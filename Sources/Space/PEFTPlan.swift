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
    public var rank: Int
    public var alpha: Double
    public var dropout: Double
    public var targets: [LinearTarget]
    public var layers: LayerSelection

    public init(rank: Int, alpha: Double, dropout: Double = 0, targets: [LinearTarget], layers: LayerSelection = .all) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targets = Array(Set(targets)).sorted()
        self.layers = layers
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

    public init(lora: LoRASpec? = nil) {
        self.lora = lora
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
            if case .only(let ls) = lora.layers {
                if ls.isEmpty { throw ConfigError(path: "peft.lora.layers", message: "expected at least one layer") }
                for (k, l) in ls.enumerated() where !(0..<dims.layers).contains(l) {
                    throw ConfigError(path: "peft.lora.layers[\(k)]", message: "layer \(l) is out of range 0...\(dims.layers - 1)")
                }
            }
        }
    }

    /// Trainable scalars the PEFT modules add, computed from the dimensions alone.
    public func moduleParameters(dims: ModelDimensions) -> Int {
        var n = 0
        if let lora {
            let perLayer = lora.targets.reduce(0) { s, t in
                let (i, o) = dims.shape(of: t)
                return s + lora.rank * (i + o)
            }
            n += perLayer * lora.layers.resolve(count: dims.layers).count
        }
        return n
    }

    /// Trainable scalars of the whole candidate: modules plus the head (`labels × hidden + labels`).
    public func trainableParameters(dims: ModelDimensions, labels: Int) -> Int {
        moduleParameters(dims: dims) + labels * dims.hiddenSize + labels
    }

    /// The lowest layer holding a trainable module; nil when only the head trains.
    public func lowestAdaptedLayer(layers: Int) -> Int? {
        lora.flatMap { $0.layers.resolve(count: layers).first }
    }
}

extension PEFTPlan {
    /// Parses `{"lora": {"rank": 8, "alpha": 16, "dropout": 0.1, "targets": ["query", "value"], "layers": "all"}}`.
    public init(reading r: JSONReader) throws(ConfigError) {
        var lora: LoRASpec?
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
            try l.finish()
            lora = LoRASpec(rank: rank, alpha: alpha, dropout: dropout, targets: targets, layers: layers)
        }
        try r.finish()
        self.init(lora: lora)
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
