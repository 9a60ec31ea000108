import Foundation
import JSONKit
import Space
import Search

/// Whole studies on synthetic problems, one arm against another over search seeds. `bench/sweeps`
/// runs them at full size and prints the tables that docs/results.md quotes; the suite runs the
/// same arms at fewer seeds with the same assertions. Each arm writes its study into a new folder
/// that `folder` gives.
public struct SearchArms {
    /// A new, empty folder for one study.
    public let folder: () -> String
    /// The repository (for spaces/autopeft-mock.json).
    public let root: String

    public init(root: String, folder: @escaping () -> String) {
        self.root = root
        self.folder = folder
    }

    /// A study of `text` (a space file) run to its end in a new folder.
    public func study(_ text: String) throws -> Study {
        let d = folder()
        try text.write(toFile: d + "/s.json", atomically: true, encoding: .utf8)
        let spec = try StudySpec(file: d + "/s.json")
        let study = try Study(spec: spec, directory: d + "/study")
        try study.run(evaluator: SyntheticEvaluator(spec: spec)) { _ in }
        return study
    }

    /// ZDT1 (d = 3), each target trial costing 1 s and a cheap one a quarter of that, searched for
    /// `budget` simulated seconds, with the extra problem settings and fidelity section given.
    /// Returns the hypervolume at the target of the configurations the study returns as its front.
    public func zdt(problem extra: String = "", fidelity: String = "", seed: Int, budget: Double = 16) throws
        -> (hypervolume: Double, study: Study) {
        let study = try study(#"{"name": "mf", "problem": {"name": "zdt1", "dimensions": 3, "cost_seconds": 1\#(extra)}\#(fidelity),"#
            + #""search": {"trials": 200, "initial": 6, "seed": \#(seed), "budget_seconds": \#(budget)}}"#)
        let spec = study.spec
        let front = study.frontIDs.map { spec.space.encode(study.trials[$0].config!) }
        return (Hypervolume.compute(front.map { SyntheticProblem.zdt1.evaluate($0) }, reference: spec.reference), study)
    }

    /// The PEFT mock shaped like SST-2: serial, parallel and prefix sizes over a layer mask, a cheap
    /// fidelity biased mildly (modules high up look better than they are), seed noise of sd 0.005.
    /// Returns the hypervolume at the target (noiseless, log10 parameters) of the configurations
    /// the study returns, and the study.
    public func mock(problem extra: String = "", fidelity: String = "", budget: Double, seed: Int) throws
        -> (hypervolume: Double, study: Study) {
        try hypervolume(of: try study(mockSpace(problem: extra, fidelity: fidelity, budget: budget, seed: seed)))
    }

    /// The space file `mock` searches.
    public func mockSpace(problem extra: String = "", fidelity: String = "", budget: Double, seed: Int) -> String {
        #"{"name": "mock", "problem": {"name": "peft_mock", "cost_seconds": 1, "noise": 0.005\#(extra)}\#(fidelity), "#
            + #""objectives": [{"name": "score", "goal": "maximize"}, {"name": "trainable_params", "goal": "minimize"}], "#
            + #""space": {"layers": {"type": "layer_mask", "min_on": 1}, "serial_adapter": {"size": [0, 1, 4, 16, 64]}, "#
            + #""parallel_adapter": {"size": [0, 1, 4, 16, 64]}, "prefix": {"length": [0, 1, 4, 16]}}, "#
            + #""constraints": [{"type": "at_least_one", "of": ["serial_adapter.size", "parallel_adapter.size", "prefix.length"]}], "#
            + #""search": {"trials": 200, "initial": 8, "seed": \#(seed), "budget_seconds": \#(budget), "#
            + #""reference_point": {"score": 0.5, "trainable_params": 3000000}}}"#
    }

    /// The hypervolume at the target (noiseless, log10 parameters) of the configurations a study of
    /// the mock returns, and the study.
    public func hypervolume(of study: Study) throws -> (hypervolume: Double, study: Study) {
        let spec = study.spec
        guard let dims = spec.problem.dimensions else { return (0, study) }
        let points = try study.frontIDs.map { id -> [Double] in
            let c = study.trials[id].config!
            return [-PEFTMock.score(try spec.plan(.config(c)), dims: dims), log10(spec.knownValues(c)[1])]
        }
        return (Hypervolume.compute(points, reference: [-0.5, log10(3e6)]), study)
    }

    /// spaces/autopeft-mock.json with the given seed, trial count and parameter axis ("" leaves
    /// the default), without its prior.
    public func autopeftMock(seed: Int, trials: Int, axis: String = "") throws -> StudySpec {
        let d = folder()
        var doc = try JSONParser.parse(String(contentsOfFile: root + "/spaces/autopeft-mock.json", encoding: .utf8))
        guard case .object(var top) = doc, let i = top.firstIndex(where: { $0.key == "search" }),
              case .object(var search) = top[i].value else { throw SweepError("spaces/autopeft-mock.json has no search section") }
        search.removeAll { ["seed", "trials", "parameter_axis"].contains($0.key) }
        search += [("seed", .number(seed)), ("trials", .number(trials))]
        if !axis.isEmpty { search.append(("parameter_axis", .string(axis))) }
        top[i].value = .object(search)
        top.removeAll { $0.key == "priors" }
        doc = .object(top)
        try doc.serialized().write(toFile: d + "/space.json", atomically: true, encoding: .utf8)
        return try StudySpec(file: d + "/space.json")
    }
}

public struct SweepError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Means and medians of a sweep's columns.
public func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(max(x.count, 1)) }
public func median(_ x: [Double]) -> Double {
    let s = x.sorted()
    guard !s.isEmpty else { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
