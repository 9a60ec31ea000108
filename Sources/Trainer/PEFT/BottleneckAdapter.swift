import JSONKit
import Space

/// A bottleneck adapter: `y += scale · (relu(x W_dᵀ + b_d) W_uᵀ + b_u)`.
///
/// Shapes: W_d [m, H], b_d [m], W_u [H, m], b_u [H]; x [N, H] (copied: a serial adapter's
/// input is overwritten by its own output), zpre [N, m] saved for backward.
/// Init: W_d Kaiming-uniform (bound 1/√H), W_u, b_d, b_u zero, so the adapter starts as identity.
/// Backward with dy [N, H]:
///   dW_u += s·dyᵀ z;  db_u += s·Σ dy;  dz = s·dy W_u ⊙ [zpre > 0];  dW_d += dzᵀ x;  db_d += Σ dz;  dx += dz W_d
public final class BottleneckAdapter: SublayerAdapter, PEFTModule {
    public typealias Placement = AdapterSpec.Placement
    public let placement: Placement
    public let layer: Int
    public let size: Int, hidden: Int
    public let scale: Float
    public let downW: Int, downB: Int, upW: Int, upB: Int
    private var input = GrowableBuffer(), zpre = GrowableBuffer(), z = GrowableBuffer(), dz = GrowableBuffer()
    private var lastRows = 0

    /// A hash of which bottleneck units were active in the last forward (for finite-difference
    /// checks, which are only valid when a perturbation does not cross ReLU's kink).
    public var activationSignature: UInt64 {
        var h = FNV1a()
        let zp = zpre.pointer
        for j in 0..<(lastRows * size) { h.mix(zp[j] > 0 ? 1 : 0) }
        return h.value
    }

    public init(placement: Placement, layer: Int, size: Int, hidden: Int, scale: Float, block: ParameterBlock) {
        self.placement = placement
        self.layer = layer
        self.size = size
        self.hidden = hidden
        self.scale = scale
        let base = "encoder.layer.\(layer).\(placement)_adapter"
        downW = block.declare(base + ".down.weight", shape: [size, hidden])
        downB = block.declare(base + ".down.bias", shape: [size])
        upW = block.declare(base + ".up.weight", shape: [hidden, size])
        upB = block.declare(base + ".up.bias", shape: [hidden])
    }

    var readsSublayerInput: Bool { placement == .parallel }

    /// Adapters draw from the stream "init-modules", layer by layer, the serial one first.
    var initSlot: InitSlot { InitSlot(stream: .modules, layer: layer, rank: placement == .serial ? 0 : 1) }

    func initialize(block: ParameterBlock, rng: inout RandomSource, host: (any AdapterHost)?) {
        initialize(block: block, rng: &rng)
    }

    public func initialize(block: ParameterBlock, rng: inout RandomSource) {
        let bound = 1 / Float(hidden).squareRoot()
        let w = block.value(downW)
        for j in 0..<(size * hidden) { w[j] = (2 * rng.nextFloat() - 1) * bound }
        block.value(downB).update(repeating: 0, count: size)
        block.value(upW).update(repeating: 0, count: hidden * size)
        block.value(upB).update(repeating: 0, count: hidden)
    }

    /// `y += adapter(x)`; `x` and `y` may be the same buffer (serial placement).
    func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows n: Int, block: ParameterBlock) {
        let H = hidden, m = size
        lastRows = n
        let xin = input.ensure(n * H)
        xin.update(from: x, count: n * H)
        let zp = zpre.ensure(n * m), zz = z.ensure(n * m)
        Linear.forward(out: zp, inp: xin, weight: block.value(downW), bias: block.value(downB), rows: n, inFeatures: H, outFeatures: m)
        for j in 0..<(n * m) { zz[j] = max(zp[j], 0) }
        let b = block.value(upB)
        for i in 0..<n { let r = y + i * H; for j in 0..<H { r[j] += scale * b[j] } }
        BLAS.gemm(transA: false, transB: true, m: n, n: H, k: m, alpha: scale, a: zz, lda: m, b: block.value(upW), ldb: m,
                  beta: 1, c: y, ldc: H)
    }

    /// Accumulates parameter gradients; `dx += ∂/∂x` when `dx` is given.
    func backward(dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, rows n: Int, block: ParameterBlock) {
        let H = hidden, m = size
        BLAS.gemm(transA: true, transB: false, m: H, n: m, k: n, alpha: scale, a: dy, lda: H, b: z.pointer, ldb: m,
                  beta: 1, c: block.grad(upW), ldc: m)
        let gb = block.grad(upB)
        for i in 0..<n { let r = dy + i * H; for j in 0..<H { gb[j] += scale * r[j] } }
        let d = dz.ensure(n * m)
        BLAS.gemm(transA: false, transB: false, m: n, n: m, k: H, alpha: scale, a: dy, lda: H, b: block.value(upW), ldb: m, c: d, ldc: m)
        let zp = zpre.pointer
        for j in 0..<(n * m) where zp[j] <= 0 { d[j] = 0 }
        Linear.backwardWeight(dweight: block.grad(downW), dbias: block.grad(downB), dout: d, inp: input.pointer,
                              rows: n, inFeatures: H, outFeatures: m)
        if let dx {
            BLAS.gemm(transA: false, transB: false, m: n, n: H, k: m, a: d, lda: m, b: block.value(downW), ldb: H, beta: 1, c: dx, ldc: H)
        }
    }
}

/// The bottleneck adapters' trainer side: serial adapters read the feed-forward output, parallel
/// ones its input (scaled by `scale`); both add to the output. In a layer with both, the serial
/// adapter runs first.
enum BottleneckAdapterMethod: TrainerMethod {
    static func attach(_ plan: PEFTPlan, to layers: [any AdapterHost], dims: ModelDimensions,
                       block: ParameterBlock) -> [any PEFTModule] {
        var modules: [any PEFTModule] = []
        for (placement, a) in plan.adapters {
            for (l, m) in a.resolve(count: layers.count) {
                let adapter = BottleneckAdapter(placement: placement, layer: l, size: m, hidden: dims.hiddenSize,
                                                scale: placement == .serial ? 1 : Float(a.scale), block: block)
                layers[l].attachments.sublayerAdapters.append(adapter)
                modules.append(adapter)
            }
        }
        return modules
    }

    /// Gated: the up-projection and its bias (the module's last linear map).
    static func gatedModule(parameter: String) -> String? {
        for placement in [AdapterSpec.Placement.serial, .parallel] where parameter.contains("\(placement.key).up.") {
            return placement.rawValue
        }
        return nil
    }

    static func gatedPlan(_ module: String, layer: Int, supernet: PEFTPlan, dims: ModelDimensions) -> PEFTPlan? {
        func size(_ a: AdapterSpec?) -> Int { a?.resolve(count: dims.layers).first?.size ?? 0 }
        switch module {
        case "serial": return PEFTPlan(serialAdapter: AdapterSpec(size: size(supernet.serialAdapter), layers: .only([layer])))
        case "parallel":
            let scale = supernet.parallelAdapter?.scale ?? 4
            return PEFTPlan(parallelAdapter: AdapterSpec(size: size(supernet.parallelAdapter), layers: .only([layer]), scale: scale))
        default: return nil
        }
    }
}
