/// Typed, path-aware access to a parsed JSON value.
///
/// Each accessor throws a `ConfigError` naming the JSON path and what was expected.
/// An object reader remembers which keys were read; `finish()` rejects the rest as
/// unknown keys, with a did-you-mean, so a typo never passes silently.
public final class JSONReader {
    public let value: JSONValue
    public let path: String
    public let file: String?
    private var readKeys: Set<String> = []

    public init(_ value: JSONValue, path: String = "", file: String? = nil) {
        self.value = value
        self.path = path
        self.file = file
    }

    public func error(_ message: String, at subpath: String? = nil) -> ConfigError {
        ConfigError(file: file, path: subpath ?? path, message: message)
    }

    private func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The member `key`, or nil when absent (or `null`). Marks the key as known.
    public func optional(_ key: String) throws(ConfigError) -> JSONReader? {
        guard case .object(let members) = value else { throw error("expected an object, got \(value.kindDescription)") }
        readKeys.insert(key)
        guard let v = members.first(where: { $0.key == key })?.value, v != .null else { return nil }
        return JSONReader(v, path: child(key), file: file)
    }

    /// The member `key`; throws when it is missing.
    public func required(_ key: String) throws(ConfigError) -> JSONReader {
        guard let r = try optional(key) else { throw error("missing required key \"\(key)\"", at: child(key)) }
        return r
    }

    /// Throws for the first key that no accessor asked for.
    public func finish() throws(ConfigError) {
        guard case .object(let members) = value else { return }
        for m in members where !readKeys.contains(m.key) {
            var msg = "unknown key \"\(m.key)\""
            if let s = didYouMean(m.key, among: Array(readKeys)) { msg += " (did you mean \"\(s)\"?)" }
            else if !readKeys.isEmpty { msg += "; known keys: \(readKeys.sorted().joined(separator: ", "))" }
            throw error(msg, at: child(m.key))
        }
    }

    public func string() throws(ConfigError) -> String {
        guard case .string(let s) = value else { throw error("expected a string, got \(value.kindDescription)") }
        return s
    }

    public func bool() throws(ConfigError) -> Bool {
        guard case .bool(let b) = value else { throw error("expected true or false, got \(value.kindDescription)") }
        return b
    }

    public func double() throws(ConfigError) -> Double {
        guard case .number(let d, _) = value else { throw error("expected a number, got \(value.kindDescription)") }
        return d
    }

    public func int() throws(ConfigError) -> Int {
        guard case .number(let d, _) = value, d == d.rounded(), abs(d) < 1e15 else {
            throw error("expected an integer, got \(value.kindDescription)")
        }
        return Int(d)
    }

    public func int(in range: ClosedRange<Int>, what: String = "an integer") throws(ConfigError) -> Int {
        guard case .number(let d, _) = value, d == d.rounded(), abs(d) < 1e15, range.contains(Int(d)) else {
            // An open-ended range reads as a bound, not as 9223372036854775807.
            let bounds = range.upperBound == Int.max ? "≥ \(range.lowerBound)" : "in \(range.lowerBound)...\(range.upperBound)"
            throw error("expected \(what) \(bounds), got \(value.kindDescription)")
        }
        return Int(d)
    }

    public func double(in range: ClosedRange<Double>, what: String = "a number") throws(ConfigError) -> Double {
        guard case .number(let d, _) = value, range.contains(d) else {
            throw error("expected \(what) in [\(range.lowerBound), \(range.upperBound)], got \(value.kindDescription)")
        }
        return d
    }

    /// One of `choices`, with a did-you-mean when the string is close to one.
    public func choice(_ choices: [String]) throws(ConfigError) -> String {
        let s = try string()
        guard choices.contains(s) else {
            var msg = "expected one of \(choices.map { "\"\($0)\"" }.joined(separator: ", ")), got \"\(s)\""
            if let m = didYouMean(s, among: choices) { msg += " (did you mean \"\(m)\"?)" }
            throw error(msg)
        }
        return s
    }

    /// A string that is one of `E`'s raw values (with did-you-mean on a miss).
    public func enumValue<E: RawRepresentable & CaseIterable>(of type: E.Type) throws(ConfigError) -> E where E.RawValue == String {
        E(rawValue: try choice(E.allCases.map(\.rawValue)))!
    }

    /// An array of strings, each one of `E`'s raw values (with did-you-mean on a miss).
    public func enumArray<E: RawRepresentable & CaseIterable>(of type: E.Type) throws(ConfigError) -> [E] where E.RawValue == String {
        var out: [E] = []
        for item in try array() {
            let name = try item.choice(E.allCases.map(\.rawValue))
            if let e = E(rawValue: name) { out.append(e) }
        }
        return out
    }

    public func array() throws(ConfigError) -> [JSONReader] {
        guard case .array(let items) = value else { throw error("expected an array, got \(value.kindDescription)") }
        return items.enumerated().map { JSONReader($0.element, path: "\(path)[\($0.offset)]", file: file) }
    }
}
