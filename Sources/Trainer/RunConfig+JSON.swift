import JSONKit
import Space

extension TaskSpec.Column {
    var json: JSONValue {
        switch self {
        case .name(let n): return .string(n)
        case .index(let i): return .number(i)
        }
    }
}

extension RunConfig {
    /// The run file for this configuration (absolute paths as resolved); parses back to an equal config.
    public var json: JSONValue {
        let s = task.spec
        var taskMembers: [(key: String, value: JSONValue)]
        if let lm = s.languageModeling {
            taskMembers = [("format", .string("jsonl")), ("type", .string("causal_lm")), ("name", .string(s.name)),
                           ("max_new_tokens", .number(lm.maxNewTokens))]
        } else if TaskSpec.glue(s.name) == s {
            taskMembers = [("format", .string("glue")), ("name", .string(s.name))]
        } else {
            taskMembers = [("format", .string(s.format.rawValue)), ("name", .string(s.name)), ("header", .bool(s.hasHeader)),
                           ("text", s.textA.json)]
            if let b = s.textB { taskMembers.append(("text_pair", b.json)) }
            taskMembers.append(("label", s.label.json))
            if let c = s.classes { taskMembers.append(("classes",
                                                       .array(c.map { .string($0) }))) } else { taskMembers.append(("regression",
                                                       .bool(true))) }
        }
        taskMembers += [("metric", .string(s.primaryMetric)), ("train", .string(task.train)), ("dev", .string(task.dev)),
                        ("max_length", .number(task.maxLength))]
        if let v = task.validation {
            taskMembers += [("validation", v.json()), ("score_on", .string(task.scoring.rawValue))]
        }
        let t = training
        var tm: [(key: String, value: JSONValue)] = [
            ("epochs", .number(t.epochs)), ("batch_size", .number(t.batchSize)), ("eval_batch_size", .number(t.evalBatchSize)),
            ("learning_rate", .number(t.learningRate)), ("weight_decay", .number(t.weightDecay)),
            ("warmup_fraction", .number(t.warmupFraction)), ("max_grad_norm", .number(t.maxGradNorm)),
            ("sample", .string(t.sample)), ("seed", .number(Int(t.seed))), ("length_grouping", .bool(t.lengthGrouping)),
            ("frozen_prefix_cache", .bool(t.frozenPrefixCache)), ("cache_limit_mib", .number(t.cacheLimitMiB)),
            ("cache_precision", .string(t.cachePrecision.rawValue)),
        ]
        if let n = t.trainExamples { tm.append(("train_examples", .number(n))) }
        if let n = t.devExamples { tm.append(("dev_examples", .number(n))) }
        if let d = t.cacheDirectory { tm.append(("cache_dir", .string(d))) }
        return .object([("model", .string(model)), ("task", .object(taskMembers)), ("peft", plan.json),
                        ("head", .string(head.rawValue)), ("training", .object(tm))])
    }
}
