import JSONKit
import Foundation
import Space

/// Writes a trained candidate as a Hugging Face PEFT adapter directory for the family's
/// sequence classifier, `BertForSequenceClassification` or `RobertaForSequenceClassification`
/// (`adapter_config.json` + `adapter_model.safetensors`, tensor names exactly as PEFT 0.21 saves
/// them, the classifier under `modules_to_save`).
///
/// Expressible: LoRA alone (PiSSA converted to plain LoRA of rank 2r against the original
/// weights, as PEFT does: A′ = [A; A₀], B′ = [B, −B₀], alpha doubled so the scale is unchanged),
/// (IA)³ alone, and prefix tuning alone in every layer (the MLP, if any, evaluated into the
/// prefixes; BERT only). Exact only with the family's head (`EncoderFamily.classifierHead`): BERT's
/// reads the pooler. Anything else is refused with the reason, or exported with a README saying what differs.
public enum PEFTExport {
    public struct Unsupported: Error, CustomStringConvertible {
        public let reason: String
        public var description: String { "cannot export to HF PEFT: \(reason)" }
    }

    public static func export(_ model: BertClassifier, config: RunConfig, to dir: String) throws -> [String] {
        let family = model.config.family, plan = model.plan
        if family != .bert && plan.prefix != nil {
            throw Unsupported(reason: "prefix exports are written and checked for BERT only; this model is \(family.rawValue)")
        }
        let kinds = plan.methods.count
        guard kinds == 1 else {
            throw Unsupported(reason: kinds == 0 ? "the candidate trains only the head" :
                "a PEFT adapter holds one method; this candidate combines \(kinds) (save it with --save and use autopeft predict)")
        }
        var notes: [String] = []
        let (tensors, cfg): ([(name: String, shape: [Int], values: [Float])], JSONValue)
        if plan.lora != nil { (tensors, cfg) = try lora(model, config: config, notes: &notes) }
        else if plan.ia3 != nil { (tensors, cfg) = try ia3(model, config: config) }
        else if plan.prefix != nil { (tensors, cfg) = try prefix(model, config: config) }
        else { throw Unsupported(reason: "HF PEFT has no serial/parallel bottleneck adapter or BitFit method") }
        try notes += headNotes(model)
        try OutputFiles.createFolder(dir)
        try OutputFiles.write(SafetensorsWriter.encode(tensors, metadata: ["format": "pt"]), to: dir + "/adapter_model.safetensors")
        try OutputFiles.write(cfg.serialized() + "\n", to: dir + "/adapter_config.json")
        let readme = """
        # autopeft export (HF PEFT)

        Load with:

            from transformers import \(family.sequenceClassifierClass)
            from peft import PeftModel
            base = \(family.sequenceClassifierClass).from_pretrained("\(config.model)", num_labels=\(model.labels))
            model = PeftModel.from_pretrained(base, "<this folder>")

        \(exportNotes(notes))
        """
        try OutputFiles.write(readme + "\n", to: dir + "/README.md")
        return notes
    }

    static func tensor(_ model: BertClassifier, _ name: String) -> (shape: [Int], values: [Float]) {
        let v = model.block.view(named: name)!
        return (v.shape, Array(UnsafeBufferPointer(start: model.block.value(v.offset), count: v.count)))
    }

    /// The head's trained tensors under the family class's names: `classifier.*` (BERT), or
    /// `classifier.dense.*` and `classifier.out_proj.*` (RoBERTa's classification head).
    static func classifier(_ model: BertClassifier, prefix: String) -> [(name: String, shape: [Int], values: [Float])] {
        let dense = model.head.trainsDenseLayer
        return (dense ? ["dense.weight", "dense.bias"] : []).map { p in
            let t = tensor(model, "classifier." + p); return (prefix + "classifier." + p, t.shape, t.values)
        } + ["weight", "bias"].map { p in
            let t = tensor(model, "classifier." + p); return (prefix + "classifier." + (dense ? "out_proj." : "") + p, t.shape, t.values)
        }
    }

    /// What the export says of the head: nothing when it is the family class's; a note when the
    /// class computes another function with the same tensors (BERT's pooler over a `cls` or `mean`
    /// candidate); refused when the class has other tensors (a dense head on BERT, a linear one on RoBERTa).
    static func headNotes(_ model: BertClassifier) throws -> [String] {
        let family = model.config.family, expected = family.classifierHead
        guard model.head != expected else { return [] }
        guard model.head.trainsDenseLayer == expected.trainsDenseLayer else {
            throw Unsupported(reason: "\(family.sequenceClassifierClass)'s head \(expected.trainsDenseLayer ? "has a" : "has no") dense layer "
                + "before the classifier, and this candidate's \"\(model.head.rawValue)\" head \(model.head.trainsDenseLayer ? "has one" : "has none")"
                + "; train with \"head\": \"\(expected.rawValue)\" for an export")
        }
        return ["The candidate's head reads the \(model.head == .mean ? "mean of the last hidden states" : "[CLS] hidden state"); "
            + "\(family.sequenceClassifierClass) always applies the pooler first, so logits from this export differ from autopeft's. "
            + "Train with \"head\": \"\(expected.rawValue)\" for an exact export."]
    }

    static func regex(layers: [Int], paths: [String]) -> String {
        let l = layers.map(String.init).joined(separator: "|")
        let p = paths.map { $0.replacingOccurrences(of: ".", with: "\\.") }.joined(separator: "|")
        return ".*\\.layer\\.(\(l))\\.(\(p))"
    }

    static func base(_ config: RunConfig, _ type: String) -> [(key: String, value: JSONValue)] {
        [("peft_type", .string(type)), ("task_type", .string("SEQ_CLS")), ("base_model_name_or_path", .string(config.model)),
         ("inference_mode", .bool(true)), ("modules_to_save", .array([.string("classifier")])), ("revision", .null)]
    }

    static func lora(_ model: BertClassifier, config: RunConfig, notes: inout [String]) throws -> ([(name: String, shape: [Int],
        values: [Float])], JSONValue) {
        let spec = model.plan.lora!
        let layers = spec.layers.resolve(count: model.config.layers)
        let pissa = spec.initialization == .pissa
        var out: [(name: String, shape: [Int], values: [Float])] = []
        for l in layers {
            for t in spec.targets {
                guard let m = model.layers[l].lora(t) else { continue }
                let base = "encoder.layer.\(l).\(t.modulePath)"
                var a = tensor(model, base + ".lora_A"), b = tensor(model, base + ".lora_B")
                if pissa {
                    // The initial factors, recomputed from the frozen W exactly as at init.
                    let scratch = ParameterBlock()
                    let probe = LoRALinear(target: t, layer: l, spec: spec, dims: model.config.dimensions, block: scratch)
                    scratch.seal()
                    try probe.initializePiSSA(block: scratch, weight: model.layers[l].weights(t))
                    let a0 = Array(UnsafeBufferPointer(start: scratch.value(probe.offsetA), count: m.rank * m.inFeatures))
                    let b0 = Array(UnsafeBufferPointer(start: scratch.value(probe.offsetB), count: m.outFeatures * m.rank))
                    a = ([2 * m.rank, m.inFeatures], a.values + a0)
                    var bb = [Float](repeating: 0, count: m.outFeatures * 2 * m.rank)
                    for o in 0..<m.outFeatures {
                        for i in 0..<m.rank {
                            bb[o * 2 * m.rank + i] = b.values[o * m.rank + i]
                            bb[o * 2 * m.rank + m.rank + i] = -b0[o * m.rank + i]
                        }
                    }
                    b = ([m.outFeatures, 2 * m.rank], bb)
                }
                out.append(("base_model.model.\(model.config.family.rawValue).\(base).lora_A.weight", a.shape, a.values))
                out.append(("base_model.model.\(model.config.family.rawValue).\(base).lora_B.weight", b.shape, b.values))
            }
        }
        out += classifier(model, prefix: "base_model.model.")
        let rank = pissa ? 2 * spec.rank : spec.rank
        if pissa {
            notes.append("PiSSA converted to plain LoRA of rank \(rank) (A′ = [A; A₀], B′ = [B, −B₀]) "
                         + "so it applies to the original weights.")
        }
        // A list of names would let "output.dense" also match attention.output.dense: use a full-match regex.
        var cfg = base(config, "LORA")
        cfg += [("r", .number(rank)), ("lora_alpha", .number(pissa ? 2 * spec.alpha : spec.alpha)), ("lora_dropout", .number(spec.dropout)),
                ("target_modules", .string(regex(layers: layers, paths: spec.targets.map(\.modulePath)))),
                ("layers_to_transform", .null), ("rank_pattern", .object([])), ("alpha_pattern", .object([])),
                ("bias", .string("none")), ("fan_in_fan_out", .bool(false)), ("init_lora_weights", .bool(true)),
                ("use_rslora", .bool(false)), ("use_dora", .bool(false)), ("layers_pattern", .null)]
        return (out, .object(cfg))
    }

    /// The README's last paragraph: what the export cannot carry over, or that it is exact.
    static func exportNotes(_ notes: [String]) -> String {
        notes.isEmpty ? "The export computes the same logits as autopeft (checked by tools/verify_export.py)."
            : notes.map { "- " + $0 }.joined(separator: "\n")
    }

    static func ia3(_ model: BertClassifier, config: RunConfig) throws -> ([(name: String, shape: [Int], values: [Float])], JSONValue) {
        let spec = model.plan.ia3!
        let layers = spec.layers.resolve(count: model.config.layers)
        var out: [(name: String, shape: [Int], values: [Float])] = []
        var paths: [String] = []
        for s in spec.sites { paths.append(s.modulePath) }
        for l in layers {
            for s in spec.sites {
                let path = s.modulePath
                let t = tensor(model, "encoder.layer.\(l).\(path).ia3_l")
                // PEFT: [out, 1] on key/value outputs, [1, in] on the feed-forward input.
                out.append(("base_model.model.\(model.config.family.rawValue).encoder.layer.\(l).\(path).ia3_l",
                            s == .feedforward ? [1, t.values.count] : [t.values.count, 1], t.values))
            }
        }
        out += classifier(model, prefix: "base_model.model.")
        var cfg = base(config, "IA3")
        cfg += [("target_modules", .string(regex(layers: layers, paths: paths))),
                ("feedforward_modules",
                 .string(spec.sites.contains(.feedforward) ? regex(layers: layers, paths: [IA3Spec.Site.feedforward.modulePath]) : "^$")),
                ("fan_in_fan_out", .bool(false)), ("init_ia3_weights", .bool(true))]
        return (out, .object(cfg))
    }

    static func prefix(_ model: BertClassifier, config: RunConfig) throws -> ([(name: String, shape: [Int], values: [Float])], JSONValue) {
        let spec = model.plan.prefix!, c = model.config, H = c.hiddenSize, P = spec.length
        guard spec.positions == .shifted else {
            throw Unsupported(reason: "this prefix was trained with the real tokens' positions from 0, and HF PEFT shifts them by the "
                + "prefix length (it ignores position_ids for prefixes), so its logits would differ; export it to AdapterHub (as "
                + "autopeft export does), or train with \"positions\": \"shifted\" for an HF PEFT prefix")
        }
        guard spec.layers.resolve(count: c.layers).count == c.layers else {
            throw Unsupported(reason: "HF PEFT prefix tuning covers every layer; this prefix is in layers "
                + "\(spec.layers.resolve(count: c.layers))")
        }
        let emb = prefixTable(model, layers: Array(0..<c.layers))
        let out = [("prompt_embeddings", [P, c.layers * 2 * H], emb)] + classifier(model, prefix: "base_model.")
        var cfg = base(config, "PREFIX_TUNING")
        cfg += [("num_virtual_tokens", .number(P)), ("num_layers", .number(c.layers)), ("token_dim", .number(H)),
                ("num_attention_heads", .number(c.heads)), ("encoder_hidden_size", .number(H)), ("num_transformer_submodules", .number(1)),
                ("prefix_projection", .bool(false))]
        return (out, .object(cfg))
    }

    /// The prefixes of `layers` as one [P, layers·2·H] table, row t holding each layer's key then
    /// value (the MLP, if any, evaluated): the layout of HF PEFT's `prompt_embeddings` and of
    /// AdapterHub's flat `control_trans`.
    static func prefixTable(_ model: BertClassifier, layers: [Int]) -> [Float] {
        let H = model.config.hiddenSize, P = model.plan.prefix?.length ?? 0, width = layers.count * 2 * H
        model.prefixTuning?.forward(block: model.block, hidden: H)
        var table = [Float](repeating: 0, count: P * width)
        for (i, l) in layers.enumerated() {
            let k = model.layers[l].prefix!.k, v = model.layers[l].prefix!.v
            for t in 0..<P {
                for j in 0..<H {
                    table[t * width + i * 2 * H + j] = k[t * H + j]
                    table[t * width + i * 2 * H + H + j] = v[t * H + j]
                }
            }
        }
        return table
    }
}
