import JSONKit
import Foundation
import Space

extension DecoderLayer {
    /// A linear target's module path inside a Llama-family block, with Hugging Face's names.
    static func hfModulePath(_ target: LinearTarget) -> String {
        switch target {
        case .query: return "self_attn.q_proj"
        case .key: return "self_attn.k_proj"
        case .value: return "self_attn.v_proj"
        case .attentionOutput: return "self_attn.o_proj"
        case .intermediate: return "mlp.up_proj"
        case .output: return "mlp.down_proj"
        case .gate: return "mlp.gate_proj"
        }
    }
}

extension DecoderFamily {
    /// The family's sequence-classification class in `transformers`, which exports load into.
    public var sequenceClassifierClass: String {
        switch self {
        case .llama: return "LlamaForSequenceClassification"
        case .mistral: return "MistralForSequenceClassification"
        case .qwen2: return "Qwen2ForSequenceClassification"
        }
    }

    /// The family's causal-LM class in `transformers`.
    public var causalLMClass: String {
        switch self {
        case .llama: return "LlamaForCausalLM"
        case .mistral: return "MistralForCausalLM"
        case .qwen2: return "Qwen2ForCausalLM"
        }
    }
}

extension PEFTExport {
    /// A decoder's candidate as an HF PEFT adapter (tensor names as PEFT 0.21 saves them:
    /// `base_model.model.model.layers.<l>.self_attn.q_proj.lora_A.weight`): for the family's
    /// `…ForSequenceClassification` with `labels` (`score` under `modules_to_save`), or for its
    /// `…ForCausalLM` when `labels` is nil (a causal-LM task: nothing but the modules trains).
    /// LoRA alone, initialised as PEFT does (not PiSSA: its residual is taken from the base
    /// autopeft holds, which a quantized file gives only dequantized), or (IA)³ alone (on k_proj,
    /// v_proj and down_proj's input).
    public static func export(decoder model: DecoderModel, labels: Int?, config: RunConfig, to dir: String) throws -> [String] {
        let plan = model.plan
        guard plan.methods.count == 1 else {
            throw Unsupported(reason: plan.methods.isEmpty ? "the candidate trains only the head"
                : "a PEFT adapter holds one method; this candidate combines \(plan.methods.count)")
        }
        let head: String? = labels == nil ? nil : "score"
        var (tensors, cfg): ([(name: String, shape: [Int], values: [Float])], JSONValue)
        if let spec = plan.lora {
            guard spec.initialization != .pissa else { throw Unsupported(reason: "PiSSA exports are written for encoders only so far") }
            (tensors, cfg) = loraTensors(model, spec: spec, config: config, head: head)
        } else if let spec = plan.ia3 {
            (tensors, cfg) = ia3Tensors(model, spec: spec, config: config, head: head)
        } else {
            throw Unsupported(reason: "decoders export LoRA or (IA)³ alone so far; this candidate has \(plan.methods[0].key)")
        }
        if labels != nil {
            let score = tensor(model.block, "score.weight")
            tensors.append(("base_model.model.score.weight", score.shape, score.values))
        }
        try OutputFiles.createFolder(dir)
        try OutputFiles.write(SafetensorsWriter.encode(tensors, metadata: ["format": "pt"]), to: dir + "/adapter_model.safetensors")
        try OutputFiles.write(cfg.serialized() + "\n", to: dir + "/adapter_config.json")
        let family = model.config.family
        let cls = labels == nil ? family.causalLMClass : family.sequenceClassifierClass
        let extra = labels.map { ", num_labels=\($0)" } ?? ""
        let load: String
        switch try? ModelSource.locate(config.model) {
        case .gguf(let file)?:
            let folder = (file as NSString).deletingLastPathComponent, name = (file as NSString).lastPathComponent
            load = "\(cls).from_pretrained(\"\(folder)\", gguf_file=\"\(name)\"\(extra))"
        default: load = "\(cls).from_pretrained(\"\(config.model)\"\(extra))"
        }
        let padLine = labels == nil ? "" : "\n    base.config.pad_token_id = <the tokenizer's pad id>   # the score reads each row's last non-pad token"
        let readme = """
        # autopeft export (HF PEFT)

        Load with:

            from transformers import \(cls)
            from peft import PeftModel
            base = \(load)\(padLine)
            model = PeftModel.from_pretrained(base, "<this folder>")

        A GGUF base loads dequantized (transformers' GGUF loader): the same numbers autopeft computed with
        from its quantized blocks, so the logits agree to float rounding.
        """
        try OutputFiles.write(readme + "\n", to: dir + "/README.md")
        return []
    }

    static func loraTensors(_ model: DecoderModel, spec: LoRASpec, config: RunConfig, head: String?)
        -> ([(name: String, shape: [Int], values: [Float])], JSONValue) {
        let layers = spec.layers.resolve(count: model.config.layers)
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        for l in layers {
            for t in spec.targets where model.layers[l].lora(t) != nil {
                let ours = "encoder.layer.\(l).\(t.modulePath)", theirs = "base_model.model.model.layers.\(l).\(DecoderLayer.hfModulePath(t))"
                for part in ["lora_A", "lora_B"] {
                    let v = tensor(model.block, ours + "." + part)
                    tensors.append(("\(theirs).\(part).weight", v.shape, v.values))
                }
            }
        }
        return (tensors, LoRAMethod.hfPEFTConfig(spec, rank: spec.rank, alpha: spec.alpha, layers: layers,
                                                 paths: spec.targets.map(DecoderLayer.hfModulePath), container: "layers", config: config,
                                                 modulesToSave: head))
    }

    /// (IA)³ as PEFT lays it on a Llama: [out, 1] on k_proj's and v_proj's outputs, [1, in] on
    /// down_proj's input (a feed-forward module).
    static func ia3Tensors(_ model: DecoderModel, spec: IA3Spec, config: RunConfig, head: String?)
        -> ([(name: String, shape: [Int], values: [Float])], JSONValue) {
        let layers = spec.layers.resolve(count: model.config.layers)
        func path(_ s: IA3Spec.Site) -> String { DecoderLayer.hfModulePath(s == .feedforward ? .output : s.chargedTarget) }
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        for l in layers {
            for s in spec.sites {
                let t = tensor(model.block, "encoder.layer.\(l).\(s.modulePath).ia3_l")
                tensors.append(("base_model.model.model.layers.\(l).\(path(s)).ia3_l",
                                s == .feedforward ? [1, t.values.count] : [t.values.count, 1], t.values))
            }
        }
        var cfg = base(config, "IA3", modulesToSave: head)
        cfg += [("target_modules", .string(regex(layers: layers, paths: spec.sites.map(path), container: "layers"))),
                ("feedforward_modules", .string(spec.sites.contains(.feedforward)
                    ? regex(layers: layers, paths: [path(.feedforward)], container: "layers") : "^$")),
                ("fan_in_fan_out", .bool(false)), ("init_ia3_weights", .bool(true))]
        return (tensors, .object(cfg))
    }

    /// A trainable tensor by its name in the parameter block.
    static func tensor(_ block: ParameterBlock, _ name: String) -> (shape: [Int], values: [Float]) {
        let v = block.view(named: name)!
        return (v.shape, Array(UnsafeBufferPointer(start: block.value(v.offset), count: v.count)))
    }
}
