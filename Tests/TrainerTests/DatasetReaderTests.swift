import XCTest
import TestSupport
@testable import Trainer

final class DatasetReaderTests: XCTestCase {
    func file(_ name: String, _ text: String) -> String {
        let p = scratchDirectory("trainer") + "/" + name
        XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: Data(text.utf8)), p)
        return p
    }

    /// Complete GLUE files parse with their official row counts; for every file, the count equals
    /// its non-blank data lines counted independently (so subsets and full copies both pass).
    func testRealGLUEFilesParseWithTheirRowCounts() throws {
        let g = try Repo.requireGLUE()
        let official: [String: Int] = ["SST-2/dev.tsv": 872, "MRPC/train.tsv": 3668, "MRPC/dev.tsv": 408, "STS-B/dev.tsv": 1500,
                                       "STS-B/train.tsv": 5749, "QNLI/dev.tsv": 5463, "WNLI/train.tsv": 635]
        let files: [(String, String)] = [("sst2", "SST-2/dev.tsv"), ("mrpc", "MRPC/train.tsv"), ("mrpc", "MRPC/dev.tsv"),
                                         ("stsb", "STS-B/dev.tsv"), ("stsb", "STS-B/train.tsv"), ("qnli", "QNLI/dev.tsv"),
                                         ("wnli", "WNLI/train.tsv"), ("qqp", "QQP/train.tsv"), ("mnli", "MNLI/dev_matched.tsv")]
        for (task, path) in files {
            let rows = try DatasetReader.read(g + "/" + path, task: TaskSpec.glue(task)!)
            let text = try String(contentsOfFile: g + "/" + path, encoding: .utf8)
            let dataLines = text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.count - 1
            XCTAssertEqual(rows.count, dataLines, path)
            if let n = official[path] { XCTAssertEqual(rows.count, n, "\(path): GLUE's official row count") }
            XCTAssertFalse(rows.contains { $0.label == .classIndex(-1) }, "\(path): every row labelled")
        }
        let mrpc = try DatasetReader.read(g + "/MRPC/dev.tsv", task: TaskSpec.glue("mrpc")!)
        XCTAssertEqual(mrpc.filter { $0.label == .classIndex(1) }.count, 279)
        XCTAssertNotNil(mrpc[0].textB)
        let stsb = try DatasetReader.read(g + "/STS-B/dev.tsv", task: TaskSpec.glue("stsb")!)
        XCTAssertEqual(stsb[0].label, .value(5.0))
    }

    /// Every GLUE task's official test layout (index column, no label; QQP and SST-2 with their
    /// texts at other indices, CoLA with a header its train and dev files lack) reads the same
    /// texts as its labelled layout, unlabeled; training refuses it with a clear message.
    func testEveryGLUETestLayoutReadsTheSameTextsUnlabeled() throws {
        for layout in GLUELayouts.all {
            let spec = TaskSpec.glue(layout.task)!
            let texts = [("A first text, with a comma.", "And its pair?"), ("Second \"quoted\" one.", "Pair two.")]
            let labelled = file(layout.task + "-dev.tsv", layout.labelledFile(texts))
            let unlabeled = file(layout.task + "-test.tsv", layout.unlabeledFile(texts))
            let l = try DatasetReader.read(labelled, task: spec)
            let u = try DatasetReader.read(unlabeled, task: spec, requireLabels: false)
            XCTAssertEqual(u.map(\.textA), l.map(\.textA), layout.task)
            XCTAssertEqual(u.map(\.textB), l.map(\.textB), layout.task)
            XCTAssertEqual(l.map(\.textA), texts.map(\.0), layout.task)
            XCTAssertFalse(l.contains { $0.label == .classIndex(-1) || $0.label == .value(.nan) }, layout.task)
            for e in u {
                switch e.label {
                case .classIndex(let c): XCTAssertEqual(c, -1, layout.task)
                case .value(let v): XCTAssertTrue(v.isNaN, layout.task)
                case .sequence: XCTFail("a GLUE row read as a causal-LM row")
                }
            }
            XCTAssertThrowsError(try DatasetReader.read(unlabeled, task: spec), layout.task) { e in
                XCTAssertTrue("\(e)".contains("need labelled rows") || "\(e)".contains("missing label")
                    || "\(e)".contains("is not one of"), "\(layout.task): \(e)")
            }
        }
    }

    func testColaHasNoHeaderAndMayLackTheFinalNewline() throws {
        let p = file("cola.tsv",
                     "gj04\t1\t\tThe sailors rode the breeze clear of the rocks.\ngj04\t0\t*\tThe more we study verbs, the "
                     + "crazier they get get.")
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
        let folder = scratchDirectory("trainer")
        XCTAssertThrowsError(try DatasetReader.read(folder, task: TaskSpec.glue("sst2")!)) { e in
            XCTAssertEqual("\(e)", "\(folder): cannot read data file: it is a folder; expected a file")
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
        XCTAssertThrowsError(try DatasetReader.read(bad,
                                                    task: reg)) { XCTAssertTrue("\($0)".hasSuffix(":2: expected a string field \"q\"")) }
    }
}
