import Foundation
import Space

extension Study {
    /// Low fidelity is where searches silently die: when most finished trials score within 0.5
    /// points of one another (e.g. all at the majority-class rate), say so loudly, once per five trials.
    func warnIfScoresAreFlat(_ progress: (String) -> Void) {
        guard finished.count >= 5, finished.count % 5 == 0 else { return }
        for warning in flatScoreWarnings { progress("WARNING: " + warning) }
    }

    /// Each fidelity (a study without fidelities has one) whose finished trials' scores are flat
    /// (`flatScoreWarning`). Checked per fidelity, so that a cheap fidelity's flat scores are not
    /// hidden among the target's, nor the target's blamed on the cheap ones.
    public var flatScoreWarnings: [String] {
        guard let j = spec.objectives.firstIndex(where: { $0.name == Objective.Name.score }),
              case .training = spec.problem else { return [] }
        var byFidelity: [Int: (at: String, scores: [Double])] = [:]
        for t in finished {
            let at = spec.fidelity == nil ? "" : isAtTarget(t) ? " at the target fidelity" : " at \(t.fidelity?.examples ?? 0) examples"
            byFidelity[t.fidelity?.examples ?? 0, default: (at, [])].scores.append(t.values[j])
        }
        return byFidelity.sorted { $0.key < $1.key }.compactMap {
            Self.flatScoreWarning(scores: $0.value.scores, at: $0.value.at, constant: constantPredictionScore)
        }
    }

    /// When the sensitivity prior has no opinion in this space (`SensitivityPrior.hasOpinion`), the
    /// user asked for guidance the scores cannot give here: says so, and what still differs.
    public var priorWarning: String? {
        guard let prior, !prior.hasOpinion else { return nil }
        let method = spec.priors.methodName
        let neutral = prior.neutralDecisions
        let held = (neutral.layerBits ? ["every layer bit ½"] : [])
            + (neutral.sizes ? ["module sizes uniform" + (spec.countsParameters ? " since trainable parameters are an objective" : "")] : [])
        return "the \(method) prior prefers no configuration in this space (" + (held + ["nothing else it weighs"]).joined(separator: ", ")
            + "): it steers no proposal; what differs from a search without it is \(method)'s own choice, tried once"
            + (Study.methodTrial(journal, spec: spec) == .design ? " in place of the initial design's last configuration" : "")
            + (initialFromPrior == 0 ? "" : ", and \(initialFromPrior) of the \(spec.initial) initial configurations drawn from it at "
                + "random instead of from the Latin hypercube")
    }

    /// When the reference point's score is below what predicting one class everywhere scores, a
    /// configuration that learns nothing adds hypervolume (MRPC's F1: 0.8122 for "paraphrase"
    /// everywhere, against a reference of 0.5), and the search is drawn to the tiniest modules that
    /// sit there. Says so, with the value to set.
    public var referenceWarning: String? {
        guard let c = constantPredictionScore, let j = spec.objectives.firstIndex(where: { $0.name == Objective.Name.score }),
              spec.objectives[j].goal == .maximize, spec.reference[j] < c else { return nil }
        let advised = Study.referenceAbove(c)
        return String(format: "the reference point's score %.6g is below %.6g, what predicting one class for every "
            + selection.kind.rawValue + " example scores: configurations that learn nothing add hypervolume; set search.reference_point.score to %.4f", spec.reference[j], c,
                      advised)
    }

    /// A warning when more than half of at least five scores say nothing was learned. With
    /// `constant`, what predicting one class everywhere scores on the dev set, those within ±0.005 of
    /// it count: a run stuck there scores a little off it when it flips a few examples (on MRPC at
    /// half an epoch, F1 0.8122 to 0.8154), and good runs clustered elsewhere are not flagged.
    /// Without it (synthetic problems, dev data not at hand), those in one 0.005-wide bin (scores ×
    /// 200, rounded) count: probably the majority-class rate. `at` names the fidelity.
    public static func flatScoreWarning(scores: [Double], at: String = "", constant: Double? = nil) -> String? {
        guard scores.count >= 5 else { return nil }
        let advice = "nothing learned at this fidelity; raise training.learning_rate, rows or epochs, or the search is ranking noise"
        if let constant {
            let stuck = scores.filter { abs($0 - constant) <= 0.005 + 1e-12 }.count
            guard Double(stuck) > 0.5 * Double(scores.count) else { return nil }
            return "\(stuck) of \(scores.count) trials\(at) score within 0.005 of \(String(format: "%.4f", constant)), what "
                + "predicting one class everywhere scores: " + advice
        }
        var counts: [Int: Int] = [:]
        // Scores are finite (a trial's values are checked when it ends); bounded too, so the bin fits an Int.
        for s in scores where abs(s) < 1e12 { counts[Int((s * 200).rounded()), default: 0] += 1 }
        guard let top = counts.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }),
              Double(top.value) > 0.5 * Double(scores.count) else { return nil }
        return "\(top.value) of \(scores.count) trials\(at) score \(String(format: "%.3f", Double(top.key) / 200)) "
            + "(±0.005): probably the majority-class rate, i.e. " + advice
    }

    /// The whole study's progress: trials done of the budget, seconds so far and an estimate of
    /// those left (`secondsLeft`).
    func studyProgressLine() -> String? {
        guard let started = runStarted else { return nil }
        let done = trials.filter { $0.status != .running }.count
        let elapsed = Date().timeIntervalSince(started)
        let line = "study: \(done)/\(spec.trials) trials done, \(Self.duration(elapsed)) elapsed"
        if let budget = spec.budgetSeconds {
            let spent = secondsSpent
            return line + ", \(Self.duration(spent)) of the \(Self.duration(budget)) budget spent in trials, "
                + "\(Self.duration(max(budget - spent, 0))) left"
        }
        guard let left = secondsLeft(elapsed: elapsed) else { return line }
        return line + (left.lowerBound == left.upperBound ? ", about \(Self.duration(left.lowerBound)) left"
            : ", \(Self.duration(left.lowerBound)) to \(Self.duration(left.upperBound)) left, as the fidelities to come fall")
    }

    /// Seconds the trials to come should take, from what this run's trials took: per trial, or with
    /// fidelities per trial and per trained example (`trialSeconds`) times what is left
    /// (`examplesLeft`). nil before this run has ended a trial, or when none is left. Trials alike
    /// in examples still differ in seconds (module size, depth): a guide.
    func secondsLeft(elapsed: Double) -> ClosedRange<Double>? {
        let endedHere = trials.filter { $0.status != .running && !endedAtStart.contains($0.id) }
        let trialsLeft = Double(spec.trials - trials.filter { $0.status != .running }.count)
        guard !endedHere.isEmpty, trialsLeft > 0 else { return nil }
        guard let examples = examplesLeft() else {
            let s = elapsed / Double(endedHere.count) * trialsLeft
            return s...s
        }
        // The model's shape comes from every finished trial; its scale from this run's wall clock
        // per modelled second (the machine's speed, proposals, parallel workers), so a resumed
        // study is paced by the time it saw.
        let model = trialSeconds
        let modelled = endedHere.reduce(0) { $0 + model.seconds(.init(examples: trainedExamples($1), depth: 0)) }
        let wall = elapsed / max(modelled, 1e-9)
        func seconds(_ e: Double) -> Double { wall * trialsLeft * model.seconds(.init(examples: e / trialsLeft, depth: 0)) }
        var low = seconds(examples.lowerBound), high = seconds(examples.upperBound)
        // Trials that all trained as many examples (the design, at one fidelity) cannot split their
        // seconds into a fixed part and a part per example: the range then spans both splits.
        if Set(finished.map { trainedExamples($0) }).count < 2 {
            let rate = elapsed / max(endedHere.reduce(0) { $0 + trainedExamples($1) }, 1e-9)
            low = min(low, rate * examples.lowerBound)
            high = max(high, rate * examples.upperBound)
        }
        // The model is monotone (`trialSeconds`) and the clock finite; the checks keep a progress
        // line from ever trapping a search.
        guard low.isFinite, high.isFinite else { return nil }
        return min(low, high)...max(low, high)
    }

    /// Seconds per trial as a fixed part (evaluation, the prefix cache, loading) plus a part per
    /// trained example, fitted to the finished trials (`CostModel` without module features: the
    /// trials to come are not chosen yet). A cheap trial spends a larger share of its seconds in the
    /// fixed part, so one rate per example, measured on the design's cheap trials, overprices the
    /// target runs (SST-2: 7.6 s of a 28 s first-fidelity trial). Trials slower than 3× the median
    /// seconds per example are left out: a pause or a loaded machine, which the fit would read as a
    /// fixed part of every trial (as the seconds-priced fidelity policy did). A fit in which more
    /// examples cost fewer seconds is noise, not a model: one rate per example then.
    var trialSeconds: CostModel {
        let samples = finished.map { (features: CostModel.Features(examples: trainedExamples($0), depth: 0), seconds: $0.seconds) }
        let rates = samples.map { $0.seconds / max($0.features.examples, 1) }.sorted()
        let median = rates.isEmpty ? 0 : rates[rates.count / 2]
        let kept = samples.filter { $0.seconds / max($0.features.examples, 1) <= 3 * median }
        let fit = CostModel(samples: kept)
        return fit.isMonotone ? fit : CostModel(samples: kept, fitted: false)
    }

    /// The examples a multi-fidelity study's trials to come should train (nil without fidelities).
    /// What is scheduled counts as it will run: the trials under way; baselines, the method's
    /// choice and design rows not begun, at the starting fidelity; baselines and paired design rows
    /// not yet promoted, to the target. Each optimiser trial left trains the mean of the study's
    /// optimiser trials once 4 have ended (one figure). Before, a range: at least the cheapest
    /// cycle the policy allows (`cheap_streak` fresh trials at the cheapest fidelity, then a
    /// promotion to the target), at most a fresh run at the target each.
    func examplesLeft() -> ClosedRange<Double>? {
        guard let settings = spec.fidelity else { return nil }
        var notBegun = max(spec.trials - trials.count, 0)
        func take(_ n: Int) -> Double { let k = min(max(n, 0), notBegun); notBegun -= k; return Double(k) }
        let start = startingFidelity ?? settings.cheapest
        let designRows = design?.count ?? spec.initial
        let baselinesLeft = spec.baselines.filter { b in !trials.contains { $0.baseline == b.name } }.count
        let methodLeft = methodChoice != nil && Study.methodTrial(journal, spec: spec) == .extra
            && !trials.contains { $0.origin == .method } ? 1 : 0
        let designLeft = designRows - designTrialCount
        var known = trials.filter { $0.status == .running }.reduce(0) { $0 + trainedExamples($1) }
        let scheduled = take(baselinesLeft + methodLeft + designLeft)
        known += scheduled * settings.trainedExamples(at: start, from: 0)
        // Once the cheaper fidelities are dropped (rules 6), those rows train at the target instead.
        let droppedExtra = scheduled * (settings.trainedExamples(at: settings.target, from: 0) - settings.trainedExamples(at: start, from: 0))
        if start != settings.target {
            let promoted = trials.filter { $0.origin == .pair || ($0.baseline != nil && isAtTarget($0)) }.count
            known += take(spec.baselines.count + min(settings.paired, designRows) - promoted)
                * settings.trainedExamples(at: settings.target, from: start.examples)
        }
        let optimiserLeft = Double(notBegun)
        // Replicates (fresh target runs) are part of what follows the design too.
        let ended = trials.filter { ($0.origin == .optimizer || $0.origin == .replicate) && $0.status != .running }
        if ended.count >= 4 {
            let e = known + optimiserLeft * ended.reduce(0) { $0 + trainedExamples($1) } / Double(ended.count)
            return e...e
        }
        let fresh = settings.trainedExamples(at: settings.target, from: 0)
        let cheap = settings.trainedExamples(at: settings.cheapest, from: 0)
        let cycle = cheapFidelitiesMislead ? fresh : settings.cheapStreak.map {
            (Double($0) * cheap + settings.trainedExamples(at: settings.target, from: settings.cheapest.examples)) / Double($0 + 1)
        } ?? cheap
        return known + optimiserLeft * min(cycle, fresh)...known + max(droppedExtra, 0) + optimiserLeft * fresh
    }

    /// Seconds as progress lines print them: "95 s", "12.5 min", "3.2 h".
    public static func duration(_ s: Double) -> String {
        s < 120 ? String(format: "%.0f s", s) : s < 7200 ? String(format: "%.1f min", s / 60) : String(format: "%.1f h", s / 3600)
    }
}
