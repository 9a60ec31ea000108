/// A token of a chat template: text outside tags, tag delimiters, and the tokens of expressions.
enum TemplateToken: Equatable, Sendable {
    case text(String)
    case blockStart, blockEnd, outputStart, outputEnd
    case name(String), string(String), int(Int), double(Double), op(String)
}

/// Splits a template into tokens with Jinja2's whitespace rules as transformers sets them
/// (`trim_blocks`, `lstrip_blocks`): a block or comment tag alone on its line takes its
/// indentation and the newline after it; `-` at a tag's edge strips all whitespace on that side;
/// `+` turns the two rules off for that edge.
struct TemplateLexer {
    let s: [Unicode.Scalar]
    var i = 0
    var tokens: [TemplateToken] = []
    /// Strip the next text's leading whitespace (a `-` closed the last tag).
    var stripNext = false

    init(_ source: String) { s = Array(source.unicodeScalars) }

    static let operators = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "(", ")", "[", "]", "{", "}",
                            ",", ":", ".", "|", "="]

    mutating func run() throws(TemplateError) -> [TemplateToken] {
        while i < s.count {
            guard let open = nextTagStart(from: i) else { emitText(i..<s.count, before: nil); break }
            let kind = s[open + 1]
            var k = open + 2
            var modifier: Unicode.Scalar?
            if k < s.count, s[k] == "-" || s[k] == "+" { modifier = s[k]; k += 1 }
            emitText(i..<open, before: (kind, modifier))
            if kind == "#" {
                guard let close = find("#}", from: k) else { throw TemplateError("a comment opened at \(location(open)) is not closed") }
                i = close + 2
                afterTag(block: true, modifier: close > k && s[close - 1] == "-" ? "-" : (close > k && s[close - 1] == "+" ? "+" : nil))
                continue
            }
            tokens.append(kind == "%" ? .blockStart : .outputStart)
            i = k
            let closing = try lexExpression(block: kind == "%", opened: open)
            tokens.append(kind == "%" ? .blockEnd : .outputEnd)
            afterTag(block: kind == "%", modifier: closing)
        }
        return tokens
    }

    func nextTagStart(from p: Int) -> Int? {
        var j = p
        while j + 1 < s.count {
            if s[j] == "{", s[j + 1] == "{" || s[j + 1] == "%" || s[j + 1] == "#" { return j }
            j += 1
        }
        return nil
    }

    func find(_ text: String, from p: Int) -> Int? {
        let t = Array(text.unicodeScalars)
        var j = p
        while j + t.count <= s.count {
            if s[j..<(j + t.count)].elementsEqual(t) { return j }
            j += 1
        }
        return nil
    }

    func location(_ p: Int) -> String { "line \(s[..<p].filter { $0 == "\n" }.count + 1)" }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 48 && c.value <= 57 }

    static func isSpace(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" || c == "\n" || c == "\r" }

    /// The text of `range` after the whitespace rules: the last tag's `-`, and the next tag's `-` or
    /// `lstrip_blocks` (block and comment tags only, the line's indentation when nothing else precedes the tag).
    mutating func emitText(_ range: Range<Int>, before tag: (kind: Unicode.Scalar, modifier: Unicode.Scalar?)?) {
        var lo = range.lowerBound, hi = range.upperBound
        if stripNext { while lo < hi && Self.isSpace(s[lo]) { lo += 1 } }
        stripNext = false
        if let tag {
            if tag.modifier == "-" {
                while hi > lo && Self.isSpace(s[hi - 1]) { hi -= 1 }
            } else if tag.kind != "{" && tag.modifier != "+" {
                var j = hi
                while j > lo && (s[j - 1] == " " || s[j - 1] == "\t") { j -= 1 }
                if (j > lo && s[j - 1] == "\n") || (j == lo && (lo == 0 || s[lo - 1] == "\n")) { hi = j }
            }
        }
        if lo < hi {
            var v = String.UnicodeScalarView()
            v.append(contentsOf: s[lo..<hi])
            tokens.append(.text(String(v)))
        }
    }

    /// After a tag: `-` strips the next text's leading whitespace; a block tag without `+` drops one newline.
    mutating func afterTag(block: Bool, modifier: Unicode.Scalar?) {
        if modifier == "-" { stripNext = true; return }
        guard block, modifier != "+" else { return }
        if i < s.count && s[i] == "\n" { i += 1 } else if i + 1 < s.count && s[i] == "\r" && s[i + 1] == "\n" { i += 2 }
    }

    /// The tokens of an expression or statement up to its closing delimiter; returns the closing modifier.
    mutating func lexExpression(block: Bool, opened: Int) throws(TemplateError) -> Unicode.Scalar? {
        let close: [Unicode.Scalar] = block ? ["%", "}"] : ["}", "}"]
        func closes(at p: Int) -> Bool { p + 1 < s.count && s[p] == close[0] && s[p + 1] == close[1] }
        while i < s.count {
            let c = s[i]
            if Self.isSpace(c) { i += 1; continue }
            if closes(at: i) { i += 2; return nil }
            if (c == "-" || c == "+") && closes(at: i + 1) { i += 3; return c }
            if c == "'" || c == "\"" { tokens.append(.string(try lexString(quote: c))); continue }
            if c.properties.isAlphabetic || c == "_" {
                var name = ""
                while i < s.count && (s[i].properties.isAlphabetic || s[i] == "_" || Self.isDigit(s[i])) {
                    name.unicodeScalars.append(s[i]); i += 1
                }
                tokens.append(.name(name))
                continue
            }
            if Self.isDigit(c) {
                var text = ""
                while i < s.count && (Self.isDigit(s[i]) || s[i] == "_") { if s[i] != "_" { text.unicodeScalars.append(s[i]) }; i += 1 }
                if i + 1 < s.count && s[i] == "." && Self.isDigit(s[i + 1]) {
                    text += "."; i += 1
                    while i < s.count && Self.isDigit(s[i]) { text.unicodeScalars.append(s[i]); i += 1 }
                    tokens.append(.double(Double(text) ?? 0))
                } else {
                    guard let v = Int(text) else { throw TemplateError("the number \(text) at \(location(i)) is too large") }
                    tokens.append(.int(v))
                }
                continue
            }
            guard let op = Self.operators.first(where: { o in
                let u = Array(o.unicodeScalars)
                return i + u.count <= s.count && s[i..<(i + u.count)].elementsEqual(u)
            }) else { throw TemplateError("unexpected character \"\(c)\" at \(location(i))") }
            tokens.append(.op(op))
            i += op.unicodeScalars.count
        }
        throw TemplateError("a tag opened at \(location(opened)) is not closed")
    }

    /// A quoted string with Python's escapes (\n, \t, \r, \\, \', \", \uXXXX).
    mutating func lexString(quote: Unicode.Scalar) throws(TemplateError) -> String {
        let start = i
        i += 1
        var out = String.UnicodeScalarView()
        while i < s.count && s[i] != quote {
            if s[i] == "\\" && i + 1 < s.count {
                i += 1
                switch s[i] {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "u" where i + 4 < s.count:
                    var hex = ""
                    for k in 1...4 { hex.unicodeScalars.append(s[i + k]) }
                    guard let v = UInt32(hex, radix: 16), let u = Unicode.Scalar(v) else {
                        throw TemplateError("bad \\u escape at \(location(i))")
                    }
                    out.append(u)
                    i += 4
                case "\\", "'", "\"": out.append(s[i])
                default: out.append("\\"); out.append(s[i])
                }
            } else {
                out.append(s[i])
            }
            i += 1
        }
        guard i < s.count else { throw TemplateError("a string opened at \(location(start)) is not closed") }
        i += 1
        return String(out)
    }
}
