import JSONKit
import Foundation
import Space

/// Writes a serial or parallel bottleneck adapter in the AdapterHub `adapters` layout:
/// `adapter_config.json` (a `BnConfig`), `adapter.safetensors` with
/// `bert.encoder.layer.<l>.output.adapters.<name>.adapter_down.0.*` / `adapter_up.*`, and the
/// classifier in `classifier.safetensors` (BertForSequenceClassification's head is not part of an adapter).
///
/// The config states autopeft's computation exactly: the serial adapter reads the FFN output and
/// the residual LayerNorm follows (`original_ln_before: false`, `original_ln_after: true`,
/// `residual_before_ln: true`; note that AdapterHub's `SeqBnConfig` default has
/// `original_ln_before: true`, a different function); the parallel adapter reads the FFN input
/// (`is_parallel: true`, `scaling`). Sizes become per-layer `reduction_factor`s
/// (H/m, or H/(m + ½) when m does not divide H, since AdapterHub floors H // factor), layers
/// without an adapter go to `leave_out`.
public enum AdapterHubExport {
    public static func export(_ model: BertClassifier, config: RunConfig, to dir: String) throws -> [String] {
        try PEFTExport.refuseOtherFamilies(model)
        let plan = model.plan
        guard plan.lora == nil, plan.prefix == nil, plan.ia3 == nil, plan.bitfit == nil,
              (plan.serialAdapter == nil) != (plan.parallelAdapter == nil), let spec = plan.serialAdapter ?? plan.parallelAdapter else {
            throw PEFTExport.Unsupported(reason: "the AdapterHub export takes one serial or one parallel bottleneck adapter alone")
        }
        let parallel = plan.parallelAdapter != nil
        let name = parallel ? "parallel_adapter" : "serial_adapter"
        let c = model.config, H = c.hiddenSize
        let sizes = spec.resolve(count: c.layers)
        var (factors, tensors) = layerTensors(model, sizes: sizes, parallel: parallel)
        factors.append(("default", factors.first?.value ?? .number(16)))
        let leaveOut = (0..<c.layers).filter { l in !sizes.contains { $0.layer == l } }
        let bn = bnConfig(factors: factors, leaveOut: leaveOut, parallel: parallel, scale: spec.scale)
        let cfg: JSONValue = .object([("config", .object(bn)),
                                      ("hidden_size", .number(H)), ("model_class", .string("BertForSequenceClassification")),
                                      ("model_name", .string(config.model)), ("model_type", .string("bert")), ("name", .string(name)),
                                      ("version", .string("adapters.1.2.0"))])
        try OutputFiles.createFolder(dir)
        try OutputFiles.write(SafetensorsWriter.encode(tensors, metadata: ["format": "pt"]), to: dir + "/adapter.safetensors")
        // Keys "weight" and "bias": the file loads straight into model.classifier.
        let head = PEFTExport.classifier(model, prefix: "").map {
            ($0.name.replacingOccurrences(of: "classifier.", with: ""), $0.shape, $0.values)
        }
        try OutputFiles.write(SafetensorsWriter.encode(head, metadata: ["format": "pt"]), to: dir + "/classifier.safetensors")
        try OutputFiles.write(cfg.serialized() + "\n", to: dir + "/adapter_config.json")
        var notes: [String] = []
        if model.head != .pooler {
            notes.append("The candidate's head is \"\(model.head.rawValue)\"; BertForSequenceClassification applies the pooler, "
                + "so logits differ. Train with \"head\": \"pooler\" for an exact export.")
        }
        try OutputFiles.write(readme(config: config, labels: model.labels, notes: notes) + "\n", to: dir + "/README.md")
        return notes
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
