import JSONKit
import Foundation
import Space

/// Prefix tuning: P trainable key and value rows prepended to every chosen layer's attention.
///
/// Model level (this class): the prefixes themselves, either flat per layer ([P, K] keys and
/// values, K = key/value heads · head dimension: H in an encoder, narrower under grouped-query
/// attention; init N(0, 1) as PEFT's embedding) or reparameterised by an MLP shared by all chosen
/// layers: E [P, H] → Linear(H, p) → tanh → Linear(p, 2·K·nL), sliced per layer (init: E N(0, 1),
/// the linears nn.Linear's U(−1/√fan_in, 1/√fan_in)). Layer level (`LayerPrefix`): the
/// concatenation [prefix; k] per batch row in forward and its split in backward.
final class PrefixTuning: PEFTModule {
    /// The prefix length P, the model's hidden size H (the MLP's input) and the key/value width K.
    let length: Int, layers: [Int], hidden: Int, width: Int
    private var flat: [(layer: Int, k: Int, v: Int)] = []
    private var projection: Projection?

    /// The MLP's parameters (offsets) and its preallocated activations and per-layer outputs.
    private struct Projection {
        let embedding: Int, w1: Int, b1: Int, w2: Int, b2: Int, hiddenP: Int
        let k: [FloatBuffer], v: [FloatBuffer], dk: [FloatBuffer], dv: [FloatBuffer]
        let hidden: FloatBuffer, out: FloatBuffer  // tanh(W1 E + b1) [P, p], MLP output [P, 2K·nL]
        let dHidden: FloatBuffer, dOut: FloatBuffer  // their gradients (backward runs every step)
    }

    /// Declares the prefixes of `spec` in `block` (before it is sealed), named as PEFT names them.
    init(spec: PrefixSpec, dims: ModelDimensions, block: ParameterBlock) {
        let H = dims.hiddenSize, K = dims.kvHeads * dims.headDim, P = spec.length
        length = P
        hidden = H
        width = K
        layers = spec.layers.resolve(count: dims.layers)
        guard let p = spec.projection else {
            flat = layers.map { l in
                (l, block.declare("encoder.layer.\(l).attention.prefix_key", shape: [P, K]),
                 block.declare("encoder.layer.\(l).attention.prefix_value", shape: [P, K]))
            }
            return
        }
        let O = 2 * K * layers.count
        let buffers = { [FloatBuffer](self.layers.map { _ in FloatBuffer(count: P * K) }) }
        projection = Projection(
            embedding: block.declare("prefix_encoder.embedding.weight", shape: [P, H]),
            w1: block.declare("prefix_encoder.transform.0.weight", shape: [p, H]),
            b1: block.declare("prefix_encoder.transform.0.bias", shape: [p]),
            w2: block.declare("prefix_encoder.transform.2.weight", shape: [O, p]),
            b2: block.declare("prefix_encoder.transform.2.bias", shape: [O]),
            hiddenP: p, k: buffers(), v: buffers(), dk: buffers(), dv: buffers(),
            hidden: FloatBuffer(count: P * p), out: FloatBuffer(count: P * O),
            dHidden: FloatBuffer(count: P * p), dOut: FloatBuffer(count: P * O))
    }

    /// Points each chosen layer at its prefix rows and their gradients (after the block is sealed).
    func bind(to model: [any AdapterHost], block: ParameterBlock) {
        for (l, k, v) in flat {
            model[l].attachments.prefix = LayerPrefix(length: length, k: block.value(k), v: block.value(v), dk: block.grad(k), dv: block.grad(v))
        }
        guard let pp = projection else { return }
        for (i, l) in layers.enumerated() {
            model[l].attachments.prefix = LayerPrefix(length: length, k: pp.k[i].pointer, v: pp.v[i].pointer, dk: pp.dk[i].pointer,
                                          dv: pp.dv[i].pointer)
        }
    }

    /// The prefixes draw from the stream "init-modules" after every layer's modules.
    var initSlot: InitSlot { InitSlot(stream: .modules, layer: Int.max, rank: 0) }

    func initialize(block: ParameterBlock, rng: inout RandomSource, host: (any AdapterHost)?) {
        initialize(block: block, rng: &rng)
    }

    func initialize(block: ParameterBlock, rng: inout RandomSource) {
        let H = hidden, K = width
        for (_, k, v) in flat {
            for off in [k, v] { let p = block.value(off); for j in 0..<(length * K) { p[j] = Float(rng.nextGaussian()) } }
        }
        guard let pp = projection else { return }
        let e = block.value(pp.embedding)
        for j in 0..<(length * H) { e[j] = Float(rng.nextGaussian()) }
        let O = 2 * K * layers.count
        for (off, n, fanIn) in [(pp.w1, pp.hiddenP * H, H), (pp.b1, pp.hiddenP, H), (pp.w2, O * pp.hiddenP, pp.hiddenP),
                                (pp.b2, O, pp.hiddenP)] {
            let p = block.value(off), bound = 1 / Float(fanIn).squareRoot()
            for j in 0..<n { p[j] = (2 * rng.nextFloat() - 1) * bound }
        }
    }

    /// The MLP's forward (nothing for flat prefixes), before the layers' forward: fills every
    /// layer's keys and values [P, K] and zeroes their gradients.
    func forward(block: ParameterBlock) {
        guard let pp = projection else { return }
        let H = hidden, K = width, P = length, p = pp.hiddenP, O = 2 * K * layers.count
        let hid = pp.hidden.pointer, out = pp.out.pointer
        Linear.forward(out: hid, inp: block.value(pp.embedding), weight: block.value(pp.w1), bias: block.value(pp.b1),
                       rows: P, inFeatures: H, outFeatures: p)
        for j in 0..<(P * p) { hid[j] = tanhf(hid[j]) }
        Linear.forward(out: out, inp: hid, weight: block.value(pp.w2), bias: block.value(pp.b2), rows: P, inFeatures: p, outFeatures: O)
        for i in layers.indices {
            for t in 0..<P {
                (pp.k[i].pointer + t * K).update(from: out + t * O + i * 2 * K, count: K)
                (pp.v[i].pointer + t * K).update(from: out + t * O + i * 2 * K + K, count: K)
            }
            pp.dk[i].zero(); pp.dv[i].zero()
        }
    }

    /// The MLP's backward from the per-layer prefix gradients, after the layers' (nothing for flat
    /// prefixes, whose gradients the layers accumulate in the block directly).
    func backward(block: ParameterBlock) {
        guard let pp = projection else { return }
        let H = hidden, K = width, P = length, p = pp.hiddenP, O = 2 * K * layers.count
        let dout = pp.dOut.pointer
        for i in layers.indices {
            for t in 0..<P {
                (dout + t * O + i * 2 * K).update(from: pp.dk[i].pointer + t * K, count: K)
                (dout + t * O + i * 2 * K + K).update(from: pp.dv[i].pointer + t * K, count: K)
            }
        }
        let hid = pp.hidden.pointer, dh = pp.dHidden.pointer
        Linear.backwardWeight(dweight: block.grad(pp.w2), dbias: block.grad(pp.b2), dout: dout, inp: hid, rows: P, inFeatures: p,
                              outFeatures: O)
        Linear.backwardInput(dinp: dh, dout: dout, weight: block.value(pp.w2), rows: P, inFeatures: p, outFeatures: O, accumulate: false)
        for j in 0..<(P * p) { dh[j] *= 1 - hid[j] * hid[j] }
        Linear.backwardWeight(dweight: block.grad(pp.w1), dbias: block.grad(pp.b1), dout: dh, inp: block.value(pp.embedding),
                              rows: P, inFeatures: H, outFeatures: p)
        Linear.backwardInput(dinp: block.grad(pp.embedding), dout: dh, weight: block.value(pp.w1), rows: P, inFeatures: H, outFeatures: p,
                             accumulate: true)
    }
}

/// Prefix tuning's trainer side: the prefixes (and their MLP) for the whole model, bound to each
/// chosen layer's attention once the block is sealed.
enum PrefixMethod: TrainerMethod {
    static func attach(_ plan: PEFTPlan, to layers: [any AdapterHost], dims: ModelDimensions,
                       block: ParameterBlock) -> [any PEFTModule] {
        guard let spec = plan.prefix else { return [] }
        return [PrefixTuning(spec: spec, dims: dims, block: block)]
    }

    /// Gated: a layer's prefix keys and values (flat prefixes; an MLP's are not per layer).
    static func gatedModule(parameter: String) -> String? {
        parameter == "attention.prefix_key" || parameter == "attention.prefix_value" ? "prefix" : nil
    }

    static func gatedPlan(_ module: String, layer: Int, supernet: PEFTPlan, dims: ModelDimensions) -> PEFTPlan? {
        module == "prefix" ? PEFTPlan(prefix: supernet.prefix.map { PrefixSpec(length: $0.length, layers: .only([layer])) }) : nil
    }
}

/// One layer's prefix: keys and values [P, K] and where their gradients accumulate, plus the
/// concatenated keys, values and key mask [B·(P+T), …] the attention reads.
struct LayerPrefix {
    let length: Int
    let k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
    let dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>
    private(set) var keys = GrowableBuffer(), values = GrowableBuffer(), valid = GrowableBuffer()

    init(length: Int, k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
         dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>) {
        self.length = length
        self.k = k; self.v = v; self.dk = dk; self.dv = dv
    }

    /// Per batch row, [prefix; rows of k] (and v; the prefix is always a valid key); `H` is the
    /// key/value width.
    mutating func forward(k kp: UnsafePointer<Float>, v vp: UnsafePointer<Float>, keyValid: UnsafePointer<Float>,
                          batch B: Int, length T: Int, hidden H: Int) {
        let P = length
        let kf = keys.ensure(B * (P + T) * H), vf = values.ensure(B * (P + T) * H), mf = valid.ensure(B * (P + T))
        for b in 0..<B {
            (kf + b * (P + T) * H).update(from: k, count: P * H)
            (kf + (b * (P + T) + P) * H).update(from: kp + b * T * H, count: T * H)
            (vf + b * (P + T) * H).update(from: v, count: P * H)
            (vf + (b * (P + T) + P) * H).update(from: vp + b * T * H, count: T * H)
            (mf + b * (P + T)).update(repeating: 1, count: P)
            (mf + b * (P + T) + P).update(from: keyValid + b * T, count: T)
        }
    }

    /// Splits the concatenated gradients: the prefix rows of every batch row add into dk/dv of the
    /// prefix, the rest is copied to `dkRows`/`dvRows` [B·T, H].
    func backward(dKeys: UnsafePointer<Float>, dValues: UnsafePointer<Float>, dkRows: UnsafeMutablePointer<Float>,
                  dvRows: UnsafeMutablePointer<Float>, batch B: Int, length T: Int, hidden H: Int) {
        let P = length
        for b in 0..<B {
            let kb = dKeys + b * (P + T) * H, vb = dValues + b * (P + T) * H
            for j in 0..<(P * H) { dk[j] += kb[j]; dv[j] += vb[j] }
            (dkRows + b * T * H).update(from: kb + P * H, count: T * H)
            (dvRows + b * T * H).update(from: vb + P * H, count: T * H)
        }
    }
}

extension PrefixMethod {
    /// Its HF PEFT export, when the plan holds it (alone: `PEFTExport.export` checks); nil otherwise.
    static func hfPEFTExport(_ model: BertClassifier, config: RunConfig, notes: inout [String]) throws -> PEFTExport.Adapter? {
        guard let spec = model.plan.prefix else { return nil }
        let c = model.config, H = c.hiddenSize, P = spec.length
        guard spec.positions == .shifted else {
            throw PEFTExport.Unsupported(reason: "this prefix was trained with the real tokens' positions from 0, and HF PEFT shifts them by the "
                + "prefix length (it ignores position_ids for prefixes), so its logits would differ; export it to AdapterHub (as "
                + "autopeft export does), or train with \"positions\": \"shifted\" for an HF PEFT prefix")
        }
        guard spec.layers.resolve(count: c.layers).count == c.layers else {
            throw PEFTExport.Unsupported(reason: "HF PEFT prefix tuning covers every layer; this prefix is in layers "
                + "\(spec.layers.resolve(count: c.layers))")
        }
        let emb = PEFTExport.prefixTable(model, layers: Array(0..<c.layers))
        let out = [("prompt_embeddings", [P, c.layers * 2 * H], emb)] + PEFTExport.classifier(model, prefix: "base_model.")
        var cfg = PEFTExport.base(config, "PREFIX_TUNING")
        cfg += [("num_virtual_tokens", .number(P)), ("num_layers", .number(c.layers)), ("token_dim", .number(H)),
                ("num_attention_heads", .number(c.heads)), ("encoder_hidden_size", .number(H)), ("num_transformer_submodules", .number(1)),
                ("prefix_projection", .bool(false))]
        return (out, .object(cfg))
    }
}
