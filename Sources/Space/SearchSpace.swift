/// One searchable decision of a search space.
///
/// A parameter has a dotted name (`lora.rank`, `serial_adapter.size`, `x3`), a domain, and an
/// optional condition on an earlier parameter: when the condition is false the parameter is
/// *inactive* (a module's size when the module is off), takes its canonical default, and is
/// never varied, so two configurations that differ only in inactive parameters are the same.
public struct Parameter: Sendable, Equatable {
    public enum Domain: Sendable, Equatable {
        /// One bit per layer; at least `minOn` bits set.
        case layerMask(layers: Int, minOn: Int)
        /// Ordered numbers (sizes, ranks, lengths); `logScale` spaces them by log in the encoding.
        case ordinal(values: [Double], logScale: Bool)
        /// Unordered choices, one-hot in the encoding.
        case categorical([String])
        /// Any subset of the items with at least `minCount` of them (e.g. LoRA targets).
        case subset(of: [String], minCount: Int)
        /// Integers in [low, high], linear or log-spaced in the encoding.
        case integer(low: Int, high: Int, log: Bool)
        /// Reals in [low, high], linear or log-spaced in the encoding.
        case real(low: Double, high: Double, log: Bool)
        /// A constant: part of every configuration, never searched.
        case fixed(ParameterValue)
    }

    public var name: String
    public var domain: Domain
    public var condition: Condition?

    public init(name: String, domain: Domain, condition: Condition? = nil) {
        self.name = name
        self.domain = domain
        self.condition = condition
    }

    /// The number of encoding dimensions.
    public var width: Int {
        switch domain {
        case .layerMask(let l, _): return l
        case .ordinal, .integer, .real: return 1
        case .categorical(let c): return c.count
        case .subset(let items, _): return items.count
        case .fixed: return 0
        }
    }

    /// The value an inactive parameter takes (and the first value of a fresh module).
    public var defaultValue: ParameterValue {
        switch domain {
        case .layerMask(let l, _): return .bits(Array(repeating: true, count: l))
        case .ordinal(let v, _): return .number(v[0])
        case .categorical(let c): return .choice(c[0])
        case .subset(let items, let minCount): return .bits(items.indices.map { $0 < minCount })
        case .integer(let lo, _, _): return .number(Double(lo))
        case .real(let lo, _, _): return .number(lo)
        case .fixed(let v): return v
        }
    }

    /// Whether `v` is a legal value of this domain.
    public func admits(_ v: ParameterValue) -> Bool {
        switch (domain, v) {
        case let (.layerMask(l, minOn), .bits(b)): return b.count == l && b.filter { $0 }.count >= minOn
        case let (.ordinal(values, _), .number(x)): return values.contains(x)
        case let (.categorical(c), .choice(s)): return c.contains(s)
        case let (.subset(items, minCount), .bits(b)): return b.count == items.count && b.filter { $0 }.count >= minCount
        case let (.integer(lo, hi, _), .number(x)): return x == x.rounded() && x >= Double(lo) && x <= Double(hi)
        case let (.real(lo, hi, _), .number(x)): return x >= lo && x <= hi
        case let (.fixed(f), v): return f == v
        default: return false
        }
    }
}

/// The value of one parameter in a configuration.
public enum ParameterValue: Sendable, Hashable {
    /// Layer masks and subsets: one flag per layer or item.
    case bits([Bool])
    /// Ordinals, integers and reals.
    case number(Double)
    /// A categorical choice.
    case choice(String)
    /// A fixed list of strings (e.g. fixed LoRA targets).
    case strings([String])
    case flag(Bool)

    public var number: Double? { if case .number(let x) = self { return x }; return nil }
    public var bits: [Bool]? { if case .bits(let b) = self { return b }; return nil }
    public var choice: String? { if case .choice(let s) = self { return s }; return nil }
}

/// "This parameter matters only when `parameter` takes one of `values`" (or, negated, none of
/// them); with `alternatives`, "… or when any of these holds" (the layer mask matters when any
/// module that uses it is on).
public struct Condition: Sendable, Equatable {
    public var parameter: String
    public var values: [ParameterValue]
    public var negated: Bool
    /// Further clauses, each on one parameter: the condition holds when its own clause or any of
    /// these holds.
    public var alternatives: [Condition]

    public init(parameter: String, values: [ParameterValue], negated: Bool, alternatives: [Condition] = []) {
        self.parameter = parameter
        self.values = values
        self.negated = negated
        self.alternatives = alternatives
    }

    /// "Any of these holds": nil for none.
    public static func anyOf(_ clauses: [Condition]) -> Condition? {
        guard var first = clauses.first else { return nil }
        first.alternatives += clauses.dropFirst()
        return first
    }

    /// Every clause, each on one parameter, the condition's own first.
    public var clauses: [Condition] {
        [Condition(parameter: parameter, values: values, negated: negated)] + alternatives.flatMap(\.clauses)
    }

    func holds(_ v: ParameterValue?) -> Bool {
        guard let v else { return false }
        return values.contains(v) != negated
    }
}

/// A rule every valid configuration satisfies.
public enum Constraint: Sendable, Equatable {
    /// At least one of the parameters is "on": a non-zero number, a non-empty mask or subset,
    /// or a choice other than "none"/"off".
    case atLeastOne([String])
    /// Trainable parameters (as counted by the space's `parameterCount`) within a range.
    case trainableParameters(min: Double?, max: Double?)
}

/// A validated search space: parameters in declaration order (a condition refers only to an
/// earlier parameter), and constraints.
public struct SearchSpace: Sendable {
    public let parameters: [Parameter]
    public let constraints: [Constraint]
    /// Counts the trainable parameters of a configuration (PEFT spaces); needed by
    /// `.trainableParameters` constraints. Not part of equality.
    public var parameterCount: (@Sendable (Config) -> Double?)?
    /// Inactive layer masks and subsets encode as empty (no layer, no site) instead of their
    /// default: "no module on" then sits beside "a module in few layers", not beside the
    /// every-layer configurations (the baselines) that a default of all layers would place it on.
    /// Not part of equality (keys and canonical forms do not change).
    public var inactiveSetsEncodeEmpty = false
    let index: [String: Int]

    public init(parameters: [Parameter], constraints: [Constraint] = [], parameterCount: (@Sendable (Config) -> Double?)? = nil) {
        self.parameters = parameters
        self.constraints = constraints
        self.parameterCount = parameterCount
        var index: [String: Int] = [:]
        for (i, p) in parameters.enumerated() { index[p.name] = i }
        self.index = index
    }

    /// The parameter called `name`, if any.
    public func parameter(_ name: String) -> Parameter? { index[name].map { parameters[$0] } }

    /// Total encoding dimensions.
    public var dimensions: Int { parameters.reduce(0) { $0 + $1.width } }

    /// Whether parameter `i` is active in `values`: some clause of its condition holds on a
    /// parameter that is itself active. A space file's own conditions refer to earlier
    /// parameters; implicit ones (the layer mask's, on the modules declared after it) may refer
    /// to later ones, never in a cycle; the depth bound keeps a cycle from recursing forever all
    /// the same. `values` may stop short (a configuration being drawn or read in order): a clause
    /// on a parameter beyond it counts as holding, so the value is drawn or read, and the
    /// canonical form decides once every value is there.
    public func isActive(_ i: Int, in values: [ParameterValue]) -> Bool { isActive(i, in: values, depth: 0) }

    private func isActive(_ i: Int, in values: [ParameterValue], depth: Int) -> Bool {
        guard let c = parameters[i].condition else { return true }
        guard depth < parameters.count else { return false }
        return holds(c, for: i, in: values, depth: depth)
    }

    /// Whether a clause of `c` (its own, or one of its alternatives') holds for parameter `i`.
    private func holds(_ c: Condition, for i: Int, in values: [ParameterValue], depth: Int) -> Bool {
        if let j = index[c.parameter], j != i {
            if j >= values.count { return true }
            if c.holds(values[j]) && isActive(j, in: values, depth: depth + 1) { return true }
        }
        return c.alternatives.contains { holds($0, for: i, in: values, depth: depth) }
    }

    /// The configuration with every inactive parameter reset to its default.
    public func canonical(_ config: Config) -> Config {
        var v = config.values
        for i in parameters.indices where !isActive(i, in: v) { v[i] = parameters[i].defaultValue }
        return Config(space: self, values: v)
    }

    /// Names of the parameters that are active in `config`.
    public func activeNames(_ config: Config) -> [String] {
        parameters.indices.filter { isActive($0, in: config.values) }.map { parameters[$0].name }
    }

    /// Nil when `config` satisfies every constraint; otherwise what it violates.
    public func violation(_ config: Config) -> String? {
        for (i, p) in parameters.enumerated() where !p.admits(config.values[i]) {
            return "\(p.name) has an illegal value"
        }
        for c in constraints {
            switch c {
            case .atLeastOne(let names):
                let on = names.contains { n in
                    guard let i = index[n], isActive(i, in: config.values) else { return false }
                    return Self.isOn(config.values[i])
                }
                if !on { return "at least one of \(names.joined(separator: ", ")) must be on" }
            case .trainableParameters(let lo, let hi):
                guard let count = parameterCount?(config) else { return "the trainable parameters cannot be counted" }
                if let lo, count < lo { return "trainable parameters \(Int(count)) below the minimum \(Int(lo))" }
                if let hi, count > hi { return "trainable parameters \(Int(count)) above the budget \(Int(hi))" }
            }
        }
        return nil
    }

    static func isOn(_ v: ParameterValue) -> Bool {
        switch v {
        case .bits(let b): return b.contains(true)
        case .number(let x): return x != 0
        case .choice(let s): return s != "none" && s != "off"
        case .strings(let s): return !s.isEmpty
        case .flag(let f): return f
        }
    }
}

/// One assignment of values to a space's parameters (fixed ones included), in the space's
/// parameter order.
public struct Config: Sendable, Hashable {
    public let names: [String]
    public var values: [ParameterValue]

    public init(space: SearchSpace, values: [ParameterValue]) {
        names = space.parameters.map(\.name)
        self.values = values
    }

    public subscript(name: String) -> ParameterValue? {
        guard let i = names.firstIndex(of: name) else { return nil }
        return values[i]
    }
}
