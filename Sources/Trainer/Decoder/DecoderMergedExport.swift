import JSONKit
import Foundation
import Space

/// `autopeft export --merged`: a decoder candidate's modules folded into its weights, written as a
/// Hugging Face model folder that `transformers` loads without PEFT (`config.json`,
/// `model.safetensors` in fp32, as PEFT's `merge_and_unload` leaves a model). Each module beside a
/// map folds itself in (`LinearAttachment.fold`, on a replacement weight when it has one), then a
/// scale on the map's output or input (`ActivationScale.fold`). A GGUF base is written dequantized.
/// What does not fold into weights (prefixes, bottleneck adapters, trained biases) is refused.
public enum MergedExport {
    /// Writes the folder; returns notes for the user.
    public static func write(_ model: any TrainableModel, config: RunConfig, to dir: String) throws -> [String] {
        let decoder: DecoderModel, labels: Int?
        switch model {
        case let m as DecoderClassifier: (decoder, labels) = (m.model, m.labels)
        case let m as DecoderLanguageModel: (decoder, labels) = (m.model, nil)
        default: throw PEFTExport.Unsupported(reason: "merged exports are written for decoders (llama, mistral, qwen2) so far")
        }
        let plan = decoder.plan
        let unfoldable = ([plan.prefix, plan.bitfit] as [(any PEFTMethodSpec)?]).compactMap { $0?.key } + plan.adapters.map(\.placement.key)
        guard unfoldable.isEmpty else {
            throw PEFTExport.Unsupported(reason: "a merged model holds what folds into its weights; this candidate also has "
                + unfoldable.sorted().joined(separator: ", "))
        }
        let c = decoder.config, H = c.hiddenSize, block = decoder.block
        var tensors: [(name: String, shape: [Int], values: [Float])] = [
            ("model.embed_tokens.weight", [c.vocabSize, H], decoder.weights.embeddings.denseWeight()),
        ]
        for (l, layer) in decoder.layers.enumerated() {
            let w = decoder.weights.layers[l]
            tensors.append(("model.layers.\(l).input_layernorm.weight", [H], w.attentionNorm.array))
            tensors.append(("model.layers.\(l).post_attention_layernorm.weight", [H], w.mlpNorm.array))
            for t in LinearTarget.allCases {
                let lw = layer.frozenLinear(t), name = "model.layers.\(l).\(DecoderLayer.hfModulePath(t))"
                tensors.append((name + ".weight", [lw.outFeatures, lw.inFeatures], merged(layer, t, block: block)))
                if let b = lw.biasPointer { tensors.append((name + ".bias", [lw.outFeatures], Array(UnsafeBufferPointer(start: b, count: lw.outFeatures)))) }
            }
        }
        tensors.append(("model.norm.weight", [H], decoder.weights.finalNorm.array))
        if let head = decoder.weights.lmHead { tensors.append(("lm_head.weight", [c.vocabSize, H], head.denseWeight())) }
        if let labels {
            let v = block.view(named: "score.weight")!
            tensors.append(("score.weight", [labels, H], Array(UnsafeBufferPointer(start: block.value(v.offset), count: v.count))))
        }
        try OutputFiles.createFolder(dir)
        try OutputFiles.write(SafetensorsWriter.encode(tensors, metadata: ["format": "pt"]), to: dir + "/model.safetensors")
        try OutputFiles.write(configJSON(c, labels: labels).serialized() + "\n", to: dir + "/config.json")
        let cls = labels == nil ? c.family.causalLMClass : c.family.sequenceClassifierClass
        try OutputFiles.write("""
            # autopeft export (merged)

            The candidate's modules folded into the base's weights (fp32). Load it with no PEFT:

                from transformers import \(cls)
                model = \(cls).from_pretrained("<this folder>")

            The tokenizer is the base model's (\(config.model)): `AutoTokenizer.from_pretrained` on its folder, or with
            `gguf_file=` on its GGUF file.

            """, to: dir + "/README.md")
        return []
    }

    /// The map at `t` with what is attached there folded in: the replacement weight or the frozen W,
    /// each attached module's change, then a scale on the map's output (k, v) or input (down).
    static func merged(_ layer: DecoderLayer, _ t: LinearTarget, block: ParameterBlock) -> [Float] {
        let lw = layer.frozenLinear(t), rows = lw.outFeatures, columns = lw.inFeatures
        let attached = layer.attachments.linear[t] ?? []
        var w = attached.lazy.compactMap(\.replacementWeight).first.map { Array(UnsafeBufferPointer(start: $0, count: rows * columns)) }
            ?? lw.denseWeight()
        w.withUnsafeMutableBufferPointer { p in
            for module in attached { module.fold(into: p.baseAddress!, block: block) }
            let site: ScaleSite? = t == .key ? .key : t == .value ? .value : t == .output ? .feedforward : nil
            if let site, let scale = layer.attachments.scales[site] {
                scale.fold(into: p.baseAddress!, rows: rows, columns: columns, scalesInput: site == .feedforward, block: block)
            }
        }
        return w
    }

    /// The family's `config.json` for these sizes (what `DecoderConfig(contentsOf:)` and transformers read).
    static func configJSON(_ c: DecoderConfig, labels: Int?) -> JSONValue {
        var m: [(key: String, value: JSONValue)] = [
            ("architectures", .array([.string(labels == nil ? c.family.causalLMClass : c.family.sequenceClassifierClass)])),
            ("model_type", .string(c.family.rawValue)), ("hidden_size", .number(c.hiddenSize)),
            ("intermediate_size", .number(c.intermediateSize)), ("num_hidden_layers", .number(c.layers)),
            ("num_attention_heads", .number(c.heads)), ("num_key_value_heads", .number(c.kvHeads)), ("head_dim", .number(c.headDim)),
            ("max_position_embeddings", .number(c.maxPositions)), ("rms_norm_eps", JSONValue.number(Double(c.rmsNormEps))),
            ("rope_parameters", .object([("rope_theta", JSONValue.number(c.ropeTheta)), ("rope_type", .string("default"))])),
            ("vocab_size", .number(c.vocabSize)), ("tie_word_embeddings", .bool(c.tiedEmbeddings)), ("hidden_act", .string("silu")),
            ("torch_dtype", .string("float32")),
        ]
        if c.family == .llama { m.append(("attention_bias", .bool(c.qkvBias))) }
        if let labels { m.append(("num_labels", .number(labels))) }
        return .object(m)
    }
}
