import JSONKit
import XCTest
@testable import Space

final class SearchSpaceTests: XCTestCase {
    let dims = ModelDimensions(hiddenSize: 384, intermediateSize: 1536, layers: 6, heads: 12)

    func parse(_ text: String, constraints: String? = nil, layers: Int? = 6) throws -> SearchSpace {
        let v = try JSONParser.parse(text)
        let c = try constraints.map { try JSONParser.parse($0) }
        var s = try SearchSpace(reading: JSONReader(v, path: "space", file: "s.json"),
                                constraints: c.map { JSONReader($0, path: "constraints", file: "s.json") }, layers: layers)
        let dims = dims
        let space = s
        s.parameterCount = { c in (try? PEFTSpace.plan(c, in: space, layers: 6)).map { Double($0.trainableParameters(dims: dims,
            labels: 2)) } }
        return s
    }

    func error(_ text: String, constraints: String? = nil, layers: Int? = 6) -> String {
        do { _ = try parse(text, constraints: constraints, layers: layers); return "no error" } catch { return "\(error)" }
    }

    static let autoPEFT = """
    { "layers": { "type": "layer_mask" },
      "serial_adapter": { "size": [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 384] },
      "parallel_adapter": { "size": [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 384] },
      "prefix": { "length": [0, 1, 2, 4, 8, 16, 32, 64] } }
    """
    static let atLeastOneModule = #"[{"type": "at_least_one", "of": ["serial_adapter.size", "parallel_adapter.size", "prefix.length"]}]"#

    /// The AutoPEFT paper's space: three sizes and one shared layer mask; every sampled
    /// configuration has a layer and a module on, and its plan puts all three modules in exactly
    /// the masked layers.
    func testAutoPEFTSpaceIsExpressibleExactly() throws {
        let s = try parse(Self.autoPEFT, constraints: Self.atLeastOneModule)
        XCTAssertEqual(s.parameters.map(\.name), ["layers", "serial_adapter.size", "parallel_adapter.size", "prefix.length"])
        XCTAssertEqual(s.dimensions, 6 + 3)
        var rng = SplitMix64(seed: 1)
        for _ in 0..<300 {
            let c = try s.sample(&rng)
            let mask = try XCTUnwrap(c["layers"]?.bits)
            XCTAssertTrue(mask.contains(true))
            let plan = try PEFTSpace.plan(c, in: s, layers: 6)
            XCTAssertTrue(plan.serialAdapter != nil || plan.parallelAdapter != nil || plan.prefix != nil)
            let on = Set(mask.indices.filter { mask[$0] })
            XCTAssertEqual(plan.adaptedLayers(layers: 6), on)
            // The count by hand: 2·H·m + m + H per adapter layer, 2·P·H per prefix layer, plus the head.
            let H = 384.0, n = Double(on.count)
            let m1 = c["serial_adapter.size"]!.number!, m2 = c["parallel_adapter.size"]!.number!, p = c["prefix.length"]!.number!
            var expected = 2 * H + 2
            if m1 > 0 { expected += n * (2 * H * m1 + m1 + H) }
            if m2 > 0 { expected += n * (2 * H * m2 + m2 + H) }
            if p > 0 { expected += n * 2 * p * H }
            XCTAssertEqual(s.parameterCount?(c), expected)
        }
    }

    func testErrorsNameThePathAndWhatWasExpected() {
        XCTAssertEqual(error(#"{"lora": {"rank": [0, 4, "eight"]}}"#), #"s.json: space.lora.rank[2]: expected a number (an ordinal's values are numbers), got "eight""#)
        XCTAssertEqual(error(#"{"lora": {"rank": {"type": "ordinal", "valeus": [1, 2]}}}"#), #"s.json: space.lora.rank.valeus: unknown key "valeus" for a parameter of type ordinal (did you mean "values"?)"#)
        XCTAssertTrue(error(#"{"lora": {"rank": {"type": "ordinal"}}}"#).contains(#"space.lora.rank.values: missing required key "values""#))
        XCTAssertTrue(error(#"{"lora": {"rank": {"type": "ordinal", "values": [1, 2], "scal": "log"}}}"#).contains(#"space.lora.rank.scal: unknown key "scal" for a parameter of type ordinal (did you mean "scale"?)"#))
        XCTAssertTrue(error(#"{"x": {"type": "rael", "low": 0, "high": 1}}"#).contains(#"(did you mean "real"?)"#))
        XCTAssertTrue(error(#"{"x": {"type": "real", "low": 1, "high": 0}}"#).contains("space.x.high: expected low < high"))
        XCTAssertTrue(error(#"{"x": {"type": "real", "low": 0, "high": 1, "log": true}}"#).contains("space.x.low: a log range needs low > 0"))
        XCTAssertTrue(error(#"{"layers": {"type": "layer_mask"}}"#, layers: nil).contains("needs the model's layer count"))
        XCTAssertTrue(error(#"{"a": [1, 2], "b": {"type": "categorical", "values": ["u", "v"], "when": {"c": [1]}}}"#).contains(#"condition on unknown parameter "c""#))
        XCTAssertTrue(error(#"{"a": [1, 2]}"#, constraints: #"[{"type": "at_least_one", "of": ["b"]}]"#).contains(#"constraints[0].of[0]: unknown parameter "b""#))
        XCTAssertTrue(error(#"{"a": [1, 1]}"#).contains("space.a: expected distinct values"))
        XCTAssertTrue(error(#"{"a": []}"#).contains("space.a: expected at least one value"))
        // Module sizes become integers: checked when the file is read, never trapped on later.
        XCTAssertEqual(error(#"{"serial_adapter": {"size": [0, 8, 1e308]}}"#), "s.json: space.serial_adapter.size: expected whole numbers in 0...100000 for a module's size, got 1e+308")
        XCTAssertTrue(error(#"{"lora": {"rank": [0, 2.5]}}"#).contains("space.lora.rank: expected whole numbers in 0...100000 for a module's rank, got 2.5"))
        XCTAssertTrue(error(#"{"prefix": {"length": {"type": "int", "low": 0, "high": 1000000}}}"#).contains("space.prefix.length: expected whole numbers"))
    }

    func testUnknownPEFTParameterIsCaughtWithASuggestion() throws {
        let s = try parse(#"{"lora": {"rnak": [4, 8]}}"#)
        XCTAssertThrowsError(try PEFTSpace.check(s, file: "s.json")) { e in
            XCTAssertEqual("\(e)", #"s.json: space.lora.rnak: unknown PEFT parameter (did you mean "lora.rank"?)"#)
        }
        XCTAssertNoThrow(try PEFTSpace.check(parse(Self.autoPEFT), file: "s.json"))
    }

    /// A site, bias or target the method does not know fails the space file (not every trial that
    /// draws it), with the known names; HF's full module names are LoRA targets too.
    func testUnknownSitesBiasesAndTargetsAreCaught() throws {
        let s = try parse(#"{"ia3": {"sites": {"type": "subset", "of": ["key", "value", "intermediate"]}}}"#)
        XCTAssertThrowsError(try PEFTSpace.check(s, file: "s.json")) { e in
            XCTAssertEqual("\(e)", #"s.json: space.ia3.sites: unknown item "intermediate"; expected one of key, value, feedforward"#)
        }
        let b = try parse(#"{"bitfit": {"biases": {"type": "subset", "of": ["qurey"]}}}"#)
        XCTAssertThrowsError(try PEFTSpace.check(b, file: "s.json")) { e in XCTAssertTrue("\(e)".contains(#"(did you mean "query"?)"#), "\(e)") }
        XCTAssertNoThrow(try PEFTSpace.check(parse(#"{"lora": {"rank": [4], "targets": ["attention.self.query", "value"]}}"#), file: "s.json"))
        XCTAssertNoThrow(try PEFTSpace.check(parse(Self.mixed), file: "s.json"))
    }

    static let mixed = """
    { "lora": { "rank": [0, 2, 4, 8, 16, 32],
                "targets": { "type": "subset", "of": ["query", "key", "value", "attention.output", "intermediate", "output"], "min": 1 },
                "init": ["kaiming", "pissa"],
                "layers": { "type": "layer_mask" } },
      "serial_adapter": { "size": { "type": "ordinal", "values": [0, 8, 16, 64], "per_layer": true } },
      "training": { "learning_rate": { "type": "real", "low": 1e-4, "high": 1e-2, "log": true } },
      "parallel_adapter": { "size": [0, 16], "scale": 4 } }
    """

    func testConditionsMakeModuleSettingsInactiveWhenTheModuleIsOff() throws {
        let s = try parse(Self.mixed)
        // rank 0 switches off targets, init and layers: they become inactive and canonical.
        XCTAssertEqual(s.parameter("lora.targets")?.condition, Condition(parameter: "lora.rank", values: [.number(0)], negated: true))
        XCTAssertNil(s.parameter("lora.rank")?.condition)
        XCTAssertNil(s.parameter("parallel_adapter.scale")?.condition, "fixed values need no condition")
        var rng = SplitMix64(seed: 3)
        var c = try s.sample(&rng)
        let i = try XCTUnwrap(c.names.firstIndex(of: "lora.rank"))
        c.values[i] = .number(0)
        var d = c
        d.values[c.names.firstIndex(of: "lora.init")!] = .choice("pissa")
        XCTAssertEqual(s.key(c), s.key(d))
        XCTAssertFalse(s.activeNames(c).contains("lora.targets"))
        XCTAssertNil(try PEFTSpace.plan(c, in: s, layers: 6).lora)
    }

    func testEncodingRoundTripsAndStaysInTheUnitCube() throws {
        let s = try parse(Self.mixed)
        XCTAssertEqual(s.dimensions, 1 + 6 + 2 + 6 + 6 + 1 + 1)
        var rng = SplitMix64(seed: 5)
        for _ in 0..<300 {
            let c = try s.sample(&rng)
            let x = s.encode(c)
            XCTAssertEqual(x.count, s.dimensions)
            XCTAssertTrue(x.allSatisfy { $0 >= -1e-12 && $0 <= 1 + 1e-12 }, "\(x)")
            let back = s.decode(x)
            XCTAssertEqual(s.key(back), s.key(c))
            let lr = back["training.learning_rate"]!.number!, lr0 = c["training.learning_rate"]!.number!
            XCTAssertEqual(lr, lr0, accuracy: 1e-12 * lr0)
        }
        // Ordinals with 0 are log-spaced with 0 one step below the smallest positive value.
        let rank = try XCTUnwrap(s.parameter("lora.rank"))
        guard case .ordinal(let v, let logScale) = rank.domain else { return XCTFail() }
        XCTAssertTrue(logScale)
        let pos = v.map { SearchSpace.ordinalPosition($0, values: v, logScale: true) }
        XCTAssertEqual(pos.first, 0); XCTAssertEqual(pos.last, 1)
        for k in 1..<(pos.count - 1) { XCTAssertEqual(pos[k + 1] - pos[k], pos[1] - pos[0], accuracy: 1e-12,
                                                      "powers of two and 0 sit evenly: \(pos)") }
    }

    func testNeighboursAreOneValidChangeAway() throws {
        let s = try parse(Self.mixed, constraints: #"[{"type": "trainable_params", "max": 3000000}]"#)
        var rng = SplitMix64(seed: 9)
        for _ in 0..<40 {
            let c = try s.sample(&rng)
            XCTAssertNil(s.violation(c))
            let ns = s.neighbours(of: c)
            XCTAssertFalse(ns.isEmpty)
            XCTAssertEqual(Set(ns.map { s.key($0) }).count, ns.count, "distinct")
            for n in ns {
                XCTAssertNil(s.violation(n))
                XCTAssertNotEqual(s.key(n), s.key(c))
                // Exactly one active parameter of c changed (children of a switched module reset).
                let changed = Set(s.activeNames(c)).intersection(s.activeNames(n)).filter { name in n[name] != c[name] }
                XCTAssertEqual(changed.count, 1, "\(changed)")
                if let name = changed.first, case .ordinal(let v, _)? = s.parameter(name)?.domain {
                    let a = v.firstIndex(of: c[name]!.number!)!, b = v.firstIndex(of: n[name]!.number!)!
                    XCTAssertEqual(abs(a - b), 1, "ordinals step one notch")
                }
                if let name = changed.first, case .bits(let b1)? = c[name], case .bits(let b2)? = n[name] {
                    XCTAssertEqual(zip(b1, b2).filter { $0 != $1 }.count, 1, "one bit flips")
                }
            }
        }
    }

    func testBudgetConstraintHoldsForSamples() throws {
        let s = try parse(Self.autoPEFT, constraints: #"[{"type": "trainable_params", "max": 200000}]"#)
        var rng = SplitMix64(seed: 2)
        for _ in 0..<100 { XCTAssertLessThanOrEqual(try XCTUnwrap(s.parameterCount?(try s.sample(&rng))), 200_000) }
    }

    func testConfigJSONRoundTripAndErrors() throws {
        let s = try parse(Self.mixed)
        var rng = SplitMix64(seed: 4)
        for _ in 0..<50 {
            let c = try s.sample(&rng)
            let text = s.json(c).serialized()
            let back = try s.config(reading: JSONReader(JSONParser.parse(text), path: "config"))
            XCTAssertEqual(s.key(back), s.key(c), text)
        }
        let bad = try JSONParser.parse(#"{"lora.rank": 3, "serial_adapter.size[0]": 0, "serial_adapter.size[1]": 0, "serial_adapter.size[2]": 0, "serial_adapter.size[3]": 0, "serial_adapter.size[4]": 0, "serial_adapter.size[5]": 0, "training.learning_rate": 0.001, "parallel_adapter.size": 0}"#)
        XCTAssertThrowsError(try s.config(reading: JSONReader(bad, path: "baselines[0].config"))) { e in
            XCTAssertTrue("\(e)".contains("baselines[0].config.lora.rank: 3 is not a value of lora.rank"), "\(e)")
        }
    }

    /// LoRA, per-layer sizes, a searched learning rate and fixed values map onto the plan.
    func testConfigurationMapsOntoLoRAPerLayerSizesLearningRateAndFixedValues() throws {
        let s = try parse(Self.mixed)
        let c = try s.config(reading: JSONReader(JSONParser.parse("""
        {"lora.rank": 8, "lora.targets": ["query", "value"], "lora.init": "pissa", "lora.layers": [4, 5],
         "serial_adapter.size[0]": 0, "serial_adapter.size[1]": 0, "serial_adapter.size[2]": 0, "serial_adapter.size[3]": 8,
         "serial_adapter.size[4]": 16, "serial_adapter.size[5]": 64, "training.learning_rate": 0.002, "parallel_adapter.size": 16}
        """), path: "config"))
        let plan = try PEFTSpace.plan(c, in: s, layers: 6)
        XCTAssertEqual(plan.lora, LoRASpec(rank: 8, alpha: 16, targets: [.query, .value], layers: .only([4, 5]), initialization: .pissa))
        XCTAssertEqual(plan.serialAdapter?.resolve(count: 6).map { [$0.layer, $0.size] }, [[3, 8], [4, 16], [5, 64]])
        XCTAssertEqual(plan.parallelAdapter, AdapterSpec(size: 16, layers: .all, scale: 4))
        XCTAssertEqual(PEFTSpace.overrides(c), ["learning_rate": 0.002])
    }
}
