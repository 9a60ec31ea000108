/// GLUE's file layouts, as GLUE's download script writes them: the labelled train/dev layout and
/// the official unlabeled test layout of each task (columns as in the GLUE distribution; filler
/// columns get placeholder values). Used to check that `predict` reads test files.
struct GLUELayouts {
    let task: String
    /// Header of labelled files; nil when they have none (CoLA), then `labelledColumns` is positional.
    let labelledHeader: [String]?
    let labelledColumns: [String]
    let unlabeledHeader: [String]
    let textA: String, textB: String?, label: String
    let labels: [String]

    func row(_ columns: [String], _ t: (String, String), label l: String?) -> String {
        columns.map { c -> String in
            if c == textA { return t.0 }
            if c == textB { return t.1 }
            if c == label, let l { return l }
            return "7"
        }.joined(separator: "\t")
    }

    func labelledFile(_ texts: [(String, String)]) -> String {
        var lines = labelledHeader.map { [$0.joined(separator: "\t")] } ?? []
        for (i, t) in texts.enumerated() { lines.append(row(labelledColumns, t, label: labels[i % labels.count])) }
        return lines.joined(separator: "\n") + "\n"
    }

    func unlabeledFile(_ texts: [(String, String)]) -> String {
        ([unlabeledHeader.joined(separator: "\t")] + texts.map { row(unlabeledHeader, $0, label: nil) }).joined(separator: "\n") + "\n"
    }

    static let all: [GLUELayouts] = {
        func pair(_ task: String, _ dev: [String], _ test: [String], _ a: String, _ b: String, _ label: String,
                  _ labels: [String]) -> GLUELayouts {
            GLUELayouts(task: task, labelledHeader: dev, labelledColumns: dev, unlabeledHeader: test, textA: a, textB: b,
                        label: label, labels: labels)
        }
        let mnliTest = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
                        "sentence1_parse", "sentence2_parse", "sentence1", "sentence2"]
        return [
            GLUELayouts(task: "sst2", labelledHeader: ["sentence", "label"], labelledColumns: ["sentence", "label"],
                        unlabeledHeader: ["index", "sentence"], textA: "sentence", textB: nil, label: "label", labels: ["1", "0"]),
            GLUELayouts(task: "cola", labelledHeader: nil, labelledColumns: ["source", "label", "star", "sentence"],
                        unlabeledHeader: ["index", "sentence"], textA: "sentence", textB: nil, label: "label", labels: ["1", "0"]),
            pair("mrpc", ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"], ["index", "#1 ID", "#2 ID", "#1 String", "#2 String"],
                 "#1 String", "#2 String", "Quality", ["1", "0"]),
            pair("stsb", ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2", "score"],
                 ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2"],
                 "sentence1", "sentence2", "score", ["4.200", "0.750"]),
            pair("rte", ["index", "sentence1", "sentence2", "label"], ["index", "sentence1", "sentence2"],
                 "sentence1", "sentence2", "label", ["entailment", "not_entailment"]),
            pair("qnli", ["index", "question", "sentence", "label"], ["index", "question", "sentence"],
                 "question", "sentence", "label", ["not_entailment", "entailment"]),
            pair("wnli", ["index", "sentence1", "sentence2", "label"], ["index", "sentence1", "sentence2"],
                 "sentence1", "sentence2", "label", ["1", "0"]),
            pair("qqp", ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"], ["id", "question1", "question2"],
                 "question1", "question2", "is_duplicate", ["0", "1"]),
            pair("mnli", mnliTest + ["label1", "label2", "label3", "label4", "label5", "gold_label"], mnliTest,
                 "sentence1", "sentence2", "gold_label", ["neutral", "contradiction", "entailment"]),
        ]
    }()
}
