import Foundation
import Space

/// DiffoRA-style module scores from a gated supernet.
///
/// The paper's method section is not at hand; these are the choices made here (README, "DiffoRA"):
/// - **Supernet**: every module kind the space can use, in every layer, at a middle size.
/// - **Gate form**: one logit a per (layer, module); the module's output is scaled by
///   γ = sigmoid(a), a = 0 at the start. Every module here ends in a linear map (LoRA's B, an
///   adapter's up-projection and its bias) or in vectors (prefix keys and values), so the gate is
///   implemented by reparameterising those as γ·W̃: forward uses γ·W̃, W̃ gets γ·∂L/∂(γW̃), and
///   ∂L/∂a = γ(1 − γ)·⟨W̃, ∂L/∂(γW̃)⟩. For prefixes the gate scales the prefix vectors.
/// - **Schedule**: the training rows are split 80/20; each step takes one batch of the 80% for the
///   module weights (AdamW at the space's learning rate) and then one batch of the 20% for the
///   gate logits (Adam, learning rate 0.05, no weight decay), alternating (first-order DARTS).
/// - **Reading**: γ per (layer, module) is the module-wise score; the top-ρ of them (ρ = 0.5 by
///   default) is the discrete selection (the "Differential Adaptation Matrix").
public enum DiffoRAScorer {
    public struct Gate: Sendable {
        public var layer: Int
        /// `lora:<target>`, `serial`, `parallel` or `prefix`.
        public var module: String
        public var value: Double
        /// Module parameters per layer in the supernet (for the score scale).
        public var parameters: Int
    }

    public static func score(tuner: FineTuner, supernet: PEFTPlan, steps: Int = 60, rho: Double = 0.5, gateLearningRate: Float = 0.05,
                             progress: ((String) -> Void)? = nil) throws(TrainerError) -> (gates: [Gate], selected: [Gate],
                                 scores: SensitivityScores) {
        let net = try GatedSupernet(tuner: tuner, plan: supernet, steps: steps, gateLearningRate: gateLearningRate)
        let start = Date()
        for step in 0..<steps {
            let trainLoss = try net.weightStep(step: step)
            let heldOutLoss = net.gateStep(step: step)
            if step % 5 == 4 || step == steps - 1 {
                let gammas = net.logits.map { Double(GatedSupernet.sigmoid($0)) }
                let elapsed = Date().timeIntervalSince(start)
                progress?(String(format: "DiffoRA step %d/%d  train loss %.4f  held-out loss %.4f  gates %.3f…%.3f  %.1f s  ETA %@",
                                 step + 1, steps, trainLoss, heldOutLoss, gammas.min() ?? 0, gammas.max() ?? 0, elapsed,
                                 formatTimeLeft(elapsed: elapsed, done: step + 1, left: steps - step - 1)))
            }
        }
        let dims = tuner.base.dimensions
        let gates = net.groups.enumerated().map { g, grp in
            Gate(layer: grp.layer, module: grp.module, value: Double(GatedSupernet.sigmoid(net.logits[g])),
                 parameters: modulePlan(grp.module, layer: grp.layer, supernet: supernet, dims: dims).moduleParameters(dims: dims))
        }
        let k = max(1, Int((rho * Double(gates.count)).rounded()))
        let selected = Array(gates.sorted { $0.value > $1.value }.prefix(k))
        let settings = ["steps": Double(steps), "rho": rho, "gate_learning_rate": Double(gateLearningRate),
                        "seconds": Date().timeIntervalSince(start)]
        return (gates, selected, sensitivity(gates, supernet: supernet, dims: dims, settings: settings))
    }

    /// Scores in SPT's units: a gate at γ says the module pays off up to 2γ times its supernet cost
    /// (γ = 0.5, the untrained value, is "exactly at its size"), charged to the matrices the module
    /// covers in the proportions its own charges give (`PEFTPlan.charges`).
    static func sensitivity(_ gates: [Gate], supernet: PEFTPlan, dims: ModelDimensions, settings: [String: Double]) -> SensitivityScores {
        let targets = dims.linearTargets
        var scores = [[Double]](repeating: [Double](repeating: 0, count: targets.count), count: dims.layers)
        for g in gates {
            let benefit = 2 * g.value * Double(g.parameters) / 10
            let charges = modulePlan(g.module, layer: g.layer, supernet: supernet, dims: dims).charges(dims: dims)
            let total = charges.reduce(0) { $0 + $1.cost }
            for c in charges where total > 0 { scores[c.layer][targets.firstIndex(of: c.target)!] += benefit * (c.cost / total) }
        }
        return SensitivityScores(method: .diffora, layers: dims.layers, targets: targets, scores: scores, settings: settings)
    }

    /// ∂L/∂a for a gate with logit a over `ranges`, from the gradient with respect to the gated
    /// values γ·W̃: γ(1 − γ)·⟨W̃, ∂L/∂(γW̃)⟩.
    static func gateGradient(logit: Float, tilde: [Float], grads: UnsafePointer<Float>, ranges: [(Int, Int)]) -> Float {
        let gamma = 1 / (1 + exp(-logit))
        var dot: Float = 0
        for (o, n) in ranges { for j in o..<(o + n) { dot += tilde[j] * grads[j] } }
        return gamma * (1 - gamma) * dot
    }

    /// One gated module of the supernet alone, in one layer: what its parameters and charges are
    /// read from. `module` is `lora:<target>`, `serial`, `parallel` or `prefix`.
    static func modulePlan(_ module: String, layer: Int, supernet: PEFTPlan, dims: ModelDimensions) -> PEFTPlan {
        TrainerMethods.all.lazy.compactMap { $0.gatedPlan(module, layer: layer, supernet: supernet, dims: dims) }.first ?? PEFTPlan()
    }
}

/// The supernet during DiffoRA's search: the model, its gate groups and logits, W̃ (the gated
/// weights before the gate), the data split and the optimisers' state. One `weightStep` then one
/// `gateStep` per step, alternating (first-order DARTS).
final class GatedSupernet {
    let model: BertClassifier
    /// Gate groups: the parameter ranges one (layer, module) gate scales.
    let groups: [(layer: Int, module: String, ranges: [(Int, Int)])]
    private(set) var logits: [Float]
    private var tilde: [Float]
    private let tuner: FineTuner
    private let rows: [Example], encoded: [WordPieceTokenizer.Encoding]
    private let trainRows: [Int], heldOutRows: [Int]
    private let adam: AdamW
    private let schedule: LinearSchedule
    private let gateLearningRate: Float
    private var gateMean: [Float], gateVariance: [Float]
    private let dlogits: FloatBuffer
    private var dataRNG: RandomSource, dropRNG: RandomSource

    static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

    init(tuner: FineTuner, plan: PEFTPlan, steps: Int, gateLearningRate: Float) throws(TrainerError) {
        let cfg = tuner.config, t = cfg.training, spec = cfg.task.spec
        model = try BertClassifier(weights: tuner.base.encoderWeights(for: "the DiffoRA supernet"), plan: plan, labels: spec.labelCount, head: cfg.head)
        try model.initialize(seed: t.seed)
        groups = Self.gateGroups(model.block)
        guard !groups.isEmpty else { throw .training("the DiffoRA supernet has no gateable module") }
        logits = [Float](repeating: 0, count: groups.count)
        tilde = model.block.values.array
        self.tuner = tuner
        rows = try tuner.trainingExamples()
        var split = RandomSource(seed: t.seed, stream: "diffora-split")
        var order = Array(rows.indices)
        order.shuffle(using: &split)
        let cut = max(1, Int(Double(rows.count) * 0.8))
        trainRows = Array(order[..<cut])
        heldOutRows = Array(order[cut...].isEmpty ? order[..<cut] : order[cut...])
        encoded = tuner.encode(rows)
        adam = AdamW(parameterCount: model.block.count, weightDecay: Float(t.weightDecay))
        schedule = LinearSchedule(base: t.learningRate, warmupFraction: t.warmupFraction, totalSteps: steps)
        self.gateLearningRate = gateLearningRate
        gateMean = [Float](repeating: 0, count: groups.count)
        gateVariance = gateMean
        dlogits = FloatBuffer(count: t.batchSize * spec.labelCount)
        dataRNG = RandomSource(seed: t.seed, stream: "diffora-data")
        dropRNG = RandomSource(seed: t.seed, stream: "diffora-dropout")
    }

    /// (layer, module) gates by parameter name: LoRA's B per target, an adapter's up-projection,
    /// a layer's prefix keys and values.
    static func gateGroups(_ block: ParameterBlock) -> [(layer: Int, module: String, ranges: [(Int, Int)])] {
        var groups: [(layer: Int, module: String, ranges: [(Int, Int)])] = []
        for v in block.views {
            let parts = v.name.split(separator: ".")
            guard parts.count > 2, parts[0] == "encoder", parts[1] == "layer", let l = Int(parts[2]) else { continue }
            let rest = parts[3...].joined(separator: ".")
            guard let module = TrainerMethods.all.lazy.compactMap({ $0.gatedModule(parameter: rest) }).first else { continue }
            if let i = groups.firstIndex(where: { $0.layer == l && $0.module == module }) {
                groups[i].ranges.append((v.offset, v.count))
            } else {
                groups.append((l, module, [(v.offset, v.count)]))
            }
        }
        return groups
    }

    /// Writes γ·W̃ into the block's gated ranges.
    private func applyGates() {
        let v = model.block.values.pointer
        for (g, grp) in groups.enumerated() {
            let gamma = Self.sigmoid(logits[g])
            for (o, n) in grp.ranges { for j in o..<(o + n) { v[j] = gamma * tilde[j] } }
        }
    }

    private func batch(_ pool: [Int]) -> [Int] {
        (0..<min(tuner.config.training.batchSize, pool.count)).map { _ in pool[Int(dataRNG.next() % UInt64(pool.count))] }
    }

    private func lossAndBackward(_ idx: [Int], training: Bool) -> Double {
        let batch = TokenBatch(idx.map { encoded[$0] }, padId: tuner.tokenizer.padId)
        model.block.zeroGrads()
        let out = model.forward(batch, training: training, rng: &dropRNG)
        let loss = Loss.batch(logits: out, indices: idx, examples: rows, task: tuner.config.task.spec, dlogits: dlogits.pointer)
        model.backward(dlogits: dlogits.pointer)
        return loss
    }

    /// The module weights (W̃ and the rest) on a training batch; returns its loss.
    func weightStep(step: Int) throws(TrainerError) -> Double {
        let t = tuner.config.training, block = model.block
        applyGates()
        let loss = lossAndBackward(batch(trainRows), training: true)
        guard loss.isFinite else { throw .training("DiffoRA supernet loss is \(loss) at step \(step + 1); lower the learning rate") }
        let v = block.values.pointer, gr = block.grads.pointer
        for (g, grp) in groups.enumerated() {
            let gamma = Self.sigmoid(logits[g])
            for (o, n) in grp.ranges { for j in o..<(o + n) { gr[j] *= gamma; v[j] = tilde[j] } }
        }
        if t.maxGradNorm > 0 { clipGradientNorm(block, maxNorm: Float(t.maxGradNorm)) }
        adam.update(block, learningRate: Float(schedule.learningRate(step: step)))
        for (o, n) in groups.flatMap(\.ranges) { for j in o..<(o + n) { tilde[j] = v[j] } }
        return loss
    }

    /// The gate logits on a held-out batch, dropout off (Adam, β = 0.9, 0.999); returns its loss.
    func gateStep(step: Int) -> Double {
        applyGates()
        let loss = lossAndBackward(batch(heldOutRows), training: false)
        let grads = model.block.grads.pointer
        let b1: Float = 0.9, b2: Float = 0.999
        for (g, grp) in groups.enumerated() {
            let grad = DiffoRAScorer.gateGradient(logit: logits[g], tilde: tilde, grads: grads, ranges: grp.ranges)
            gateMean[g] = b1 * gateMean[g] + (1 - b1) * grad
            gateVariance[g] = b2 * gateVariance[g] + (1 - b2) * grad * grad
            let mh = gateMean[g] / (1 - pow(b1, Float(step + 1))), vh = gateVariance[g] / (1 - pow(b2, Float(step + 1)))
            logits[g] -= gateLearningRate * mh / (vh.squareRoot() + 1e-8)
        }
        return loss
    }
}
