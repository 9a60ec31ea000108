import XCTest
@testable import Trainer

final class DatasetReaderTests: XCTestCase {
    func file(_ name: String, _ text: String) -> String {
        let p = temporaryDirectory() + "/" + name
        FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
        return p
    }

    func testRealGLUEFilesParseWithTheirRowCounts() throws {
        let g = try Repo.requireGLUE()
        let counts: [(String, String, Int)] = [("sst2", "SST-2/dev.tsv", 872), ("mrpc", "MRPC/train.tsv", 3668), ("mrpc", "MRPC/dev.tsv", 408),
                                               ("stsb", "STS-B/dev.tsv", 1500), ("stsb", "STS-B/train.tsv", 5749), ("qnli", "QNLI/dev.tsv", 5463),
                                               ("wnli", "WNLI/train.tsv", 635), ("qqp", "QQP/train.tsv", 32), ("mnli", "MNLI/dev_matched.tsv", 48)]
        for (task, path, n) in counts {
            let rows = try DatasetReader.read(g + "/" + path, task: TaskSpec.glue(task)!)
            XCTAssertEqual(rows.count, n, path)
        }
        let mrpc = try DatasetReader.read(g + "/MRPC/dev.tsv", task: TaskSpec.glue("mrpc")!)
        XCTAssertEqual(mrpc.filter { $0.label == .classIndex(1) }.count, 279)
        XCTAssertNotNil(mrpc[0].textB)
        let stsb = try DatasetReader.read(g + "/STS-B/dev.tsv", task: TaskSpec.glue("stsb")!)
        XCTAssertEqual(stsb[0].label, .value(5.0))
    }

    func testColaHasNoHeaderAndMayLackTheFinalNewline() throws {
        let p = file("cola.tsv", "gj04\t1\t\tThe sailors rode the breeze clear of the rocks.\ngj04\t0\t*\tThe more we study verbs, the crazier they get get.")
        let rows = try DatasetReader.read(p, task: TaskSpec.glue("cola")!)
        XCTAssertEqual(rows.map(\.label), [.classIndex(1), .classIndex(0)])
        XCTAssertEqual(rows[1].textA, "The more we study verbs, the crazier they get get.")
    }

    func testTabsOnlyNeverQuotes() throws {
        let p = file("sst.tsv", "sentence\tlabel\n\"quoted start and a lone \" quote\t1\n")
        XCTAssertEqual(try DatasetReader.read(p, task: TaskSpec.glue("sst2")!)[0].textA, "\"quoted start and a lone \" quote")
    }

    func testMalformedRowsNameFileAndLine() {
        let p = file("bad.tsv", "sentence\tlabel\ngood\t1\nno label here\n")
        XCTAssertThrowsError(try DatasetReader.read(p, task: TaskSpec.glue("sst2")!)) { e in
            XCTAssertEqual("\(e)", "\(p):3: expected at least 2 tab-separated fields, found 1")
        }
        let q = file("bad2.tsv", "sentence\tlabel\ngood\tyes\n")
        XCTAssertThrowsError(try DatasetReader.read(q, task: TaskSpec.glue("sst2")!)) { e in
            XCTAssertEqual("\(e)", "\(q):2: label \"yes\" is not one of \"0\", \"1\"")
        }
        let r = file("bad.tsv", "index\tgenre\tf\ty\to\ts1\ts2\tsentence1\tsentence2\tscore\n0\tg\tf\t2012\t1\tx\ty\ta\tb\tfive\n")
        XCTAssertThrowsError(try DatasetReader.read(r, task: TaskSpec.glue("stsb")!)) { e in
            XCTAssertTrue("\(e)".hasSuffix(":2: expected a numeric regression target, got \"five\""), "\(e)")
        }
    }

    func testCSVWithQuotesAndJSONL() throws {
        let csv = file("d.csv", "id,text,label\n1,\"Hello, \"\"world\"\"\nsecond line\",pos\n2,plain,neg\n")
        let spec = TaskSpec(name: "c", format: .csv, hasHeader: true, textA: .name("text"), textB: nil, label: .name("label"),
                            classes: ["neg", "pos"], primaryMetric: "accuracy")
        let rows = try DatasetReader.read(csv, task: spec)
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows[0].textA, "Hello, \"world\"\nsecond line")
        XCTAssertEqual(rows[0].label, .classIndex(1))
        let jl = file("d.jsonl", "{\"q\": \"a?\", \"p\": \"b.\", \"y\": 0.5}\n\n{\"q\": \"c?\", \"p\": \"d.\", \"y\": 2}\n")
        let reg = TaskSpec(name: "j", format: .jsonl, hasHeader: false, textA: .name("q"), textB: .name("p"), label: .name("y"),
                           classes: nil, primaryMetric: "pearson")
        let jr = try DatasetReader.read(jl, task: reg)
        XCTAssertEqual(jr.map(\.label), [.value(0.5), .value(2)])
        XCTAssertEqual(jr[1].textB, "d.")
        let bad = file("e.jsonl", "{\"q\": \"a?\", \"p\": \"b.\", \"y\": 1}\n{\"q\": 3}\n")
        XCTAssertThrowsError(try DatasetReader.read(bad, task: reg)) { XCTAssertTrue("\($0)".hasSuffix(":2: expected a string field \"q\"")) }
    }
}
