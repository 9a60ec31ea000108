import Foundation
import Space

extension Study {
    /// Low fidelity is where searches silently die: when most finished trials score within 0.5
    /// points of one another (e.g. all at the majority-class rate), say so loudly, once per five trials.
    func warnIfScoresAreFlat(_ progress: (String) -> Void) {
        guard let j = spec.objectives.firstIndex(where: { $0.name == Objective.Name.score }), case .training = spec.problem else { return }
        let scores = finished.map { $0.values[j] }
        guard scores.count >= 5, scores.count % 5 == 0 else { return }
        var counts: [Int: Int] = [:]
        for s in scores { counts[Int((s * 200).rounded()), default: 0] += 1 }
        if let top = counts.max(by: { $0.value < $1.value }), Double(top.value) > 0.5 * Double(scores.count) {
            progress("WARNING: \(top.value) of \(scores.count) trials score \(String(format: "%.3f", Double(top.key) / 200)) "
                + "(±0.005): probably the majority-class rate, i.e. nothing learned at this fidelity; raise "
                + "training.learning_rate, rows or epochs, or the search is ranking noise")
        }
    }


    /// The whole study's progress: trials done of the budget, seconds so far and an estimate of
    /// those left from this run's trials (trial costs differ, so it is a rough guide).
    func studyProgressLine() -> String? {
        guard let started = runStarted else { return nil }
        let done = trials.filter { $0.status != .running }.count
        let elapsed = Date().timeIntervalSince(started)
        var line = "study: \(done)/\(spec.trials) trials done, \(Self.duration(elapsed)) elapsed"
        if let budget = spec.budgetSeconds {
            let spent = secondsSpent
            return line + ", \(Self.duration(spent)) of the \(Self.duration(budget)) budget spent in trials, "
                + "\(Self.duration(max(budget - spent, 0))) left"
        }
        let ranHere = done - trialsAtStart
        if ranHere > 0 && done < spec.trials {
            line += ", about \(Self.duration(elapsed / Double(ranHere) * Double(spec.trials - done))) left"
        }
        return line
    }

    static func duration(_ s: Double) -> String {
        s < 120 ? String(format: "%.0f s", s) : s < 7200 ? String(format: "%.1f min", s / 60) : String(format: "%.1f h", s / 3600)
    }
}
