import JSONKit
/// Configurations as JSON objects (journal, reports, baselines in space files):
/// `{"layers": [3, 4, 5], "serial_adapter.size": 48, "lora.targets": ["query", "value"], "lora.init": "pissa"}`.
/// Layer masks are the list of layers that are on; subsets the list of items chosen.
extension SearchSpace {
    public func json(_ config: Config) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        for (p, v) in zip(parameters, config.values) {
            let j: JSONValue
            switch (p.domain, v) {
            case (.layerMask, .bits(let b)): j = .array(b.indices.filter { b[$0] }.map { .number($0) })
            case let (.subset(items, _), .bits(b)): j = .array(b.indices.filter { b[$0] }.map { .string(items[$0]) })
            case (_, .number(let x)): j = .number(x)
            case (_, .choice(let s)): j = .string(s)
            case (_, .strings(let s)): j = .array(s.map { .string($0) })
            case (_, .flag(let f)): j = .bool(f)
            case (_, .bits(let b)): j = .array(b.map { .bool($0) })
            }
            members.append((p.name, j))
        }
        return .object(members)
    }

    /// The configuration a JSON object describes. Fixed parameters may be omitted; every other
    /// parameter must be given (inactive ones may be omitted too). The result is canonical.
    public func config(reading r: JSONReader) throws(ConfigError) -> Config {
        var values: [ParameterValue] = [], deferred: [Int] = []
        for (i, p) in parameters.enumerated() {
            values.append(p.defaultValue)
            guard let v = try r.optional(p.name) else {
                if case .fixed = p.domain { continue }
                if !isActive(i, in: values) { continue }
                // Active unless a later parameter says otherwise (the layer mask of modules that are off).
                if p.condition?.clauses.contains(where: { (index[$0.parameter] ?? 0) > i }) == true { deferred.append(i); continue }
                throw r.error("missing parameter \"\(p.name)\"", at: r.path.isEmpty ? p.name : "\(r.path).\(p.name)")
            }
            let value: ParameterValue
            switch p.domain {
            case .layerMask(let l, _):
                var b = [Bool](repeating: false, count: l)
                for item in try v.array() { b[try item.int(in: 0...(l - 1), what: "a layer index")] = true }
                value = .bits(b)
            case .subset(let items, _):
                var b = [Bool](repeating: false, count: items.count)
                for item in try v.array() {
                    let s = try item.choice(items)
                    if let k = items.firstIndex(of: s) { b[k] = true }
                }
                value = .bits(b)
            case .ordinal, .integer, .real: value = .number(try v.double())
            case .categorical(let c): value = .choice(try v.choice(c))
            case .fixed(let f):
                value = try SearchSpace.fixedValue(v)
                guard value == f else { throw v.error("this parameter is fixed in the space and cannot be changed") }
            }
            guard p.admits(value) else { throw v.error("\(v.value.kindDescription) is not a value of \(p.name) in this space") }
            values[i] = value
        }
        try r.finish()
        let c = canonical(Config(space: self, values: values))
        for i in deferred where isActive(i, in: c.values) {
            let name = parameters[i].name
            throw r.error("missing parameter \"\(name)\"", at: r.path.isEmpty ? name : "\(r.path).\(name)")
        }
        if let why = violation(c) { throw r.error("the configuration breaks a constraint: \(why)") }
        return c
    }
}
