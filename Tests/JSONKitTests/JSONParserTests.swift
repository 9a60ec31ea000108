import XCTest
@testable import JSONKit

final class JSONParserTests: XCTestCase {
    func testParsesAllValueKindsAndKeepsNumberText() throws {
        let v = try JSONParser.parse(#"{"a": [1, 2.50, -3e2, true, false, null], "s": "x\"y\u00e9\n", "o": {}}"#)
        guard case .array(let a)? = v["a"] else { return XCTFail("a is not an array") }
        XCTAssertEqual(a.count, 6)
        XCTAssertEqual(a[1], .number(2.5, text: "2.50"))
        if case .number(_, let t) = a[1] { XCTAssertEqual(t, "2.50") }
        XCTAssertEqual(a[2], .number(-300, text: "-3e2"))
        XCTAssertEqual(a[3], .bool(true))
        XCTAssertEqual(a[5], .null)
        XCTAssertEqual(v["s"], .string("x\"yé\n"))
        XCTAssertEqual(v["o"], .object([]))
    }

    func testUTF16SurrogatePairsDecodeToOneCharacter() throws {
        XCTAssertEqual(try JSONParser.parse(#""\ud83d\ude00""#), .string("😀"))
    }

    func testErrorsCarryLineAndColumn() {
        XCTAssertThrowsError(try JSONParser.parse("{\n  \"a\": 1,\n  \"b\": tru\n}")) { e in
            let err = e as! JSONParser.SyntaxError
            XCTAssertEqual(err.line, 3)
            XCTAssertEqual(err.column, 8)
        }
        XCTAssertThrowsError(try JSONParser.parse("{\"a\": 1,}")) { e in
            XCTAssertTrue("\(e)".contains("expected a string key"), "\(e)")
        }
        XCTAssertThrowsError(try JSONParser.parse("{\"a\": 1, \"a\": 2}")) { e in
            XCTAssertTrue("\(e)".contains("duplicate key"), "\(e)")
        }
        XCTAssertThrowsError(try JSONParser.parse("[1] 2"))
        XCTAssertThrowsError(try JSONParser.parse("01x"))
        XCTAssertThrowsError(try JSONParser.parse("\"abc"))
    }

    func testSerializationRoundTrips() throws {
        let text = #"{"b":[1,2.5,"x\ty"],"a":{"c":null,"d":false}}"#
        let v = try JSONParser.parse(text)
        XCTAssertEqual(v.serialized(), text)
        XCTAssertEqual(try JSONParser.parse(v.serialized()), v)
    }
}

final class JSONReaderTests: XCTestCase {
    func testUnknownKeyGetsDidYouMean() throws {
        let r = JSONReader(try JSONParser.parse(#"{"epochs": 3, "lerning_rate": 0.1}"#), path: "training", file: "run.json")
        _ = try r.required("epochs").int()
        _ = try r.optional("learning_rate")
        XCTAssertThrowsError(try r.finish()) { e in
            XCTAssertEqual("\(e)", #"run.json: training.lerning_rate: unknown key "lerning_rate" (did you mean "learning_rate"?)"#)
        }
    }

    func testTypeErrorsNameThePathAndTheValue() throws {
        let r = JSONReader(try JSONParser.parse(#"{"rank": "eight", "xs": [1, "two"]}"#), path: "peft.lora")
        XCTAssertThrowsError(try r.required("rank").int()) { e in
            XCTAssertEqual("\(e)", #"peft.lora.rank: expected an integer, got "eight""#)
        }
        XCTAssertThrowsError(try r.required("xs").array()[1].int()) { e in
            XCTAssertEqual("\(e)", #"peft.lora.xs[1]: expected an integer, got "two""#)
        }
        XCTAssertThrowsError(try r.required("missing")) { e in
            XCTAssertEqual("\(e)", #"peft.lora.missing: missing required key "missing""#)
        }
    }
}
