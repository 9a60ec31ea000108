extension LayerSelection {
    public var json: JSONValue {
        switch self {
        case .all: return .string("all")
        case .only(let ls): return .array(ls.map { .number($0) })
        }
    }
}

extension PEFTPlan {
    /// The plan as the `peft` object of a run file (parses back to an equal plan).
    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        if let l = lora {
            members.append(("lora", .object([
                ("rank", .number(l.rank)), ("alpha", .number(l.alpha)), ("dropout", .number(l.dropout)),
                ("targets", .array(l.targets.map { .string($0.rawValue) })), ("layers", l.layers.json),
                ("init", .string(l.initialization.rawValue)),
            ])))
        }
        for (key, a) in [("serial_adapter", serialAdapter), ("parallel_adapter", parallelAdapter)] {
            guard let a else { continue }
            var m: [(key: String, value: JSONValue)]
            switch a.sizes {
            case let .uniform(size, layers): m = [("size", .number(size)), ("layers", layers.json)]
            case let .perLayer(ms): m = [("sizes", .array(ms.map { .number($0) }))]
            }
            if key == "parallel_adapter" { m.append(("scale", .number(a.scale))) }
            members.append((key, .object(m)))
        }
        if let p = prefix {
            var m: [(key: String, value: JSONValue)] = [("length", .number(p.length)), ("layers", p.layers.json)]
            if let proj = p.projection { m.append(("projection", .number(proj))) }
            members.append(("prefix", .object(m)))
        }
        if let i = ia3 {
            members.append(("ia3", .object([("sites", .array(i.sites.map { .string($0.rawValue) })), ("layers", i.layers.json)])))
        }
        if let b = bitfit {
            members.append(("bitfit", .object([("biases", .array(b.biases.map { .string($0.rawValue) })), ("layers", b.layers.json)])))
        }
        return .object(members)
    }
}
