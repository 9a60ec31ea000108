import Foundation
import JSONKit
import XCTest
import TestSupport
import Space
@testable import Search

final class SensitivityPriorTests: XCTestCase {
    let dims = ModelDimensions(hiddenSize: 384, intermediateSize: 1536, layers: 6, heads: 12)

    func space() throws -> SearchSpace {
        let v = try JSONParser.parse("""
        {"layers": {"type": "layer_mask"}, "serial_adapter": {"size": [0, 1, 2, 4, 8, 16, 32, 64, 128, 256]},
         "lora": {"rank": [0, 2, 4, 8, 16], "targets": {"type": "subset", "of": ["query", "key", "value", "output"], "min": 1}}}
        """)
        var s = try SearchSpace(reading: JSONReader(v, path: "space"), constraints: nil, layers: 6)
        let dims = dims, sp = s
        s.parameterCount = { c in (try? PEFTSpace.plan(c, in: sp, layers: 6)).map { Double($0.trainableParameters(dims: dims,
            labels: 2)) } }
        return s
    }

    /// Scores concentrated on layers 4-5 and on value/output.
    func scores() -> SensitivityScores {
        SensitivityScores(method: .spt, layers: 6, targets: LinearTarget.ungated, scores: (0..<6).map { l in
            LinearTarget.ungated.map { t in (l >= 4 ? 1.0 : 0.05) * ([.value, .output].contains(t) ? 3000 : 200) }
        })
    }

    func testPriorFollowsTheScores() throws {
        let s = try space()
        let prior = SensitivityPrior(scores: scores(), space: s, dims: dims)
        var rng = SplitMix64(seed: 1)
        var layerOn = [Int](repeating: 0, count: 6), valueOn = 0, keyOn = 0, n = 0
        var sizes: [Double] = []
        for _ in 0..<2000 {
            let c = try prior.sample(&rng)
            XCTAssertNil(s.violation(c))
            let b = c["layers"]!.bits!
            for l in 0..<6 where b[l] { layerOn[l] += 1 }
            if c["lora.rank"]!.number! > 0, let t = c["lora.targets"]?.bits { n += 1; if t[2] { valueOn += 1 }; if t[1] { keyOn += 1 } }
            sizes.append(c["serial_adapter.size"]!.number!)
        }
        XCTAssertGreaterThan(layerOn[5], 3 * layerOn[0], "\(layerOn)")
        XCTAssertGreaterThan(valueOn, 2 * keyOn)
        // Serial adapters pay off up to cost/10 ≤ mean output score (≈ 1033): 2·384·m + m + 384 ≤ 10330 ⇒ m ≤ 12, so the centre is 8.
        let median = sizes.sorted()[sizes.count / 2]
        XCTAssertEqual(median, 8, "\(median)")
        // log π ranks a high-layer configuration above a low-layer one.
        var hi = try s.sample(&rng), lo = hi
        hi.values[0] = .bits([false, false, false, false, true, true])
        lo.values[0] = .bits([true, true, false, false, false, false])
        XCTAssertGreaterThan(prior.logProbability(hi), prior.logProbability(lo))
    }

    /// With neutral layers, the same scores leave every layer bit at ½ (configurations that differ
    /// only in their layers are equally likely) and still put value above key.
    func testNeutralLayersIgnoreTheLayerScoresButNotTheTargets() throws {
        let s = try space()
        let prior = SensitivityPrior(scores: scores(), space: s, dims: dims, layers: .neutral)
        var rng = SplitMix64(seed: 1)
        var hi = try s.sample(&rng)
        hi.values[0] = .bits([false, false, false, false, true, true])
        var lo = hi
        lo.values[0] = .bits([true, true, false, false, false, false])
        XCTAssertEqual(prior.logProbability(hi), prior.logProbability(lo), accuracy: 1e-12)
        var layerOn = [Int](repeating: 0, count: 6), valueOn = 0, keyOn = 0
        let n = 4000
        for _ in 0..<n {
            let c = try prior.sample(&rng)
            for (l, on) in c["layers"]!.bits!.enumerated() where on { layerOn[l] += 1 }
            if c["lora.rank"]!.number! > 0, let t = c["lora.targets"]?.bits { if t[2] { valueOn += 1 }; if t[1] { keyOn += 1 } }
        }
        // Each bit is on about half the time: 4000 draws put a share 5 binomial σ (0.04) from ½ out of reach.
        for on in layerOn { XCTAssertEqual(Double(on) / Double(n), 0.5, accuracy: 0.04, "\(layerOn)") }
        XCTAssertGreaterThan(valueOn, 2 * keyOn)
    }

    /// In the AutoPEFT space (one layer mask, module sizes) with neutral layers and uniform sizes,
    /// the prior prefers nothing: log π is the same for every configuration, and a study says so.
    /// With scored layers, or sizes centred, it has an opinion again, and no warning.
    func testAPriorThatPrefersNothingSaysSo() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let spec = try StudySpec(file: root + "/spaces/autopeft-mock.json")
        let dims = try XCTUnwrap(spec.problem.dimensions)
        let scores = PEFTMock.sensitivity(dims: dims)
        let neutral = SensitivityPrior(scores: scores, space: spec.space, dims: dims, sizes: .uniform, layers: .neutral)
        XCTAssertFalse(neutral.hasOpinion)
        var rng = SplitMix64(seed: 4)
        let logs = try (0..<50).map { _ in neutral.logProbability(try spec.space.sample(&rng)) }
        XCTAssertEqual(logs.max()! - logs.min()!, 0, accuracy: 1e-9, "one value of log π for 50 random configurations")
        XCTAssertTrue(SensitivityPrior(scores: scores, space: spec.space, dims: dims, sizes: .uniform, layers: .scored).hasOpinion)
        XCTAssertTrue(SensitivityPrior(scores: scores, space: spec.space, dims: dims, sizes: .centred, layers: .neutral).hasOpinion)

        func warning(_ edit: (inout StudySpec) -> Void) throws -> String? {
            var s = spec
            edit(&s)
            let d = scratchDirectory("prior")
            return try Study(spec: s, directory: d, sensitivity: s.priors.method == nil ? nil : scores).priorWarning
        }
        XCTAssertTrue(spec.countsParameters && spec.priors.layers == .neutral && spec.priors.initialDesign == .stratified,
                      "the defaults this test is about")
        let w = try XCTUnwrap(try warning { _ in })
        XCTAssertTrue(w.contains("prefers no configuration") && !w.contains("initial configurations"), w)
        let random = try XCTUnwrap(try warning { $0.priors.initialDesign = .random })
        XCTAssertTrue(random.contains("5 of the 10 initial configurations drawn from it at random"), random)
        XCTAssertNil(try warning { $0.priors.layers = .scored })
        XCTAssertNil(try warning { $0.priors.method = nil })
        XCTAssertTrue(w.contains("every layer bit ½, module sizes uniform since trainable parameters are an objective"), w)

        // The warning names only what the space has: sizes without a layer mask have no layer bits.
        let sizesOnly = SearchSpace(parameters: [Parameter(name: "serial_adapter.size", domain: .ordinal(values: [0, 8, 64], logScale: true))])
        let noMask = SensitivityPrior(scores: scores, space: sizesOnly, dims: dims, sizes: .uniform, layers: .neutral)
        XCTAssertFalse(noMask.hasOpinion)
        XCTAssertFalse(noMask.neutralDecisions.layerBits)
        XCTAssertTrue(noMask.neutralDecisions.sizes)
    }

    /// A Latin hypercube of n points read through the prior: each layer bit is on in n·q of them
    /// give or take one (q read off log π, which flipping the bit changes by log(q / (1 − q))),
    /// where independent draws would stray by √(n·q·(1 − q)) ≈ 3; centred sizes likewise; the sizes
    /// the prior holds uniform are the hypercube's own (`SearchSpace.decode`). A prior without
    /// opinion is `decode`.
    func testQuantilePointsFollowThePriorAndKeepTheHypercubesSpread() throws {
        let s = try space(), n = 40
        let prior = SensitivityPrior(scores: scores(), space: s, dims: dims, sizes: .uniform, layers: .scored)
        var rng = SplitMix64(seed: 11)
        let columns = (0..<s.dimensions).map { _ in
            var perm = Array(0..<n)
            for i in stride(from: n - 1, to: 0, by: -1) { perm.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            return perm
        }
        let points = (0..<n).map { i in columns.map { (Double($0[i]) + 0.5) / Double(n) } }
        let configs = points.map { prior.config(atQuantiles: $0) }
        var without = try s.sample(&rng)
        for l in 0..<6 {
            var with = without
            without.values[0] = .bits((0..<6).map { $0 == (l + 1) % 6 })
            with.values[0] = .bits((0..<6).map { $0 == (l + 1) % 6 || $0 == l })
            let q = 1 / (1 + exp(-(prior.logProbability(with) - prior.logProbability(without))))
            let count = configs.filter { $0["layers"]!.bits![l] }.count
            XCTAssertEqual(Double(count), Double(n) * q, accuracy: 1, "layer \(l): on in \(count) of \(n), q = \(q)")
        }
        for (x, c) in zip(points, configs) {
            let plain = s.decode(x)
            XCTAssertEqual(c["serial_adapter.size"], plain["serial_adapter.size"])
            XCTAssertEqual(c["lora.rank"], plain["lora.rank"])
        }
        // Centred sizes: each serial size in n·p of the points give or take one, p read off log π.
        let centred = SensitivityPrior(scores: scores(), space: s, dims: dims, sizes: .centred, layers: .scored)
        let sizes: [Double] = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256]
        XCTAssertEqual(s.parameters.prefix(2).map(\.name), ["layers", "serial_adapter.size"], "the order this test indexes by")
        let logs = sizes.map { v -> Double in
            var c = without
            c.values[1] = .number(v)
            return centred.logProbability(c)
        }
        let p = logs.map { exp($0 - logs.max()!) }, total = p.reduce(0, +)
        let drawn = points.map { centred.config(atQuantiles: $0)["serial_adapter.size"]!.number! }
        for (v, pv) in zip(sizes, p) {
            XCTAssertEqual(Double(drawn.filter { $0 == v }.count), Double(n) * pv / total, accuracy: 1, "size \(v)")
        }
        let flat = SensitivityPrior(scores: scores(), space: SearchSpace(parameters: [s.parameters[0], s.parameters[1]]), dims: dims,
                                    sizes: .uniform, layers: .neutral)
        XCTAssertFalse(flat.hasOpinion)
        for x in points { XCTAssertEqual(flat.space.key(flat.config(atQuantiles: Array(x[0..<7]))), flat.space.key(flat.space.decode(Array(x[0..<7])))) }
    }

    /// A prior's share of the initial design reads rows of the hypercube a search without a prior
    /// starts from through the prior, and the method's own choice takes the place of the prior's
    /// last row (`MethodTrial.design`). A prior without opinion (the AutoPEFT space with neutral
    /// layers) leaves that design as it is but for its last row, the method's choice; the older
    /// random design draws its rows apart.
    func testAPriorWithoutOpinionLeavesTheInitialDesignButForTheMethodsRow() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let spec = try StudySpec(file: root + "/spaces/autopeft-mock.json")
        let scores = PEFTMock.sensitivity(dims: try XCTUnwrap(spec.problem.dimensions))
        func design(_ edit: (inout StudySpec) -> Void) throws -> (rows: [(Config, TrialRecord.Origin)], method: String?) {
            var s = spec
            edit(&s)
            let d = scratchDirectory("design")
            defer { try? FileManager.default.removeItem(atPath: d) }
            let study = try Study(spec: s, directory: d, sensitivity: s.priors.method == nil ? nil : scores)
            return (try study.initialDesign(), study.methodChoice.map { s.space.key($0) })
        }
        let plain = try design { $0.priors.method = nil }
        let keys = plain.rows.map { spec.space.key($0.0) }
        XCTAssertEqual(plain.rows.count, spec.initial)
        XCTAssertNil(plain.method)
        let neutral = try design { _ in }
        XCTAssertEqual(neutral.rows.dropLast().map { spec.space.key($0.0) }, Array(keys.dropLast()))
        XCTAssertTrue(neutral.rows.dropLast().allSatisfy { $0.1 == .design })
        XCTAssertEqual(neutral.rows.last?.1, .method)
        XCTAssertEqual(neutral.rows.last.map { spec.space.key($0.0) }, try XCTUnwrap(neutral.method))
        let guided = try design { $0.priors.layers = .scored }
        XCTAssertEqual(guided.rows.map(\.1), Array(repeating: .prior, count: 4) + [.method] + Array(repeating: .design, count: 5))
        XCTAssertEqual(spec.space.key(guided.rows[4].0), guided.method)
        XCTAssertNotEqual(guided.rows.prefix(4).map { spec.space.key($0.0) }, Array(keys.prefix(4)), "the prior rows follow the layer scores")
        XCTAssertEqual(guided.rows.suffix(5).map { spec.space.key($0.0) }, Array(keys.suffix(5)), "the hypercube's rows after the prior's")
        let random = try design { $0.priors.initialDesign = .random }
        XCTAssertEqual(random.rows.map(\.1), Array(repeating: .prior, count: 4) + [.method] + Array(repeating: .design, count: 5))
        XCTAssertEqual(random.rows.suffix(5).map { spec.space.key($0.0) }, Array(keys.prefix(5)), "then the hypercube's first rows")
    }

    /// With the method's choice a row of the design, a guided study reaches its optimiser at the
    /// same trial as an unguided one; a journal written before `method_trial` existed keeps the
    /// choice as an extra trial before the design when it resumes.
    func testTheMethodsTrialCostsNoExtraTrial() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        var spec = try StudySpec(file: root + "/spaces/autopeft-mock.json")
        spec.priors.layers = .scored
        let scores = PEFTMock.sensitivity(dims: try XCTUnwrap(spec.problem.dimensions))
        let before = spec.baselines.count + spec.initial
        spec.trials = before + 2
        func origins(_ s: StudySpec, legacy: Bool = false) throws -> [TrialRecord.Origin] {
            let d = scratchDirectory("method")
            if legacy {
                // The study_created record as journals wrote it before the setting existed.
                _ = try Study(spec: s, directory: d, sensitivity: scores)
                let path = d + "/journal.jsonl"
                let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
                let first = lines[0].replacingOccurrences(of: #","method_trial":"design""#, with: "")
                XCTAssertNotEqual(first, String(lines[0]), "the new study records method_trial")
                try ([first] + lines.dropFirst().map(String.init)).joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            }
            let study = try Study(spec: s, directory: d, sensitivity: s.priors.method == nil ? nil : scores)
            XCTAssertEqual(Study.methodTrial(study.journal, spec: s), legacy ? .extra : .design)
            try study.run(evaluator: SyntheticEvaluator(spec: s)) { _ in }
            return study.trials.map(\.origin)
        }
        var unguided = spec
        unguided.priors.method = nil
        let plain = try origins(unguided), guided = try origins(spec), legacy = try origins(spec, legacy: true)
        XCTAssertEqual(plain.firstIndex(of: .optimizer), before)
        XCTAssertEqual(guided.firstIndex(of: .optimizer), before, "\(guided)")
        XCTAssertEqual(guided.filter { $0 == .method }.count, 1)
        XCTAssertEqual(legacy.firstIndex(of: .method), spec.baselines.count, "right after the baselines")
        XCTAssertEqual(legacy.firstIndex(of: .optimizer), before + 1, "one trial later: \(legacy)")
    }

    /// Scores are counts (SPT) or gates (DiffoRA): a negative one, in a hand-edited or foreign
    /// sensitivity file, is refused with its JSON path instead of trapping the report's heat map
    /// (the square root of a negative, converted to a colour) or skewing the prior.
    func testANegativeScoreIsRefusedWithItsPath() throws {
        let text = #"{"method": "spt", "layers": 2, "targets": ["query", "value"], "scores": [[3, 0], [1.5, -2]]}"#
        XCTAssertThrowsError(try SensitivityScores(reading: JSONReader(JSONParser.parse(text), path: "", file: "sensitivity-spt.json"))) {
            XCTAssertEqual("\($0)", "sensitivity-spt.json: scores[1][1]: expected a non-negative score, got -2.0")
        }
        let fine = try SensitivityScores(reading: JSONReader(JSONParser.parse(text.replacingOccurrences(of: "-2", with: "2")), path: ""))
        XCTAssertEqual(fine.scores, [[3, 0], [1.5, 2]])
    }

    /// Scores kept in a study folder are per layer of the space's model: another model's (two
    /// layers for the mock's six) are refused by name, where they would leave four layers at zero.
    func testScoresOfAnotherModelAreRefused() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let spec = try StudySpec(file: root + "/spaces/autopeft-mock.json")
        let dims = try XCTUnwrap(spec.problem.dimensions)
        let own = PEFTMock.sensitivity(dims: dims)
        XCTAssertNoThrow(try Study.checkScores(own, file: "s.json", spec: spec))
        let other = SensitivityScores(method: own.method, layers: 2, targets: own.targets, scores: Array(own.scores.prefix(2)))
        XCTAssertThrowsError(try Study.checkScores(other, file: "s.json", spec: spec)) {
            XCTAssertEqual("\($0)", "s.json: scores for 2 layers, but the space's model has \(dims.layers) (scores of another model?); "
                + "delete the file to compute them again")
        }
    }

    /// The method's choice maximises SPT's utility: no valid random configuration beats it.
    func testMethodChoiceBeatsRandomConfigurations() throws {
        let s = try space(), sc = scores()
        let prior = SensitivityPrior(scores: sc, space: s, dims: dims)
        let choice = try prior.methodChoice(dims: dims, seed: 3)
        let best = sc.utility(try PEFTSpace.plan(choice, in: s, layers: 6), dims: dims)
        var rng = SplitMix64(seed: 8)
        for _ in 0..<500 {
            let c = try s.sample(&rng)
            XCTAssertLessThanOrEqual(sc.utility(try PEFTSpace.plan(c, in: s, layers: 6), dims: dims), best + 1e-9)
        }
        let plan = try PEFTSpace.plan(choice, in: s, layers: 6)
        XCTAssertEqual(plan.adaptedLayers(layers: 6), [4, 5], "the sensitive layers only")
    }

    /// Utility by hand: one serial adapter of size 8 in layer 5, whose output score is 3000:
    /// k = (2·384·8 + 8 + 384)/10 = 653.6 ≤ 3000, so the utility is 653.6; at size 64 the
    /// charge (2·384·64 + 64 + 384)/10 = 4960 exceeds 3000 and the utility is 3000 − 1960.
    func testUtilityByHand() {
        let sc = scores()
        XCTAssertEqual(sc.utility(PEFTPlan(serialAdapter: AdapterSpec(size: 8, layers: .only([5]))), dims: dims), 653.6, accuracy: 1e-9)
        XCTAssertEqual(sc.utility(PEFTPlan(serialAdapter: AdapterSpec(size: 64, layers: .only([5]))), dims: dims), 3000 - 1960,
                       accuracy: 1e-9)
    }
}
