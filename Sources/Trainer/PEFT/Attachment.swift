import Space

/// The seam between a block and the PEFT modules attached to it.
///
/// A block (`EncoderLayer`) runs what is attached at its sites and names no method; a method
/// (`TrainerMethod`) builds its modules and attaches them through `LayerAttachments`. The sites are
/// the architecture's own:
/// - beside a linear map (`LinearTarget`): modules that add to its output and may replace its
///   frozen weight (`LinearAttachment`; LoRA);
/// - a bias or a LayerNorm shift (`BiasSite`): a trainable value in place of the frozen one (BitFit);
/// - an activation (`ScaleSite`): a vector that scales it (`ActivationScale`; (IA)³);
/// - the feed-forward sublayer's output: modules that add to it, reading it or the sublayer's
///   input (`SublayerAdapter`; serial and parallel adapters);
/// - attention: keys and values prepended (`LayerPrefix`; prefix tuning).
public typealias BiasSite = BitFitSpec.Bias
public typealias ScaleSite = IA3Spec.Site

/// A block PEFT modules attach to (`EncoderLayer`, `DecoderLayer`): its sites, and what a method
/// reads of its frozen weights (PiSSA's factors, BitFit's starting biases).
protocol AdapterHost: AnyObject {
    var index: Int { get }
    var attachments: LayerAttachments { get set }
    /// The frozen map at `target`.
    func frozenLinear(_ target: LinearTarget) -> LinearWeights
    /// The pretrained value at a bias site; nil where the architecture has none (Llama has no biases).
    func frozenBias(_ site: BiasSite) -> FloatBuffer?
}

/// A module beside a linear map y = x Wᵀ + b.
protocol LinearAttachment: AnyObject {
    /// A weight to use in place of the frozen W (PiSSA's residual), or nil.
    var replacementWeight: UnsafeMutablePointer<Float>? { get }
    /// Adds the module's output for `x` [rows, in] to `y` [rows, out].
    func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows n: Int, block: ParameterBlock,
                 training: Bool, rng: inout RandomSource)
    /// Accumulates its parameters' gradients from `dy`, and its input gradient into `dx` when given.
    func backward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, rows n: Int,
                  block: ParameterBlock)
    /// Adds to `weight` [out, in] what the module adds to x Wᵀ (a merged export folds it in).
    func fold(into weight: UnsafeMutablePointer<Float>, block: ParameterBlock)
}

/// A trainable vector that scales an activation [rows, width] column-wise.
protocol ActivationScale: AnyObject {
    func forward(_ x: UnsafeMutablePointer<Float>, rows n: Int, block: ParameterBlock)
    /// Accumulates the vector's gradient and scales `d` in place to the input's gradient.
    func backward(_ d: UnsafeMutablePointer<Float>, rows n: Int, block: ParameterBlock)
    /// Folds the scale into `weight` [rows, columns]: into its rows when it scales the map's output,
    /// its columns when it scales the map's input (a merged export).
    func fold(into weight: UnsafeMutablePointer<Float>, rows: Int, columns: Int, scalesInput: Bool, block: ParameterBlock)
}

/// A module that adds to the feed-forward sublayer's output.
protocol SublayerAdapter: AnyObject {
    /// What it reads: the sublayer's output (in series) or its input (in parallel).
    var readsSublayerInput: Bool { get }
    /// `y += module(x)`; `x` and `y` may be the same buffer.
    func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, rows n: Int, block: ParameterBlock)
    /// Accumulates parameter gradients; `dx += ∂/∂x` when `dx` is given.
    func backward(dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, rows n: Int, block: ParameterBlock)
    /// A hash of its piecewise-linear units' states in the last forward (finite-difference checks
    /// are valid only when a perturbation crosses no kink); 0 when it has none.
    var activationSignature: UInt64 { get }
}

/// What one block has attached, by site. Empty: the block is the frozen model's.
struct LayerAttachments {
    /// Beside each linear map, in attachment order.
    var linear: [LinearTarget: [any LinearAttachment]] = [:]
    /// Trainable biases in place of frozen ones: their offsets in the parameter block.
    var biases: [BiasSite: Int] = [:]
    var scales: [ScaleSite: any ActivationScale] = [:]
    /// Added to the feed-forward output in this order; backward runs them in reverse.
    var sublayerAdapters: [any SublayerAdapter] = []
    var prefix: LayerPrefix?

    /// The weight a linear map computes with: a replacement when one is attached, else `frozen`.
    func weight(_ target: LinearTarget, frozen: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        linear[target]?.lazy.compactMap(\.replacementWeight).first ?? frozen
    }

    /// The bias to use at `site`: the trainable one when there is one, else `frozen` (always for a
    /// map without a bias site).
    func bias(_ site: BiasSite?, frozen: FloatBuffer, block: ParameterBlock) -> UnsafePointer<Float> {
        site.flatMap { biases[$0] }.map { UnsafePointer(block.value($0)) } ?? UnsafePointer(frozen.pointer)
    }

    /// Where the bias at `site` accumulates its gradient; nil when it is frozen.
    func biasGradient(_ site: BiasSite, block: ParameterBlock) -> UnsafeMutablePointer<Float>? {
        biases[site].map { block.grad($0) }
    }

    /// db += Σ_rows dout for a linear map's trainable bias (nothing when it is frozen).
    func linearBiasBackward(_ target: LinearTarget, dout: UnsafePointer<Float>, rows n: Int, columns c: Int,
                            block: ParameterBlock) {
        guard let site = BiasSite(target), let db = biasGradient(site, block: block) else { return }
        for i in 0..<n { let r = dout + i * c; for j in 0..<c { db[j] += r[j] } }
    }
}

extension BiasSite {
    /// The bias of a linear map; nil for a map that has no bias site (the gate: no family has its bias).
    init?(_ target: LinearTarget) { self.init(rawValue: target.rawValue) }
}

/// A module's initialisation. The order in which modules draw random numbers is part of the
/// numerics (a journal replays bit for bit), so `BertClassifier.initialize` orders them by slot:
/// the stream "init" first (then the classifier), then "init-modules", each by layer (model-level
/// modules last) and rank within the layer.
struct InitSlot: Comparable {
    enum Stream: Int { case base, modules }
    var stream: Stream
    /// The layer; `Int.max` for a module of the whole model.
    var layer: Int
    var rank: Int

    static func < (a: InitSlot, b: InitSlot) -> Bool {
        (a.stream.rawValue, a.layer, a.rank) < (b.stream.rawValue, b.layer, b.rank)
    }
}

/// Initialises `modules` in their order of random draws (`InitSlot`; ties keep declaration order):
/// the stream "init" first, then `afterBase` (a model's head) on the same stream, then the stream
/// "init-modules". Each module reads its layer's frozen weights from `hosts`.
func initializeModules(_ modules: [any PEFTModule], hosts: [any AdapterHost], block: ParameterBlock, seed: UInt64,
                       afterBase: (inout RandomSource) -> Void = { _ in }) throws(TrainerError) {
    let ordered = modules.indices.sorted { (modules[$0].initSlot, $0) < (modules[$1].initSlot, $1) }.map { modules[$0] }
    func host(_ m: any PEFTModule) -> (any AdapterHost)? { hosts.indices.contains(m.initSlot.layer) ? hosts[m.initSlot.layer] : nil }
    var rng = RandomSource(seed: seed, stream: "init")
    for m in ordered where m.initSlot.stream == .base { try m.initialize(block: block, rng: &rng, host: host(m)) }
    afterBase(&rng)
    var rest = RandomSource(seed: seed, stream: "init-modules")
    for m in ordered where m.initSlot.stream == .modules { try m.initialize(block: block, rng: &rest, host: host(m)) }
}

/// A PEFT module as the model holds it: initialised, and (model-level modules) run before the
/// layers' forward and after their backward.
protocol PEFTModule: AnyObject {
    var initSlot: InitSlot { get }
    /// Sets the module's parameters; `host` is its layer, whose frozen weights it may read (nil for
    /// a model-level module).
    func initialize(block: ParameterBlock, rng: inout RandomSource, host: (any AdapterHost)?) throws(TrainerError)
    /// Once the block is sealed (its buffers exist): attaches what points into it.
    func bind(to layers: [any AdapterHost], block: ParameterBlock)
    func forward(block: ParameterBlock)
    func backward(block: ParameterBlock)
}

extension PEFTModule {
    func bind(to layers: [any AdapterHost], block: ParameterBlock) {}
    func forward(block: ParameterBlock) {}
    func backward(block: ParameterBlock) {}
}

/// A PEFT method's trainer side: for a plan, declares its parameters and attaches its modules.
protocol TrainerMethod {
    /// Declares the modules `plan` asks of this method in `block` (not yet sealed) and attaches
    /// them to `layers`; returns them (none when the plan does not use the method).
    static func attach(_ plan: PEFTPlan, to layers: [any AdapterHost], dims: ModelDimensions,
                       block: ParameterBlock) -> [any PEFTModule]
    /// DiffoRA's supernet: the gated module (`lora:<target>`, `serial`, …) a parameter belongs to,
    /// given its name after `encoder.layer.<l>.`; nil when it is not this method's, or not gated.
    static func gatedModule(parameter: String) -> String?
    /// DiffoRA's supernet: one gated module of this method alone in `layer`, as a plan (what its
    /// parameters and charges are read from); nil when `module` is not this method's.
    static func gatedPlan(_ module: String, layer: Int, supernet: PEFTPlan, dims: ModelDimensions) -> PEFTPlan?
    /// Its HF PEFT export when the plan holds this method (alone); nil when it does not, or when
    /// HF PEFT has no such method. Throws what HF PEFT cannot load faithfully, with the reason.
    static func hfPEFTExport(_ model: BertClassifier, config: RunConfig, notes: inout [String]) throws -> PEFTExport.Adapter?
}

extension TrainerMethod {
    /// Not in DiffoRA's supernet.
    static func gatedModule(parameter: String) -> String? { nil }
    static func gatedPlan(_ module: String, layer: Int, supernet: PEFTPlan, dims: ModelDimensions) -> PEFTPlan? { nil }
    /// No HF PEFT method (bottleneck adapters, BitFit).
    static func hfPEFTExport(_ model: BertClassifier, config: RunConfig, notes: inout [String]) throws -> PEFTExport.Adapter? { nil }
}

/// The methods the trainer knows, in the order their parameters are declared: the block's layout
/// (and so the order the gradient norm sums in) is part of the numerics.
enum TrainerMethods {
    static var all: [any TrainerMethod.Type] {
        [LoRAMethod.self, BottleneckAdapterMethod.self, IA3Method.self, BitFitMethod.self, PrefixMethod.self]
    }

    /// Attaches every method of `plan` to `layers`; returns the modules in declaration order.
    static func attach(_ plan: PEFTPlan, to layers: [any AdapterHost], dims: ModelDimensions,
                       block: ParameterBlock) -> [any PEFTModule] {
        all.flatMap { $0.attach(plan, to: layers, dims: dims, block: block) }
    }
}
