import JSONKit
import Space

/// One (IA)³ vector: a learned vector that scales an activation (keys, values or the FFN's inner
/// activation) column-wise.
///
/// Shapes: l [c] (c = H for keys and values, I for the FFN); the scaled activation x [N, c] is kept
/// unscaled in `raw` for backward. Init: l = 1, so the layer starts unchanged.
/// Forward: x ← x ⊙ l. Backward with d [N, c]: dl += Σ_rows d ⊙ raw; d ← d ⊙ l.
final class IA3Vector: ActivationScale, PEFTModule {
    let layer: Int
    let offset: Int, width: Int
    private var raw = GrowableBuffer()

    /// Declares the vector of `site` in layer `layer`, named as PEFT names it.
    init(layer: Int, site: ScaleSite, dims: ModelDimensions, block: ParameterBlock) {
        self.layer = layer
        width = dims.ia3Parameters(site)
        offset = block.declare("encoder.layer.\(layer).\(site.modulePath).ia3_l", shape: [width])
    }

    /// No random draws: after the layer's adapters.
    var initSlot: InitSlot { InitSlot(stream: .modules, layer: layer, rank: 2) }

    func initialize(block: ParameterBlock, rng: inout RandomSource, host: (any AdapterHost)?) {
        block.value(offset).update(repeating: 1, count: width)
    }

    func forward(_ x: UnsafeMutablePointer<Float>, rows n: Int, block: ParameterBlock) {
        let c = width
        let keep = raw.ensure(n * c)
        keep.update(from: x, count: n * c)
        let l = block.value(offset)
        for i in 0..<n { let r = x + i * c; for j in 0..<c { r[j] *= l[j] } }
    }

    func fold(into weight: UnsafeMutablePointer<Float>, rows: Int, columns: Int, scalesInput: Bool, block: ParameterBlock) {
        let l = block.value(offset)
        for o in 0..<rows { for i in 0..<columns { weight[o * columns + i] *= scalesInput ? l[i] : l[o] } }
    }

    func backward(_ d: UnsafeMutablePointer<Float>, rows n: Int, block: ParameterBlock) {
        let c = width
        let l = block.value(offset), dl = block.grad(offset), x0 = raw.pointer
        for i in 0..<n {
            let r = d + i * c, x = x0 + i * c
            for j in 0..<c { dl[j] += r[j] * x[j]; r[j] *= l[j] }
        }
    }
}

/// (IA)³'s trainer side: a vector at each chosen site of each chosen layer.
enum IA3Method: TrainerMethod {
    static func attach(_ plan: PEFTPlan, to layers: [any AdapterHost], dims: ModelDimensions,
                       block: ParameterBlock) -> [any PEFTModule] {
        guard let spec = plan.ia3 else { return [] }
        var modules: [any PEFTModule] = []
        for l in spec.layers.resolve(count: layers.count) {
            for s in spec.sites {
                let v = IA3Vector(layer: l, site: s, dims: dims, block: block)
                layers[l].attachments.scales[s] = v
                modules.append(v)
            }
        }
        return modules
    }
}

extension IA3Method {
    /// Its HF PEFT export, when the plan holds it (alone: `PEFTExport.export` checks); nil otherwise.
    static func hfPEFTExport(_ model: BertClassifier, config: RunConfig, notes: inout [String]) throws -> PEFTExport.Adapter? {
        guard let spec = model.plan.ia3 else { return nil }
        let layers = spec.layers.resolve(count: model.config.layers)
        var out: [(name: String, shape: [Int], values: [Float])] = []
        var paths: [String] = []
        for s in spec.sites { paths.append(s.modulePath) }
        for l in layers {
            for s in spec.sites {
                let path = s.modulePath
                let t = PEFTExport.tensor(model, "encoder.layer.\(l).\(path).ia3_l")
                // PEFT: [out, 1] on key/value outputs, [1, in] on the feed-forward input.
                out.append(("base_model.model.\(model.config.family.rawValue).encoder.layer.\(l).\(path).ia3_l",
                            s == .feedforward ? [1, t.values.count] : [t.values.count, 1], t.values))
            }
        }
        out += PEFTExport.classifier(model, prefix: "base_model.model.")
        var cfg = PEFTExport.base(config, "IA3")
        cfg += [("target_modules", .string(PEFTExport.regex(layers: layers, paths: paths))),
                ("feedforward_modules",
                 .string(spec.sites.contains(.feedforward) ? PEFTExport.regex(layers: layers, paths: [IA3Spec.Site.feedforward.modulePath]) : "^$")),
                ("fan_in_fan_out", .bool(false)), ("init_ia3_weights", .bool(true))]
        return (out, .object(cfg))
    }
}
