import JSONKit
import Foundation
import Space

/// Writes a study's report (file names are a contract: docs/search.md, "The journal and the report"): `report.md`,
/// `report.html` (standalone, SVG inline), `pareto.svg`, `hypervolume.svg` and `trials.csv`.
public enum Report {
    /// Writes the files into `directory` and returns their paths.
    @discardableResult
    public static func write(_ study: Study, to directory: String) throws -> [String] {
        let extras = try Extras(directory: directory, study: study)
        // Each plot is drawn once: written as its own file and inlined in report.html.
        let plots = Plots(pareto: paretoPlot(study, extras), hypervolume: hypervolumePlot(study),
                          sensitivity: extras.sensitivity.map(heatMap), agreement: agreementPlot(study))
        var files: [(String, String)] = [
            ("pareto.svg", plots.pareto), ("hypervolume.svg", plots.hypervolume), ("trials.csv", csv(study, extras)),
        ]
        let doc = document(study, extras, plots: plots)
        files += [("report.md", doc.markdown), ("report.html", doc.html)]
        if let sens = plots.sensitivity { files.append(("sensitivity.svg", sens)) }
        if let agreement = plots.agreement { files.append(("fidelity.svg", agreement)) }
        try FileSystem.createDirectory(directory)
        var written: [String] = []
        for (name, text) in files {
            let path = directory + "/" + name
            do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
                throw IOFailure(path: path, reason: "cannot write the report: " + SystemErrors.explain(error, place: "the study folder"))
            }
            written.append(path)
        }
        return written
    }

    /// What a study folder may hold besides the journal (final-stage results, sensitivity scores,
    /// exported adapters), and how much the prior steered, replayed once for every part that shows it.
    struct Extras {
        var reevaluation: Reevaluation?
        var sensitivity: SensitivityScores?
        var exports: [Int: String] = [:]
        var priorSteering: PriorSteering?

        /// A study without a folder: its own prior, if any.
        init(study: Study) { priorSteering = PriorSteering(study, prior: study.prior) }

        init(directory: String, study: Study) throws {
            reevaluation = try Reevaluation.read(directory: directory)
            let fm = FileManager.default
            for m in SensitivityScores.Method.measured.map(\.rawValue) {
                if let scores = try Study.readScores(file: directory + "/sensitivity-\(m).json", spec: study.spec) { sensitivity = scores }
            }
            for name in (try? fm.contentsOfDirectory(atPath: directory + "/exports")) ?? [] {
                if name.hasPrefix("trial-"), let k = Int(name.dropFirst(6)) { exports[k - 1] = "exports/" + name }
            }
            priorSteering = PriorSteering(study, prior: study.reportedPrior(sensitivity))
        }
    }

    /// Layers × targets heat map of sensitivity scores.
    static func heatMap(_ s: SensitivityScores) -> String {
        let cellW = 96.0, cellH = 34.0, left = 70.0, top = 70.0
        let w = max(left + cellW * Double(s.targets.count) + 20, 760), h = top + cellH * Double(s.layers) + 40
        let mx = max(s.scores.flatMap { $0 }.max() ?? 1, 1e-12)
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"Helvetica, "
            + "Arial, sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        out += "<text x=\"\(w / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(s.method) "
            + "sensitivity by layer and weight matrix\(s.method == .spt ? " (parameters in the global top-τ)" : "")</text>\n"
        for (j, t) in s.targets.enumerated() {
            out += "<text x=\"\(left + cellW * (Double(j) + 0.5))\" y=\"\(top - 10)\" text-anchor=\"middle\" "
                + "font-size=\"11\">\(t.rawValue)</text>\n"
        }
        for l in 0..<s.layers {
            let y = top + cellH * Double(l)
            out += "<text x=\"\(left - 8)\" y=\"\(y + cellH / 2 + 4)\" text-anchor=\"end\" font-size=\"11\">layer \(l)</text>\n"
            for j in s.targets.indices {
                let v = s.scores[l][j], a = (v / mx).squareRoot()
                let r = Int(255 - 41 * a), g = Int(255 - 216 * a), b = Int(255 - 215 * a)
                out += "<rect x=\"\(left + cellW * Double(j))\" y=\"\(y)\" width=\"\(cellW)\" height=\"\(cellH)\" "
                    + "fill=\"rgb(\(r),\(g),\(b))\" stroke=\"white\"/>\n"
                out += "<text x=\"\(left + cellW * (Double(j) + 0.5))\" y=\"\(y + cellH / 2 + 4)\" text-anchor=\"middle\" "
                    + "font-size=\"11\" fill=\"\(a > 0.6 ? "white" : "black")\">\(String(format: "%.0f", v))</text>\n"
            }
        }
        out += "<text x=\"\(left)\" y=\"\(h - 12)\" font-size=\"11\">colour: square root of the score relative to the largest "
            + "(\(String(format: "%.0f", mx)))</text>\n"
        return out + "</svg>\n"
    }

    /// The plot axes: trainable parameters (when an objective) on x, the other objective on y;
    /// otherwise the first objective on x and the second on y.
    static func axes(_ spec: StudySpec) -> (x: Int, y: Int) {
        if let p = spec.objectives.firstIndex(where: { $0.name == Objective.Name.trainableParameters }) {
            return (p, spec.objectives.indices.first { $0 != p }!)
        }
        return (0, 1)
    }

    static func unitLabel(_ o: Objective) -> String {
        switch o.name {
        case Objective.Name.trainableParameters: return "trainable parameters (count, fewer is better)"
        case Objective.Name.score: return "task score (dev metric, higher is better)"
        case "seconds": return "seconds per trial (fewer is better)"
        default: return "\(o.name) (\(o.goal == .minimize ? "lower" : "higher") is better)"
        }
    }

    /// A point's tooltip: the trial, its values, its fidelity when below the target, its configuration.
    static func tooltip(_ study: Study, _ t: TrialRecord) -> String {
        let values = study.namedValues(t.values)
        let fidelity = study.isAtTarget(t) ? "" : t.fidelity.map { " at \($0.examples) examples" } ?? ""
        return "trial \(t.id + 1)\(fidelity): \(values); \(describe(study, t))"
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

    static func paretoPlot(_ study: Study, _ extras: Extras? = nil) -> String {
        let spec = study.spec
        let (xi, yi) = axes(spec)
        let done = study.finished
        let xs = done.map { $0.values[xi] }
        var ys = done.map { $0.values[yi] }
        if let re = extras?.reevaluation, spec.objectives[yi].name == Objective.Name.score {
            for id in Reevaluation.targets(study) { if let st = re.stats(trial: id) { ys += [st.mean - st.sd, st.mean + st.sd] } }
        }
        let xo = spec.objectives[xi], yo = spec.objectives[yi]
        let positive = (xs.min() ?? 0) > 0
        let useLog = positive && xo.name == Objective.Name.trainableParameters && (xs.max() ?? 1) / max(xs.min() ?? 1, 1e-300) > 20
        var plot = SVGPlot(title: "\(spec.name): all trials and the Pareto front",
                           x: .init(label: unitLabel(xo), log: useLog, lower: xs.min() ?? 0, upper: xs.max() ?? 1),
                           y: .init(label: unitLabel(yo), log: false, lower: ys.min() ?? 0, upper: ys.max() ?? 1))
        let front = Set(study.frontIDs)
        let others = done.filter { !front.contains($0.id) && study.isAtTarget($0) }
        let atTarget = spec.fidelity == nil ? "" : " at the target"
        plot.points(others.map { ($0.values[xi], $0.values[yi]) }, color: "#8a8a8a", opacity: 0.6,
                    legend: "trial\(atTarget) (\(others.count))",
                    titles: others.map { tooltip(study, $0) })
        for (k, f) in (spec.fidelity?.cheaper ?? []).enumerated() {
            let cheap = done.filter { $0.fidelity == f }
            guard !cheap.isEmpty else { continue }
            plot.points(cheap.map { ($0.values[xi], $0.values[yi]) }, color: ["#ff9f40", "#9467bd", "#8c564b", "#e377c2"][k % 4],
                        radius: 2.5, opacity: 0.7, legend: "evidence: \(f.examples) examples (\(cheap.count))",
                        titles: cheap.map { tooltip(study, $0) })
        }
        let frontTrials = done.filter { front.contains($0.id) }.sorted { $0.values[xi] < $1.values[xi] }
        plot.steps(frontTrials.map { ($0.values[xi], $0.values[yi]) }, color: "#d62728")
        plot.points(frontTrials.map { ($0.values[xi], $0.values[yi]) }, color: "#d62728", radius: 5,
                    legend: "Pareto front (\(frontTrials.count))",
                    titles: frontTrials.map { tooltip(study, $0) })
        for t in done where t.baseline != nil && study.isAtTarget(t) {
            plot.marker((t.values[xi], t.values[yi]), label: t.baseline!, color: "#1f77b4")
        }
        plotPosterior(study, front: frontTrials, x: xi, y: yi, on: &plot)
        if let re = extras?.reevaluation, spec.objectives[yi].name == Objective.Name.score {
            plotReevaluation(re, of: study, x: xi, on: &plot)
        }
        let r = (spec.reference[xi], spec.reference[yi])
        let inside = (xs + [r.0]).min()! >= plot.x.lower && r.0 <= plot.x.upper && r.1 >= plot.y.lower && r.1 <= plot.y.upper
        if inside { plot.marker(r, label: "reference point", color: "#555", shape: "cross") }
        return plot.render()
    }

    /// The front's posterior means with their 95% intervals (studies that answer by posterior mean).
    static func plotPosterior(_ study: Study, front: [TrialRecord], x xi: Int, y yi: Int, on plot: inout SVGPlot) {
        guard !study.spec.objectives[yi].known else { return }
        var pts: [(Double, Double)] = []
        for t in front {
            guard let b = study.posteriorBelief(t.id, yi) else { continue }
            plot.errorBar(x: t.values[xi], low: b.mean - b.halfWidth, high: b.mean + b.halfWidth, color: "#ff7f0e")
            pts.append((t.values[xi], b.mean))
        }
        if !pts.isEmpty { plot.points(pts, color: "#ff7f0e", radius: 3, legend: "posterior mean, 95% interval (the answer)") }
    }

    /// The final stage's scores (mean ± sd over seeds) over the search's trials they re-evaluate.
    static func plotReevaluation(_ re: Reevaluation, of study: Study, x xi: Int, on plot: inout SVGPlot) {
        var pts: [(Double, Double)] = []
        for id in Reevaluation.targets(study) {
            guard let st = re.stats(trial: id) else { continue }
            let x = study.trials[id].values[xi]
            plot.errorBar(x: x, low: st.mean - st.sd, high: st.mean + st.sd, color: "#2ca02c")
            pts.append((x, st.mean))
        }
        plot.points(pts, color: "#2ca02c", radius: 4, legend: "re-evaluated at final fidelity (mean ± sd)")
    }

    /// The hypervolume plot's y range: from a little below the first non-zero value (not from 0,
    /// where everything after the first trials is a flat line at the top) to the best value or the
    /// known optimum.
    static func hypervolumeAxis(_ values: [Double], optimum: Double?) -> (lower: Double, upper: Double) {
        let hi = max(values.max() ?? 1, optimum ?? 0, 1e-300)
        guard let first = values.filter({ $0 > 0 }).min(), first < hi else { return (0, hi) }
        return (max(0, first - 0.05 * (hi - first)), hi)
    }

    static func hypervolumePlot(_ study: Study) -> String {
        let spec = study.spec
        let running = study.reportedHypervolumeAfterEachTrial.enumerated().map { (Double($0.offset + 1), $0.element) }
        var optimum: Double?
        if case .synthetic(let p, _) = spec.problem { optimum = p.optimalHypervolume }
        let (lo, hi) = hypervolumeAxis(running.map(\.1), optimum: optimum)
        var plot = SVGPlot(title: "\(spec.name): hypervolume after each trial",
                           x: .init(label: "trial", lower: 1, upper: Double(max(study.trials.count, 2))),
                           y: .init(label: "hypervolume\(study.countsParameters ? ", log10 parameters" : "") (reference "
                               + "\(spec.reference.map { Study.format($0) }.joined(separator: ", ")))", lower: lo, upper: hi))
        // Trials before the first point on the front have no hypervolume: drawn at the axis floor.
        let shown = running.map { ($0.0, max($0.1, lo)) }
        plot.steps(shown, color: "#d62728", legend: "dominated hypervolume")
        plot.points(shown, color: "#d62728", radius: 2.5, titles: running.map { "trial \(Int($0.0)): hypervolume \(Study.format($0.1))" })
        let designEnd = Double(spec.initial + spec.baselines.count) + 0.5
        if designEnd < Double(study.trials.count) {
            plot.steps([(designEnd, lo), (designEnd, hi)], color: "#999", dashed: true,
                       legend: "end of the baselines and initial design", horizontalFirst: false)
        }
        if let optimum { plot.horizontal(optimum, color: "#2ca02c", label: "true front \(Study.format(optimum))") }
        return plot.render()
    }

    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    static func csv(_ study: Study, _ extras: Extras? = nil) -> String {
        let extras = extras ?? Extras(study: study)
        let spec = study.spec
        let front = Set(study.frontIDs)
        let volumes = study.reportedHypervolumeAfterEachTrial
        let cheapestVolumes = study.cheapestFidelityHypervolumeAfterEachTrial
        let params = spec.space.parameters.filter { if case .fixed = $0.domain { return false }; return true }
        let metricNames = Array(Set(study.trials.flatMap { $0.metrics.keys })).sorted()
        let fidelityColumns = spec.fidelity == nil ? [] : ["fidelity_examples", "continues", "trained_examples"]
        // A prior without opinion (log π constant) steers nothing, whatever its weight: no columns.
        let priorWeights = extras.priorSteering.flatMap { $0.prior.hasOpinion ? $0.weights : nil }
        let posterior = study.answerPosterior
        let measured = posterior == nil ? [] : spec.objectives.indices.filter { !spec.objectives[$0].known }
        let posteriorColumns = measured.flatMap { j in ["posterior_mean", "interval_low", "interval_high"].map { "\(spec.objectives[j].name).\($0)" } }
        let replicated = study.trials.contains { $0.replicates != nil }
        var rows = [(["trial", "status", "baseline", "origin", "aims_at"] + (replicated ? ["replicates"] : []) + fidelityColumns + spec.objectives.map(\.name) + posteriorColumns
            + ["on_front", "hypervolume"] + (cheapestVolumes == nil ? [] : ["cheapest_fidelity_hypervolume"])
            + (priorWeights == nil ? [] : ["prior_trust", "prior_exponent"])
            + ["seconds", "proposal_seconds", "seed"]
                     + params.map(\.name) + metricNames.map { "metric." + $0 } + ["peft", "error"]).joined(separator: ",")]
        for t in study.trials {
            var cfg: [(key: String, value: JSONValue)] = []
            var active = Set<String>()
            if let c = t.config, case .object(let members) = spec.space.json(c) { cfg = members; active = Set(spec.space.activeNames(c)) }
            var f = ["\(t.id + 1)", t.status.rawValue, t.baseline ?? "", t.origin.rawValue, t.aim ?? ""]
            if replicated { f.append(t.replicates.map { "\($0 + 1)" } ?? "") }
            if spec.fidelity != nil {
                // Trained examples: a cost that does not depend on how busy the machine was.
                f += [t.fidelity.map { "\($0.examples)" } ?? "", t.continues.map { "\($0 + 1)" } ?? "",
                      t.fidelity == nil ? "" : "\(Int(study.trainedExamples(t)))"]
            }
            f += spec.objectives.indices.map { t.status == .finished ? "\(t.values[$0])" : "" }
            for j in measured {
                // The model's belief about the configuration's true value (answers at the target only).
                let b = t.status == .finished && study.isAtTarget(t) ? study.posteriorBelief(t.id, j) : nil
                f += b.map { ["\($0.mean)", "\($0.mean - $0.halfWidth)", "\($0.mean + $0.halfWidth)"] } ?? ["", "", ""]
            }
            // What a benchmark reads at 10, 20 or 30 trials without computing a volume itself.
            f += [front.contains(t.id) ? "1" : "0", "\(volumes[t.id])"] + (cheapestVolumes.map { ["\($0[t.id])"] } ?? [])
            if let priorWeights {
                // How much the prior steered this proposal (optimiser trials only), as replayed.
                let w = priorWeights[t.id]
                f += [w.map { String(format: "%.4f", $0.trust) } ?? "", w.map { String(format: "%.4f", $0.exponent) } ?? ""]
            }
            f += [String(format: "%.3f", t.seconds), String(format: "%.3f", t.proposalSeconds), "\(t.seed)"]
            for p in params {
                guard active.contains(p.name), let v = cfg.first(where: { $0.key == p.name })?.value else { f.append(""); continue }
                switch v {
                case .array(let items): f.append(items.map(\.plainText).joined(separator: ";"))
                default: f.append(v.plainText)
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
        case .synthetic(let p, let d):
            return "synthetic problem \(p.rawValue), d = \(d) (true front's hypervolume \(Study.format(p.optimalHypervolume)))"
        case .peftMock(let dims, _):
            return "PEFT mock (exact parameter counts for hidden \(dims.hiddenSize), \(dims.layers) layers; synthetic score)"
        case .training(let dims, _): return "training every candidate (hidden \(dims.hiddenSize), \(dims.layers) layers)"
        }
    }

    static func summaryRows(_ study: Study, _ extras: Extras) -> [(String, String)] {
        let spec = study.spec
        let failed = study.trials.filter { $0.status == .failed }.count
        var rows: [(String, String)] = [
            ("space file", study.spaceFileFromStudy + " (from the study folder)"), ("problem", problemDescription(spec)),
            ("objectives",
             spec.objectives.map { "\($0.goal.rawValue) "
             + "\($0.name)\($0.known ? " (computed)" : " (measured, GP)")" }.joined(separator: "; ")),
            ("reference point", study.namedValues(spec.reference)
                + (study.referenceWarning.map { "; WARNING: " + $0 } ?? "")),
            ("trials",
             "\(study.trials.count) of \(spec.trials) (\(spec.initial) "
             + "initial\(spec.baselines.isEmpty ? "" : ", \(spec.baselines.count) baselines")); \(study.finished.count) finished, "
             + "\(failed) failed"),
            ("hypervolume", study.countsParameters ? "\(Study.format(study.reportedHypervolume)) against log10 parameters "
                + "(\(Study.format(study.hypervolume)) against parameters)" : Study.format(study.hypervolume)),
            ("trial time", String(format: "%.1f s in trials, %.1f s proposing", study.trials.reduce(0) { $0 + $1.seconds },
                                  study.trials.reduce(0) { $0 + $1.proposalSeconds })),
        ]
        if let f = spec.fidelity {
            rows += fidelityRows(study, f)
        }
        if let row = priorRow(study, extras) { rows.append(row) }
        if case .training = spec.problem {
            let flat = study.flatScoreWarnings
            let none = study.constantPredictionScore.map { String(format: "none: at every fidelity, most trials score more than 0.005 "
                + "from %.4f, what predicting one class for every \(study.selection.kind.rawValue) example scores (the majority-rate "
                + "check)", $0) }
                ?? "none: at every fidelity, no score holds most trials (the majority-rate check)"
            rows.append(("flat scores", flat.isEmpty ? none : "WARNING: " + flat.joined(separator: "; WARNING: ")))
        }
        if let v = study.posteriorHypervolume {
            rows.append(("answer", "the front by posterior mean (a GP over every run, its noise learnt), hypervolume "
                + "\(Study.format(v)) by the posterior means\(study.countsParameters ? " against log10 parameters" : "")"))
        } else {
            rows.append(("answer", "the front of the runs' own scores" + (study.runsAreExact && study.answerMode == .posteriorMean
                ? " (the problem declares no noise, so there is none to average)" : "")))
        }
        if case .training = spec.problem { rows.append(("selected on", study.selection.description)) }
        if let re = extras.reevaluation {
            rows.append(("final stage", (re.settingsDescription.map { $0 + "; " } ?? "") + "\(re.runs.count) runs (autopeft reevaluate)"))
        }
        if case .synthetic(let p, _) = spec.problem {
            rows.append(("share of the true front's hypervolume", String(format: "%.1f%%", 100 * study.hypervolume / p.optimalHypervolume)))
        }
        return rows
    }

    /// Studies with a sensitivity prior: how much it steered the optimiser, first and last
    /// (`Study.priorWeightAtProposals`; per trial in trials.csv).
    static func priorRow(_ study: Study, _ extras: Extras) -> (String, String)? {
        guard let steering = extras.priorSteering else { return nil }
        let method = study.spec.priors.methodName
        // The method's own choice is a trial either way: what sets such a study apart from one without a prior.
        let own = study.trials.first { $0.origin == .method }.map { "; its own choice was trial \($0.id + 1)" } ?? ""
        guard steering.prior.hasOpinion else {
            return ("prior", "\(method): prefers no configuration in this space, so it steered no proposal" + own)
        }
        let weights = steering.weights.sorted { $0.key < $1.key }
        guard let first = weights.first, let last = weights.last else { return ("prior", "\(method): no optimiser trial yet" + own) }
        let earned = study.optimizer.settings.priorWeightFromData
        return ("prior", "\(method), π^(β·trust/n) with β = \(Study.format(study.optimizer.settings.priorWeight))"
            + (earned ? ", trust earned from the trials (Kendall τ of log π against dominance, shrunk by "
                + "\(Int(Optimizer.priorPseudoCount)) pseudo-observations)" : ", trust fixed at 1")
            + String(format: ": trust %.2f and exponent %.3f at trial %d, %.2f and %.3f at trial %d", first.value.trust,
                     first.value.exponent, first.key + 1, last.value.trust, last.value.exponent, last.key + 1) + own)
    }

    /// Multi-fidelity studies: the fidelities, where the seconds went, and how well the cheapest
    /// fidelity ranked the paired configurations.
    static func fidelityRows(_ study: Study, _ f: FidelitySettings) -> [(String, String)] {
        let ended = study.trials.filter { $0.status != .running }
        let perLevel = f.levels.map { level -> String in
            let ts = ended.filter { ($0.fidelity ?? f.target) == level }
            let name = level == f.target ? "target" : "\(level.examples) examples"
            return "\(name): \(ts.count) trials, \(String(format: "%.0f", ts.reduce(0) { $0 + $1.seconds })) s"
        }
        let a = study.fidelityAgreement
        var agreement = a.pairs.isEmpty ? "no pairs yet" : String(format: "Kendall τ %.2f on %d paired configurations", a.tau,
                                                                  a.pairs.count)
        if let reason = study.cheapFidelityDropReason { agreement += " (\(reason): later trials trained at the target only)" }
        return [
            ("fidelities", "target \(f.targetRows) rows × \(f.targetEpochs) epochs (\(f.target.examples) examples); cheaper: "
                + (f.cheaper.isEmpty ? "none" : f.cheaper.map(f.cheapRunDescription).joined(separator: ", ") + (f.cheapRuns == .annealed ? " (annealed runs of their own, promoted from scratch)" : ""))
                + (f.coolDown > 0 && !f.cheaper.isEmpty ? String(format: ", scored after a cool-down of %.0f%% of their steps more",
                                                                  100 * f.coolDown) : "")
                + "; the front is built from target trials only"),
            ("seconds per fidelity", perLevel.joined(separator: "; ")),
            ("cheapest vs target", agreement),
        ]
    }

    /// The paired configurations' values at the cheapest fidelity against the target, with τ.
    static func agreementPlot(_ study: Study) -> String? {
        guard let f = study.spec.fidelity, let j = study.spec.objectives.firstIndex(where: { !$0.known }) else { return nil }
        let a = study.fidelityAgreement
        guard !a.pairs.isEmpty else { return nil }
        let xs = a.pairs.map(\.cheap), ys = a.pairs.map(\.target)
        let lo = min(xs.min()!, ys.min()!), hi = max(xs.max()!, ys.max()!)
        let pad = max((hi - lo) * 0.05, 1e-6)
        let name = study.spec.objectives[j].name
        var plot = SVGPlot(title: String(format: "%@: %@ at %d examples vs the target (Kendall τ %.2f, %d pairs)", study.spec.name, name,
                                         f.cheapest.examples, a.tau, a.pairs.count),
                           x: .init(label: "\(name) at \(f.cheapest.examples) examples", lower: lo - pad, upper: hi + pad),
                           y: .init(label: "\(name) at the target", lower: lo - pad, upper: hi + pad))
        plot.line(from: (lo - pad, lo - pad), to: (hi + pad, hi + pad), color: "#bbb", dashed: true, legend: "equal at both")
        plot.points(Array(zip(xs, ys)), color: "#1f77b4", radius: 4, legend: "paired configuration",
                    titles: a.pairs.map { "trials \($0.ids.0 + 1) and \($0.ids.1 + 1)" })
        return plot.render()
    }

    static func frontRows(_ study: Study) -> [TrialRecord] {
        let (xi, _) = axes(study.spec)
        return study.frontIDs.map { study.trials[$0] }.sorted { $0.values[xi] < $1.values[xi] }
    }

    /// The report's content, rendered as report.md and report.html by `ReportDocument`.
    /// The report's plots as SVG text (the optional ones when the study has what they show).
    struct Plots {
        var pareto: String, hypervolume: String
        var sensitivity: String?, agreement: String?
    }

    static func document(_ study: Study, _ extras: Extras, plots: Plots) -> ReportDocument {
        let spec = study.spec
        var doc = ReportDocument(title: spec.name)
        doc.add(.heading(level: 1, "Search report: \(spec.name)"))
        doc.add(.table(header: ["", ""], rows: summaryRows(study, extras).map { [[.text($0.0)], [.text($0.1)]] }, rowHeaders: true))
        doc.add(.heading(level: 2, "Pareto front"))
        doc.add(frontTable(study, extras))
        if let note = beyondReferenceNote(study) { doc.add(.paragraph([.text(note + ".")])) }
        doc.add(.figure(file: "pareto.svg", alt: "Pareto front", svg: plots.pareto))
        doc.add(.figure(file: "hypervolume.svg", alt: "Hypervolume", svg: plots.hypervolume))
        if let agreement = plots.agreement {
            doc.add(.heading(level: 2, "Cheapest fidelity against the target"))
            doc.add(.figure(file: "fidelity.svg", alt: "Cheapest fidelity against the target", svg: agreement))
        }
        if let table = baselineTable(study, extras) {
            doc.add(.heading(level: 2, "Baselines"))
            doc.add(.paragraph([.text("A baseline is matched or dominated when a search trial (not a baseline) has the same or a "
                + "better value in every objective; the verdict names the front point that does with the fewest "
                + "\(spec.objectives.last?.name ?? "parameters"), or says by how much the search missed it.")]))
            doc.add(table)
        }
        if let sens = extras.sensitivity, let svg = plots.sensitivity {
            doc.add(.heading(level: 2, "Sensitivity prior (\(sens.method.rawValue))"))
            doc.add(.figure(file: "sensitivity.svg", alt: "Sensitivity", svg: svg))
        }
        let failed = study.trials.filter { $0.status == .failed }
        if !failed.isEmpty {
            doc.add(.heading(level: 2, "Failed trials"))
            doc.add(.list(failed.map { [.text("trial \($0.id + 1): \($0.error ?? "unknown error")")] }))
        }
        if let failures = extras.reevaluation?.failures, !failures.isEmpty {
            doc.add(.heading(level: 2, "Final-stage runs that failed"))
            doc.add(.list(failures.map { [.text("trial \($0.trial + 1), seed \($0.seed): \($0.error)")] }))
        }
        doc.add(.paragraph([.text("Every trial, with its configuration, values, seed and timings: "),
                            .link("trials.csv", href: "trials.csv"), .text(".")]))
        doc.add(.paragraph([.text("Reproduce, from the study folder: "), .code("autopeft search \(study.spaceFileFromStudy) --out ."),
                            .text(" then "), .code("autopeft report .")]))
        return doc
    }

    /// The measured objectives whose posterior the front shows (none in a study that answers by its runs).
    static func posteriorObjectives(_ study: Study) -> [Int] {
        study.answerPosterior == nil ? [] : study.spec.objectives.indices.filter { !study.spec.objectives[$0].known }
    }

    /// The objectives' column headers: the score named by the rows it was measured on when the
    /// study selected on a validation split ("score (validation)").
    static func objectiveHeaders(_ study: Study) -> [String] {
        study.spec.objectives.map {
            $0.name == Objective.Name.score && study.selection.kind == .validation ? "\($0.name) (validation)" : $0.name
        }
    }

    /// The final stage's column: "dev score" when the search selected apart from dev.
    static func finalScoreHeader(_ study: Study) -> String {
        study.selection.kind == .validation ? "final dev score" : "final score"
    }

    /// A trial's final-stage score, mean ± sd (seeds), when `autopeft reevaluate` has run it.
    static func finalScore(_ extras: Extras, _ id: Int) -> ReportDocument.Cell {
        guard let st = extras.reevaluation?.stats(trial: id) else { return [] }
        return [.text(String(format: "%.4f ± %.4f (%d)", st.mean, st.sd, st.n))]
    }

    static func frontTable(_ study: Study, _ extras: Extras) -> ReportDocument.Block {
        let spec = study.spec, reevaluated = extras.reevaluation != nil
        let believed = posteriorObjectives(study)
        let header = ["trial"] + objectiveHeaders(study) + believed.map { "\(spec.objectives[$0].name), posterior mean [95% interval]" }
            + (reevaluated ? [finalScoreHeader(study) + ", mean ± sd (seeds)"] : [])
            + ["configuration", "export"]
        let rows = frontRows(study).map { t -> [ReportDocument.Cell] in
            var row: [ReportDocument.Cell] = [[.text("\(t.id + 1)\(t.baseline.map { " (baseline \($0))" } ?? "")")]]
            row += t.values.map { [.text(Study.format($0))] }
            row += believed.map { [.text(study.posteriorText(t.id, $0) ?? "")] }
            if reevaluated { row.append(finalScore(extras, t.id)) }
            row.append([.code(describe(study, t))])
            row.append(extras.exports[t.id].map { [.link($0, href: $0)] } ?? [])
            return row
        }
        return .table(header: header, rows: rows, rowHeaders: false)
    }

    /// The Pareto-optimal trials the front leaves out because they are not better than the
    /// reference point in every objective (`Study.frontIDs`), or nil when there are none.
    static func beyondReferenceNote(_ study: Study) -> String? {
        let ids = study.paretoBeyondReferenceIDs
        guard !ids.isEmpty else { return nil }
        return ids.map { "trial \($0 + 1)" }.joined(separator: ", ") + " left out: Pareto-optimal, but not better than "
            + "the reference point (\(study.namedValues(study.spec.reference))) in every objective"
    }

    static func baselineTable(_ study: Study, _ extras: Extras) -> ReportDocument.Block? {
        let verdicts = study.baselineVerdicts
        guard !verdicts.isEmpty else { return nil }
        let reevaluated = extras.reevaluation != nil
        let noise = study.noiseVerdicts
        let header = ["baseline"] + objectiveHeaders(study) + (reevaluated ? [finalScoreHeader(study)] : []) + ["verdict"]
            + (noise == nil ? [] : ["verdict by the posterior"])
        let rows = verdicts.enumerated().map { k, v -> [ReportDocument.Cell] in
            let b = v.baseline
            var row: [ReportDocument.Cell] = [[.text("\(b.baseline ?? "") (trial \(b.id + 1))")]]
            row += b.values.map { [.text(Study.format($0))] }
            if reevaluated { row.append(finalScore(extras, b.id)) }
            row.append(v.isMatched ? [.text(study.describe(v))] : [.strong(study.describe(v))])
            if let noise { row.append([.text(study.describe(noise[k]))]) }
            return row
        }
        return .table(header: header, rows: rows, rowHeaders: false)
    }
}

extension Report {
    /// What a finished search says last on stderr: the Pareto front as a short table (one line a
    /// point, sorted by the x objective), then one line per baseline: the front point that matches
    /// or dominates it, or by how much the search missed it (`BaselineVerdict`).
    public static func terminalSummary(_ study: Study) -> [String] {
        let spec = study.spec
        let width = max(10, spec.objectives.map(\.name.count).max() ?? 0)
        func pad(_ s: String) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
        let scoredOn = study.selection.kind == .validation ? ", scored on the validation split" : ""
        var lines = ["Pareto front (\(study.frontIDs.count) points\(scoredOn))\(beyondReferenceNote(study).map { "; \($0)" } ?? ""):",
                     "  trial " + spec.objectives.map { pad($0.name) }.joined(separator: " ") + "  configuration"]
        for t in frontRows(study) {
            let id = String(t.id + 1)
            let believed = posteriorObjectives(study).compactMap { study.posteriorText(t.id, $0) }
            lines.append("  " + String(repeating: " ", count: max(0, 5 - id.count)) + id + " "
                         + t.values.map { pad(Study.format($0)) }.joined(separator: " ") + "  "
                         + (believed.isEmpty ? "" : "posterior " + believed.joined(separator: ", ") + "  ")
                         + (t.baseline.map { "[baseline \($0)] " } ?? "") + describe(study, t))
        }
        let noise = study.noiseVerdicts
        for (k, v) in study.baselineVerdicts.enumerated() {
            lines.append("baseline \(v.baseline.baseline ?? ""): \(study.namedValues(v.baseline.values))")
            lines.append("  " + study.describe(v))
            if let noise { lines.append("  by the posterior: " + study.describe(noise[k])) }
        }
        return lines
    }
}

extension Study {
    /// The prior a report describes: the study's own, or, for a study opened to report on it,
    /// one rebuilt from the scores in its folder.
    func reportedPrior(_ sensitivity: SensitivityScores?) -> SensitivityPrior? {
        prior ?? sensitivity.flatMap { Study.prior($0, journal: journal, spec: spec) }
    }
}
