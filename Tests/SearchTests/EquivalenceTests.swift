import XCTest
import TestSupport
import Foundation
import JSONKit
import Space
@testable import Search

/// Configurations that train the same candidate are one: the shared layer mask is inactive while
/// every module that uses it is off (`PEFTSpace.withLayerMaskFollowingModules`), so key, encoding,
/// taboo list and front all see one configuration.
final class EquivalenceTests: XCTestCase {
    /// The union space a user writes (every method may be off, the layer mask, the learning rate),
    /// on the PEFT mock with noise, `trials` trials.
    static func unionSpace(trials: Int, seed: Int = 0, extra: String = "") -> String {
        #"{"name": "union", "problem": {"name": "peft_mock", "noise": 0.01}, "#
            + #""objectives": [{"name": "score", "goal": "maximize"}, {"name": "trainable_params", "goal": "minimize"}], "#
            + #""search": {"trials": \#(trials), "initial": 8, "seed": \#(seed)}, "#
            + #""space": {"layers": {"type": "layer_mask", "min_on": 1}, "#
            + #""lora": {"rank": [0, 2, 4, 8, 16], "targets": {"type": "subset", "of": ["query", "key", "value", "intermediate"], "min": 1}}, "#
            + #""serial_adapter": {"size": [0, 8, 32, 128]}, "parallel_adapter": {"size": [0, 8, 32, 128]}, "#
            + #""prefix": {"length": [0, 4, 16]}, "ia3": {"sites": {"type": "subset", "of": ["key", "value", "feedforward"]}}, "#
            + #""bitfit": {"biases": {"type": "subset", "of": ["query", "intermediate"]}}, "#
            + #""training": {"learning_rate": [0.001, 0.002, 0.005]}}\#(extra)}"#
    }

    func spec(_ text: String) throws -> StudySpec {
        let d = scratchDirectory("equivalence")
        try text.write(toFile: d + "/s.json", atomically: true, encoding: .utf8)
        return try StudySpec(file: d + "/s.json")
    }

    func config(_ space: SearchSpace, _ json: String) throws -> Config {
        try space.config(reading: JSONReader(JSONParser.parse(json), path: "config"))
    }

    func testTheMaskOfModulesThatAreOffIsInactive() throws {
        let space = PEFTSpace.withLayerMaskFollowingModules(try spec(Self.unionSpace(trials: 10)).space)
        let off = #""lora.rank": 0, "serial_adapter.size": 0, "parallel_adapter.size": 0, "prefix.length": 0, "ia3.sites": [], "bitfit.biases": [], "training.learning_rate": 0.005"#
        let a = try config(space, #"{"layers": [5], "# + off + "}"), b = try config(space, #"{"layers": [0, 1], "# + off + "}")
        XCTAssertEqual(space.key(a), space.key(b), "only the head trains in both")
        XCTAssertEqual(space.encode(a), space.encode(b))
        XCTAssertFalse(space.activeNames(a).contains("layers"))
        let on = off.replacingOccurrences(of: #""ia3.sites": []"#, with: #""ia3.sites": ["value"]"#)
        let c = try config(space, #"{"layers": [5], "# + on + "}"), d = try config(space, #"{"layers": [0, 1], "# + on + "}")
        XCTAssertNotEqual(space.key(c), space.key(d), "(IA)³ uses the mask")
        XCTAssertTrue(space.activeNames(c).contains("layers"))
        // Proposal rules 3: inactive masks and subsets encode as nothing chosen, and decode back.
        var empty = space
        empty.inactiveSetsEncodeEmpty = true
        let x = empty.encode(a)
        XCTAssertEqual(Array(x[0..<6]), Array(repeating: 0, count: 6), "no layer is adapted")
        XCTAssertEqual(Array(x[7..<11]), Array(repeating: 0, count: 4), "no LoRA target")
        XCTAssertEqual(Array(empty.encode(c)[0..<6]), [0, 0, 0, 0, 0, 1], "an active mask encodes its layers")
        XCTAssertEqual(empty.key(empty.decode(x)), empty.key(a))
        // Each neighbour of the head-only configuration turns a module on or changes the learning
        // rate: none is the same candidate with another mask.
        for n in space.neighbours(of: a) {
            XCTAssertFalse(n["training.learning_rate"] == a["training.learning_rate"] && !space.activeNames(n).contains("layers"),
                           space.json(n).serialized())
        }
    }

    func testTheMaskStaysWhereAModuleIsAlwaysOnOrHasItsOwnLayers() throws {
        let always = try spec(#"{"problem": {"name": "peft_mock"}, "space": {"layers": {"type": "layer_mask"}, "#
            + #""lora": {"rank": [4, 8]}, "prefix": {"length": [0, 4]}}}"#).space
        XCTAssertNil(PEFTSpace.withLayerMaskFollowingModules(always).parameter("layers")?.condition, "LoRA is always on")
        let own = try spec(#"{"problem": {"name": "peft_mock"}, "space": {"layers": {"type": "layer_mask"}, "#
            + #""lora": {"rank": [0, 8], "layers": {"type": "layer_mask"}}, "prefix": {"length": [0, 4]}}}"#).space
        let cond = try XCTUnwrap(PEFTSpace.withLayerMaskFollowingModules(own).parameter("layers")?.condition)
        XCTAssertEqual(cond.clauses.map(\.parameter), ["prefix.length"], "LoRA has its own layers")
    }

    /// A whole study in the union space: no two trials share a canonical key (the head-only
    /// configuration once, whatever its mask), and every trial's configuration is canonical.
    func testNoConfigurationIsEvaluatedTwice() throws {
        let spec = try spec(Self.unionSpace(trials: 40))
        let study = try Study(spec: spec, directory: scratchDirectory("equivalence") + "/study")
        try study.run(evaluator: SyntheticEvaluator(spec: spec)) { _ in }
        // Replicates (another training seed, on purpose: proposal rules 7) are the one exception.
        let keys = study.trials.filter { $0.origin != .replicate }.compactMap { $0.config.map { study.spec.space.key($0) } }
        XCTAssertEqual(keys.count, 40 - study.trials.filter { $0.origin == .replicate }.count)
        XCTAssertEqual(Set(keys).count, keys.count, "a configuration evaluated twice")
        for t in study.trials { XCTAssertEqual(t.config, t.config.map { study.spec.space.canonical($0) }, "trial \(t.id)") }
        XCTAssertTrue(Study.maskFollowsModules(study.journal))
    }

    /// A 4-trial study of the union space whose journal then says `rules` (a `study_created`
    /// member, or "" for none) instead of the current proposal rules, reopened from its folder.
    func studyRecorded(withRules rules: String) throws -> Study {
        let spec = try spec(Self.unionSpace(trials: 4))
        let d = scratchDirectory("equivalence") + "/study"
        try Study(spec: spec, directory: d).run(evaluator: SyntheticEvaluator(spec: spec)) { _ in }
        let journal = d + "/journal.jsonl"
        var lines = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[0] = lines[0].replacingOccurrences(of: #","proposal_rules":\#(Study.currentProposalRules)"#, with: rules)
        try (lines.joined(separator: "\n") + "\n").write(toFile: journal, atomically: true, encoding: .utf8)
        return try Study(readingDirectory: d)
    }

    /// A journal written before the rule keeps the keys it had: the mask stays active there.
    func testAnOlderJournalKeepsItsKeys() throws {
        let old = try studyRecorded(withRules: "")
        XCTAssertFalse(Study.maskFollowsModules(old.journal))
        XCTAssertNil(old.spec.space.parameter("layers")?.condition)
        XCTAssertEqual(old.trials.count, 4, "it replays")
    }

    /// A journal written under rules 2 resumes under rules 2: inactive masks encode as their default
    /// and the models do not see the parameter count, so its proposals are the ones it would have made.
    func testARules2JournalKeepsItsEncodingAndModelInputs() throws {
        let old = try studyRecorded(withRules: #","proposal_rules":2"#)
        XCTAssertEqual(Study.proposalRules(old.journal), 2)
        XCTAssertTrue(Study.maskFollowsModules(old.journal))
        XCTAssertFalse(old.spec.space.inactiveSetsEncodeEmpty)
        XCTAssertFalse(old.optimizer.settings.parameterFeature)
        XCTAssertEqual(old.trials.count, 4, "it replays")
    }

    /// Drawn uniformly, the union space turns on about five methods at once; a quarter of the
    /// initial design keeps one method only, cycling through them, so the design covers the
    /// configurations practice uses. Counted over 10 seeds' designs of 8 rows.
    func testAQuarterOfTheDesignKeepsOneMethod() throws {
        let switches = ["lora.rank", "serial_adapter.size", "parallel_adapter.size", "prefix.length", "ia3.sites", "bitfit.biases"]
        var single = 0, rows = 0, methods = Set<String>(), others = 0
        for seed in 0..<10 {
            let spec = try spec(Self.unionSpace(trials: 8, seed: seed))
            let study = try Study(spec: spec, directory: scratchDirectory("equivalence") + "/study")
            let space = study.spec.space
            for (k, (c, _)) in try study.initialDesign().enumerated() {
                let on = switches.filter { n in
                    guard let i = space.parameters.firstIndex(where: { $0.name == n }), space.isActive(i, in: c.values) else { return false }
                    return c.values[i] != .number(0) && c.values[i].bits?.contains(true) != false
                }
                rows += 1
                if k % 4 == 3 { if on.count == 1 { single += 1; methods.formUnion(on) } } else if on.count == 1 { others += 1 }
            }
        }
        print("single-method rows: \(single) of the \(rows / 4) rows kept to one method, \(others) of the other \(rows * 3 / 4); "
            + "methods alone: \(methods.sorted())")
        XCTAssertEqual(single, rows / 4, "every fourth row holds one method")
        XCTAssertLessThanOrEqual(others, 2, "drawn uniformly, almost no row does")
        XCTAssertGreaterThanOrEqual(methods.count, 4, "the single-method rows cycle through the methods")
    }
}
