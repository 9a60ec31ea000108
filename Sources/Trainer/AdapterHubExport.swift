import JSONKit
import Foundation
import Space

/// Writes a candidate in the AdapterHub `adapters` layout: `adapter_config.json`, `adapter.safetensors`
/// and the classifier in `classifier.safetensors` (BertForSequenceClassification's head is not part of
/// an adapter). It holds one of:
///
/// - a serial or parallel bottleneck adapter (a `BnConfig`), tensors
///   `bert.encoder.layer.<l>.output.adapters.<name>.adapter_down.0.*` / `adapter_up.*`. The config
///   states autopeft's computation exactly: the serial adapter reads the FFN output and the residual
///   LayerNorm follows (`original_ln_before: false`, `original_ln_after: true`,
///   `residual_before_ln: true`; note that AdapterHub's `SeqBnConfig` default has
///   `original_ln_before: true`, a different function); the parallel adapter reads the FFN input
///   (`is_parallel: true`, `scaling`). Sizes become per-layer `reduction_factor`s (H/m, or H/(m + ½)
///   when m does not divide H, since AdapterHub floors H // factor), layers without an adapter go to
///   `leave_out`;
/// - a prefix whose real tokens keep their positions (`"positions": "zero"`, the default), as a flat
///   `PrefixTuningConfig`: AdapterHub adds the prefix inside attention and leaves positions alone, as
///   autopeft does. The MLP, if any, is evaluated into the prefixes; layers without one go to
///   `leave_out`.
public enum AdapterHubExport {
    /// What one export writes besides the classifier: the adapter's name, its config and tensors.
    struct Adapter {
        var name: String
        var config: [(key: String, value: JSONValue)]
        var tensors: [(name: String, shape: [Int], values: [Float])]
    }

    /// Whether exports of this plan go to AdapterHub rather than HF PEFT: any bottleneck adapter (HF
    /// PEFT has none; a mix is refused here, naming this format), or one prefix at positions from 0.
    public static func isFormat(for plan: PEFTPlan) -> Bool {
        plan.serialAdapter != nil || plan.parallelAdapter != nil || (plan.methods.count == 1 && plan.prefix?.positions == .zero)
    }

    /// AdapterHub exports write BERT's module names and `BertForSequenceClassification`'s head,
    /// and are checked for BERT only: another family is refused until they follow it.
    static func refuseOtherFamilies(_ model: BertClassifier) throws {
        guard model.config.family == .bert else {
            throw PEFTExport.Unsupported(reason: "AdapterHub exports are written and checked for BERT only; this model is "
                + "\(model.config.family.rawValue) (export a LoRA or (IA)³ candidate to HF PEFT, or keep it with --save and use "
                + "autopeft predict)")
        }
    }

    public static func export(_ model: BertClassifier, config: RunConfig, to dir: String) throws -> [String] {
        try refuseOtherFamilies(model)
        let plan = model.plan
        let adapter: Adapter
        if plan.methods.count == 1, let spec = plan.prefix {
            adapter = try prefix(model, spec: spec)
        } else if plan.methods.count == 1, let spec = plan.serialAdapter ?? plan.parallelAdapter {
            adapter = bottleneck(model, spec: spec, parallel: plan.parallelAdapter != nil)
        } else {
            throw PEFTExport.Unsupported(reason: "the AdapterHub export takes one serial or one parallel bottleneck adapter alone, "
                + "or one prefix alone")
        }
        let notes = try PEFTExport.headNotes(model)
        let c = model.config
        let cfg: JSONValue = .object([("config", .object(adapter.config)),
                                      ("hidden_size", .number(c.hiddenSize)), ("model_class", .string("BertForSequenceClassification")),
                                      ("model_name", .string(config.model)), ("model_type", .string("bert")), ("name", .string(adapter.name)),
                                      ("version", .string("adapters.1.2.0"))])
        try OutputFiles.createFolder(dir)
        try OutputFiles.write(SafetensorsWriter.encode(adapter.tensors, metadata: ["format": "pt"]), to: dir + "/adapter.safetensors")
        // Keys "weight" and "bias": the file loads straight into model.classifier.
        let head = PEFTExport.classifier(model, prefix: "").map {
            ($0.name.replacingOccurrences(of: "classifier.", with: ""), $0.shape, $0.values)
        }
        try OutputFiles.write(SafetensorsWriter.encode(head, metadata: ["format": "pt"]), to: dir + "/classifier.safetensors")
        try OutputFiles.write(cfg.serialized() + "\n", to: dir + "/adapter_config.json")
        try OutputFiles.write(readme(config: config, labels: model.labels, notes: notes) + "\n", to: dir + "/README.md")
        return notes
    }

    /// A serial or parallel bottleneck adapter as a `BnConfig` (see the type's comment).
    static func bottleneck(_ model: BertClassifier, spec: AdapterSpec, parallel: Bool) -> Adapter {
        let c = model.config
        let sizes = spec.resolve(count: c.layers)
        var (factors, tensors) = layerTensors(model, sizes: sizes, parallel: parallel)
        factors.append(("default", factors.first?.value ?? .number(16)))
        let leaveOut = (0..<c.layers).filter { l in !sizes.contains { $0.layer == l } }
        return Adapter(name: parallel ? "parallel_adapter" : "serial_adapter",
                       config: bnConfig(factors: factors, leaveOut: leaveOut, parallel: parallel, scale: spec.scale), tensors: tensors)
    }

    /// A prefix as a flat `PrefixTuningConfig`: one `control_trans` of [P, n·2·H] for the n layers
    /// that have it (row t: each layer's key, then its value), saved under every name AdapterHub's
    /// `save_adapter` gives it (the pool's, and each layer's alias of the pool).
    static func prefix(_ model: BertClassifier, spec: PrefixSpec) throws -> Adapter {
        guard spec.positions == .zero else {
            throw PEFTExport.Unsupported(reason: "this prefix was trained with the real tokens' positions shifted by its length, as HF "
                + "BERT counts past tokens; AdapterHub leaves positions alone, so its logits would differ. Shifted prefixes "
                + "export to HF PEFT")
        }
        let c = model.config, name = "prefix_tuning"
        let layers = spec.layers.resolve(count: c.layers)
        let table = PEFTExport.prefixTable(model, layers: layers)
        let path = "prefix_tunings.\(name).self_prefix.control_trans"
        let tensors = ["bert.prefix_tuning." + path] + (0..<c.layers).map { "bert.encoder.layer.\($0).attention.self.prefix_tuning.pool." + path }
        let config: [(key: String, value: JSONValue)] = [
            ("architecture", .string("prefix_tuning")), ("encoder_prefix", .bool(true)), ("cross_prefix", .bool(true)),
            ("leave_out", .array((0..<c.layers).filter { !layers.contains($0) }.map { .number($0) })), ("flat", .bool(true)),
            ("prefix_length", .number(spec.length)), ("bottleneck_size", .number(512)), ("non_linearity", .string("tanh")),
            ("dropout", .number(0, text: "0.0")), ("use_gating", .bool(false)), ("shared_gating", .bool(true)),
            ("init_weights_seed", .null),
        ]
        return Adapter(name: name, config: config, tensors: tensors.map { ($0, [table.count], table) })
    }

    /// Each adapted layer's `reduction_factor` and its tensors under AdapterHub's names.
    static func layerTensors(_ model: BertClassifier, sizes: [(layer: Int, size: Int)], parallel: Bool)
        -> (factors: [(key: String, value: JSONValue)], tensors: [(name: String, shape: [Int], values: [Float])]) {
        let H = model.config.hiddenSize
        let name = parallel ? "parallel_adapter" : "serial_adapter"
        var factors: [(key: String, value: JSONValue)] = []
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        for (l, m) in sizes {
            factors.append((String(l), H % m == 0 ? .number(H / m) : .number(Double(H) / (Double(m) + 0.5))))
            let src = "encoder.layer.\(l).\(parallel ? "parallel" : "serial")_adapter"
            let dst = "bert.encoder.layer.\(l).output.adapters.\(name)"
            for (s, d) in [("down.weight", "adapter_down.0.weight"), ("down.bias", "adapter_down.0.bias"),
                           ("up.weight", "adapter_up.weight"), ("up.bias", "adapter_up.bias")] {
                let t = PEFTExport.tensor(model, src + "." + s)
                tensors.append((dst + "." + d, t.shape, t.values))
            }
        }
        return (factors, tensors)
    }

    /// How to load the export in Python, with the export's notes.
    static func readme(config: RunConfig, labels: Int, notes: [String]) -> String {
        """
        # autopeft export (AdapterHub `adapters`)

            import adapters
            from safetensors.torch import load_file
            from transformers import BertForSequenceClassification
            model = BertForSequenceClassification.from_pretrained("\(config.model)", num_labels=\(labels))
            adapters.init(model)
            name = model.load_adapter("<this folder>", use_safetensors=True)
            model.set_active_adapters(name)
            model.classifier.load_state_dict(load_file("<this folder>/classifier.safetensors"))

        \(PEFTExport.exportNotes(notes))
        """
    }

    /// The `BnConfig` that states autopeft's computation (see the type's comment).
    static func bnConfig(factors: [(key: String, value: JSONValue)], leaveOut: [Int], parallel: Bool,
                         scale: Double) -> [(key: String, value: JSONValue)] {
        [
            ("mh_adapter", .bool(false)), ("output_adapter", .bool(true)), ("reduction_factor", .object(factors)),
            ("non_linearity", .string("relu")), ("original_ln_before", .bool(false)), ("original_ln_after", .bool(true)),
            ("ln_before", .bool(false)), ("ln_after", .bool(false)), ("init_weights", .string("bert")), ("init_weights_seed", .null),
            // The scale is written as a float: AdapterHub rejects an integer 1.
            ("is_parallel", .bool(parallel)), ("scaling", .number(parallel ? scale : 1, text: "\(parallel ? scale : 1.0)")),
            ("use_gating", .bool(false)),
            ("residual_before_ln", .bool(true)), ("adapter_residual_before_ln", .bool(false)), ("inv_adapter", .null),
            ("inv_adapter_reduction_factor", .null), ("cross_adapter", .bool(false)), ("leave_out", .array(leaveOut.map { .number($0) })),
            ("dropout", .number(0, text: "0.0")), ("phm_layer", .bool(false)), ("stochastic_depth", .number(0)),
        ]
    }
}
