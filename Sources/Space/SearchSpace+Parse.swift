import JSONKit
import Foundation

extension SearchSpace {
    /// Parses a space file's `space` object (and its `constraints` array).
    ///
    /// Each member is one of:
    /// - an array of numbers: an ordinal (`"rank": [0, 4, 8, 16]`), log-scaled when all values are
    ///   non-negative and span a factor of 4 or more;
    /// - an array of strings: a categorical;
    /// - a number, string, boolean or array of strings inside `{"type": "fixed", "value": …}`, or
    ///   bare (a bare number, string or boolean is fixed);
    /// - an object with a `"type"`: `layer_mask` (`layers`, `min_on`), `ordinal` (`values`,
    ///   `scale`, `per_layer`), `categorical` (`values`), `subset` (`of`, `min`), `int` / `real`
    ///   (`low`, `high`, `log`), `fixed` (`value`); any of them may carry a `when` condition,
    ///   `{"lora.rank": {"not_in": [0]}}` (or `"in"`, or a bare array meaning `in`);
    /// - an object without `"type"`: a group whose members are named `group.member`.
    ///
    /// Inside a group with a `size`, `rank` or `length` that can be 0, the other members are
    /// active only when it is not 0 (a module's settings matter only when the module is on),
    /// unless they carry their own `when`.
    ///
    /// - Parameter layers: the model's layer count, for layer masks and per-layer parameters.
    public init(reading r: JSONReader, constraints c: JSONReader?, layers: Int?) throws(ConfigError) {
        var params: [Parameter] = []
        try Self.parseGroup(r, prefix: "", layers: layers, into: &params)
        guard !params.isEmpty else { throw r.error("expected at least one parameter") }
        let names = params.map(\.name)
        for p in params {
            guard let cond = p.condition else { continue }
            guard let j = names.firstIndex(of: cond.parameter) else {
                var msg = "\(p.name): condition on unknown parameter \"\(cond.parameter)\""
                if let m = didYouMean(cond.parameter, among: names) { msg += " (did you mean \"\(m)\"?)" }
                throw r.error(msg)
            }
            guard j < names.firstIndex(of: p.name)! else {
                throw r.error("\(p.name): its condition refers to \"\(cond.parameter)\", which must be declared before it")
            }
        }
        var constraints: [Constraint] = []
        if let c {
            for item in try c.array() {
                switch try item.required("type").choice(["at_least_one", "trainable_params"]) {
                case "at_least_one":
                    let of = try item.required("of")
                    var list: [String] = []
                    for n in try of.array() {
                        let name = try n.string()
                        guard names.contains(name) else {
                            var msg = "unknown parameter \"\(name)\""
                            if let m = didYouMean(name, among: names) { msg += " (did you mean \"\(m)\"?)" }
                            throw n.error(msg)
                        }
                        list.append(name)
                    }
                    if list.isEmpty { throw of.error("expected at least one parameter name") }
                    constraints.append(.atLeastOne(list))
                default:
                    let lo = try item.optional("min")?.double(in: 0...1e15, what: "a parameter count")
                    let hi = try item.optional("max")?.double(in: 0...1e15, what: "a parameter count")
                    if lo == nil && hi == nil { throw item.error("expected \"min\", \"max\" or both") }
                    constraints.append(.trainableParameters(min: lo, max: hi))
                }
                try item.finish()
            }
        }
        self.init(parameters: params, constraints: constraints)
    }

    static let zeroMeansOff: Set<String> = ["size", "rank", "length"]

    /// A module's size, rank, length or projection becomes an Int when a plan is built: check here,
    /// at the boundary, that every value it can take is a whole number in 0...100000 (a value such
    /// as 1e308 would otherwise trap in the conversion, in the middle of a search).
    static func checkWholeSizes(_ params: ArraySlice<Parameter>, group r: JSONReader) throws(ConfigError) {
        let limit = 100_000.0
        for p in params {
            guard let last = p.name.split(separator: ".").last?.split(separator: "[").first,
                  zeroMeansOff.contains(String(last)) || last == "projection" else { continue }
            var values: [Double] = []
            switch p.domain {
            case .ordinal(let v, _): values = v
            case .integer(let lo, let hi, _): values = [Double(lo), Double(hi)]
            case .fixed(.number(let x)): values = [x]
            case .real:
                let at = (r.path.isEmpty ? "" : r.path + ".") + String(last)
                throw r.error("expected whole numbers for a module's \(last), got a real range", at: at)
            default: continue
            }
            if let bad = values.first(where: { !($0 >= 0 && $0 <= limit && $0 == $0.rounded()) }) {
                throw r.error("expected whole numbers in 0...\(Int(limit)) for a module's \(last), got \(bad)",
                              at: (r.path.isEmpty ? "" : r.path + ".") + String(last))
            }
        }
    }

    static func parseGroup(_ r: JSONReader, prefix: String, layers: Int?, into params: inout [Parameter]) throws(ConfigError) {
        guard case .object(let members) = r.value else { throw r.error("expected an object of parameters, got \(r.value.kindDescription)") }
        let first = params.count
        var explicit: Set<String> = []
        for m in members {
            let name = prefix.isEmpty ? m.key : "\(prefix).\(m.key)"
            guard let child = try r.optional(m.key) else {
                throw r.error("expected a parameter, got null", at: r.path.isEmpty ? m.key : "\(r.path).\(m.key)")
            }
            switch child.value {
            case .array: params.append(Parameter(name: name, domain: try listedDomain(child)))
            case .number(let x, _): params.append(Parameter(name: name, domain: .fixed(.number(x))))
            case .string(let s): params.append(Parameter(name: name, domain: .fixed(.choice(s))))
            case .bool(let b): params.append(Parameter(name: name, domain: .fixed(.flag(b))))
            case .object(let fields):
                if fields.contains(where: { $0.key == "type" }) {
                    let (ps, hasWhen) = try typed(child, name: name, layers: layers)
                    params += ps
                    if hasWhen { explicit.formUnion(ps.map(\.name)) }
                } else {
                    try parseGroup(child, prefix: name, layers: layers, into: &params)
                }
            default:
                throw child.error("expected a parameter (an array of values, an object with \"type\", or a fixed value), got "
                    + "\(child.value.kindDescription)")
            }
        }
        try r.finish()
        try checkWholeSizes(params[first...], group: r)
        addImplicitConditions(&params, from: first, prefix: prefix, explicit: explicit)
    }

    /// A parameter given as an array: numbers are an ordinal, strings a categorical; a mix is an
    /// error at the first element that breaks the pattern the first element set.
    static func listedDomain(_ child: JSONReader) throws(ConfigError) -> Parameter.Domain {
        guard case .array(let items) = child.value, !items.isEmpty else { throw child.error("expected at least one value") }
        func isNumber(_ v: JSONValue) -> Bool { if case .number = v { return true }; return false }
        func isString(_ v: JSONValue) -> Bool { if case .string = v { return true }; return false }
        if items.allSatisfy(isNumber) {
            return try ordinal(child.array().map { e throws(ConfigError) in try e.double() }, scale: nil, at: child)
        }
        if items.allSatisfy(isString) { return try categorical(child) }
        let numeric = isNumber(items[0])
        for (k, item) in items.enumerated() where numeric != isNumber(item) || !numeric && !isString(item) {
            let expected = numeric ? "a number (an ordinal's values are numbers)" : "a string (a categorical's values are strings)"
            throw child.error("expected \(expected), got \(item.kindDescription)", at: "\(child.path)[\(k)]")
        }
        throw child.error("expected an array of numbers (ordinal) or of strings (categorical)")
    }

    /// A module's other settings matter only when its size is not 0: each parameter of the group
    /// (from `first` on) without a condition of its own gets "when the size is not 0".
    static func addImplicitConditions(_ params: inout [Parameter], from first: Int, prefix: String, explicit: Set<String>) {
        let depth = prefix.isEmpty ? 1 : prefix.split(separator: ".").count + 1
        let own = params[first...].filter { $0.name.split(separator: ".").count == depth }
        guard let switchParam = own.first(where: { p in
            guard let last = p.name.split(separator: ".").last, zeroMeansOff.contains(String(last)) else { return false }
            if case .ordinal(let v, _) = p.domain { return v.contains(0) }
            if case .integer(let lo, _, _) = p.domain { return lo <= 0 }
            return false
        }) else { return }
        for i in first..<params.count where params[i].name != switchParam.name && params[i].condition == nil
            && !explicit.contains(params[i].name) {
            if case .fixed = params[i].domain { continue }
            params[i].condition = Condition(parameter: switchParam.name, values: [.number(0)], negated: true)
        }
    }

    static func ordinal(_ values: [Double], scale: String?, at r: JSONReader) throws(ConfigError) -> Parameter.Domain {
        if Set(values).count != values.count { throw r.error("expected distinct values") }
        let positive = values.filter { $0 > 0 }
        let autoLog = values.allSatisfy { $0 >= 0 } && positive.count >= 2 && positive.max()! / positive.min()! >= 4
        if scale == "log" && values.contains(where: { $0 < 0 }) { throw r.error("a log scale needs non-negative values") }
        return .ordinal(values: values.sorted(), logScale: scale.map { $0 == "log" } ?? autoLog)
    }

    static func categorical(_ r: JSONReader) throws(ConfigError) -> Parameter.Domain {
        var v: [String] = []
        for item in try r.array() { v.append(try item.string()) }
        if Set(v).count != v.count { throw r.error("expected distinct values") }
        return .categorical(v)
    }

    static func fixedValue(_ r: JSONReader) throws(ConfigError) -> ParameterValue {
        switch r.value {
        case .number(let x, _): return .number(x)
        case .string(let s): return .choice(s)
        case .bool(let b): return .flag(b)
        case .array:
            var s: [String] = []
            for item in try r.array() { s.append(try item.string()) }
            return .strings(s)
        default: throw r.error("expected a number, string, boolean or array of strings, got \(r.value.kindDescription)")
        }
    }

    /// The keys each parameter type takes besides `type` and `when`.
    static let typedKeys: [String: [String]] = [
        "layer_mask": ["layers", "min_on"], "ordinal": ["values", "scale", "per_layer"], "categorical": ["values"],
        "subset": ["of", "min"], "int": ["low", "high", "log", "per_layer"], "real": ["low", "high", "log", "per_layer"],
        "fixed": ["value"],
    ]

    /// A parameter given as an object with `type`: its domain, its condition (`when`) and, with
    /// `per_layer`, one copy per layer. The Bool says whether it had a condition of its own.
    static func typed(_ r: JSONReader, name: String, layers: Int?) throws(ConfigError) -> ([Parameter], Bool) {
        let type = try r.required("type").choice(["layer_mask", "ordinal", "categorical", "subset", "int", "real", "fixed"])
        // Unknown keys first, so that a misspelt required key is reported as the typo it is.
        let keys = (typedKeys[type] ?? []) + ["type", "when"]
        if case .object(let members) = r.value {
            for m in members where !keys.contains(m.key) {
                var msg = "unknown key \"\(m.key)\" for a parameter of type \(type)"
                if let s = didYouMean(m.key, among: keys) {
                    msg += " (did you mean \"\(s)\"?)"
                } else {
                    msg += "; expected \(keys.joined(separator: ", "))"
                }
                throw r.error(msg, at: "\(r.path).\(m.key)")
            }
        }
        let (domain, perLayer) = try typedDomain(r, type: type, layers: layers)
        let condition = try r.optional("when").map { w throws(ConfigError) in try Self.condition(w) }
        try r.finish()
        if perLayer {
            guard let layers else { throw r.error("per_layer needs the model's layer count: give a model") }
            return ((0..<layers).map { Parameter(name: "\(name)[\($0)]", domain: domain, condition: condition) }, condition != nil)
        }
        return ([Parameter(name: name, domain: domain, condition: condition)], condition != nil)
    }

    /// The domain of a typed parameter, and whether it is repeated per layer.
    static func typedDomain(_ r: JSONReader, type: String, layers: Int?) throws(ConfigError) -> (Parameter.Domain, perLayer: Bool) {
        switch type {
        case "layer_mask":
            let count: Int
            if let l = try r.optional("layers") { count = try l.int(in: 1...4096, what: "a layer count") }
            else if let layers { count = layers }
            else { throw r.error("a layer mask needs the model's layer count: give \"layers\" or a model") }
            let minOn = try r.optional("min_on")?.int(in: 0...count, what: "a minimum number of layers") ?? 1
            return (.layerMask(layers: count, minOn: minOn), false)
        case "ordinal":
            let values = try r.required("values")
            var v: [Double] = []
            for item in try values.array() { v.append(try item.double()) }
            if v.isEmpty { throw values.error("expected at least one value") }
            let domain = try ordinal(v, scale: try r.optional("scale")?.choice(["log", "linear"]), at: values)
            return (domain, try r.optional("per_layer")?.bool() ?? false)
        case "categorical":
            let values = try r.required("values")
            let domain = try categorical(values)
            if case .categorical(let c) = domain, c.isEmpty { throw values.error("expected at least one value") }
            return (domain, false)
        case "subset":
            let of = try r.required("of")
            guard case .categorical(let items) = try categorical(of), !items.isEmpty else { throw of.error("expected at least one item") }
            return (.subset(of: items, minCount: try r.optional("min")?.int(in: 0...items.count, what: "a minimum count") ?? 0), false)
        case "int", "real":
            let lo = try r.required("low").double(), hi = try r.required("high").double()
            let log = try r.optional("log")?.bool() ?? false
            if !(hi > lo) { throw r.error("expected low < high, got \(lo) and \(hi)", at: r.path + ".high") }
            if log && lo <= 0 { throw r.error("a log range needs low > 0, got \(lo)", at: r.path + ".low") }
            let domain: Parameter.Domain
            if type == "int" {
                guard lo == lo.rounded(), hi == hi.rounded() else { throw r.error("expected integer bounds") }
                domain = .integer(low: Int(lo), high: Int(hi), log: log)
            } else {
                domain = .real(low: lo, high: hi, log: log)
            }
            return (domain, try r.optional("per_layer")?.bool() ?? false)
        default:
            return (.fixed(try fixedValue(r.required("value"))), false)
        }
    }

    /// `when`: one parameter and the values under which this one is active, `[...]` or
    /// `{"in": [...]}`, or those under which it is not, `{"not_in": [...]}`.
    static func condition(_ w: JSONReader) throws(ConfigError) -> Condition {
        guard case .object(let members) = w.value, members.count == 1, let parent = members.first?.key else {
            throw w.error("expected one parameter and its values, e.g. {\"lora.rank\": {\"not_in\": [0]}}")
        }
        let spec = try w.required(parent)
        var negated = false
        let valuesReader: JSONReader
        if case .array = spec.value { valuesReader = spec }
        else if let i = try spec.optional("in") { valuesReader = i; try spec.finish() }
        else if let n = try spec.optional("not_in") { valuesReader = n; negated = true; try spec.finish() }
        else { throw spec.error("expected {\"in\": [...]} or {\"not_in\": [...]}") }
        var vs: [ParameterValue] = []
        for item in try valuesReader.array() { vs.append(try fixedValue(item)) }
        return Condition(parameter: parent, values: vs, negated: negated)
    }
}
