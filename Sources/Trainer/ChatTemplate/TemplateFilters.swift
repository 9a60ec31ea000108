import Foundation

/// The filters, tests and methods chat templates call, with Jinja2's and Python's meaning.
enum TemplateFilters {
    static func apply(_ name: String, to v: TemplateValue, args: [TemplateValue],
                      keywords: [String: TemplateValue]) throws(TemplateError) -> TemplateValue {
        switch name {
        case "trim":
            guard case .string(let s) = v else { return .string(v.printed.trimmingCharacters(in: .whitespacesAndNewlines)) }
            return .string(s.trimmingCharacters(in: .whitespacesAndNewlines))
        case "length", "count":
            switch v {
            case .string(let s): return .int(s.count)
            case .list(let l): return .int(l.count)
            case .dict(let d): return .int(d.count)
            case .undefined: return .int(0)
            default: throw TemplateError("\(name) of a \(v.typeName)")
            }
        case "upper": return .string(v.printed.uppercased())
        case "lower": return .string(v.printed.lowercased())
        case "capitalize": return .string(v.printed.prefix(1).uppercased() + v.printed.dropFirst().lowercased())
        case "string": return .string(v.printed)
        case "tojson":
            let indent: Int? = { if case .int(let i)? = keywords["indent"] ?? args.first { return i }; return nil }()
            return .string(try v.json(indent: indent))
        case "first", "last":
            guard case .list(let l) = v else { throw TemplateError("\(name) of a \(v.typeName)") }
            return (name == "first" ? l.first : l.last) ?? .undefined
        case "join":
            let separator = args.first?.printed ?? ""
            guard case .list(let l) = v else { throw TemplateError("join of a \(v.typeName)") }
            return .string(l.map(\.printed).joined(separator: separator))
        case "default", "d":
            let fallback = args.first ?? .string("")
            let orFalse = args.count > 1 && args[1].isTrue
            return !v.isDefined || (orFalse && !v.isTrue) ? fallback : v
        case "list":
            switch v {
            case .list: return v
            case .string(let s): return .list(s.map { .string(String($0)) })
            case .dict(let d): return .list(d.map { .string($0.key) })
            default: throw TemplateError("list of a \(v.typeName)")
            }
        case "reverse":
            switch v {
            case .list(let l): return .list(l.reversed())
            case .string(let s): return .string(String(s.reversed()))
            default: throw TemplateError("reverse of a \(v.typeName)")
            }
        case "items":
            guard case .dict(let d) = v else { throw TemplateError("items of a \(v.typeName)") }
            return .list(d.map { .list([.string($0.key), $0.value]) })
        case "int":
            if case .string(let s) = v { return .int(Int(s.trimmingCharacters(in: .whitespaces)) ?? 0) }
            return .int(Int(v.number ?? 0))
        case "float":
            if case .string(let s) = v { return .double(Double(s.trimmingCharacters(in: .whitespaces)) ?? 0) }
            return .double(v.number ?? 0)
        case "abs":
            if case .int(let i) = v { return .int(abs(i)) }
            return .double(abs(v.number ?? 0))
        default:
            throw TemplateError("unknown filter \"\(name)\"")
        }
    }

    static func test(_ name: String, _ v: TemplateValue, args: [TemplateValue]) throws(TemplateError) -> Bool {
        switch name {
        case "defined": return v.isDefined
        case "undefined": return !v.isDefined
        case "none": if case .none = v { return true }; return false
        case "string": if case .string = v { return true }; return false
        case "number": switch v { case .int, .double: return true; default: return false }
        case "integer": if case .int = v { return true }; return false
        case "float": if case .double = v { return true }; return false
        case "boolean": if case .bool = v { return true }; return false
        case "true": if case .bool(true) = v { return true }; return false
        case "false": if case .bool(false) = v { return true }; return false
        case "mapping": if case .dict = v { return true }; return false
        case "sequence", "iterable": switch v { case .list, .string, .dict: return true; default: return false }
        case "odd", "even":
            guard case .int(let i) = v else { throw TemplateError("\(name) of a \(v.typeName)") }
            return (i % 2 != 0) == (name == "odd")
        case "divisibleby":
            guard case .int(let i) = v, case .int(let d)? = args.first, d != 0 else { throw TemplateError("divisibleby needs integers") }
            return i % d == 0
        case "eq", "equalto", "sameas": return TemplateValue.equal(v, args.first ?? .undefined)
        case "ne": return !TemplateValue.equal(v, args.first ?? .undefined)
        default: throw TemplateError("unknown test \"\(name)\"")
        }
    }

    /// `x.method(args)`: Python's string and dict methods templates use.
    static func method(_ name: String, on v: TemplateValue, args: [TemplateValue]) throws(TemplateError) -> TemplateValue {
        switch v {
        case .string(let s): return try stringMethod(name, s, args: args)
        case .dict(let d):
            switch name {
            case "items": return .list(d.map { .list([.string($0.key), $0.value]) })
            case "keys": return .list(d.map { .string($0.key) })
            case "values": return .list(d.map(\.value))
            case "get":
                guard case .string(let k)? = args.first else { throw TemplateError("get needs a key") }
                return d.first { $0.key == k }?.value ?? (args.count > 1 ? args[1] : .none)
            default: break
            }
        default: break
        }
        throw TemplateError("a \(v.typeName) has no method \"\(name)\"")
    }

    static func stringMethod(_ name: String, _ s: String, args: [TemplateValue]) throws(TemplateError) -> TemplateValue {
        let arg: String? = { if case .string(let a)? = args.first { return a }; return nil }()
        func strip(_ leading: Bool, _ trailing: Bool) -> String {
            let set = arg.map { CharacterSet(charactersIn: $0) } ?? .whitespacesAndNewlines
            let scalars = Array(s.unicodeScalars)
            var lo = 0, hi = scalars.count
            while leading && lo < hi && set.contains(scalars[lo]) { lo += 1 }
            while trailing && hi > lo && set.contains(scalars[hi - 1]) { hi -= 1 }
            return String(String.UnicodeScalarView(scalars[lo..<hi]))
        }
        switch name {
        case "strip": return .string(strip(true, true))
        case "lstrip": return .string(strip(true, false))
        case "rstrip": return .string(strip(false, true))
        case "upper": return .string(s.uppercased())
        case "lower": return .string(s.lowercased())
        case "title": return .string(s.capitalized)
        case "startswith", "endswith":
            guard let arg else { throw TemplateError("\(name) needs a string") }
            return .bool(name == "startswith" ? s.hasPrefix(arg) : s.hasSuffix(arg))
        case "split":
            if let arg { return .list(s.components(separatedBy: arg).map { .string($0) }) }
            return .list(s.split(whereSeparator: { $0.isWhitespace }).map { .string(String($0)) })
        case "replace":
            guard args.count >= 2, case .string(let a) = args[0], case .string(let b) = args[1] else {
                throw TemplateError("replace needs two strings")
            }
            return .string(s.replacingOccurrences(of: a, with: b))
        default: throw TemplateError("a string has no method \"\(name)\"")
        }
    }

    /// Python's `strftime` for the directives templates use (`%d %b %Y`, `%B`, `%m`, `%y`, `%H:%M`).
    static func strftime(_ format: String, _ date: Date) -> String {
        let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone.current, from: date)
        let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
                      "December"]
        var out = "", chars = Array(format)[...]
        while let ch = chars.popFirst() {
            guard ch == "%", let d = chars.popFirst() else { out.append(ch); continue }
            switch d {
            case "d": out += String(format: "%02d", c.day ?? 1)
            case "m": out += String(format: "%02d", c.month ?? 1)
            case "Y": out += String(c.year ?? 1970)
            case "y": out += String(format: "%02d", (c.year ?? 1970) % 100)
            case "b": out += String(months[(c.month ?? 1) - 1].prefix(3))
            case "B": out += months[(c.month ?? 1) - 1]
            case "H": out += String(format: "%02d", c.hour ?? 0)
            case "M": out += String(format: "%02d", c.minute ?? 0)
            case "%": out += "%"
            default: out += "%" + String(d)
            }
        }
        return out
    }
}
