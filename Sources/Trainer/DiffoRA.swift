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
        let cfg = tuner.config, t = cfg.training, spec = cfg.task.spec
        let model = try BertClassifier(weights: tuner.weights, plan: supernet, labels: spec.labelCount, head: cfg.head)
        try model.initialize(seed: t.seed)
        let block = model.block
        // Gate groups by parameter name.
        var groups: [(layer: Int, module: String, ranges: [(Int, Int)])] = []
        func group(_ layer: Int, _ module: String) -> Int {
            if let i = groups.firstIndex(where: { $0.layer == layer && $0.module == module }) { return i }
            groups.append((layer, module, []))
            return groups.count - 1
        }
        for v in block.views {
            let parts = v.name.split(separator: ".")
            guard parts.count > 2, parts[0] == "encoder", parts[1] == "layer", let l = Int(parts[2]) else { continue }
            let module: String
            if v.name.hasSuffix(".lora_B"), let t = LinearTarget(name: parts[3..<(parts.count - 1)].joined(separator: ".")) {
                module = "lora:\(t.rawValue)"
            }
            else if v.name.contains("serial_adapter.up.") { module = "serial" }
            else if v.name.contains("parallel_adapter.up.") { module = "parallel" }
            else if v.name.hasSuffix("attention.prefix_key") || v.name.hasSuffix("attention.prefix_value") { module = "prefix" }
            else { continue }
            groups[group(l, module)].ranges.append((v.offset, v.count))
        }
        guard !groups.isEmpty else { throw .training("the DiffoRA supernet has no gateable module") }
        var logits = [Float](repeating: 0, count: groups.count)
        let raw = block.values.array  // W̃ lives here for gated ranges; other values live in the block
        var tilde = raw
        let rows = try tuner.trainingExamples()
        var split = RandomSource(seed: t.seed, stream: "diffora-split")
        var order = Array(rows.indices)
        order.shuffle(using: &split)
        let cut = max(1, Int(Double(rows.count) * 0.8))
        let trainIdx = Array(order[..<cut]), heldIdx = Array(order[cut...].isEmpty ? order[..<cut] : order[cut...])
        let enc = tuner.encode(rows)
        let adam = AdamW(parameterCount: block.count, weightDecay: Float(t.weightDecay))
        var gm = [Float](repeating: 0, count: groups.count), gv = gm
        let dlogits = FloatBuffer(count: t.batchSize * spec.labelCount)
        var dataRNG = RandomSource(seed: t.seed, stream: "diffora-data"), dropRNG = RandomSource(seed: t.seed, stream: "diffora-dropout")
        let schedule = LinearSchedule(base: t.learningRate, warmupFraction: t.warmupFraction, totalSteps: steps)
        func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

        /// Writes γ·W̃ into the block's gated ranges (W̃ from `tilde` for gated ranges).
        func applyGates() {
            let v = block.values.pointer
            for (g, grp) in groups.enumerated() {
                let gamma = sigmoid(logits[g])
                for (o, n) in grp.ranges { for j in o..<(o + n) { v[j] = gamma * tilde[j] } }
            }
        }
        func lossAndBackward(_ idx: [Int], training: Bool) -> Double {
            let batch = TokenBatch(idx.map { enc[$0] }, padId: tuner.tokenizer.padId)
            block.zeroGrads()
            let out = model.forward(batch, training: training, rng: &dropRNG)
            let loss = Loss.batch(logits: out, indices: idx, examples: rows, task: spec, dlogits: dlogits.pointer)
            model.backward(dlogits: dlogits.pointer)
            return loss
        }
        func batch(_ pool: [Int]) -> [Int] { (0..<min(t.batchSize,
                                                      pool.count)).map { _ in pool[Int(dataRNG.next() % UInt64(pool.count))] } }
        let start = Date()
        for step in 0..<steps {
            // Weight step: module weights (W̃ and the rest) on a training batch.
            applyGates()
            let lw = lossAndBackward(batch(trainIdx), training: true)
            guard lw.isFinite else { throw .training("DiffoRA supernet loss is \(lw) at step \(step + 1); lower the learning rate") }
            let v = block.values.pointer, gr = block.grads.pointer
            for (g, grp) in groups.enumerated() {
                let gamma = sigmoid(logits[g])
                for (o, n) in grp.ranges { for j in o..<(o + n) { gr[j] *= gamma; v[j] = tilde[j] } }
            }
            if t.maxGradNorm > 0 { clipGradientNorm(block, maxNorm: Float(t.maxGradNorm)) }
            adam.update(block, learningRate: Float(schedule.learningRate(step: step)))
            for (o, n) in groups.flatMap(\.ranges) { for j in o..<(o + n) { tilde[j] = v[j] } }
            // Gate step: gate logits on a held-out batch (dropout off).
            applyGates()
            let lg = lossAndBackward(batch(heldIdx), training: false)
            let g2 = block.grads.pointer
            let b1: Float = 0.9, b2: Float = 0.999
            for (g, grp) in groups.enumerated() {
                let grad = gateGradient(logit: logits[g], tilde: tilde, grads: g2, ranges: grp.ranges)
                gm[g] = b1 * gm[g] + (1 - b1) * grad
                gv[g] = b2 * gv[g] + (1 - b2) * grad * grad
                let mh = gm[g] / (1 - pow(b1, Float(step + 1))), vh = gv[g] / (1 - pow(b2, Float(step + 1)))
                logits[g] -= gateLearningRate * mh / (vh.squareRoot() + 1e-8)
            }
            if step % 5 == 4 || step == steps - 1 {
                let gammas = logits.map { Double(sigmoid($0)) }
                progress?(String(format: "DiffoRA step %d/%d  train loss %.4f  held-out loss %.4f  gates %.3f…%.3f  %.1f s", step
                    + 1, steps, lw, lg,
                                 gammas.min() ?? 0, gammas.max() ?? 0, Date().timeIntervalSince(start)))
            }
        }
        let dims = tuner.weights.config.dimensions
        let gates = groups.enumerated().map { g, grp in
            Gate(layer: grp.layer, module: grp.module, value: Double(sigmoid(logits[g])),
                 parameters: moduleParameters(grp.module, plan: supernet, dims: dims))
        }
        let k = max(1, Int((rho * Double(gates.count)).rounded()))
        let selected = Array(gates.sorted { $0.value > $1.value }.prefix(k))
        // Scores in SPT's units: a gate at γ says the module pays off up to 2γ times its supernet
        // cost (γ = 0.5, the untrained value, is "exactly at its size"), charged to the matrices it
        // covers as in `SensitivityScores.coverage`.
        var scores = [[Double]](repeating: [Double](repeating: 0, count: LinearTarget.allCases.count), count: dims.layers)
        func add(_ l: Int, _ t: LinearTarget, _ x: Double) { scores[l][LinearTarget.allCases.firstIndex(of: t)!] += x }
        for g in gates {
            let benefit = 2 * g.value * Double(g.parameters) / 10
            switch g.module {
            case "serial": add(g.layer, .output, benefit)
            case "parallel": add(g.layer, .intermediate, benefit / 2); add(g.layer, .output, benefit / 2)
            case "prefix": add(g.layer, .key, benefit / 2); add(g.layer, .value, benefit / 2)
            default: if let t = LinearTarget(name: String(g.module.dropFirst(5))) { add(g.layer, t, benefit) }
            }
        }
        let s = SensitivityScores(method: .diffora, layers: dims.layers, targets: LinearTarget.allCases, scores: scores,
                                  settings: ["steps": Double(steps), "rho": rho, "gate_learning_rate": Double(gateLearningRate),
                                             "seconds": Date().timeIntervalSince(start)])
        return (gates, selected, s)
    }

    /// ∂L/∂a for a gate with logit a over `ranges`, from the gradient with respect to the gated
    /// values γ·W̃: γ(1 − γ)·⟨W̃, ∂L/∂(γW̃)⟩.
    static func gateGradient(logit: Float, tilde: [Float], grads: UnsafePointer<Float>, ranges: [(Int, Int)]) -> Float {
        let gamma = 1 / (1 + exp(-logit))
        var dot: Float = 0
        for (o, n) in ranges { for j in o..<(o + n) { dot += tilde[j] * grads[j] } }
        return gamma * (1 - gamma) * dot
    }

    /// Parameters of one supernet module in one layer.
    static func moduleParameters(_ module: String, plan: PEFTPlan, dims: ModelDimensions) -> Int {
        switch module {
        case "serial", "parallel":
            let adapter = module == "serial" ? plan.serialAdapter : plan.parallelAdapter
            return adapter.map { dims.bottleneckParameters(size: $0.resolve(count: dims.layers).first?.size ?? 0) } ?? 0
        case "prefix": return plan.prefix.map { dims.prefixParameters(length: $0.length) } ?? 0
        default:
            guard let lora = plan.lora, let t = LinearTarget(name: String(module.dropFirst(5))) else { return 0 }
            return dims.loraParameters(rank: lora.rank, target: t)
        }
    }
}
