import JSONKit
import Foundation
import Space

/// Reads labelled examples from GLUE TSV, CSV (RFC 4180 quoting) or JSONL files.
///
/// Errors name the file and the 1-based line: a row with too few columns, an
/// unknown label, a non-numeric regression target.
public enum DatasetReader {
    public static func read(_ path: String, task: TaskSpec, requireLabels: Bool = true) throws(TrainerError) -> [Example] {
        let data: Data
        do { data = try SystemErrors.readFile(path) } catch { throw .file(path: path, message: "cannot read data file: " + error.reason) }
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .file(path: path, message: "not valid UTF-8")
        }
        if task.isLanguageModeling { return try languageModelingRows(text, path: path, requireResponses: requireLabels) }
        switch task.format {
        case .tsv: return try table(rows: tsvRows(text), path: path, task: task, requireLabels: requireLabels)
        case .csv: return try table(rows: csvRows(text, path: path), path: path, task: task, requireLabels: requireLabels)
        case .jsonl: return try jsonl(text, path: path, task: task, requireLabels: requireLabels)
        }
    }

    /// Lines split on "\n" only (a trailing "\r" dropped), fields on "\t" only; blank lines skipped.
    static func tsvRows(_ text: String) -> [(line: Int, fields: [String])] {
        var rows: [(Int, [String])] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.allSatisfy({ $0 == " " }) { continue }
            rows.append((i + 1, line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)))
        }
        return rows
    }

    /// RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines.
    static func csvRows(_ text: String, path: String) throws(TrainerError) -> [(line: Int, fields: [String])] {
        var rows: [(Int, [String])] = []
        var fields: [String] = [], field = "", inQuotes = false, line = 1, rowLine = 1, sawAny = false
        var it = Array(text.unicodeScalars)[...]
        while let c = it.popFirst() {
            if inQuotes {
                if c == "\"" {
                    if it.first == "\"" { it.removeFirst(); field.unicodeScalars.append("\"") } else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"":
                guard field.isEmpty else { throw .data(path: path, line: line, message: "a quote inside an unquoted field") }
                inQuotes = true; sawAny = true
            case ",": fields.append(field); field = ""; sawAny = true
            case "\r": continue
            case "\n":
                if sawAny || !field.isEmpty { fields.append(field); rows.append((rowLine, fields)) }
                fields = []; field = ""; sawAny = false; line += 1; rowLine = line
            default: field.unicodeScalars.append(c); sawAny = true
            }
        }
        if inQuotes { throw .data(path: path, line: rowLine, message: "unterminated quoted field") }
        if sawAny || !field.isEmpty { fields.append(field); rows.append((rowLine, fields)) }
        return rows
    }

    static func table(rows: [(line: Int, fields: [String])], path: String, task: TaskSpec,
                      requireLabels: Bool) throws(TrainerError) -> [Example] {
        var rows = rows[...]
        var header: [String] = []
        var (textA, textB, label): (TaskSpec.Column, TaskSpec.Column?, TaskSpec.Column?) = (task.textA, task.textB, task.label)
        if task.hasHeader {
            guard let h = rows.popFirst() else { throw .file(path: path, message: "empty file; expected a header line") }
            header = h.fields
        } else if let u = task.unlabeledLayout, let first = rows.first, first.fields == u.header {
            header = rows.removeFirst().fields
            (textA, textB, label) = (u.textA, u.textB, nil)
        }
        func index(_ c: TaskSpec.Column, _ width: Int) -> Int? {
            switch c {
            case .index(let i): return i < 0 ? width + i : i
            case .name(let n): return header.firstIndex(of: n)
            }
        }
        func missing(_ c: TaskSpec.Column, _ what: String) -> TrainerError {
            .data(path: path, line: 1, message: "no \(what) column named \(c.text) in the header (\(header.joined(separator: ", ")))")
        }
        // A header without the label column is an unlabeled (test) file.
        let labelled = label.map { c in if case .name(let n) = c { return header.contains(n) }; return true } ?? false
        if requireLabels && !labelled {
            throw .data(path: path, line: 1,
                        message: "no label column \(task.label.text) in the header (\(header.joined(separator: ", "))); training "
                        + "and evaluation need labelled rows (autopeft predict reads unlabeled ones)")
        }
        var out: [Example] = []
        out.reserveCapacity(rows.count)
        for (line, f) in rows {
            guard let a = index(textA, f.count) else { throw missing(textA, "text") }
            let b = try textB.map { c throws(TrainerError) -> Int in guard let i = index(c,
                                                                                         f.count) else { throw missing(c,
                                                                                         "text") }; return i }
            let l = labelled ? label.flatMap { index($0, f.count) } : nil
            let needed = max(a, b ?? 0, requireLabels ? (l ?? 0) : 0)
            guard needed < f.count, a >= 0, (l ?? 0) >= 0 || !requireLabels else {
                throw .data(path: path, line: line, message: "expected at least \(needed + 1) tab-separated fields, found \(f.count)")
            }
            let value: Example.Label
            if let l, l >= 0, l < f.count, requireLabels || !f[l].isEmpty {
                value = try parseLabel(f[l], task: task, path: path, line: line)
            } else if requireLabels {
                throw .data(path: path, line: line, message: "missing label \(task.label.text)")
            } else {
                value = task.isRegression ? .value(.nan) : .classIndex(-1)
            }
            out.append(Example(textA: f[a], textB: b.map { f[$0] }, label: value))
        }
        return out
    }

    static func parseLabel(_ s: String, task: TaskSpec, path: String, line: Int) throws(TrainerError) -> Example.Label {
        let t = s.trimmingCharacters(in: .whitespaces)
        if let classes = task.classes {
            if let i = classes.firstIndex(of: t) { return .classIndex(i) }
            throw .data(path: path, line: line,
                        message: "label \"\(t)\" is not one of \(classes.map { "\"\($0)\"" }.joined(separator: ", "))")
        }
        guard let v = Double(t), v.isFinite else {
            throw .data(path: path, line: line, message: "expected a numeric regression target, got \"\(t)\"")
        }
        return .value(v)
    }

    static func jsonl(_ text: String, path: String, task: TaskSpec, requireLabels: Bool) throws(TrainerError) -> [Example] {
        var out: [Example] = []
        func key(_ c: TaskSpec.Column) -> String { if case .name(let n) = c { return n }; return "" }
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let v: JSONValue
            do { v = try JSONParser.parse(line) } catch { throw .data(path: path, line: i + 1, message: "invalid JSON: \(error.message)") }
            func text(_ c: TaskSpec.Column) throws(TrainerError) -> String {
                guard case .string(let s)? = v[key(c)] else {
                    throw .data(path: path, line: i + 1, message: "expected a string field \"\(key(c))\"")
                }
                return s
            }
            let a = try text(task.textA)
            let b = try task.textB.map { c throws(TrainerError) in try text(c) }
            let label: Example.Label
            switch v[key(task.label)] {
            case .string(let s)?: label = try parseLabel(s, task: task, path: path, line: i + 1)
            case .number(_, let t)?: label = try parseLabel(t, task: task, path: path, line: i + 1)
            case .bool(let bv)?: label = try parseLabel(bv ? "1" : "0", task: task, path: path, line: i + 1)
            default:
                if requireLabels { throw .data(path: path, line: i + 1, message: "missing label field \"\(key(task.label))\"") }
                label = task.isRegression ? .value(.nan) : .classIndex(-1)
            }
            out.append(Example(textA: a, textB: b, label: label))
        }
        return out
    }
}
