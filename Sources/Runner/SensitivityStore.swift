import JSONKit
import Foundation
import Space
import Search
import Trainer

/// A study's sensitivity scores, kept in its folder so that a resumed study uses the same prior.
public enum SensitivityStore {
    /// The sensitivity scores of a study: read from `DIR/sensitivity-<method>.json` when there
    /// (a resumed study must use the same prior), otherwise computed and saved there.
    public static func scores(spec: StudySpec, directory: String, method: SensitivityScores.Method, trainer: TrainerEvaluator?, fresh: Bool,
                              progress printErr: (String) -> Void) throws -> SensitivityScores {
        let path = directory + "/sensitivity-\(method.rawValue).json"
        if !fresh, let scores = try Study.readScores(file: path, spec: spec) {
            printErr("autopeft: using the \(method) scores in \(path)")
            return scores
        }
        let scores: SensitivityScores
        var extra: [(key: String, value: JSONValue)] = []
        let start = Date()
        switch spec.problem {
        case .training:
            guard let trainer else { throw Study.Failure(message: "no trainer") }
            printErr("autopeft: computing \(method) sensitivity scores")
            (scores, extra) = try trainer.sensitivity(method: method)
        case .peftMock(let dims, _):
            scores = PEFTMock.sensitivity(dims: dims)
        case .synthetic:
            throw Study.Failure(message: "sensitivity scores need a PEFT space")
        }
        let seconds = Date().timeIntervalSince(start)
        try FileSystem.createDirectory(directory)
        var members: [(key: String, value: JSONValue)] = [("scores_record", scores.json), ("seconds", .number(seconds))] + extra
        if let dims = spec.problem.dimensions {
            let prior = SensitivityPrior(scores: scores, space: spec.space, dims: dims)
            let choice = try prior.methodChoice(dims: dims, seed: spec.seed)
            members.append(("choice", spec.space.json(choice)))
            if let n = spec.space.parameterCount?(choice) { members.append(("choice_trainable_params", .number(n))) }
        }
        do { try (JSONValue.object(members).serialized() + "\n").write(toFile: path, atomically: true, encoding: .utf8) }
        catch { throw IOFailure(path: path, reason: "cannot write the scores: " + SystemErrors.explain(error)) }
        printErr("autopeft: \(method) scores saved to \(path) (\(String(format: "%.1f", seconds)) s)")
        return scores
    }
}
