import JSONKit
import XCTest
import TestSupport
@testable import Trainer

/// Token-for-token parity with HF `tokenizers` for byte-level BPE: three tokenizers with the
/// pre-tokenizer shapes of RoBERTa, Llama 3 and SmolLM, 616 texts and pairs each (GLUE sentences,
/// unicode, emoji, runs of spaces and newlines, digits, very long words, added tokens in the text,
/// truncation), made by tools/make_bpe_fixtures.py.
final class ByteLevelBPETests: XCTestCase {
    static let folder = Repo.fixtures + "/bpe"

    func testMatchesHuggingFaceOnEveryCase() throws {
        let root = try JSONParser.parse(String(contentsOfFile: Self.folder + "/cases.json", encoding: .utf8))
        guard case .array(let cases)? = root["cases"] else { return XCTFail("the fixture has no cases") }
        var tokenizers: [String: any TextTokenizer] = [:], counts: [String: Int] = [:], mismatches = 0
        for (n, c) in cases.enumerated() {
            guard case .string(let name)? = c["tokenizer"], case .string(let a)? = c["a"], case .number(let ml, _)? = c["max_length"],
                  case .array(let ids)? = c["ids"], case .array(let types)? = c["type_ids"] else { return XCTFail("case \(n) malformed") }
            if tokenizers[name] == nil { tokenizers[name] = try Tokenizers.load(directory: Self.folder + "/" + name) }
            var b: String?
            if case .string(let s)? = c["b"] { b = s }
            let e = try XCTUnwrap(tokenizers[name]).encode(a, b, maxLength: Int(ml))
            let want = ids.compactMap { if case .number(let d, _) = $0 { return Int32(d) }; return nil }
            let wantTypes = types.compactMap { if case .number(let d, _) = $0 { return Int32(d) }; return nil }
            counts[name, default: 0] += 1
            if e.ids != want || e.typeIds != wantTypes {
                mismatches += 1
                if mismatches <= 20 {
                    XCTFail("\(name) case \(n) (max_length \(Int(ml))): \(a.debugDescription.prefix(80)) | \(b?.debugDescription.prefix(40) ?? "")"
                        + "\n got  \(e.ids) \(e.typeIds)\n want \(want) \(wantTypes)")
                }
            }
        }
        XCTAssertEqual(mismatches, 0)
        XCTAssertEqual(counts.keys.sorted(), ["llama3", "roberta", "smollm"])
        for (name, k) in counts { XCTAssertGreaterThanOrEqual(k, 500, name) }
        for (name, t) in tokenizers { XCTAssertTrue(t is ByteLevelBPETokenizer, name) }
    }

    /// GPT-2's byte map: 256 distinct printable characters, printable Latin-1 bytes unchanged,
    /// the space byte as "Ġ" (U+0120) and the newline as "Ċ" (U+010A), as in every GPT-2 vocabulary.
    func testTheByteMapIsGPT2s() {
        let map = ByteLevelBPETokenizer.byteCharacters
        XCTAssertEqual(Set(map).count, 256)
        XCTAssertEqual(map[Int(UInt8(ascii: "A"))], "A")
        XCTAssertEqual(map[32], "\u{0120}")
        XCTAssertEqual(map[10], "\u{010A}")
        XCTAssertEqual(map[0], "\u{0100}")
        XCTAssertEqual(map[255], "\u{00FF}")
    }

    /// What a reader does not implement is refused by its JSON path, never guessed.
    func testUnsupportedPartsAreRefusedByPath() throws {
        let root = try JSONParser.parse(String(contentsOfFile: Self.folder + "/roberta/tokenizer.json", encoding: .utf8))
        let d = scratchDirectory("bpe-bad")
        func refused(_ path: [String], _ value: JSONValue, mentions: String) throws {
            try Self.replacing(root, at: path, with: value).serialized().write(toFile: d + "/tokenizer.json", atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try Tokenizers.load(directory: d)) { e in
                XCTAssertTrue("\(e)".contains(mentions), "\(e)")
                XCTAssertTrue("\(e)".contains(d + "/tokenizer.json"), "\(e)")
            }
        }
        try refused(["pre_tokenizer", "type"], .string("Whitespace"), mentions: "pre_tokenizer.type")
        try refused(["post_processor", "type"], .string("BertProcessing"), mentions: "post_processor.type")
        try refused(["model", "type"], .string("Unigram"), mentions: "model.type")
        try refused(["model", "byte_fallback"], .bool(true), mentions: "model.byte_fallback")
        try refused(["normalizer"], .object([("type", .string("Lowercase"))]), mentions: "normalizer.type")
        try refused(["model", "merges"], .array([.string("no-such-token x")]), mentions: "model.merges[0]")
    }

    /// The same SmolLM-shaped tokenizer read from GGUF metadata (tools/make_gguf_fixture.py) gives
    /// HF's ids on every SmolLM case whose text NFC leaves unchanged (GGUF carries no normaliser;
    /// the fixture's tokenizer.json has NFC).
    func testTheGGUFTokenizerMatchesHuggingFace() throws {
        let tok = try ByteLevelBPETokenizer(gguf: GGUFFile(path: Repo.fixtures + "/gguf/smollm-tokenizer.gguf"))
        let root = try JSONParser.parse(String(contentsOfFile: Self.folder + "/cases.json", encoding: .utf8))
        guard case .array(let cases)? = root["cases"] else { return XCTFail("the fixture has no cases") }
        func unchangedByNFC(_ s: String) -> Bool { Array(s.precomposedStringWithCanonicalMapping.unicodeScalars) == Array(s.unicodeScalars) }
        var checked = 0
        for (n, c) in cases.enumerated() {
            guard case .string("smollm")? = c["tokenizer"], case .string(let a)? = c["a"], case .number(let ml, _)? = c["max_length"],
                  case .array(let ids)? = c["ids"] else { continue }
            var b: String?
            if case .string(let s)? = c["b"] { b = s }
            guard unchangedByNFC(a), b.map(unchangedByNFC) ?? true else { continue }
            let want = ids.compactMap { if case .number(let d, _) = $0 { return Int32(d) }; return nil }
            XCTAssertEqual(tok.encode(a, b, maxLength: Int(ml)).ids, want, "case \(n)")
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 500)
    }

    /// A GGUF tokenizer autopeft does not implement is refused by name.
    func testAnUnknownGGUFTokenizerIsRefusedByName() throws {
        let file = try GGUFFile(path: Repo.fixtures + "/gguf/tiny.gguf")   // model "gpt2", no merges
        XCTAssertThrowsError(try ByteLevelBPETokenizer(gguf: file)) { XCTAssertTrue("\($0)".contains("tokenizer.ggml.merges"), "\($0)") }
    }

    /// `root` with the member at `path` set to `value`.
    static func replacing(_ root: JSONValue, at path: [String], with value: JSONValue) -> JSONValue {
        guard let key = path.first else { return value }
        guard case .object(var members) = root else { return root }
        if let i = members.firstIndex(where: { $0.key == key }) {
            members[i].value = replacing(members[i].value, at: Array(path.dropFirst()), with: value)
        } else {
            members.append((key, replacing(.null, at: Array(path.dropFirst()), with: value)))
        }
        return .object(members)
    }
}
