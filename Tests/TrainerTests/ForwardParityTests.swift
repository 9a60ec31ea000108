import JSONKit
import XCTest
import Space
@testable import Trainer

/// The encoder's forward against HF transformers' BertModel on 16 fixture texts (8 single,
/// 8 pairs) run as one padded batch: last hidden state of every real token, and the pooler.
final class ForwardParityTests: XCTestCase {
    func testLastHiddenStateMatchesTransformers() throws {
        let dir = try Repo.requireModel()
        let cfg = try BertConfig(contentsOf: dir + "/config.json")
        let weights = try BertWeights(config: cfg, safetensors: SafetensorsFile(path: dir + "/model.safetensors"))
        let ref = try SafetensorsFile(path: Repo.fixtures + "/forward_reference.safetensors")
        let hidden = try ref.floats("last_hidden_state"), pooled = try ref.floats("pooler_output")
        let root = try JSONParser.parse(String(contentsOfFile: Repo.fixtures + "/forward_cases.json", encoding: .utf8))
        guard case .array(let cases)? = root["cases"] else { return XCTFail("no cases") }
        let tok = try WordPieceTokenizer(directory: dir)
        var encs: [WordPieceTokenizer.Encoding] = []
        for c in cases {
            guard case .string(let a)? = c["a"] else { return XCTFail("case without text") }
            var b: String? = nil
            if case .string(let s)? = c["b"] { b = s }
            encs.append(tok.encode(a, b, maxLength: 64))
        }
        let model = try BertClassifier(weights: weights, plan: PEFTPlan(), labels: 2, head: .pooler)
        let batch = TokenBatch(encs, padId: tok.padId)
        var rng = RandomSource(seed: 0)
        model.forward(batch, training: false, rng: &rng)
        let maxDiff = try maxLastHiddenDifference(model, batch: batch, against: hidden)
        // Measured 3.1e-6 (Float32 hidden states); 1e-5 leaves room for other kernels' summation
        // orders, checked under Prescott, Haswell, SkylakeX and Cooperlake.
        XCTAssertLessThanOrEqual(maxDiff, 1e-5, "last hidden state max abs difference")
        var maxPool: Float = 0
        let f = model.features.pointer
        for i in 0..<pooled.count { maxPool = max(maxPool, abs(f[i] - pooled[i])) }
        XCTAssertLessThanOrEqual(maxPool, 1e-6, "pooler output max abs difference (measured 1.9e-7)")
        print("forward parity: last_hidden_state max |diff| = \(maxDiff), pooler_output max |diff| = \(maxPool)")
    }
}

/// The largest |difference| between the model's last hidden states of every real token of the
/// batch it last ran (row by row, padding skipped) and a reference of those tokens concatenated.
func maxLastHiddenDifference(_ model: BertClassifier, batch: TokenBatch, against reference: [Float]) throws -> Float {
    let last = model.hidden[model.config.layers].pointer, H = model.config.hiddenSize
    var row = 0, maxDiff: Float = 0
    for (b, n) in batch.lengths.enumerated() {
        for t in 0..<n {
            for j in 0..<H { maxDiff = max(maxDiff, abs(last[(b * batch.length + t) * H + j] - reference[row * H + j])) }
            row += 1
        }
    }
    guard row * H == reference.count else { throw TokenCountMismatch(tokens: row, reference: reference.count / H) }
    return maxDiff
}

/// The batch and the reference hold different numbers of tokens: the encodings differ.
struct TokenCountMismatch: Error, CustomStringConvertible {
    let tokens: Int, reference: Int
    var description: String { "the batch has \(tokens) real tokens, the reference \(reference)" }
}
