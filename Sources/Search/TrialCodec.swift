import JSONKit
import Space

/// The one JSON form of a candidate and of a trial's outcome, shared by the journal, worker
/// processes (`autopeft trial`) and their driver.
extension Candidate {
    /// `config` (a configuration of the space) or `peft` (a plan outside it), as members of an
    /// object: the journal's `trial_started` records hold them beside the trial's id and seed.
    public func jsonMembers(in space: SearchSpace) -> [(key: String, value: JSONValue)] {
        switch self {
        case .config(let c): return [("config", space.json(c))]
        case .plan(let p): return [("peft", p.json)]
        }
    }

    /// Reads the `peft` or `config` member of an object (errors carry its JSON path).
    public init(reading r: JSONReader, space: SearchSpace) throws {
        if let p = try r.optional("peft") { self = .plan(try PEFTPlan(reading: p)) }
        else if let c = try r.optional("config") { self = .config(try space.config(reading: c)) }
        else { throw r.error("expected \"config\" (a configuration of the space) or \"peft\" (a PEFT plan)") }
    }
}

extension TrialOutcome {
    /// `{"values": {...}, "metrics": {...}}`, keys sorted so the text is the same every time.
    public var json: JSONValue {
        func object(_ d: [String: Double]) -> JSONValue { .object(d.sorted { $0.key < $1.key }.map { (key: $0.key,
            value: .number($0.value)) }) }
        return .object([("values", object(values)), ("metrics", object(metrics))] + (seconds.map { [("seconds", .number($0))] } ?? []))
    }

    /// Reads what `json` wrote; non-numeric members are ignored.
    public init(reading v: JSONValue) {
        func numbers(_ member: String) -> [String: Double] {
            var out: [String: Double] = [:]
            if case .object(let m)? = v[member] { for x in m { if case .number(let d, _) = x.value { out[x.key] = d } } }
            return out
        }
        var seconds: Double?
        if case .number(let s, _)? = v["seconds"] { seconds = s }
        self.init(values: numbers("values"), metrics: numbers("metrics"), seconds: seconds)
    }
}
