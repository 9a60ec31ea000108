import JSONKit
import Foundation

/// A value inside a chat template, with Jinja's (Python's) semantics for truth, printing,
/// equality and `tojson`. `undefined` is what a missing variable, key or attribute gives: it
/// prints as nothing and is false, as Jinja's default `Undefined`.
indirect enum TemplateValue: Sendable {
    case undefined
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([TemplateValue])
    case dict([(key: String, value: TemplateValue)])
    /// `namespace(...)`: the one mutable object, shared by reference across scopes.
    case namespace(TemplateNamespace)

    init(json: JSONValue) {
        switch json {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .number(let d, let text):
            self = !text.contains(".") && !text.contains("e") && !text.contains("E") && d.magnitude < 9e15 ? .int(Int(d)) : .double(d)
        case .string(let s): self = .string(s)
        case .array(let a): self = .list(a.map(TemplateValue.init(json:)))
        case .object(let m): self = .dict(m.map { ($0.key, TemplateValue(json: $0.value)) })
        }
    }

    var isTrue: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let l): return !l.isEmpty
        case .dict(let d): return !d.isEmpty
        case .namespace: return true
        }
    }

    var isDefined: Bool { if case .undefined = self { return false }; return true }

    /// `{{ x }}` and `~`: Python's `str`.
    var printed: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return Self.pythonFloat(d)
        case .string(let s): return s
        case .list(let l): return "[" + l.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .dict(let d): return "{" + d.map { "'\($0.key)': \($0.value.pythonRepr)" }.joined(separator: ", ") + "}"
        case .namespace: return "<Namespace>"
        }
    }

    /// Python's `repr`, as a list or dict prints its items.
    var pythonRepr: String {
        if case .string(let s) = self {
            return "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
                .replacingOccurrences(of: "\n", with: "\\n") + "'"
        }
        return printed
    }

    static func pythonFloat(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d > 0 ? "inf" : "-inf" }
        if d == d.rounded(), d.magnitude < 1e16 { return String(format: "%.1f", d) }
        return "\(d)"
    }

    /// Python's `==` over these types (1 == 1.0 == True).
    static func equal(_ a: TemplateValue, _ b: TemplateValue) -> Bool {
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.string(x), .string(y)): return x == y
        case let (.list(x), .list(y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case let (.dict(x), .dict(y)):
            return x.count == y.count && x.allSatisfy { kv in y.contains { $0.key == kv.key && equal($0.value, kv.value) } }
        case let (.namespace(x), .namespace(y)): return x === y
        default:
            guard let x = a.number, let y = b.number else { return false }
            return x == y
        }
    }

    /// The numeric value of a bool, int or double.
    var number: Double? {
        switch self {
        case .bool(let b): return b ? 1 : 0
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    var typeName: String {
        switch self {
        case .undefined: return "undefined"
        case .none: return "none"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "string"
        case .list: return "list"
        case .dict: return "dict"
        case .namespace: return "namespace"
        }
    }

    /// `tojson`: Python's `json.dumps(x, ensure_ascii=False, indent=indent)`, separators ", " and ": "
    /// without an indent (transformers' own `tojson` filter).
    func json(indent: Int?, depth: Int = 0) throws(TemplateError) -> String {
        func pad(_ d: Int) -> String { indent.map { "\n" + String(repeating: " ", count: $0 * d) } ?? "" }
        switch self {
        case .undefined: throw TemplateError("tojson of an undefined value")
        case .none: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? Self.pythonFloat(d) : (d.isNaN ? "NaN" : (d > 0 ? "Infinity" : "-Infinity"))
        case .string(let s): return Self.jsonString(s)
        case .list(let l):
            guard !l.isEmpty else { return "[]" }
            var parts: [String] = []
            for v in l { parts.append(try v.json(indent: indent, depth: depth + 1)) }
            return "[" + pad(depth + 1) + parts.joined(separator: indent == nil ? ", " : "," + pad(depth + 1)) + pad(depth) + "]"
        case .dict(let d):
            guard !d.isEmpty else { return "{}" }
            var parts: [String] = []
            for (k, v) in d {
                parts.append(Self.jsonString(k) + ": " + (try v.json(indent: indent, depth: depth + 1)))
            }
            return "{" + pad(depth + 1) + parts.joined(separator: indent == nil ? ", " : "," + pad(depth + 1)) + pad(depth) + "}"
        case .namespace: throw TemplateError("tojson of a namespace")
        }
    }
}

extension TemplateValue {
    /// A JSON string as Python's `json.dumps` writes it with `ensure_ascii=False`.
    static func jsonString(_ s: String) -> String {
        var out = ""
        JSONValue.writeString(s, to: &out)
        return out
    }
}

/// The state of a `namespace(...)`: attributes a loop body may set and code after the loop reads.
final class TemplateNamespace: @unchecked Sendable {
    var attributes: [String: TemplateValue]
    init(_ attributes: [String: TemplateValue]) { self.attributes = attributes }
}
