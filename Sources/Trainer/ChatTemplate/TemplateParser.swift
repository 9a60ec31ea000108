/// A statement of a chat template.
indirect enum TemplateNode: Sendable {
    case text(String)
    case output(TemplateExpr)
    case branches([(condition: TemplateExpr, body: [TemplateNode])], otherwise: [TemplateNode])
    case loop(names: [String], iterable: TemplateExpr, filter: TemplateExpr?, body: [TemplateNode], otherwise: [TemplateNode])
    /// `set name = …`, or `set ns.attr = …` when `attribute` is given.
    case assign(name: String, attribute: String?, value: TemplateExpr)
    case breakLoop, continueLoop
}

/// An expression of a chat template.
indirect enum TemplateExpr: Sendable {
    case literal(TemplateValue)
    case variable(String)
    case list([TemplateExpr])
    case dict([(key: TemplateExpr, value: TemplateExpr)])
    case attribute(TemplateExpr, String)
    case item(TemplateExpr, TemplateExpr)
    case slice(TemplateExpr, start: TemplateExpr?, stop: TemplateExpr?, step: TemplateExpr?)
    case call(TemplateExpr, args: [TemplateExpr], keywords: [(name: String, value: TemplateExpr)])
    case filter(TemplateExpr, name: String, args: [TemplateExpr], keywords: [(name: String, value: TemplateExpr)])
    case test(TemplateExpr, name: String, args: [TemplateExpr], negated: Bool)
    case not(TemplateExpr)
    case negate(TemplateExpr)
    case binary(String, TemplateExpr, TemplateExpr)
    case conditional(TemplateExpr, then: TemplateExpr, otherwise: TemplateExpr?)
}

/// Recursive descent over the lexer's tokens, with Jinja2's precedence (loosest first): `x if c
/// else y`, `or`, `and`, `not`, comparisons and `in`, `+ -`, `~`, `* / // %`, unary minus,
/// then filters and tests, then `.attr`, `[item]`, `(call)`.
struct TemplateParser {
    var tokens: [TemplateToken]
    var p = 0

    init(source: String) throws(TemplateError) {
        var lexer = TemplateLexer(source)
        tokens = try lexer.run()
    }

    mutating func parseDocument() throws(TemplateError) -> [TemplateNode] {
        let (body, end) = try parseBody(until: [])
        if let end { throw TemplateError("\"\(end)\" without the block it closes") }
        return body
    }

    var peek: TemplateToken? { p < tokens.count ? tokens[p] : nil }

    mutating func next() throws(TemplateError) -> TemplateToken {
        guard p < tokens.count else { throw TemplateError("the template ends inside a tag") }
        p += 1
        return tokens[p - 1]
    }

    mutating func expect(_ t: TemplateToken, _ what: String) throws(TemplateError) {
        let got = try next()
        guard got == t else { throw TemplateError("expected \(what), found \(Self.describe(got))") }
    }

    mutating func accept(_ t: TemplateToken) -> Bool {
        if peek == t { p += 1; return true }
        return false
    }

    mutating func name() throws(TemplateError) -> String {
        let t = try next()
        guard case .name(let n) = t else { throw TemplateError("expected a name, found \(Self.describe(t))") }
        return n
    }

    static func describe(_ t: TemplateToken) -> String {
        switch t {
        case .text: return "text"
        case .blockStart: return "{%"
        case .blockEnd: return "%}"
        case .outputStart: return "{{"
        case .outputEnd: return "}}"
        case .name(let n): return "\"\(n)\""
        case .string(let s): return "'\(s)'"
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .op(let o): return "\"\(o)\""
        }
    }

    /// Nodes up to a block tag whose keyword is in `ends` (consumed up to the keyword); returns the keyword.
    mutating func parseBody(until ends: Set<String>) throws(TemplateError) -> ([TemplateNode], String?) {
        var nodes: [TemplateNode] = []
        while let t = peek {
            p += 1
            switch t {
            case .text(let s): nodes.append(.text(s))
            case .outputStart:
                nodes.append(.output(try expression()))
                try expect(.outputEnd, "}}")
            case .blockStart:
                let keyword = try name()
                if ends.contains(keyword) { return (nodes, keyword) }
                if let node = try statement(keyword) { nodes.append(node) }
            default: throw TemplateError("unexpected \(Self.describe(t))")
            }
        }
        guard ends.isEmpty else { throw TemplateError("the template ends before " + ends.sorted().joined(separator: " or ")) }
        return (nodes, nil)
    }

    /// A statement after its keyword (the `{%` and the keyword consumed); nil for one that renders nothing.
    mutating func statement(_ keyword: String) throws(TemplateError) -> TemplateNode? {
        switch keyword {
        case "if":
            var branches: [(condition: TemplateExpr, body: [TemplateNode])] = []
            var condition = try expression()
            while true {
                try expect(.blockEnd, "%}")
                let (body, end) = try parseBody(until: ["elif", "else", "endif"])
                branches.append((condition, body))
                switch end ?? "" {
                case "elif": condition = try expression()
                case "else":
                    try expect(.blockEnd, "%}")
                    let (otherwise, _) = try parseBody(until: ["endif"])
                    try expect(.blockEnd, "%}")
                    return .branches(branches, otherwise: otherwise)
                default:
                    try expect(.blockEnd, "%}")
                    return .branches(branches, otherwise: [])
                }
            }
        case "for":
            var names = [try name()]
            while accept(.op(",")) { names.append(try name()) }
            try expect(.name("in"), "\"in\"")
            let iterable = try conditionalFree()
            let filter = accept(.name("if")) ? try conditionalFree() : nil
            try expect(.blockEnd, "%}")
            let (body, end) = try parseBody(until: ["else", "endfor"])
            var otherwise: [TemplateNode] = []
            if end == "else" {
                try expect(.blockEnd, "%}")
                otherwise = try parseBody(until: ["endfor"]).0
            }
            try expect(.blockEnd, "%}")
            return .loop(names: names, iterable: iterable, filter: filter, body: body, otherwise: otherwise)
        case "set":
            let target = try name()
            let attribute = accept(.op(".")) ? try name() : nil
            guard accept(.op("=")) else { throw TemplateError("\"set \(target)\" without \"=\": block assignments are not supported") }
            let value = try expression()
            try expect(.blockEnd, "%}")
            return .assign(name: target, attribute: attribute, value: value)
        case "break", "continue":
            try expect(.blockEnd, "%}")
            return keyword == "break" ? .breakLoop : .continueLoop
        case "generation", "endgeneration":
            // transformers' marker for assistant tokens: renders nothing itself.
            try expect(.blockEnd, "%}")
            return nil
        default:
            throw TemplateError("the statement \"\(keyword)\" is not supported (supported: if, for, set, break, continue, generation)")
        }
    }

    // MARK: Expressions

    mutating func expression() throws(TemplateError) -> TemplateExpr {
        let value = try orExpression()
        guard accept(.name("if")) else { return value }
        let condition = try orExpression()
        let otherwise = accept(.name("else")) ? try expression() : nil
        return .conditional(condition, then: value, otherwise: otherwise)
    }

    /// An expression without a trailing `if` (a `for` loop's iterable, before its filter).
    mutating func conditionalFree() throws(TemplateError) -> TemplateExpr { try orExpression() }

    mutating func orExpression() throws(TemplateError) -> TemplateExpr {
        var e = try andExpression()
        while accept(.name("or")) { e = .binary("or", e, try andExpression()) }
        return e
    }

    mutating func andExpression() throws(TemplateError) -> TemplateExpr {
        var e = try notExpression()
        while accept(.name("and")) { e = .binary("and", e, try notExpression()) }
        return e
    }

    mutating func notExpression() throws(TemplateError) -> TemplateExpr {
        if accept(.name("not")) { return .not(try notExpression()) }
        return try comparison()
    }

    mutating func comparison() throws(TemplateError) -> TemplateExpr {
        var e = try additive()
        while true {
            if case .op(let o)? = peek, ["==", "!=", "<", ">", "<=", ">="].contains(o) {
                p += 1
                e = .binary(o, e, try additive())
            } else if accept(.name("in")) {
                e = .binary("in", e, try additive())
            } else if peek == .name("not"), p + 1 < tokens.count, tokens[p + 1] == .name("in") {
                p += 2
                e = .not(.binary("in", e, try additive()))
            } else {
                return e
            }
        }
    }

    mutating func additive() throws(TemplateError) -> TemplateExpr {
        var e = try concatenation()
        while case .op(let o)? = peek, o == "+" || o == "-" {
            p += 1
            e = .binary(o, e, try concatenation())
        }
        return e
    }

    mutating func concatenation() throws(TemplateError) -> TemplateExpr {
        var e = try multiplicative()
        while accept(.op("~")) { e = .binary("~", e, try multiplicative()) }
        return e
    }

    mutating func multiplicative() throws(TemplateError) -> TemplateExpr {
        var e = try unary()
        while case .op(let o)? = peek, ["*", "/", "//", "%"].contains(o) {
            p += 1
            e = .binary(o, e, try unary())
        }
        return e
    }

    mutating func unary() throws(TemplateError) -> TemplateExpr {
        if accept(.op("-")) { return .negate(try unary()) }
        if accept(.op("+")) { return try unary() }
        return try filtered(try postfix(try primary()))
    }

    /// `| name(args)` filters and `is [not] name(args)` tests, left to right.
    mutating func filtered(_ base: TemplateExpr) throws(TemplateError) -> TemplateExpr {
        var e = base
        while true {
            if accept(.op("|")) {
                let n = try name()
                let (args, keywords) = accept(.op("(")) ? try arguments() : ([], [])
                e = .filter(e, name: n, args: args, keywords: keywords)
            } else if accept(.name("is")) {
                let negated = accept(.name("not"))
                let t = try name()
                var args: [TemplateExpr] = []
                if accept(.op("(")) {
                    args = try arguments().0
                } else if let next = peek, Self.startsTestArgument(next) {
                    args = [try postfix(try primary())]
                }
                e = .test(e, name: t, args: args, negated: negated)
            } else {
                return e
            }
        }
    }

    /// `x is sameas y`, `x is divisibleby 3`: a test's lone argument without parentheses.
    static func startsTestArgument(_ t: TemplateToken) -> Bool {
        switch t {
        case .string, .int, .double: return true
        case .name(let n): return !["and", "or", "if", "else", "in", "not", "is"].contains(n)
        default: return false
        }
    }

    mutating func postfix(_ base: TemplateExpr) throws(TemplateError) -> TemplateExpr {
        var e = base
        while true {
            if accept(.op(".")) {
                let t = try next()
                switch t {
                case .name(let n): e = .attribute(e, n)
                case .int(let i): e = .item(e, .literal(.int(i)))
                default: throw TemplateError("expected an attribute name after \".\", found \(Self.describe(t))")
                }
            } else if accept(.op("[")) {
                e = try subscriptOrSlice(e)
            } else if accept(.op("(")) {
                let (args, keywords) = try arguments()
                e = .call(e, args: args, keywords: keywords)
            } else {
                return e
            }
        }
    }

    mutating func subscriptOrSlice(_ base: TemplateExpr) throws(TemplateError) -> TemplateExpr {
        var parts: [TemplateExpr?] = [nil]
        var colons = 0
        while !accept(.op("]")) {
            if accept(.op(":")) {
                colons += 1
                guard colons <= 2 else { throw TemplateError("a slice has at most two \":\"") }
                parts.append(nil)
                continue
            }
            guard parts[parts.count - 1] == nil else { throw TemplateError("expected \"]\" or \":\" in a subscript") }
            parts[parts.count - 1] = try expression()
        }
        if colons == 0 {
            guard let index = parts[0] else { throw TemplateError("an empty subscript") }
            return .item(base, index)
        }
        return .slice(base, start: parts[0], stop: parts.count > 1 ? parts[1] : nil, step: parts.count > 2 ? parts[2] : nil)
    }

    /// Call arguments after "(": positional, then `name=value`; consumes ")".
    mutating func arguments() throws(TemplateError) -> ([TemplateExpr], [(name: String, value: TemplateExpr)]) {
        var args: [TemplateExpr] = [], keywords: [(name: String, value: TemplateExpr)] = []
        while !accept(.op(")")) {
            if !args.isEmpty || !keywords.isEmpty { try expect(.op(","), "\",\" or \")\"") }
            if accept(.op(")")) { break }
            if case .name(let n)? = peek, p + 1 < tokens.count, tokens[p + 1] == .op("=") {
                p += 2
                keywords.append((n, try expression()))
            } else {
                args.append(try expression())
            }
        }
        return (args, keywords)
    }

    mutating func primary() throws(TemplateError) -> TemplateExpr {
        let t = try next()
        switch t {
        case .string(var s):
            while case .string(let more)? = peek { s += more; p += 1 }  // adjacent literals join, as in Python
            return .literal(.string(s))
        case .int(let i): return .literal(.int(i))
        case .double(let d): return .literal(.double(d))
        case .name(let n):
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .variable(n)
            }
        case .op("("):
            let e = try expression()
            if accept(.op(",")) {  // a tuple: a list will do for what templates iterate over
                var items = [e]
                while !accept(.op(")")) {
                    items.append(try expression())
                    if !accept(.op(",")) { try expect(.op(")"), "\")\""); break }
                }
                return .list(items)
            }
            try expect(.op(")"), "\")\"")
            return e
        case .op("["):
            var items: [TemplateExpr] = []
            while !accept(.op("]")) {
                if !items.isEmpty { try expect(.op(","), "\",\" or \"]\""); if accept(.op("]")) { break } }
                items.append(try expression())
            }
            return .list(items)
        case .op("{"):
            var pairs: [(key: TemplateExpr, value: TemplateExpr)] = []
            while !accept(.op("}")) {
                if !pairs.isEmpty { try expect(.op(","), "\",\" or \"}\""); if accept(.op("}")) { break } }
                let key = try expression()
                try expect(.op(":"), "\":\"")
                pairs.append((key, try expression()))
            }
            return .dict(pairs)
        default:
            throw TemplateError("expected a value, found \(Self.describe(t))")
        }
    }
}
