import JSONKit
import Foundation
import Space

/// LoRA beside a frozen linear map: `y += s · (dropout(x) Aᵀ) Bᵀ`, s = alpha/r.
///
/// Shapes: A [r, in] (Kaiming-uniform, bound 1/√in as PEFT), B [out, r] (zeros), x [N, in], y [N, out].
/// Saved for backward: xd = dropout(x) [N, in] (only with dropout), u = xd Aᵀ [N, r].
/// Backward with dy [N, out]:
///   dB += s · dyᵀ u;  du = s · dy B;  dA += duᵀ xd;  dx += dropout'(du A)
public final class LoRALinear: LinearAttachment, PEFTModule {
    public let target: LinearTarget
    public let layer: Int
    public let rank: Int, inFeatures: Int, outFeatures: Int
    public let scaling: Float
    public let dropout: Float
    public let offsetA: Int, offsetB: Int
    public let initialization: LoRASpec.Initialization
    /// PiSSA only: this candidate's residual W − s·B·A [out, in], used in place of the shared frozen W.
    public private(set) var residual: FloatBuffer?
    var replacementWeight: UnsafeMutablePointer<Float>? { residual?.pointer }
    /// Restores a saved PiSSA residual (loading a candidate).
    func setResidual(_ r: FloatBuffer) { residual = r }
    private var xd = GrowableBuffer()
    private var u = GrowableBuffer()
    private var du = GrowableBuffer()
    private var tmp = GrowableBuffer()
    private let mask = MaskBuffer()
    private var usedDropout = false

    public init(target: LinearTarget, layer: Int, spec: LoRASpec, dims: ModelDimensions, block: ParameterBlock) {
        let (i, o) = dims.shape(of: target)
        self.target = target
        self.layer = layer
        rank = spec.rank
        inFeatures = i
        outFeatures = o
        scaling = Float(spec.scaling)
        dropout = Float(spec.dropout)
        initialization = spec.initialization
        let base = "encoder.layer.\(layer).\(target.modulePath)"
        offsetA = block.declare(base + ".lora_A", shape: [spec.rank, i])
        offsetB = block.declare(base + ".lora_B", shape: [o, spec.rank])
    }

    /// LoRA draws from the stream "init", layer by layer, in target order (before the classifier).
    var initSlot: InitSlot { InitSlot(stream: .base, layer: layer, rank: LinearTarget.allCases.firstIndex(of: target)!) }

    func initialize(block: ParameterBlock, rng: inout RandomSource, host: (any AdapterHost)?) throws(TrainerError) {
        guard let host else { throw .model("LoRA on \(target.rawValue) in layer \(layer): no such layer") }
        try initialize(block: block, rng: &rng, weight: host.frozenLinear(target))
    }

    /// PEFT's default init: A ~ U(−1/√in, 1/√in) (kaiming_uniform with a = √5), B = 0.
    /// PiSSA (as PEFT's `init_lora_weights="pissa"`): W = U S Vᵀ, A = √(S_r/s) V_rᵀ,
    /// B = U_r √(S_r/s), and W is replaced by W − s·B·A, so the output at init is unchanged.
    public func initialize(block: ParameterBlock, rng: inout RandomSource, weight: LinearWeights) throws(TrainerError) {
        if initialization == .pissa {
            try initializePiSSA(block: block, weight: weight)
            return
        }
        let a = block.value(offsetA)
        let bound = 1 / Float(inFeatures).squareRoot()
        for j in 0..<(rank * inFeatures) { a[j] = (2 * rng.nextFloat() - 1) * bound }
        block.value(offsetB).update(repeating: 0, count: outFeatures * rank)
    }

    func initializePiSSA(block: ParameterBlock, weight lw: LinearWeights) throws(TrainerError) {
        let m = outFeatures, n = inFeatures, k = min(m, n), r = rank
        let w = lw.denseWeight()
        var a = w.map(Double.init)
        var s = [Double](repeating: 0, count: k), u = [Double](repeating: 0, count: m * k), vt = [Double](repeating: 0, count: k * n)
        let info = LAPACK.gesdd(rows: m, columns: n, a: &a, s: &s, u: &u, vt: &vt)
        guard info == 0 else { throw .model("PiSSA: SVD of layer \(layer) \(target.rawValue) failed (LAPACK info \(info))") }
        let sc = Double(scaling)
        let A = block.value(offsetA), B = block.value(offsetB)
        for i in 0..<r {
            let root = (s[i] / sc).squareRoot()
            for j in 0..<n { A[i * n + j] = Float(root * vt[i * n + j]) }
            for o in 0..<m { B[o * r + i] = Float(u[o * k + i] * root) }
        }
        let res = FloatBuffer(count: m * n)
        for o in 0..<m {
            for j in 0..<n {
                var acc = 0.0
                for i in 0..<r { acc += Double(B[o * r + i]) * Double(A[i * n + j]) }
                res[o * n + j] = Float(Double(w[o * n + j]) - sc * acc)
            }
        }
        residual = res
    }

    /// W += s·B·A.
    func fold(into weight: UnsafeMutablePointer<Float>, block: ParameterBlock) {
        let a = block.value(offsetA), b = block.value(offsetB)
        for o in 0..<outFeatures {
            for i in 0..<inFeatures {
                var s: Float = 0
                for k in 0..<rank { s += b[o * rank + k] * a[k * inFeatures + i] }
                weight[o * inFeatures + i] += scaling * s
            }
        }
    }

    public func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows n: Int, block: ParameterBlock,
                        training: Bool, rng: inout RandomSource) {
        var input = x
        usedDropout = training && dropout > 0
        if usedDropout {
            let d = xd.ensure(n * inFeatures)
            Dropout.forward(out: d, inp: x, mask: mask.ensure(n * inFeatures), count: n * inFeatures, p: dropout, rng: &rng)
            input = UnsafePointer(d)
        }
        let up = u.ensure(n * rank)
        BLAS.gemm(transA: false, transB: true, m: n, n: rank, k: inFeatures, a: input, lda: inFeatures,
                  b: block.value(offsetA), ldb: inFeatures, c: up, ldc: rank)
        BLAS.gemm(transA: false, transB: true, m: n, n: outFeatures, k: rank, alpha: scaling, a: up, lda: rank,
                  b: block.value(offsetB), ldb: rank, beta: 1, c: y, ldc: outFeatures)
    }

    /// `dx` nil: the input gradient is not needed (lowest adapted layer, or nothing below trains).
    public func backward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                         rows n: Int, block: ParameterBlock) {
        let input = usedDropout ? UnsafePointer(xd.pointer) : x
        BLAS.gemm(transA: true, transB: false, m: outFeatures, n: rank, k: n, alpha: scaling, a: dy, lda: outFeatures,
                  b: u.pointer, ldb: rank, beta: 1, c: block.grad(offsetB), ldc: rank)
        let dup = du.ensure(n * rank)
        BLAS.gemm(transA: false, transB: false, m: n, n: rank, k: outFeatures, alpha: scaling, a: dy, lda: outFeatures,
                  b: block.value(offsetB), ldb: rank, c: dup, ldc: rank)
        BLAS.gemm(transA: true, transB: false, m: rank, n: inFeatures, k: n, a: dup, lda: rank,
                  b: input, ldb: inFeatures, beta: 1, c: block.grad(offsetA), ldc: inFeatures)
        guard let dx else { return }
        if usedDropout {
            let t = tmp.ensure(n * inFeatures)
            BLAS.gemm(transA: false, transB: false, m: n, n: inFeatures, k: rank, a: dup, lda: rank,
                      b: block.value(offsetA), ldb: inFeatures, c: t, ldc: inFeatures)
            let scale = 1 / (1 - dropout)
            let m = mask.pointer
            for j in 0..<(n * inFeatures) where m[j] == 1 { dx[j] += t[j] * scale }
        } else {
            BLAS.gemm(transA: false, transB: false, m: n, n: inFeatures, k: rank, a: dup, lda: rank,
                      b: block.value(offsetA), ldb: inFeatures, beta: 1, c: dx, ldc: inFeatures)
        }
    }
}

/// LoRA's trainer side: a `LoRALinear` beside each target map of each chosen layer.
enum LoRAMethod: TrainerMethod {
    static func attach(_ plan: PEFTPlan, to layers: [any AdapterHost], dims: ModelDimensions,
                       block: ParameterBlock) -> [any PEFTModule] {
        guard let spec = plan.lora else { return [] }
        var modules: [any PEFTModule] = []
        for l in spec.layers.resolve(count: layers.count) {
            for t in spec.targets {
                let m = LoRALinear(target: t, layer: l, spec: spec, dims: dims, block: block)
                layers[l].attachments.linear[t, default: []].append(m)
                modules.append(m)
            }
        }
        return modules
    }

    /// Gated: each target's B (the module's last linear map).
    static func gatedModule(parameter: String) -> String? {
        guard parameter.hasSuffix(".lora_B"), let t = LinearTarget(name: String(parameter.dropLast(".lora_B".count))) else { return nil }
        return "lora:\(t.rawValue)"
    }

    static func gatedPlan(_ module: String, layer: Int, supernet: PEFTPlan, dims: ModelDimensions) -> PEFTPlan? {
        guard module.hasPrefix("lora:") else { return nil }
        guard let lora = supernet.lora, let t = LinearTarget(name: String(module.dropFirst(5))) else { return PEFTPlan() }
        return PEFTPlan(lora: LoRASpec(rank: lora.rank, alpha: lora.alpha, targets: [t], layers: .only([layer])))
    }
}

extension AdapterHost {
    /// The LoRA module beside `target`, if any.
    func lora(_ target: LinearTarget) -> LoRALinear? {
        attachments.linear[target]?.lazy.compactMap { $0 as? LoRALinear }.first
    }
}

extension LoRAMethod {
    /// Its HF PEFT export, when the plan holds it (alone: `PEFTExport.export` checks); nil otherwise.
    static func hfPEFTExport(_ model: BertClassifier, config: RunConfig, notes: inout [String]) throws -> PEFTExport.Adapter? {
        guard let spec = model.plan.lora else { return nil }
        let layers = spec.layers.resolve(count: model.config.layers)
        let pissa = spec.initialization == .pissa
        var out: [(name: String, shape: [Int], values: [Float])] = []
        for l in layers {
            for t in spec.targets {
                guard let m = model.layers[l].lora(t) else { continue }
                let base = "encoder.layer.\(l).\(t.modulePath)"
                var a = PEFTExport.tensor(model, base + ".lora_A"), b = PEFTExport.tensor(model, base + ".lora_B")
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
        out += PEFTExport.classifier(model, prefix: "base_model.model.")
        let rank = pissa ? 2 * spec.rank : spec.rank
        if pissa {
            notes.append("PiSSA converted to plain LoRA of rank \(rank) (A′ = [A; A₀], B′ = [B, −B₀]) "
                         + "so it applies to the original weights.")
        }
        let cfg = hfPEFTConfig(spec, rank: rank, alpha: pissa ? 2 * spec.alpha : spec.alpha, layers: layers,
                               paths: spec.targets.map(\.modulePath), config: config, modulesToSave: "classifier")
        return (out, cfg)
    }

    /// `adapter_config.json` of a LoRA export: rank, alpha and dropout, and the targets as a
    /// full-match regex over the layers' module paths (a list of names would let BERT's
    /// "output.dense" also match attention.output.dense).
    static func hfPEFTConfig(_ spec: LoRASpec, rank: Int, alpha: Double, layers: [Int], paths: [String], container: String = "layer",
                             config: RunConfig, modulesToSave: String?) -> JSONValue {
        var cfg = PEFTExport.base(config, "LORA", modulesToSave: modulesToSave)
        cfg += [("r", .number(rank)), ("lora_alpha", .number(alpha)), ("lora_dropout", .number(spec.dropout)),
                ("target_modules", .string(PEFTExport.regex(layers: layers, paths: paths, container: container))),
                ("layers_to_transform", .null), ("rank_pattern", .object([])), ("alpha_pattern", .object([])),
                ("bias", .string("none")), ("fan_in_fan_out", .bool(false)), ("init_lora_weights", .bool(true)),
                ("use_rslora", .bool(false)), ("use_dora", .bool(false)), ("layers_pattern", .null)]
        return .object(cfg)
    }
}
