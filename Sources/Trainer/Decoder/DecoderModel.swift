import JSONKit
import Space

/// A frozen Llama-family decoder with the PEFT modules of a plan attached to its blocks: token
/// embeddings, the blocks, the final RMSNorm, and the output head (tied to the embeddings or its
/// own), with backward through the blocks into the modules' gradients (`block`).
///
/// Sequences are right-padded (`TokenBatch`): token t of each row sits at position t, and the
/// causal mask with the padding mask leaves every real token's view as it would be alone.
public final class DecoderModel {
    public let weights: DecoderWeights
    public var config: DecoderConfig { weights.config }
    public let plan: PEFTPlan
    /// The trainable parameters: the plan's modules (and whatever a head declares after them).
    public let block = ParameterBlock()
    let layers: [DecoderLayer]
    let modules: [any PEFTModule]
    /// hidden[l] is the input of block l; hidden[L] the last block's output [B·T, H]. Only the
    /// inputs a backward reads and the last output are kept there; the others pass through `passing`.
    var hidden: [GrowableBuffer]
    var passing = [GrowableBuffer(), GrowableBuffer()]
    var normed = GrowableBuffer(), finalRstd = GrowableBuffer(), valid = GrowableBuffer()
    var dHidden = GrowableBuffer(), dHiddenNext = GrowableBuffer()
    var scratch = DecoderScratch()
    /// Dequantized tiles of a quantized base, shared by the blocks and the output head.
    let tiles: SharedBuffer
    /// The activations the blocks backward will not reach share (see `forward`'s `keepActivationsFrom`).
    let sharedActivations = DecoderActivations()
    var lastBatch = 0, lastLength = 0

    /// `plan`'s methods attached to the blocks; a head, when there is one, declares its parameters
    /// through `declareHead` before the block is sealed.
    public init(weights: DecoderWeights, plan: PEFTPlan = PEFTPlan(),
                declareHead: (ParameterBlock) -> Void = { _ in }) throws(TrainerError) {
        let c = weights.config
        do { try plan.validate(for: c.dimensions) } catch { throw .config(error) }
        self.weights = weights
        self.plan = plan
        let rotary = RotaryEmbedding(headDim: c.headDim, base: c.ropeTheta, positions: c.maxPositions)
        let tiles = SharedBuffer()
        self.tiles = tiles
        layers = weights.layers.enumerated().map {
            DecoderLayer(index: $0.offset, weights: $0.element, config: c, rotary: rotary, tiles: tiles)
        }
        hidden = (0...c.layers).map { _ in GrowableBuffer() }
        modules = TrainerMethods.attach(plan, to: layers, dims: c.dimensions, block: block)
        declareHead(block)
        block.seal()
        for m in modules { m.bind(to: layers, block: block) }
    }

    /// Initialises the modules as every model does (`initializeModules`).
    public func initialize(seed: UInt64) throws(TrainerError) {
        try initializeModules(modules, hosts: layers, block: block, seed: seed)
    }

    /// Which ReLU units of the bottleneck adapters were active in the last forward (finite-difference
    /// checks are valid only when a perturbation crosses no kink).
    public var activationSignature: UInt64 {
        layers.reduce(0) { h, l in l.attachments.sublayerAdapters.reduce(h) { ($0 &* 31) ^ $1.activationSignature } }
    }

    /// The lowest block holding a module: backward stops there.
    public var lowestTrainableLayer: Int { plan.lowestAdaptedLayer(layers: config.layers) ?? config.layers }

    /// Runs the blocks and the final norm in eval mode (nothing draws); returns the normed last hidden states.
    @discardableResult
    public func forward(_ batch: TokenBatch) throws(TrainerError) -> UnsafeMutablePointer<Float> {
        var unused = RandomSource(seed: 0)
        return try forward(batch, training: false, rng: &unused)
    }

    /// Runs the blocks and the final norm; returns the normed last hidden states [B·T, H]. In
    /// training, the modules' dropout draws from `rng`. With `cache` (and `rows`, the batch's row
    /// indices into it), the embeddings and the blocks below `cache.layer` are skipped: their
    /// output comes from the cache (exact: the frozen blocks have no dropout). Blocks from
    /// `keepActivationsFrom` up keep their activations for a backward down to there; the ones below
    /// share one set (at 256 tokens, a block's activations are about 60 MB a row of 8).
    @discardableResult
    public func forward(_ batch: TokenBatch, training: Bool, rng: inout RandomSource, cache: FrozenPrefixCache? = nil,
                        rows: [Int] = [], keepActivationsFrom: Int = 0) throws(TrainerError) -> UnsafeMutablePointer<Float> {
        let c = config, H = c.hiddenSize, N = batch.batch * batch.length
        precondition(cache.map { $0.layer <= lowestTrainableLayer } ?? true, "a cache above the lowest trainable block")
        let start: Int
        if let cache {
            try begin(batch)
            cache.gather(rows: rows, length: batch.length, into: hidden[cache.layer].ensure(N * H))
            start = cache.layer
        } else {
            try embed(batch)
            start = 0
        }
        for m in modules { m.forward(block: block) }
        runBlocks(start..<c.layers, batch: batch.batch, length: batch.length, keyValid: valid.pointer, first: plan.prefix?.positionOffset ?? 0,
                  training: training, rng: &rng, keepFrom: keepActivationsFrom)
        let out = normed.ensure(N * H)
        RMSNorm.forward(out: out, rstd: finalRstd.ensure(N), inp: hidden[c.layers].pointer, gamma: weights.finalNorm.pointer,
                        rows: N, channels: H, eps: c.rmsNormEps)
        return out
    }

    /// The hidden states entering block `layer` [B·T, H]: what a frozen-prefix cache holds. The
    /// blocks below the lowest trainable one run their frozen maps only.
    public func forwardPrefix(_ batch: TokenBatch, upTo layer: Int) throws(TrainerError) -> UnsafeMutablePointer<Float> {
        precondition(layer <= lowestTrainableLayer, "a prefix above the lowest trainable block")
        try embed(batch)
        var unused = RandomSource(seed: 0)
        runBlocks(0..<layer, batch: batch.batch, length: batch.length, keyValid: valid.pointer, first: plan.prefix?.positionOffset ?? 0,
                  training: false, rng: &unused, keepFrom: layer)
        return hidden[layer].pointer
    }

    /// Checks the batch and keeps its shape and padding mask for the blocks (and backward).
    func begin(_ batch: TokenBatch) throws(TrainerError) {
        let N = batch.batch * batch.length
        let offset = plan.prefix?.positionOffset ?? 0
        guard batch.length + offset <= config.maxPositions else {
            throw .model("a sequence of \(batch.length) tokens\(offset > 0 ? " after a shifted prefix of \(offset)" : "") exceeds the "
                + "model's \(config.maxPositions) positions")
        }
        lastBatch = batch.batch; lastLength = batch.length
        let vp = valid.ensure(N)
        batch.valid.withUnsafeBufferPointer { vp.update(from: $0.baseAddress!, count: N) }
    }

    /// The token embeddings into hidden[0]; ids outside the vocabulary are refused.
    func embed(_ batch: TokenBatch) throws(TrainerError) {
        try begin(batch)
        let c = config, H = c.hiddenSize
        let h0 = hidden[0].ensure(batch.batch * batch.length * H)
        for r in 0..<(batch.batch * batch.length) {
            let id = Int(batch.ids[r])
            guard id >= 0 && id < c.vocabSize else { throw .model("token id \(id) is outside the vocabulary of \(c.vocabSize)") }
            weights.embedding(id, into: h0 + r * H)
        }
    }

    /// Runs blocks `range` on hidden[range.lowerBound]; those below `keepFrom` write their
    /// activations into the shared set. The inputs of blocks from `keepFrom` up (what backward
    /// reads) and the last block's output go to `hidden`; the others pass through two buffers
    /// (evaluation at 64 rows of 128 tokens kept 0.6 GB of block inputs otherwise). With `kv`,
    /// generation's caches, and `positions`, each row's position (`DecoderLayer.forward`).
    func runBlocks(_ range: Range<Int>, batch B: Int, length T: Int, keyValid: UnsafePointer<Float>, first: Int, training: Bool,
                   rng: inout RandomSource, keepFrom: Int, kv: [KeyValueCache]? = nil, positions: [Int]? = nil) {
        let H = config.hiddenSize, N = B * T
        var input = UnsafePointer(hidden[range.lowerBound].pointer)
        for l in range {
            let kept = l + 1 >= keepFrom || l + 1 == config.layers
            let out = kept ? hidden[l + 1].ensure(N * H) : passing[(l + 1) % 2].ensure(N * H)
            layers[l].forward(x: input, out: out, keyValid: keyValid, batch: B, length: T, first: first, block: block, training: training,
                              rng: &rng, scratch: l < keepFrom ? sharedActivations : nil, kv: kv?[l], positions: positions)
            input = UnsafePointer(out)
        }
    }

    /// All parameters: the frozen base (embeddings, blocks, norms, an untied head) and the trainable block.
    public var totalParameters: Int {
        let c = config, H = c.hiddenSize, I = c.intermediateSize, q = c.queryWidth, kv = c.kvWidth
        let biases = (c.qkvBias ? q + 2 * kv : 0) + (c.outputBias ? H : 0)
        let perBlock = H * q + 2 * H * kv + q * H + 3 * H * I + 2 * H + biases
        return c.vocabSize * H * (c.tiedEmbeddings ? 1 : 2) + c.layers * perBlock + H + block.count
    }

    /// The output head's logits [rows, vocab] for `rows` rows of normed hidden states.
    public func logits(_ h: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        weights.outputHead.forward(out: out, inp: h, bias: nil, rows: rows, scratch: &tiles.buffer)
    }

    /// Backward from the gradient of the normed last hidden states [B·T, H] down to block
    /// `lowest`'s input, accumulating the modules' gradients into `block`; returns that input's
    /// gradient (valid until the next call).
    @discardableResult
    public func backward(dNormed: UnsafePointer<Float>, downTo lowest: Int = 0) -> UnsafeMutablePointer<Float> {
        let c = config, H = c.hiddenSize, B = lastBatch, T = lastLength, N = B * T
        var dh = dHidden.ensure(N * H)
        RMSNorm.backward(dinp: dh, dgamma: nil, dout: dNormed, inp: hidden[c.layers].pointer, rstd: finalRstd.pointer,
                         gamma: weights.finalNorm.pointer, rows: N, channels: H)
        var dnext = dHiddenNext.ensure(N * H)
        for l in stride(from: c.layers - 1, through: lowest, by: -1) {
            layers[l].backward(dout: dh, x: hidden[l].pointer, dx: dnext, batch: B, length: T, block: block, scratch: &scratch)
            swap(&dh, &dnext)
        }
        for m in modules { m.backward(block: block) }
        return dh
    }

    /// Greedy decoding: up to `steps` tokens after `prompt`, stopping after `stop` when given. Each
    /// step runs the whole sequence again (no key/value cache: short answers and labels only).
    public func greedy(_ prompt: [Int32], steps: Int, stop: Int32? = nil) throws(TrainerError) -> [Int32] {
        guard !prompt.isEmpty else { throw .model("greedy decoding needs a prompt of at least one token") }
        var ids = prompt, out: [Int32] = []
        let logits = FloatBuffer(count: config.vocabSize)
        for _ in 0..<steps {
            let batch = TokenBatch([TokenEncoding(ids: ids, typeIds: [Int32](repeating: 0, count: ids.count))], padId: 0)
            var unused = RandomSource(seed: 0)
            let h = try forward(batch, training: false, rng: &unused, keepActivationsFrom: config.layers)
            self.logits(h + (ids.count - 1) * config.hiddenSize, rows: 1, into: logits.pointer)
            var best = 0
            for j in 1..<config.vocabSize where logits[j] > logits[best] { best = j }
            out.append(Int32(best))
            ids.append(Int32(best))
            if Int32(best) == stop { break }
        }
        return out
    }
}
