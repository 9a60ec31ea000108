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

    /// Exports an encoder's or a decoder's candidate (`export(decoder:config:to:)`); returns the
    /// notes on what the export does not carry over.
    public static func export(_ model: any TrainableModel, config: RunConfig, to dir: String) throws -> [String] {
        switch model {
        case let encoder as BertClassifier: return try export(encoder, config: config, to: dir)
        case let decoder as DecoderClassifier: return try export(decoder: decoder.model, labels: decoder.labels, config: config, to: dir)
        case let decoder as DecoderLanguageModel: return try export(decoder: decoder.model, labels: nil, config: config, to: dir)
        default: throw Unsupported(reason: "no export for \(type(of: model))")
        }
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
        var adapter: Adapter?
        for method in TrainerMethods.all where adapter == nil { adapter = try method.hfPEFTExport(model, config: config, notes: &notes) }
        guard let (tensors, cfg) = adapter else {
            throw Unsupported(reason: "HF PEFT has no serial/parallel bottleneck adapter or BitFit method")
        }
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

    /// What a method's export case gives: the tensors under PEFT's names, and `adapter_config.json`.
    typealias Adapter = (tensors: [(name: String, shape: [Int], values: [Float])], config: JSONValue)

    static func tensor(_ model: BertClassifier, _ name: String) -> (shape: [Int], values: [Float]) { tensor(model.block, name) }

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

    /// A full-match regex over the module names of `paths` in `layers` (`<container>.<l>.<path>`:
    /// BERT's `encoder.layer`, Llama's `model.layers`).
    static func regex(layers: [Int], paths: [String], container: String = "layer") -> String {
        let l = layers.map(String.init).joined(separator: "|")
        let p = paths.map { $0.replacingOccurrences(of: ".", with: "\\.") }.joined(separator: "|")
        return ".*\\.\(container)\\.(\(l))\\.(\(p))"
    }

    /// The fields every adapter config has; `modulesToSave` nil is a causal LM's (no head trains).
    static func base(_ config: RunConfig, _ type: String, modulesToSave: String? = "classifier") -> [(key: String, value: JSONValue)] {
        [("peft_type", .string(type)), ("task_type", .string(modulesToSave == nil ? "CAUSAL_LM" : "SEQ_CLS")),
         ("base_model_name_or_path", .string(config.model)), ("inference_mode", .bool(true)),
         ("modules_to_save", modulesToSave.map { .array([.string($0)]) } ?? .null), ("revision", .null)]
    }

    /// The README's last paragraph: what the export cannot carry over, or that it is exact.
    static func exportNotes(_ notes: [String]) -> String {
        notes.isEmpty ? "The export computes the same logits as autopeft (checked by tools/verify_export.py)."
            : notes.map { "- " + $0 }.joined(separator: "\n")
    }

    /// The prefixes of `layers` as one [P, layers·2·H] table, row t holding each layer's key then
    /// value (the MLP, if any, evaluated): the layout of HF PEFT's `prompt_embeddings` and of
    /// AdapterHub's flat `control_trans`.
    static func prefixTable(_ model: BertClassifier, layers: [Int]) -> [Float] {
        let H = model.config.hiddenSize, P = model.plan.prefix?.length ?? 0, width = layers.count * 2 * H
        model.prefixTuning?.forward(block: model.block)
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

/// The one export a trained candidate has: AdapterHub for an encoder's bottleneck adapters or
/// prefix (`AdapterHubExport.isFormat`), HF PEFT otherwise (encoders and decoders).
public enum CandidateExport {
    /// Writes the export into `dir`; returns its format ("adapterhub" or "hf-peft") and the notes
    /// on what it does not carry over.
    public static func write(_ model: any TrainableModel, config: RunConfig, to dir: String) throws -> (format: String, notes: [String]) {
        if let encoder = model as? BertClassifier, AdapterHubExport.isFormat(for: config.plan) {
            return ("adapterhub", try AdapterHubExport.export(encoder, config: config, to: dir))
        }
        return ("hf-peft", try PEFTExport.export(model, config: config, to: dir))
    }
}
