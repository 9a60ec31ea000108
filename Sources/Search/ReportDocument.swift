/// A report as a list of blocks, written once and rendered twice: as Markdown (report.md) and as
/// standalone HTML with the plots inline (report.html). The two files cannot drift apart, since
/// neither holds content of its own.
struct ReportDocument {
    /// A run of inline content.
    enum Inline {
        case text(String)
        case code(String)
        case link(String, href: String)
        case strong(String)
    }

    /// A table cell: inline content, possibly empty.
    typealias Cell = [Inline]

    enum Block {
        case heading(level: Int, String)
        case paragraph([Inline])
        /// A table; with `rowHeaders`, the first column names the row (a key/value table).
        case table(header: [String], rows: [[Cell]], rowHeaders: Bool)
        case list([[Inline]])
        /// A plot: linked as `file` in Markdown, inlined in HTML.
        case figure(file: String, alt: String, svg: String)
    }

    var title: String
    var blocks: [Block] = []

    mutating func add(_ block: Block) { blocks.append(block) }
}

extension ReportDocument {
    /// GitHub-flavoured Markdown: a blank line after each block, `|` escaped in table cells.
    var markdown: String {
        var out = ""
        for block in blocks {
            switch block {
            case let .heading(level, text): out += String(repeating: "#", count: level) + " " + text + "\n\n"
            case let .paragraph(inlines): out += Self.markdown(inlines) + "\n\n"
            case let .table(header, rows, _):
                out += Self.markdownRow(header.map { [.text($0)] }) + "|" + String(repeating: "---|", count: header.count) + "\n"
                for row in rows { out += Self.markdownRow(row) }
                out += "\n"
            case let .list(items):
                for item in items { out += "- " + Self.markdown(item) + "\n" }
                out += "\n"
            case let .figure(file, alt, _): out += "![\(alt)](\(file))\n\n"
            }
        }
        return String(out.dropLast())
    }

    static func markdownRow(_ cells: [Cell]) -> String {
        if cells.allSatisfy(\.isEmpty) || cells.allSatisfy({ markdown($0).isEmpty }) {
            return "|" + String(repeating: " |", count: cells.count) + "\n"
        }
        return "| " + cells.map { markdown($0).replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n"
    }

    static func markdown(_ inlines: [Inline]) -> String {
        inlines.map { inline in
            switch inline {
            case .text(let s): return s
            case .code(let s): return "`\(s)`"
            case let .link(text, href): return "[\(text)](\(href))"
            case .strong(let s): return "**\(s)**"
            }
        }.joined()
    }

    /// A standalone page: every plot inline, so the file can be mailed or opened offline.
    var html: String {
        let e = SVGPlot.escape
        var out = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>\(e(title)) — autopeft report</title>\n"
        out += "<style>body{font-family:Helvetica,Arial,sans-serif;max-width:980px;margin:2em auto;color:#222}"
            + "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:14px}"
            + "code{font-size:12px}</style></head><body>\n"
        for block in blocks {
            switch block {
            case let .heading(level, text): out += "<h\(level)>\(e(text))</h\(level)>\n"
            case let .paragraph(inlines): out += "<p>\(Self.html(inlines))</p>\n"
            case let .table(header, rows, rowHeaders):
                out += "<table>\n"
                if !header.allSatisfy(\.isEmpty) { out += "<tr>" + header.map { "<th>\(e($0))</th>" }.joined() + "</tr>\n" }
                for row in rows {
                    out += "<tr>" + row.enumerated().map { k, cell in
                        let tag = rowHeaders && k == 0 ? "th" : "td"
                        return "<\(tag)>\(Self.html(cell))</\(tag)>"
                    }.joined() + "</tr>\n"
                }
                out += "</table>\n"
            case let .list(items): out += "<ul>\n" + items.map { "<li>\(Self.html($0))</li>\n" }.joined() + "</ul>\n"
            case let .figure(_, _, svg): out += svg
            }
        }
        return out + "</body></html>\n"
    }

    static func html(_ inlines: [Inline]) -> String {
        let e = SVGPlot.escape
        return inlines.map { inline in
            switch inline {
            case .text(let s): return e(s)
            case .code(let s): return "<code>\(e(s))</code>"
            case let .link(text, href): return "<a href=\"\(e(href))\">\(e(text))</a>"
            case .strong(let s): return "<strong>\(e(s))</strong>"
            }
        }.joined()
    }
}
