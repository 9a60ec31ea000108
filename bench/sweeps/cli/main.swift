import Foundation
import Search
import SearchArms

// bench-sweeps NAME: one sweep at full size, its table on stdout (progress on stderr).
//   multi-fidelity   mock, 20 seeds: one cheap fidelity timed whole, the target alone, multi-fidelity
//   zdt              ZDT1 with a misleading cheap fidelity, 5 seeds: cheap, target only, multi-fidelity
//   cheap-streak     cheap_streak 1, 2, 3, unbounded: mock 20 seeds, ZDT1 5 seeds, each fidelity worth
//   parameter-axis   the log10 against the linear parameter axis, mock, 5 seeds x 30 trials
//   prior-trust      right and reversed priors, fixed and earned weight, against none, 5 seeds x 30 trials
let names = ["multi-fidelity", "zdt", "cheap-streak", "parameter-axis", "prior-trust"]
let args = Array(CommandLine.arguments.dropFirst())
guard args.count == 1, names.contains(args[0]) || args[0] == "all" else {
    FileHandle.standardError.write(Data("usage: bench-sweeps NAME, NAME one of \(names.joined(separator: ", ")), all\n".utf8))
    exit(2)
}
let root = FileManager.default.currentDirectoryPath
let scratch = NSTemporaryDirectory() + "/autopeft-sweeps-\(UUID().uuidString)"
defer { try? FileManager.default.removeItem(atPath: scratch) }
var count = 0
let arms = SearchArms(root: root) {
    count += 1
    let d = scratch + "/\(count)"
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}
func say(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }
func f(_ x: Double) -> String { String(format: "%.4f", x) }

do {
    for name in args[0] == "all" ? names : args {
        let start = Date()
        say("bench-sweeps: \(name) ...")
        switch name {
        case "multi-fidelity":
            print(try arms.fidelityArms(seeds: 0..<20).table)
        case "zdt":
            var cheap: [Double] = [], target: [Double] = [], multi: [Double] = []
            for seed in 0..<5 {
                cheap.append(try arms.zdt(problem: #", "share": 0.25"#, seed: seed).hypervolume)
                target.append(try arms.zdt(seed: seed).hypervolume)
                multi.append(try arms.zdt(fidelity: #", "fidelity": {"target": {"train_examples": 1200, "epochs": 1}, "cheaper": [300]}"#,
                                          seed: seed).hypervolume)
            }
            print("ZDT1 target hypervolume over 5 seeds: cheap \(f(mean(cheap))), target only \(f(mean(target))), "
                + "multi-fidelity \(f(mean(multi))) (true front \(f(SyntheticProblem.zdt1.optimalHypervolume)))")
        case "cheap-streak":
            for worth in FidelityWorth.allCases {
                let rows = try arms.cheapStreaks(worth: worth, mockSeeds: 0..<20, zdtSeeds: 0..<5)
                for (streak, v) in rows.sorted(by: { $0.key < $1.key }) {
                    print("cheap_streak \(streak), worth \(worth.rawValue): mock \(f(v.mock)) (20 seeds), zdt1 \(f(v.zdt)) (5 seeds)")
                }
            }
        case "parameter-axis":
            let (log, linear) = try arms.parameterAxes(seeds: 0..<5)
            print("log10-parameter hypervolume at 30 trials, 5 seeds: log10 axis \(log.map(f)) (median \(f(median(log)))), "
                + "linear axis \(linear.map(f)) (median \(f(median(linear)))); log10 ahead in \(zip(log, linear).filter { $0 > $1 }.count)")
        case "prior-trust":
            let hv = try arms.priorTrust(seeds: 0..<5)
            print("log10-parameter HV after 10 / 20 / 30 trials, median of 5 seeds:")
            for arm in hv.keys.sorted() {
                print("  \(arm): " + (0..<3).map { k in f(median(hv[arm]!.map { $0[k] })) }.joined(separator: " / "))
            }
        default: break
        }
        say(String(format: "bench-sweeps: %@ took %.0f s", name, Date().timeIntervalSince(start)))
    }
} catch {
    say("bench-sweeps: \(error)")
    exit(1)
}
