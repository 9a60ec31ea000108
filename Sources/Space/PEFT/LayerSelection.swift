import JSONKit
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

    public var json: JSONValue {
        switch self {
        case .all: return .string("all")
        case .only(let ls): return .array(ls.map { .number($0) })
        }
    }

    /// Every index in range of a model's layers, and at least one when a list is given.
    func validate(for dims: ModelDimensions, path: String) throws(ConfigError) {
        guard case .only(let ls) = self else { return }
        if ls.isEmpty { throw ConfigError(path: path, message: "expected at least one layer") }
        for (k, l) in ls.enumerated() where !(0..<dims.layers).contains(l) {
            throw ConfigError(path: "\(path)[\(k)]", message: "layer \(l) is out of range 0...\(dims.layers - 1)")
        }
    }
}

/// Module parameters charged to one weight matrix of one layer: what SPT coverage, the priors'
/// size centres and DiffoRA's module costs read. Each method's file says how it charges.
public typealias PEFTCharge = (layer: Int, target: LinearTarget, cost: Double)
