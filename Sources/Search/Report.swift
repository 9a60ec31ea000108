import Foundation
import Space

/// Writes a study's report (ARCHITECTURE §8; file names are a contract): `report.md`,
/// `report.html` (standalone, SVG inline), `pareto.svg`, `hypervolume.svg` and `trials.csv`.
public enum Report {
    /// Writes the files into `directory` and returns their paths.
    @discardableResult
    public static func write(_ study: Study, to directory: String) throws -> [String] {
        let spec = study.spec
        let pareto = paretoPlot(study), hv = hypervolumePlot(study)
        let files: [(String, String)] = [
            ("pareto.svg", pareto), ("hypervolume.svg", hv), ("trials.csv", csv(study)),
            ("report.md", markdown(study)), ("report.html", html(study, pareto: pareto, hypervolume: hv)),
        ]
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var written: [String] = []
        for (name, text) in files {
            let path = directory + "/" + name
            do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
                throw Study.Failure(message: "\(path): cannot write the report: \(error.localizedDescription)")
            }
            written.append(path)
        }
        _ = spec
        return written
    }

    /// The plot axes: trainable parameters (when an objective) on x, the other objective on y;
    /// otherwise the first objective on x and the second on y.
    static func axes(_ spec: StudySpec) -> (x: Int, y: Int) {
        if let p = spec.objectives.firstIndex(where: { $0.name == "trainable_params" }) {
            return (p, spec.objectives.indices.first { $0 != p }!)
        }
        return (0, 1)
    }

    static func unitLabel(_ o: Objective) -> String {
        switch o.name {
        case "trainable_params": return "trainable parameters (count, fewer is better)"
        case "score": return "task score (dev metric, higher is better)"
        case "seconds": return "seconds per trial (fewer is better)"
        default: return "\(o.name) (\(o.goal == .minimize ? "lower" : "higher") is better)"
        }
    }

    static func describe(_ study: Study, _ t: TrialRecord) -> String {
        let space = study.spec.space
        guard let config = t.config else { return "peft=" + (t.candidate.plan?.json.serialized() ?? "") }
        let active = Set(space.activeNames(config))
        guard case .object(let members) = space.json(config) else { return "" }
        return members.filter { m in
            guard active.contains(m.key), let p = space.parameter(m.key) else { return false }
            if case .fixed = p.domain { return false }
            return true
        }.map { "\($0.key)=\($0.value.serialized())" }.joined(separator: " ")
    }

    static func paretoPlot(_ study: Study) -> String {
        let spec = study.spec
        let (xi, yi) = axes(spec)
        let done = study.finished
        let xs = done.map { $0.values[xi] }, ys = done.map { $0.values[yi] }
        let xo = spec.objectives[xi], yo = spec.objectives[yi]
        let positive = (xs.min() ?? 0) > 0
        let useLog = positive && xo.name == "trainable_params" && (xs.max() ?? 1) / max(xs.min() ?? 1, 1e-300) > 20
        var plot = SVGPlot(title: "\(spec.name): all trials and the Pareto front",
                           x: .init(label: unitLabel(xo), log: useLog, lower: xs.min() ?? 0, upper: xs.max() ?? 1),
                           y: .init(label: unitLabel(yo), log: false, lower: ys.min() ?? 0, upper: ys.max() ?? 1))
        let front = Set(study.frontIDs)
        let others = done.filter { !front.contains($0.id) }
        plot.points(others.map { ($0.values[xi], $0.values[yi]) }, color: "#8a8a8a", opacity: 0.6, legend: "trial (\(others.count))",
                    titles: others.map { "trial \($0.id + 1): \(describe(study, $0))" })
        let frontTrials = done.filter { front.contains($0.id) }.sorted { $0.values[xi] < $1.values[xi] }
        plot.steps(frontTrials.map { ($0.values[xi], $0.values[yi]) }, color: "#d62728")
        plot.points(frontTrials.map { ($0.values[xi], $0.values[yi]) }, color: "#d62728", radius: 5, legend: "Pareto front (\(frontTrials.count))",
                    titles: frontTrials.map { "trial \($0.id + 1): \(describe(study, $0))" })
        for t in done where t.baseline != nil {
            plot.marker((t.values[xi], t.values[yi]), label: t.baseline!, color: "#1f77b4")
        }
        let r = (spec.reference[xi], spec.reference[yi])
        let inside = (xs + [r.0]).min()! >= plot.x.lower && r.0 <= plot.x.upper && r.1 >= plot.y.lower && r.1 <= plot.y.upper
        if inside { plot.marker(r, label: "reference point", color: "#555", shape: "cross") }
        return plot.render()
    }

    static func hypervolumePlot(_ study: Study) -> String {
        let spec = study.spec
        let ref = zip(spec.objectives, spec.reference).map { $0.minimised($1) }
        var running: [(Double, Double)] = []
        var pts: [[Double]] = []
        for t in study.trials {
            if t.status == .finished { pts.append(zip(spec.objectives, t.values).map { $0.minimised($1) }) }
            running.append((Double(t.id + 1), Hypervolume.compute(pts, reference: ref)))
        }
        var optimum: Double?
        if case .synthetic(let p, _) = spec.problem { optimum = p.optimalHypervolume }
        let hi = max(running.map(\.1).max() ?? 1, optimum ?? 0)
        var plot = SVGPlot(title: "\(spec.name): hypervolume after each trial",
                           x: .init(label: "trial", lower: 1, upper: Double(max(study.trials.count, 2))),
                           y: .init(label: "hypervolume (reference \(spec.reference.map { Study.format($0) }.joined(separator: ", ")))", lower: 0, upper: hi))
        plot.steps(running, color: "#d62728", legend: "dominated hypervolume")
        plot.points(running, color: "#d62728", radius: 2.5)
        let designEnd = Double(spec.initial + spec.baselines.count) + 0.5
        if designEnd < Double(study.trials.count) {
            plot.steps([(designEnd, 0), (designEnd, hi)], color: "#999", dashed: true, legend: "end of the baselines and initial design", horizontalFirst: false)
        }
        if let optimum { plot.horizontal(optimum, color: "#2ca02c", label: "true front \(Study.format(optimum))") }
        return plot.render()
    }

    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    static func csv(_ study: Study) -> String {
        let spec = study.spec
        let front = Set(study.frontIDs)
        let params = spec.space.parameters.filter { if case .fixed = $0.domain { return false }; return true }
        let metricNames = Array(Set(study.trials.flatMap { $0.metrics.keys })).sorted()
        var rows = [(["trial", "status", "baseline", "origin"] + spec.objectives.map(\.name) + ["on_front", "seconds", "proposal_seconds", "seed"]
                     + params.map(\.name) + metricNames.map { "metric." + $0 } + ["peft", "error"]).joined(separator: ",")]
        for t in study.trials {
            var cfg: [(key: String, value: JSONValue)] = []
            var active = Set<String>()
            if let c = t.config, case .object(let members) = spec.space.json(c) { cfg = members; active = Set(spec.space.activeNames(c)) }
            var f = ["\(t.id + 1)", t.status.rawValue, t.baseline ?? "", t.origin]
            f += spec.objectives.indices.map { t.status == .finished ? "\(t.values[$0])" : "" }
            f += [front.contains(t.id) ? "1" : "0", String(format: "%.3f", t.seconds), String(format: "%.3f", t.proposalSeconds), "\(t.seed)"]
            for p in params {
                guard active.contains(p.name), let v = cfg.first(where: { $0.key == p.name })?.value else { f.append(""); continue }
                switch v {
                case .array(let items): f.append(items.map { if case .string(let s) = $0 { return s }; return $0.serialized() }.joined(separator: ";"))
                case .string(let s): f.append(s)
                default: f.append(v.serialized())
                }
            }
            f += metricNames.map { t.metrics[$0].map { "\($0)" } ?? "" }
            f.append(t.candidate.plan?.json.serialized() ?? "")
            f.append(t.error ?? "")
            rows.append(f.map(csvField).joined(separator: ","))
        }
        return rows.joined(separator: "\n") + "\n"
    }

    static func problemDescription(_ spec: StudySpec) -> String {
        switch spec.problem {
        case .synthetic(let p, let d): return "synthetic problem \(p.rawValue), d = \(d) (true front's hypervolume \(Study.format(p.optimalHypervolume)))"
        case .peftMock(let dims, _): return "PEFT mock (exact parameter counts for hidden \(dims.hiddenSize), \(dims.layers) layers; synthetic score)"
        case .training(let dims, _): return "training every candidate (hidden \(dims.hiddenSize), \(dims.layers) layers)"
        }
    }

    static func summaryRows(_ study: Study) -> [(String, String)] {
        let spec = study.spec
        let failed = study.trials.filter { $0.status == .failed }.count
        var rows: [(String, String)] = [
            ("space file", spec.file), ("problem", problemDescription(spec)),
            ("objectives", spec.objectives.map { "\($0.goal.rawValue) \($0.name)\($0.known ? " (computed)" : " (measured, GP)")" }.joined(separator: "; ")),
            ("reference point", zip(spec.objectives, spec.reference).map { "\($0.name) \(Study.format($1))" }.joined(separator: ", ")),
            ("trials", "\(study.trials.count) of \(spec.trials) (\(spec.initial) initial\(spec.baselines.isEmpty ? "" : ", \(spec.baselines.count) baselines")); \(study.finished.count) finished, \(failed) failed"),
            ("hypervolume", Study.format(study.hypervolume)),
            ("trial time", String(format: "%.1f s in trials, %.1f s proposing", study.trials.reduce(0) { $0 + $1.seconds }, study.trials.reduce(0) { $0 + $1.proposalSeconds })),
        ]
        if case .synthetic(let p, _) = spec.problem {
            rows.append(("share of the true front's hypervolume", String(format: "%.1f%%", 100 * study.hypervolume / p.optimalHypervolume)))
        }
        return rows
    }

    static func frontRows(_ study: Study) -> [TrialRecord] {
        let (xi, _) = axes(study.spec)
        return study.frontIDs.map { study.trials[$0] }.sorted { $0.values[xi] < $1.values[xi] }
    }

    static func markdown(_ study: Study) -> String {
        let spec = study.spec
        var s = "# Search report: \(spec.name)\n\n"
        s += "| | |\n|---|---|\n"
        for (k, v) in summaryRows(study) { s += "| \(k) | \(v.replacingOccurrences(of: "|", with: "\\|")) |\n" }
        s += "\n## Pareto front\n\n"
        s += "| trial | " + spec.objectives.map(\.name).joined(separator: " | ") + " | configuration |\n"
        s += "|---|" + spec.objectives.map { _ in "---|" }.joined() + "---|\n"
        for t in frontRows(study) {
            s += "| \(t.id + 1)\(t.baseline.map { " (baseline \($0))" } ?? "") | " + t.values.map { Study.format($0) }.joined(separator: " | ") + " | `\(describe(study, t))` |\n"
        }
        s += "\n![Pareto front](pareto.svg)\n\n![Hypervolume](hypervolume.svg)\n\n"
        let failed = study.trials.filter { $0.status == .failed }
        if !failed.isEmpty {
            s += "## Failed trials\n\n"
            for t in failed { s += "- trial \(t.id + 1): \(t.error ?? "unknown error")\n" }
            s += "\n"
        }
        s += "Every trial, with its configuration, values, seed and timings: [trials.csv](trials.csv).\n\n"
        s += "Reproduce: `autopeft search \(spec.file) --out \(study.directory)` then `autopeft report \(study.directory)`.\n"
        return s
    }

    static func html(_ study: Study, pareto: String, hypervolume: String) -> String {
        let spec = study.spec
        let e = SVGPlot.escape
        var s = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>\(e(spec.name)) — autopeft report</title>\n"
        s += "<style>body{font-family:Helvetica,Arial,sans-serif;max-width:980px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:14px}code{font-size:12px}</style></head><body>\n"
        s += "<h1>Search report: \(e(spec.name))</h1>\n<table>\n"
        for (k, v) in summaryRows(study) { s += "<tr><th>\(e(k))</th><td>\(e(v))</td></tr>\n" }
        s += "</table>\n<h2>Pareto front</h2>\n<table><tr><th>trial</th>" + spec.objectives.map { "<th>\(e($0.name))</th>" }.joined() + "<th>configuration</th></tr>\n"
        for t in frontRows(study) {
            s += "<tr><td>\(t.id + 1)\(t.baseline.map { " (baseline \(e($0)))" } ?? "")</td>" + t.values.map { "<td>\(Study.format($0))</td>" }.joined() + "<td><code>\(e(describe(study, t)))</code></td></tr>\n"
        }
        s += "</table>\n" + pareto + hypervolume
        s += "<p>Every trial: <a href=\"trials.csv\">trials.csv</a>.</p>\n</body></html>\n"
        return s
    }
}
