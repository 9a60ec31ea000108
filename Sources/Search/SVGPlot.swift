import Foundation

/// A small scatter/line plot written as standalone SVG: labelled axes with "nice" ticks, linear
/// or log scales, and layers of points, step lines and labelled markers.
struct SVGPlot {
    struct Axis {
        var label: String
        var log = false
        var lower: Double
        var upper: Double
    }
    var title: String
    var x: Axis
    var y: Axis
    let width = 720.0, height = 460.0
    let left = 78.0, right = 24.0, top = 40.0, bottom = 58.0
    private var body = ""
    private var legend: [(String, String)] = []

    init(title: String, x: Axis, y: Axis) {
        self.title = title
        self.x = x
        self.y = y
        for ax in [\SVGPlot.x, \SVGPlot.y] {
            var a = self[keyPath: ax]
            if a.log { a.lower = max(a.lower, 1e-12); a.upper = max(a.upper, a.lower * 10) }
            if a.upper <= a.lower { let d = max(abs(a.lower) * 0.1, 1e-9); a.lower -= d; a.upper += d }
            if !a.log { let pad = 0.04 * (a.upper - a.lower); a.lower -= pad; a.upper += pad }
            else { a.lower /= 1.25; a.upper *= 1.25 }
            self[keyPath: ax] = a
        }
    }

    func px(_ v: Double) -> Double {
        let t = x.log ? (log10(max(v, 1e-300)) - log10(x.lower)) / (log10(x.upper) - log10(x.lower)) : (v - x.lower) / (x.upper - x.lower)
        return left + t * (width - left - right)
    }

    func py(_ v: Double) -> Double {
        let t = y.log ? (log10(max(v, 1e-300)) - log10(y.lower)) / (log10(y.upper) - log10(y.lower)) : (v - y.lower) / (y.upper - y.lower)
        return height - bottom - t * (height - top - bottom)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">",
            with: "&gt;")
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    mutating func points(_ pts: [(Double, Double)], color: String, radius: Double = 3.5, opacity: Double = 1,
                         legend name: String? = nil, titles: [String]? = nil) {
        for (i, p) in pts.enumerated() {
            let tip = titles.map { "<title>\(SVGPlot.escape($0[i]))</title>" } ?? ""
            body += "<circle cx=\"\(SVGPlot.f(px(p.0)))\" cy=\"\(SVGPlot.f(py(p.1)))\" r=\"\(radius)\" fill=\"\(color)\" "
                + "fill-opacity=\"\(opacity)\">\(tip)</circle>\n"
        }
        if let name { legend.append((name, color)) }
    }

    /// A step line through points sorted by x (a Pareto staircase or a running best).
    mutating func steps(_ pts: [(Double, Double)], color: String, dashed: Bool = false, legend name: String? = nil,
                        horizontalFirst: Bool = true) {
        guard let first = pts.first else { return }
        var d = "M\(SVGPlot.f(px(first.0))),\(SVGPlot.f(py(first.1)))"
        for p in pts.dropFirst() {
            d += horizontalFirst ? " H\(SVGPlot.f(px(p.0))) V\(SVGPlot.f(py(p.1)))" : " V\(SVGPlot.f(py(p.1))) H\(SVGPlot.f(px(p.0)))"
        }
        body += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\"\(dashed ? " stroke-dasharray=\"5,4\"" : "")/>\n"
        if let name { legend.append((name, color)) }
    }

    /// A straight line from `a` to `b`.
    mutating func line(from a: (Double, Double), to b: (Double, Double), color: String, dashed: Bool = false, legend name: String? = nil) {
        body += "<line x1=\"\(SVGPlot.f(px(a.0)))\" y1=\"\(SVGPlot.f(py(a.1)))\" x2=\"\(SVGPlot.f(px(b.0)))\" y2=\"\(SVGPlot.f(py(b.1)))\" "
            + "stroke=\"\(color)\" stroke-width=\"1.5\"\(dashed ? " stroke-dasharray=\"5,4\"" : "")/>\n"
        if let name { legend.append((name, color)) }
    }

    mutating func errorBar(x: Double, low: Double, high: Double, color: String) {
        let cx = SVGPlot.f(px(x))
        body += "<line x1=\"\(cx)\" x2=\"\(cx)\" y1=\"\(SVGPlot.f(py(low)))\" y2=\"\(SVGPlot.f(py(high)))\" stroke=\"\(color)\" "
            + "stroke-width=\"1.5\"/>\n"
    }

    mutating func horizontal(_ v: Double, color: String, label: String) {
        body += "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(SVGPlot.f(py(v)))\" y2=\"\(SVGPlot.f(py(v)))\" "
            + "stroke=\"\(color)\" stroke-dasharray=\"6,4\"/>\n"
        body += "<text x=\"\(width - right - 4)\" y=\"\(SVGPlot.f(py(v) - 5))\" text-anchor=\"end\" font-size=\"11\" "
            + "fill=\"\(color)\">\(SVGPlot.escape(label))</text>\n"
    }

    mutating func marker(_ p: (Double, Double), label: String, color: String, shape: String = "diamond") {
        let cx = px(p.0), cy = py(p.1)
        switch shape {
        case "cross":
            body += "<path d=\"M\(SVGPlot.f(cx - 6)),\(SVGPlot.f(cy - 6)) L\(SVGPlot.f(cx + 6)),\(SVGPlot.f(cy + 6)) "
                + "M\(SVGPlot.f(cx - 6)),\(SVGPlot.f(cy + 6)) L\(SVGPlot.f(cx + 6)),\(SVGPlot.f(cy - 6))\" stroke=\"\(color)\" "
                + "stroke-width=\"2\"/>\n"
        default:
            body += "<path d=\"M\(SVGPlot.f(cx)),\(SVGPlot.f(cy - 7)) L\(SVGPlot.f(cx + 7)),\(SVGPlot.f(cy)) "
                + "L\(SVGPlot.f(cx)),\(SVGPlot.f(cy + 7)) L\(SVGPlot.f(cx - 7)),\(SVGPlot.f(cy)) Z\" fill=\"none\" "
                + "stroke=\"\(color)\" stroke-width=\"2\"/>\n"
        }
        body += "<text x=\"\(SVGPlot.f(cx + 9))\" y=\"\(SVGPlot.f(cy - 8))\" font-size=\"11\" "
            + "fill=\"\(color)\">\(SVGPlot.escape(label))</text>\n"
    }

    static func ticks(_ a: Axis) -> [Double] {
        if a.log {
            var out: [Double] = []
            var e = floor(log10(a.lower))
            while pow(10, e) <= a.upper * 1.0001 {
                for m in [1.0, 2, 5] where pow(10, e) * m >= a.lower && pow(10, e) * m <= a.upper { out.append(pow(10, e) * m) }
                e += 1
            }
            return out.count > 12 ? out.filter { log10($0) == log10($0).rounded() } : out
        }
        let span = a.upper - a.lower
        let raw = span / 6, mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { span / $0 <= 7 } ?? 10 * mag
        var v = ceil(a.lower / step) * step
        var out: [Double] = []
        while v <= a.upper + 1e-12 * span { out.append(abs(v) < 1e-12 * span ? 0 : v); v += step }
        return out
    }

    static func tickLabel(_ v: Double) -> String {
        let a = abs(v)
        if a >= 1e6 { return String(format: "%gM", v / 1e6) }
        if a >= 1e4 { return String(format: "%gk", v / 1e3) }
        if a == 0 || a >= 0.01 { return String(format: "%g", (v * 1e6).rounded() / 1e6) }
        return String(format: "%.0e", v)
    }

    func render() -> String {
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 "
            + "\(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(SVGPlot.f(width / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" "
            + "font-weight=\"bold\">\(SVGPlot.escape(title))</text>\n"
        let x0 = left, x1 = width - right, y0 = height - bottom, y1 = top
        for t in SVGPlot.ticks(x) {
            let p = px(t)
            s += "<line x1=\"\(SVGPlot.f(p))\" x2=\"\(SVGPlot.f(p))\" y1=\"\(y1)\" y2=\"\(y0)\" stroke=\"#eee\"/>\n"
            s += "<text x=\"\(SVGPlot.f(p))\" y=\"\(SVGPlot.f(y0 + 16))\" text-anchor=\"middle\" "
                + "font-size=\"11\">\(SVGPlot.tickLabel(t))</text>\n"
        }
        for t in SVGPlot.ticks(y) {
            let p = py(t)
            s += "<line x1=\"\(x0)\" x2=\"\(x1)\" y1=\"\(SVGPlot.f(p))\" y2=\"\(SVGPlot.f(p))\" stroke=\"#eee\"/>\n"
            s += "<text x=\"\(SVGPlot.f(x0 - 6))\" y=\"\(SVGPlot.f(p + 4))\" text-anchor=\"end\" "
                + "font-size=\"11\">\(SVGPlot.tickLabel(t))</text>\n"
        }
        s += "<rect x=\"\(x0)\" y=\"\(y1)\" width=\"\(SVGPlot.f(x1 - x0))\" height=\"\(SVGPlot.f(y0 - y1))\" fill=\"none\" "
            + "stroke=\"#444\"/>\n"
        s += "<text x=\"\(SVGPlot.f((x0 + x1) / 2))\" y=\"\(SVGPlot.f(height - 16))\" text-anchor=\"middle\" "
            + "font-size=\"13\">\(SVGPlot.escape(x.label + (x.log ? " (log scale)" : "")))</text>\n"
        s += "<text transform=\"translate(18,\(SVGPlot.f((y0 + y1) / 2))) rotate(-90)\" text-anchor=\"middle\" "
            + "font-size=\"13\">\(SVGPlot.escape(y.label + (y.log ? " (log scale)" : "")))</text>\n"
        s += "<g clip-path=\"none\">\n" + body + "</g>\n"
        for (i, l) in legend.enumerated() {
            let ly = top + 14 + Double(i) * 16
            s += "<rect x=\"\(SVGPlot.f(x0 + 10))\" y=\"\(SVGPlot.f(ly - 9))\" width=\"10\" height=\"10\" fill=\"\(l.1)\"/>\n"
            s += "<text x=\"\(SVGPlot.f(x0 + 25))\" y=\"\(SVGPlot.f(ly))\" font-size=\"11\">\(SVGPlot.escape(l.0))</text>\n"
        }
        return s + "</svg>\n"
    }
}
