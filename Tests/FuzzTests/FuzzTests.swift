import XCTest
import Foundation
import JSONKit
import Space
import TestSupport
@testable import Search
@testable import Trainer

/// Seeded mutations of every input autopeft reads: space files, run files, sensitivity files, data
/// rows, journals, safetensors headers, config.json, vocab.txt. Each case must be accepted or refused with an
/// error that names where and what; a trap ends the test process, a hang its time limit.
/// `FUZZ_CASES=N swift test --filter FuzzTests` runs N cases per kind (default 400).
final class FuzzTests: XCTestCase {
    static let cases = Int(ProcessInfo.processInfo.environment["FUZZ_CASES"] ?? "") ?? 400
    static let root = RepositoryData.root

    struct Tally: CustomStringConvertible {
        var run = 0, refused = 0, accepted = 0, unnamed: [String] = []
        var description: String { "\(run) cases: \(refused) refused with a message, \(accepted) accepted" }
        mutating func record(_ body: () throws -> Void, mustName names: [String]) {
            run += 1
            do { try body(); accepted += 1 } catch {
                refused += 1
                let text = "\(error)"
                if text.isEmpty || !names.contains(where: { text.contains($0) }) { unnamed.append(text) }
            }
        }
    }

    var rng = SplitMix64(seed: 20261201)

    func pick<T>(_ xs: [T]) -> T { xs[Int(rng.next() % UInt64(xs.count))] }

    /// A random JSON value, leaning on the values that break parsers: extremes, wrong kinds, empties.
    func randomValue(depth: Int = 0) -> JSONValue {
        switch rng.next() % 12 {
        case 0: return .number(pick([1e308, -1e308, Double.leastNormalMagnitude / 1024 /* a subnormal */, -1, 0, 0.5, 4097, 2_147_483_648, 9.3e18, -0.0]))
        case 1: return .number(Double(Int(rng.next() % 600)) - 50)
        case 2: return .string(pick(["", "all", "qeury", "NaN", "1e999", "\u{0}", String(repeating: "x", count: 5000), "pissa"]))
        case 3: return .bool(rng.next() % 2 == 0)
        case 4: return .null
        case 5: return depth > 2 ? .array([]) : .array((0..<Int(rng.next() % 4)).map { _ in randomValue(depth: depth + 1) })
        case 6: return depth > 2 ? .object([]) : .object([(pick(["type", "values", "size", "layers", "low", "high"]), randomValue(depth: depth + 1))])
        default: return .number(pick([0, 1, 2, 4, 8, 16, 384, 1536, 100_000, 1e6]))
        }
    }

    /// One structural mutation somewhere in the tree: replace a value, drop or rename a member.
    func mutate(_ v: JSONValue) -> JSONValue {
        switch v {
        case .object(var members) where !members.isEmpty && rng.next() % 3 != 0:
            let i = Int(rng.next() % UInt64(members.count))
            switch rng.next() % 6 {
            case 0: members.remove(at: i)
            case 1: members[i].key += pick(["s", "_", ""])
            case 2: members[i].value = randomValue()
            default: members[i].value = mutate(members[i].value)
            }
            return .object(members)
        case .array(var items) where !items.isEmpty && rng.next() % 3 != 0:
            let i = Int(rng.next() % UInt64(items.count))
            items[i] = rng.next() % 2 == 0 ? randomValue() : mutate(items[i])
            return .array(items)
        default:
            return randomValue()
        }
    }

    /// Byte-level: flip, insert or delete a few bytes.
    func mangle(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        for _ in 0..<(1 + Int(rng.next() % 4)) where !b.isEmpty {
            let i = Int(rng.next() % UInt64(b.count))
            switch rng.next() % 3 {
            case 0: b[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
            case 1: b.insert(pick([0x22, 0x7B, 0x5D, 0x2C, 0x30, 0xFF, 0x0A]), at: i)
            default: b.remove(at: i)
            }
        }
        return b
    }

    func folder() -> String { scratchDirectory("fuzz") }

    /// Space files: parse, then sample, encode, count and plan a few configurations of what parses.
    func testMutatedSpaceFiles() throws {
        let dims = ModelDimensions(hiddenSize: 384, intermediateSize: 1536, layers: 6, heads: 12)
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.root + "/spaces").filter { $0.hasSuffix(".json") }.sorted()
        var tally = Tally()
        for k in 0..<Self.cases {
            let path = Self.root + "/spaces/" + files[k % files.count]
            let original = try JSONParser.parse(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
            let structural = k % 3 != 2
            tally.record({
                let doc = structural ? self.mutate(original) : try JSONParser.parse(bytes: self.mangle(Array(original.serialized().utf8)))
                let spec = try StudySpec(document: doc, file: path, dimensions: dims)
                var r = SplitMix64(seed: UInt64(k))
                for _ in 0..<3 {
                    let c = try spec.space.sample(&r)
                    _ = spec.space.encode(c)
                    _ = spec.knownValues(.config(c))
                    if spec.problem.dimensions != nil { _ = try spec.plan(.config(c)).moduleParameters(dims: dims) }
                }
            }, mustName: [path, "expected", "space", "line"])
        }
        print("fuzz, space files: \(tally)")
        XCTAssertEqual(tally.unnamed, [], "refusals that name neither the file nor what was expected")
    }

    /// Sensitivity files (what a study folder keeps, `sensitivity-<method>.json`): parse, check
    /// against the space's model, then what the search and the report compute from them: the prior
    /// over a few configurations, the method's choice and the heat map.
    func testMutatedSensitivityFiles() throws {
        let scoresDir = Self.root + "/results/priors/mf/scores"
        let files = ["mrpc-spt/sensitivity-spt.json", "mrpc-diffora/sensitivity-diffora.json", "sst2-spt/sensitivity-spt.json"]
        let spaces = ["spaces/mrpc-mixed-mf.json", "spaces/mrpc-mixed-mf.json", "spaces/sst2-autopeft-mf-2000.json"]
        let dims = ModelDimensions(hiddenSize: 384, intermediateSize: 1536, layers: 6, heads: 12)
        var tally = Tally()
        for k in 0..<Self.cases {
            let path = scoresDir + "/" + files[k % files.count], spacePath = Self.root + "/" + spaces[k % files.count]
            let spec = try StudySpec(document: try JSONParser.parse(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: spacePath)))),
                                     file: spacePath, dimensions: dims)
            let original = try JSONParser.parse(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
            tally.record({
                let doc = k % 3 != 2 ? self.mutate(original) : try JSONParser.parse(bytes: self.mangle(Array(original.serialized().utf8)))
                let scores = try SensitivityScores(reading: JSONReader(doc, path: "", file: path).required("scores_record"))
                try Study.checkScores(scores, file: path, spec: spec)
                let prior = SensitivityPrior(scores: scores, space: spec.space, dims: dims)
                var r = SplitMix64(seed: UInt64(k))
                for _ in 0..<3 { _ = prior.logProbability(try spec.space.sample(&r)) }
                if k % 8 == 0 { _ = try prior.methodChoice(dims: dims, seed: UInt64(k)) }  // the slow part: one case in 8
                _ = Report.heatMap(scores)
            }, mustName: [path, "expected", "line"])
        }
        print("fuzz, sensitivity files: \(tally)")
        XCTAssertEqual(tally.unnamed, [])
    }

    /// Run files: parse and validate the plan.
    func testMutatedRunFiles() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.root + "/examples").filter { $0.hasSuffix(".json") }.sorted()
        let d = folder()
        var tally = Tally()
        for k in 0..<Self.cases {
            let original = try JSONParser.parse(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.root + "/examples/" + files[k % files.count]))))
            let bytes = k % 3 == 2 ? mangle(Array(original.serialized().utf8)) : Array(mutate(original).serialized().utf8)
            try Data(bytes).write(to: URL(fileURLWithPath: d + "/run.json"))
            tally.record({
                let run = try RunConfig(contentsOf: d + "/run.json")
                try run.plan.validate(for: ModelDimensions(hiddenSize: 384, intermediateSize: 1536, layers: 6, heads: 12))
            }, mustName: [d + "/run.json", "expected", "peft", "training"])
        }
        print("fuzz, run files: \(tally)")
        XCTAssertEqual(tally.unnamed, [])
    }

    /// Data rows in TSV, CSV and JSONL: CRLF, a BOM, empty files, missing columns, labels outside
    /// the set, a 1 MB line, invalid UTF-8.
    func testMutatedDataRows() throws {
        let d = folder()
        let good: [(String, String)] = [
            ("tsv", "sentence\tlabel\nit is good\t1\nit is bad\t0\n"),
            ("csv", "sentence,label\n\"it, is good\",1\nbad,0\n"),
            ("jsonl", "{\"sentence\": \"good\", \"label\": 1}\n{\"sentence\": \"bad\", \"label\": 0}\n"),
        ]
        var tally = Tally()
        for k in 0..<Self.cases {
            let (ext, text) = good[k % good.count]
            var bytes = Array(text.utf8)
            switch k % 9 {
            case 0: bytes = Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8)
            case 1: bytes = [0xEF, 0xBB, 0xBF] + bytes
            case 2: bytes = []
            case 3: bytes = Array(text.replacingOccurrences(of: "\t1", with: "").replacingOccurrences(of: ",1", with: "").utf8)
            case 4: bytes = Array(text.replacingOccurrences(of: "1", with: "7").utf8)
            case 5: bytes += Array(String(repeating: "a", count: 1 << 20).utf8) + [0x0A]
            case 6: bytes.insert(0xFF, at: bytes.count / 2)
            default: bytes = mangle(bytes)
            }
            let path = d + "/rows.\(ext)"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let spec = TaskSpec(name: "t", format: ext == "tsv" ? .tsv : ext == "csv" ? .csv : .jsonl, hasHeader: true,
                                textA: .name("sentence"), textB: nil, label: .name("label"), classes: ["0", "1"], primaryMetric: "accuracy")
            tally.record({ _ = try DatasetReader.read(path, task: spec) }, mustName: [path])
        }
        print("fuzz, data rows: \(tally)")
        XCTAssertEqual(tally.unnamed, [])
    }

    /// Journals: torn, corrupt middle, wrong format version, duplicated ids, mangled bytes.
    func testMutatedJournals() throws {
        let d = folder()
        try #"{"name": "fuzz", "problem": {"name": "zdt1", "dimensions": 3}, "search": {"trials": 8, "initial": 4, "seed": 2}}"#
            .write(toFile: d + "/space.json", atomically: true, encoding: .utf8)
        let spec = try StudySpec(file: d + "/space.json")
        let study = try Study(spec: spec, directory: d + "/study")
        try study.run(evaluator: SyntheticEvaluator(spec: spec)) { _ in }
        let lines = try String(contentsOfFile: d + "/study/journal.jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
        var tally = Tally()
        for k in 0..<(Self.cases / 4) {
            var ls = lines
            let i = 1 + Int(rng.next() % UInt64(ls.count - 1))
            switch k % 6 {
            case 0: ls[ls.count - 1] = String(ls[ls.count - 1].prefix(Int(rng.next() % 40)))
            case 1: ls[i] = String(decoding: mangle(Array(ls[i].utf8)), as: UTF8.self)
            case 2: ls[0] = ls[0].replacingOccurrences(of: "\"format\":1", with: "\"format\":\(pick([0, 2, 99]))")
            case 3: ls.insert(ls[i], at: i)
            case 4: ls.remove(at: i)
            default: ls[i] = mutate(try JSONParser.parse(ls[i])).serialized()
            }
            let sd = d + "/s\(k)"
            try FileManager.default.createDirectory(atPath: sd, withIntermediateDirectories: true)
            try (ls.joined(separator: "\n") + "\n").write(toFile: sd + "/journal.jsonl", atomically: true, encoding: .utf8)
            try FileManager.default.copyItem(atPath: d + "/space.json", toPath: sd + "/../space-\(k).json")
            tally.record({
                let s = try Study(readingDirectory: sd)
                _ = s.frontIDs
                _ = try Report.write(s, to: sd)
            }, mustName: [sd, "journal"])
        }
        print("fuzz, journals: \(tally)")
        XCTAssertEqual(tally.unnamed, [])
    }

    /// safetensors headers (truncated, offsets out of range, wrong dtype), config.json, vocab.txt.
    func testMutatedModelFiles() throws {
        let d = folder()
        let good = SafetensorsWriter.encode([("a", [2, 3], [1, 2, 3, 4, 5, 6]), ("b", [2], [7, 8])], metadata: ["format": "pt"])
        var tally = Tally()
        for k in 0..<Self.cases {
            var bytes = [UInt8](good)
            switch k % 4 {
            case 0: bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
            case 1:
                let header = String(decoding: bytes[8..<(8 + Int(bytes[0]))], as: UTF8.self)
                let changed = header.replacingOccurrences(of: pick(["F32", "[0,24]", "[2,3]"]), with: pick(["I64", "[0,999999]", "[-1,3]", "[9e99]"]))
                var h = Array(changed.utf8)
                while (8 + h.count) % 8 != 0 { h.append(0x20) }
                bytes = withUnsafeBytes(of: UInt64(h.count).littleEndian) { Array($0) } + h + Array(bytes[(8 + Int(bytes[0]))...])
            default: bytes = mangle(bytes)
            }
            let path = d + "/m.safetensors"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            tally.record({
                let f = try SafetensorsFile(path: path)
                _ = try f.floats("a", shape: [2, 3])
                _ = try f.floats("b")
            }, mustName: [path])
            // config.json and vocab.txt of a model folder.
            let config = try JSONParser.parse(#"{"vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 32}"#)
            try Data((k % 2 == 0 ? mutate(config).serialized() : String(decoding: mangle(Array(config.serialized().utf8)), as: UTF8.self)).utf8)
                .write(to: URL(fileURLWithPath: d + "/config.json"))
            tally.record({ _ = try BertConfig(contentsOf: d + "/config.json") }, mustName: [d + "/config.json"])
            let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n##s\n"
            try Data(k % 3 == 0 ? [] : mangle(Array(vocab.utf8))).write(to: URL(fileURLWithPath: d + "/vocab.txt"))
            tally.record({ _ = try WordPieceTokenizer(directory: d) }, mustName: [d])
        }
        print("fuzz, model files: \(tally)")
        XCTAssertEqual(tally.unnamed, [])
    }
}
