import JSONKit
import XCTest
import TestSupport
import Space
@testable import Trainer

/// Token-for-token parity with HF `tokenizers` on the fixture made by tools/make_fixtures.py.
final class TokenizerTests: XCTestCase {
    func testMatchesHuggingFaceOnFixture() throws {
        let tok = try WordPieceTokenizer(directory: try Repo.requireModel())
        let root = try JSONParser.parse(String(contentsOfFile: Repo.fixtures + "/tokenizer_cases.json", encoding: .utf8))
        guard case .array(let cases)? = root["cases"] else { return XCTFail("fixture has no cases") }
        XCTAssertGreaterThanOrEqual(cases.count, 200)
        var mismatches = 0
        for (n, c) in cases.enumerated() {
            guard case .string(let a)? = c["a"], case .number(let ml, _)? = c["max_length"],
                  case .array(let ids)? = c["ids"], case .array(let types)? = c["type_ids"] else { return XCTFail("case \(n) malformed") }
            var b: String? = nil
            if case .string(let s)? = c["b"] { b = s }
            let e = tok.encode(a, b, maxLength: Int(ml))
            let want = ids.compactMap { if case .number(let d, _) = $0 { return Int32(d) }; return nil }
            let wantTypes = types.compactMap { if case .number(let d, _) = $0 { return Int32(d) }; return nil }
            if e.ids != want || e.typeIds != wantTypes {
                mismatches += 1
                XCTFail("case \(n) (max_length \(Int(ml))): \(a.prefix(60)) | \(b?.prefix(40) ?? "")\n got  \(e.ids)\n want \(want)")
            }
        }
        XCTAssertEqual(mismatches, 0)
    }

    func testVocabTxtAndTokenizerJSONAgree() throws {
        let dir = try Repo.requireModel()
        let fromJSON = try WordPieceTokenizer(directory: dir)
        let fromTxt = try WordPieceTokenizer(vocab: WordPieceTokenizer.readVocab(dir + "/vocab.txt"), lowercase: true)
        XCTAssertEqual(fromJSON.vocab, fromTxt.vocab)
        let text = "Héllo, WORLD! 中文 unaffable"
        XCTAssertEqual(fromJSON.encode(text, maxLength: 32), fromTxt.encode(text, maxLength: 32))
    }

    /// A tokenizer.json with an id or a limit out of range is refused with the field (it trapped).
    func testBadTokenizerJSONNamesTheField() throws {
        let path = scratchDirectory("trainer") + "/tokenizer.json"
        func message(_ model: String) throws -> String {
            try #"{"model": {"type": "WordPiece", \#(model)}}"#.write(toFile: path, atomically: true, encoding: .utf8)
            do { _ = try WordPieceTokenizer(tokenizerJSON: path); return "no error" } catch { return "\(error)" }
        }
        let id = try message(#""vocab": {"[UNK]": 0, "a": 1e10}"#)
        XCTAssertTrue(id.contains(path) && id.contains(#"model.vocab["a"] must be a token id"#) && id.contains("got 1e10"), id)
        XCTAssertTrue(try message(#""vocab": {"a": 1.5}"#).contains("must be a token id"))
        let limit = try message(#""vocab": {"[UNK]": 0}, "max_input_chars_per_word": 1e30"#)
        XCTAssertTrue(limit.contains("model.max_input_chars_per_word must be a positive integer, got 1e30"), limit)
    }

    func testWordPieceRules() throws {
        let vocab: [String: Int32] = ["[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "un": 4, "##aff": 5, "##able": 6, "a": 7, "!": 8]
        let tok = try WordPieceTokenizer(vocab: vocab, maxInputCharsPerWord: 10)
        XCTAssertEqual(tok.tokenize("unaffable!"), [4, 5, 6, 8])
        XCTAssertEqual(tok.tokenize("unaffablex"), [1], "a word with an unknown piece is one [UNK]")
        XCTAssertEqual(tok.tokenize("aaaaaaaaaaa"), [1], "longer than max chars per word")
        XCTAssertEqual(tok.tokenize("UN\u{0301}AFFABLE"), [4, 5, 6], "lower-cased, accents stripped")
        // Pair truncation, longest first: budget 5 − 3 = 2 → one token each.
        let e = tok.encode("un a a a", "a a", maxLength: 5)
        XCTAssertEqual(e.ids, [2, 4, 3, 7, 3])
        XCTAssertEqual(e.typeIds, [0, 0, 0, 1, 1])
    }
}

final class AddedTokenTests: XCTestCase {
    /// Literal special tokens are matched before normalisation (cases checked with HF tokenizers 0.22:
    /// "a[CLS]b" → a [CLS] b; "x [sep] y" → x [ sep ] y; "[[MASK]]" → [ [MASK] ]).
    func testLiteralSpecialTokens() throws {
        let vocab: [String: Int32] = ["[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "a": 5, "b": 6, "[": 7, "]": 8, "sep": 9]
        let tok = try WordPieceTokenizer(vocab: vocab)
        XCTAssertEqual(tok.tokenize("a[CLS]b"), [5, 2, 6])
        XCTAssertEqual(tok.tokenize("a [sep] b"), [5, 7, 9, 8, 6])
        XCTAssertEqual(tok.tokenize("[[MASK]]"), [7, 4, 8])
    }
}
