// bench-search: hypervolume of autopeft's optimiser against random search on standard problems,
// and the seconds per proposal. Run through `bench/search/run` (release build).
//
//   bench-search run --problem zdt1 --method autopeft|random --seed S [--evals 60] [--initial 10]
//       one JSON line: hypervolume after every evaluation, seconds per proposal
//   bench-search timing --problem zdt1 --observations 20,60,200 [--repeats 3]
//       one JSON line per size: seconds for one proposal after that many observations
import JSONKit
import Foundation
import Space
import Search

func fail(_ s: String) -> Never { FileHandle.standardError.write(Data((s + "\n").utf8)); exit(2) }

var args = Array(CommandLine.arguments.dropFirst())
guard let mode = args.first else { fail("usage: bench-search run|timing --problem P …") }
args.removeFirst()
var opts: [String: String] = [:]
var i = 0
while i + 1 < args.count { opts[String(args[i].dropFirst(2))] = args[i + 1]; i += 2 }
guard let problem = SyntheticProblem(rawValue: opts["problem"] ?? "") else {
    fail("--problem: one of \(SyntheticProblem.allCases.map(\.rawValue).joined(separator: ", "))")
}
let d = Int(opts["dimensions"] ?? "") ?? problem.defaultDimensions()
let space = problem.space(dimensions: d)
let optimizer = Optimizer(space: space, objectives: problem.objectiveSpecs, reference: problem.reference) { _ in [.nan, .nan] }

func evaluate(_ c: Config) -> [Double] { problem.evaluate(space.encode(c)) }

switch mode {
case "run":
    let seed = UInt64(opts["seed"] ?? "0") ?? 0
    let evals = Int(opts["evals"] ?? "60") ?? 60, initial = Int(opts["initial"] ?? "10") ?? 10
    let method = opts["method"] ?? "autopeft"
    var history: [Observation] = []
    var hv: [Double] = [], proposalSeconds: [Double] = []
    var rng = SplitMix64(seed: seed &* 7919 &+ 1)
    var warm: [[Double]] = []
    for c in try optimizer.initialDesign(count: initial, seed: seed) { history.append(Observation(config: c, values: evaluate(c))) }
    func record() { hv.append(Hypervolume.compute(history.map(\.values), reference: problem.reference)) }
    hv = (1...initial).map { k in Hypervolume.compute(history.prefix(k).map(\.values), reference: problem.reference) }
    while history.count < evals {
        let t0 = Date()
        let c: Config
        if method == "random" {
            c = try space.sample(&rng)
        } else {
            let p = try optimizer.ask(history: history, pending: [], count: 1, seed: seed &* 1_000_003 &+ UInt64(history.count), warmStarts: warm)
            warm = p.hyperparameters
            guard let first = p.configs.first else { fail("no proposal") }
            c = first
        }
        proposalSeconds.append(Date().timeIntervalSince(t0))
        history.append(Observation(config: c, values: evaluate(c)))
        record()
        FileHandle.standardError.write(Data("\(problem.rawValue) \(method) seed \(seed): \(history.count)/\(evals) HV \(String(format: "%.4f", hv.last!)) \(String(format: "%.2f", proposalSeconds.last!)) s\n".utf8))
    }
    let line: [(String, JSONValue)] = [
        ("problem", .string(problem.rawValue)), ("method", .string(method)), ("seed", .number(Int(seed))),
        ("hypervolume", .array(hv.map { .number($0) })), ("proposal_seconds", .array(proposalSeconds.map { .number($0) })),
        ("optimal_hypervolume", .number(problem.optimalHypervolume)),
    ]
    print(JSONValue.object(line.map { (key: $0.0, value: $0.1) }).serialized())
case "timing":
    let sizes = (opts["observations"] ?? "20,60,200").split(separator: ",").compactMap { Int($0) }
    let repeats = Int(opts["repeats"] ?? "3") ?? 3
    for n in sizes {
        var rng = SplitMix64(seed: UInt64(n))
        var history: [Observation] = []
        while history.count < n {
            let c = try space.sample(&rng)
            history.append(Observation(config: c, values: evaluate(c)))
        }
        // A warm start as a running study has it: the previous proposal's fit.
        let warm = try optimizer.ask(history: Array(history.dropLast()), pending: [], count: 1, seed: 1).hyperparameters
        var times: [Double] = []
        for r in 0..<repeats {
            let t0 = Date()
            _ = try optimizer.ask(history: history, pending: [], count: 1, seed: UInt64(r + 2), warmStarts: warm)
            times.append(Date().timeIntervalSince(t0))
        }
        let line: [(String, JSONValue)] = [("problem", .string(problem.rawValue)), ("observations", .number(n)),
                                           ("seconds", .array(times.map { .number($0) }))]
        print(JSONValue.object(line.map { (key: $0.0, value: $0.1) }).serialized())
    }
default:
    fail("unknown mode \(mode)")
}
