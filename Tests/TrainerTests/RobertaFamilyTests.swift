import JSONKit
import XCTest
import TestSupport
import Space
@testable import Trainer

/// The RoBERTa family on BERT's block: positions from `pad_token_id + 1`, one token type, the
/// `roberta.` tensor names, byte-level BPE. The reference is a tiny random
/// RobertaForSequenceClassification and what HF transformers computes with it
/// (tools/make_roberta_fixture.py).
final class RobertaFamilyTests: XCTestCase {
    static let folder = Repo.fixtures + "/roberta-tiny"

    func testTinyRobertaMatchesTransformers() throws {
        let cfg = try BertConfig(contentsOf: Self.folder + "/config.json")
        XCTAssertEqual(cfg.family, .roberta)
        XCTAssertEqual(cfg.positionBase, 2, "pad_token_id 1, so real tokens start at position 2")
        XCTAssertEqual(cfg.usablePositions, 48)
        let weights = try BertWeights(config: cfg, safetensors: SafetensorsFile(path: Self.folder + "/model.safetensors"))
        XCTAssertNil(weights.pooler, "RobertaForSequenceClassification keeps no pooler")
        let tok = try Tokenizers.load(directory: Self.folder)
        let root = try JSONParser.parse(String(contentsOfFile: Self.folder + "/cases.json", encoding: .utf8))
        guard case .array(let cases)? = root["cases"], case .number(let maxLength, _)? = root["max_length"] else {
            return XCTFail("the fixture has no cases")
        }
        var encodings: [TokenEncoding] = []
        for c in cases {
            guard case .string(let a)? = c["a"], case .array(let ids)? = c["ids"] else { return XCTFail("a case without text") }
            var b: String?
            if case .string(let s)? = c["b"] { b = s }
            let e = tok.encode(a, b, maxLength: Int(maxLength))
            XCTAssertEqual(e.ids, ids.compactMap { if case .number(let d, _) = $0 { return Int32(d) }; return nil }, a)
            XCTAssertEqual(Set(e.typeIds), [0], "RoBERTa has one token type")
            encodings.append(e)
        }
        let reference = try SafetensorsFile(path: Self.folder + "/reference.safetensors").floats("last_hidden_state")
        let batch = TokenBatch(encodings, padId: tok.padId)
        func maxDifference(_ weights: BertWeights) throws -> Float {
            let model = try BertClassifier(weights: weights, plan: PEFTPlan(), labels: 2, head: .cls)
            var rng = RandomSource(seed: 0)
            model.forward(batch, training: false, rng: &rng)
            return try maxLastHiddenDifference(model, batch: batch, against: reference)
        }
        let maxDiff = try maxDifference(weights)
        XCTAssertLessThanOrEqual(maxDiff, 1e-5, "last hidden state max abs difference")
        print("RoBERTa forward parity: last_hidden_state max |diff| = \(maxDiff)")
        // The check can tell: counted from BERT's position 0, the same weights give other states.
        var bertPositions = cfg
        bertPositions.positionBase = 0
        let shifted = BertWeights(config: bertPositions, wordEmbeddings: weights.wordEmbeddings.array,
                                  positionEmbeddings: weights.positionEmbeddings.array, typeEmbeddings: weights.typeEmbeddings.array,
                                  embeddingNorm: weights.embeddingNorm, layers: weights.layers, pooler: nil)
        XCTAssertGreaterThan(try maxDifference(shifted), 1e-2)
    }

    /// An unsupported family is refused with the supported list; XLM-R with its reason.
    func testAnUnsupportedFamilyIsRefusedWithTheSupportedOnes() throws {
        let d = scratchDirectory("families")
        let text = try String(contentsOfFile: Self.folder + "/config.json", encoding: .utf8)
        for (type, mentions) in [("gpt2", "supported: \"bert\", \"roberta\""), ("xlm-roberta", "SentencePiece Unigram")] {
            try text.replacingOccurrences(of: #""model_type": "roberta""#, with: "\"model_type\": \"\(type)\"")
                .write(toFile: d + "/config.json", atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try BertConfig(contentsOf: d + "/config.json")) { e in
                XCTAssertTrue("\(e)".contains(mentions), "\(e)")
                XCTAssertTrue("\(e)".contains("model_type"), "\(e)")
            }
        }
    }
}
