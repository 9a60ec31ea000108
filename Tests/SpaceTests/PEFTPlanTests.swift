import JSONKit
import XCTest
@testable import Space

final class PEFTPlanTests: XCTestCase {
    let minilm = ModelDimensions(hiddenSize: 384, intermediateSize: 1536, layers: 6, heads: 12)

    func plan(_ json: String) throws -> PEFTPlan {
        try PEFTPlan(reading: JSONReader(try JSONParser.parse(json), path: "peft"))
    }

    /// HF PEFT counts 74,498 trainable parameters for protocol P (LoRA r=8 on query and value of
    /// all-MiniLM-L6-v2, two labels): the peer (../shared/peers/torch_peft_throughput.py, config
    /// lora_r8_fp32_s64) prints `"trainable_params": 74498`. That is 6 layers × 2 targets ×
    /// 8 × (384 + 384) = 73,728 LoRA scalars plus the 384 × 2 + 2 = 770 of the classifier.
    func testProtocolPParameterCountEqualsPEFTs() throws {
        let p = try plan(#"{"lora": {"rank": 8, "alpha": 16, "dropout": 0.1, "targets": ["query", "value"]}}"#)
        XCTAssertEqual(p.moduleParameters(dims: minilm), 6 * 2 * 8 * (384 + 384))
        XCTAssertEqual(p.trainableParameters(dims: minilm, labels: 2), 73_728 + 770)
        XCTAssertEqual(p.lora?.scaling, 2)
    }

    func testIntermediateAndOutputShapes() throws {
        let p = try plan(#"{"lora": {"rank": 4, "targets": ["intermediate.dense", "output"], "layers": [4, 5]}}"#)
        XCTAssertEqual(p.moduleParameters(dims: minilm), 2 * (4 * (384 + 1536) * 2))
        XCTAssertEqual(p.lowestAdaptedLayer(layers: 6), 4)
        XCTAssertEqual(p.lora?.alpha, 8, "alpha defaults to 2 × rank in run files, as in spaces (issue 39: one default)")
        let space = try SearchSpace(reading: JSONReader(try JSONParser.parse(#"{"lora": {"rank": [4]}}"#), path: "space", file: "s.json"),
                                    constraints: nil, layers: 6)
        var rng = SplitMix64(seed: 0)
        let searched = try PEFTSpace.plan(space.sample(&rng), in: space, layers: 6)
        XCTAssertEqual(searched.lora?.alpha, p.lora?.alpha, "a space's default alpha is the run file's")
    }

    func testErrorsNamePaths() throws {
        XCTAssertThrowsError(try plan(#"{"lora": {"rank": 8, "targets": ["qeury"]}}"#)) { e in
            XCTAssertEqual("\(e)", #"peft.lora.targets[0]: unknown LoRA target "qeury"; expected one of query, key, value, attention.output, intermediate, output, gate (did you mean "query"?)"#)
        }
        XCTAssertThrowsError(try plan(#"{"lora": {"rank": 0, "targets": ["query"]}}"#)) { e in
            XCTAssertTrue("\(e)".hasPrefix("peft.lora.rank: expected a positive rank"), "\(e)")
        }
        XCTAssertThrowsError(try plan(#"{"lora": {"rank": 8, "targets": ["query"], "layers": "some"}}"#)) { e in
            XCTAssertTrue("\(e)".hasPrefix("peft.lora.layers: expected \"all\""), "\(e)")
        }
        XCTAssertThrowsError(try plan(#"{"lora": {"rank": 8, "targets": ["query"], "rnak": 2}}"#)) { e in
            XCTAssertTrue("\(e)".contains("did you mean \"rank\""), "\(e)")
        }
        let p = try plan(#"{"lora": {"rank": 8, "targets": ["query"], "layers": [0, 6]}}"#)
        XCTAssertThrowsError(try p.validate(for: minilm)) { e in
            XCTAssertEqual("\(e)", "peft.lora.layers[1]: layer 6 is out of range 0...5")
        }
        let big = try plan(#"{"lora": {"rank": 500, "targets": ["query"]}}"#)
        XCTAssertThrowsError(try big.validate(for: minilm)) { e in
            XCTAssertTrue("\(e)".contains("exceeds"), "\(e)")
        }
    }
}
