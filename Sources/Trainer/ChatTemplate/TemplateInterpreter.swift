import Foundation

/// Renders a parsed chat template: scopes (a `for` body's `set` stays in the body, as in Jinja2;
/// a `namespace` carries values out), loops with `loop`, and the filters, tests, methods and
/// globals templates use. An unknown filter, test or method is an error naming it.
struct TemplateInterpreter {
    var scopes: [[String: TemplateValue]]
    var out = ""

    init(globals: [String: TemplateValue]) { scopes = [globals] }

    enum Flow { case normal, breakLoop, continueLoop }

    mutating func render(_ nodes: [TemplateNode]) throws(TemplateError) -> String {
        _ = try run(nodes)
        return out
    }

    func lookup(_ name: String) -> TemplateValue {
        for scope in scopes.reversed() { if let v = scope[name] { return v } }
        return .undefined
    }

    mutating func run(_ nodes: [TemplateNode]) throws(TemplateError) -> Flow {
        for node in nodes {
            switch node {
            case .text(let s): out += s
            case .output(let e): out += try eval(e).printed
            case .branches(let branches, let otherwise):
                var chosen = otherwise
                for b in branches {
                    if try eval(b.condition).isTrue { chosen = b.body; break }
                }
                let flow = try run(chosen)
                if flow != .normal { return flow }
            case .loop(let names, let iterable, let filter, let body, let otherwise):
                try loop(names: names, iterable: iterable, filter: filter, body: body, otherwise: otherwise)
            case .assign(let name, let attribute, let value):
                let v = try eval(value)
                if let attribute {
                    guard case .namespace(let ns) = lookup(name) else {
                        throw TemplateError("\"set \(name).\(attribute)\": \(name) is not a namespace")
                    }
                    ns.attributes[attribute] = v
                } else {
                    scopes[scopes.count - 1][name] = v
                }
            case .breakLoop: return .breakLoop
            case .continueLoop: return .continueLoop
            }
        }
        return .normal
    }

    mutating func loop(names: [String], iterable: TemplateExpr, filter: TemplateExpr?, body: [TemplateNode],
                       otherwise: [TemplateNode]) throws(TemplateError) {
        var items = try iterate(try eval(iterable))
        if let filter {
            var kept: [TemplateValue] = []
            for item in items {
                scopes.append(try bind(names, to: item))
                let keep = try eval(filter).isTrue
                scopes.removeLast()
                if keep { kept.append(item) }
            }
            items = kept
        }
        guard !items.isEmpty else { _ = try run(otherwise); return }
        for (k, item) in items.enumerated() {
            var scope = try bind(names, to: item)
            let n = items.count
            scope["loop"] = .dict([
                ("index", .int(k + 1)), ("index0", .int(k)), ("revindex", .int(n - k)), ("revindex0", .int(n - k - 1)),
                ("first", .bool(k == 0)), ("last", .bool(k == n - 1)), ("length", .int(n)),
                ("previtem", k > 0 ? items[k - 1] : .undefined), ("nextitem", k + 1 < n ? items[k + 1] : .undefined),
            ])
            scopes.append(scope)
            let flow = try run(body)
            scopes.removeLast()
            if flow == .breakLoop { break }
        }
    }

    func bind(_ names: [String], to item: TemplateValue) throws(TemplateError) -> [String: TemplateValue] {
        guard names.count > 1 else { return [names[0]: item] }
        let parts = try iterate(item)
        guard parts.count == names.count else {
            throw TemplateError("cannot unpack \(parts.count) values into \(names.joined(separator: ", "))")
        }
        return Dictionary(uniqueKeysWithValues: zip(names, parts).map { ($0, $1) })
    }

    /// What `for` walks: a list's items, a dict's keys, a string's characters.
    func iterate(_ v: TemplateValue) throws(TemplateError) -> [TemplateValue] {
        switch v {
        case .list(let l): return l
        case .dict(let d): return d.map { .string($0.key) }
        case .string(let s): return s.map { .string(String($0)) }
        case .undefined: return []
        default: throw TemplateError("a \(v.typeName) is not iterable")
        }
    }

    // MARK: Expressions

    func eval(_ e: TemplateExpr) throws(TemplateError) -> TemplateValue {
        switch e {
        case .literal(let v): return v
        case .variable(let n): return lookup(n)
        case .list(let items):
            var l: [TemplateValue] = []
            for i in items { l.append(try eval(i)) }
            return .list(l)
        case .dict(let pairs):
            var d: [(key: String, value: TemplateValue)] = []
            for (k, v) in pairs {
                guard case .string(let key) = try eval(k) else { throw TemplateError("dict keys must be strings") }
                d.append((key, try eval(v)))
            }
            return .dict(d)
        case .attribute(let base, let name): return try attribute(try eval(base), name)
        case .item(let base, let index): return try item(try eval(base), try eval(index))
        case .slice(let base, let start, let stop, let step):
            return try slice(try eval(base), start: try start.map { x throws(TemplateError) in try eval(x) },
                             stop: try stop.map { x throws(TemplateError) in try eval(x) },
                             step: try step.map { x throws(TemplateError) in try eval(x) })
        case .call(let callee, let args, let keywords): return try call(callee, args: args, keywords: keywords)
        case .filter(let base, let name, let args, let keywords):
            var a: [TemplateValue] = []
            for x in args { a.append(try eval(x)) }
            var kw: [String: TemplateValue] = [:]
            for (n, x) in keywords { kw[n] = try eval(x) }
            return try TemplateFilters.apply(name, to: try eval(base), args: a, keywords: kw)
        case .test(let base, let name, let args, let negated):
            var a: [TemplateValue] = []
            for x in args { a.append(try eval(x)) }
            return .bool(try TemplateFilters.test(name, try eval(base), args: a) != negated)
        case .not(let x): return .bool(!(try eval(x)).isTrue)
        case .negate(let x):
            switch try eval(x) {
            case .int(let i): return .int(-i)
            case .double(let d): return .double(-d)
            case let v: throw TemplateError("cannot negate a \(v.typeName)")
            }
        case .binary(let op, let l, let r): return try binary(op, l, r)
        case .conditional(let condition, let value, let otherwise):
            if try eval(condition).isTrue { return try eval(value) }
            return try otherwise.map { x throws(TemplateError) in try eval(x) } ?? .undefined
        }
    }

    func binary(_ op: String, _ le: TemplateExpr, _ re: TemplateExpr) throws(TemplateError) -> TemplateValue {
        let l = try eval(le)
        switch op {
        case "and": return l.isTrue ? try eval(re) : l
        case "or": return l.isTrue ? l : try eval(re)
        default: break
        }
        let r = try eval(re)
        switch op {
        case "==": return .bool(TemplateValue.equal(l, r))
        case "!=": return .bool(!TemplateValue.equal(l, r))
        case "~": return .string(l.printed + r.printed)
        case "in":
            switch r {
            case .string(let s):
                guard case .string(let x) = l else { throw TemplateError("'in <string>' needs a string on the left, not a \(l.typeName)") }
                return .bool(x.isEmpty || s.contains(x))
            case .list(let items): return .bool(items.contains { TemplateValue.equal($0, l) })
            case .dict(let d):
                guard case .string(let k) = l else { return .bool(false) }
                return .bool(d.contains { $0.key == k })
            case .undefined: throw TemplateError("'in' an undefined value")
            default: throw TemplateError("'in' a \(r.typeName)")
            }
        case "<", ">", "<=", ">=":
            let order: ComparisonResult
            if case .string(let a) = l, case .string(let b) = r {
                order = a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) ? .orderedAscending : (a == b ? .orderedSame : .orderedDescending)
            } else if let a = l.number, let b = r.number {
                order = a < b ? .orderedAscending : (a == b ? .orderedSame : .orderedDescending)
            } else {
                throw TemplateError("cannot compare a \(l.typeName) with a \(r.typeName)")
            }
            switch op {
            case "<": return .bool(order == .orderedAscending)
            case ">": return .bool(order == .orderedDescending)
            case "<=": return .bool(order != .orderedDescending)
            default: return .bool(order != .orderedAscending)
            }
        case "+":
            switch (l, r) {
            case let (.string(a), .string(b)): return .string(a + b)
            case let (.list(a), .list(b)): return .list(a + b)
            default: return try arithmetic(op, l, r)
            }
        default: return try arithmetic(op, l, r)
        }
    }

    func arithmetic(_ op: String, _ l: TemplateValue, _ r: TemplateValue) throws(TemplateError) -> TemplateValue {
        if op == "*", case .string(let s) = l, case .int(let n) = r { return .string(String(repeating: s, count: max(n, 0))) }
        guard let a = l.number, let b = r.number else {
            throw TemplateError("unsupported operand types for \(op): \(l.typeName) and \(r.typeName)")
        }
        let integers: Bool = { if case .double = l { return false }; if case .double = r { return false }; return true }()
        switch op {
        case "+": return integers ? .int(Int(a) + Int(b)) : .double(a + b)
        case "-": return integers ? .int(Int(a) - Int(b)) : .double(a - b)
        case "*": return integers ? .int(Int(a) * Int(b)) : .double(a * b)
        case "/":
            guard b != 0 else { throw TemplateError("division by zero") }
            return .double(a / b)
        case "//":
            guard b != 0 else { throw TemplateError("division by zero") }
            return integers ? .int(Int((a / b).rounded(.down))) : .double((a / b).rounded(.down))
        case "%":
            guard b != 0 else { throw TemplateError("modulo by zero") }
            let m = a - b * (a / b).rounded(.down)  // Python's sign convention
            return integers ? .int(Int(m)) : .double(m)
        default: throw TemplateError("unknown operator \(op)")
        }
    }

    func attribute(_ v: TemplateValue, _ name: String) throws(TemplateError) -> TemplateValue {
        switch v {
        case .dict(let d): return d.first { $0.key == name }?.value ?? .undefined
        case .namespace(let ns): return ns.attributes[name] ?? .undefined
        case .undefined: throw TemplateError("\"\(name)\" of an undefined value")
        default: return .undefined
        }
    }

    func item(_ v: TemplateValue, _ index: TemplateValue) throws(TemplateError) -> TemplateValue {
        switch (v, index) {
        case let (.list(l), .int(i)):
            let k = i < 0 ? l.count + i : i
            return k >= 0 && k < l.count ? l[k] : .undefined
        case let (.string(s), .int(i)):
            let chars = Array(s), k = i < 0 ? chars.count + i : i
            return k >= 0 && k < chars.count ? .string(String(chars[k])) : .undefined
        case let (_, .string(name)): return try attribute(v, name)
        case (.undefined, _): throw TemplateError("an item of an undefined value")
        default: return .undefined
        }
    }

    func slice(_ v: TemplateValue, start: TemplateValue?, stop: TemplateValue?, step: TemplateValue?) throws(TemplateError) -> TemplateValue {
        func int(_ x: TemplateValue?) throws(TemplateError) -> Int? {
            guard let x, x.isDefined else { return nil }
            if case .none = x { return nil }
            guard case .int(let i) = x else { throw TemplateError("slice indices must be integers") }
            return i
        }
        let stepValue = try int(step) ?? 1
        guard stepValue != 0 else { throw TemplateError("slice step cannot be zero") }
        func indices(_ n: Int) throws(TemplateError) -> [Int] {
            func clamp(_ i: Int?, _ fallback: Int, lo: Int, hi: Int) -> Int {
                guard let i else { return fallback }
                return min(max(i < 0 ? i + n : i, lo), hi)
            }
            if stepValue > 0 {
                let a = clamp(try int(start), 0, lo: 0, hi: n), b = clamp(try int(stop), n, lo: 0, hi: n)
                return Array(stride(from: a, to: b, by: stepValue))
            }
            let a = clamp(try int(start), n - 1, lo: -1, hi: n - 1), b = clamp(try int(stop), -1, lo: -1, hi: n - 1)
            return Array(stride(from: a, to: b, by: stepValue))
        }
        switch v {
        case .list(let l): return .list(try indices(l.count).map { l[$0] })
        case .string(let s):
            let chars = Array(s)
            return .string(String(try indices(chars.count).map { chars[$0] }))
        default: throw TemplateError("cannot slice a \(v.typeName)")
        }
    }

    func call(_ callee: TemplateExpr, args argExprs: [TemplateExpr],
                       keywords: [(name: String, value: TemplateExpr)]) throws(TemplateError) -> TemplateValue {
        var args: [TemplateValue] = []
        for a in argExprs { args.append(try eval(a)) }
        var kw: [(String, TemplateValue)] = []
        for (n, x) in keywords { kw.append((n, try eval(x))) }
        if case .attribute(let baseExpr, let method) = callee {
            return try TemplateFilters.method(method, on: try eval(baseExpr), args: args)
        }
        guard case .variable(let name) = callee else { throw TemplateError("only functions and methods can be called") }
        switch name {
        case "raise_exception":
            throw TemplateError(args.first?.printed ?? "raise_exception")
        case "namespace":
            var attributes: [String: TemplateValue] = [:]
            for (n, v) in kw { attributes[n] = v }
            return .namespace(TemplateNamespace(attributes))
        case "range":
            let ints = args.compactMap { v -> Int? in if case .int(let i) = v { return i }; return nil }
            guard ints.count == args.count, (1...3).contains(ints.count) else { throw TemplateError("range takes 1 to 3 integers") }
            let (a, b, s) = ints.count == 1 ? (0, ints[0], 1) : (ints[0], ints[1], ints.count == 3 ? ints[2] : 1)
            guard s != 0 else { throw TemplateError("range step cannot be zero") }
            return .list(stride(from: a, to: b, by: s).map { .int($0) })
        case "strftime_now":
            guard case .string(let format)? = args.first else { throw TemplateError("strftime_now takes a format string") }
            return .string(TemplateFilters.strftime(format, Date()))
        default:
            throw TemplateError("unknown function \"\(name)\" (known: raise_exception, namespace, range, strftime_now)")
        }
    }
}
