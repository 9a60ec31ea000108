import XCTest
import Space
@testable import Trainer

/// Whole-model gradient checks on a tiny random BERT: LoRA on every target, each head,
/// classification and regression, with dropout on (the same seeded masks in every pass).
final class ModelGradientTests: XCTestCase {
    static let tiny = BertConfig(vocabSize: 40, hiddenSize: 8, layers: 3, heads: 2, intermediateSize: 12,
                                 maxPositions: 16, typeVocabSize: 2, layerNormEps: 1e-5, hiddenDropout: 0.1, attentionDropout: 0.1)

    static func batch() -> TokenBatch {
        let encs: [WordPieceTokenizer.Encoding] = [
            .init(ids: [1, 5, 9, 13, 2, 7, 2], typeIds: [0, 0, 0, 0, 0, 1, 1]),
            .init(ids: [1, 22, 31, 2], typeIds: [0, 0, 0, 0]),
            .init(ids: [1, 4, 4, 17, 39, 2], typeIds: [0, 0, 0, 0, 0, 0]),
        ]
        return TokenBatch(encs, padId: 0)
    }

    /// The tiny model as RoBERTa: positions from 2, one token type.
    static var tinyRoberta: BertConfig {
        var c = tiny
        c.family = .roberta
        c.positionBase = 2
        c.maxPositions = 18
        c.typeVocabSize = 1
        return c
    }

    func check(plan: PEFTPlan, head: HeadInput, labels: Int, dropout: Bool = true, config: BertConfig = tiny,
               file: StaticString = #filePath, line: UInt = #line) throws {
        var cfg = config
        if !dropout { cfg.hiddenDropout = 0; cfg.attentionDropout = 0 }
        let weights = BertWeights.random(config: cfg, seed: 7)
        let model = try BertClassifier(weights: weights, plan: plan, labels: labels, head: head)
        try model.initialize(seed: 1)
        // B starts at zero, which would make A's gradient vanish: randomise the whole block (small
        // values: at 0.5 some points had softmax so peaked that no ε resolved the curvature).
        var r = RandomSource(seed: 3)
        for i in 0..<model.block.count { model.block.values[i] = Float(r.nextGaussian()) * 0.2 }
        var batch = Self.batch()
        if cfg.typeVocabSize == 1 { batch.typeIds = batch.typeIds.map { _ in 0 } }
        let targetsC = [1, 0, labels - 1]
        let targetsR: [Float] = [0.3, -1.2, 2.0]
        let dlogits = FloatBuffer(count: batch.batch * labels)
        func loss(_ d: UnsafeMutablePointer<Float>?) -> Double {
            var rng = RandomSource(seed: 11)
            let logits = model.forward(batch, training: true, rng: &rng)
            return labels == 1 ? Loss.meanSquaredError(predictions: logits, targets: targetsR, dlogits: d)
                               : Loss.crossEntropy(logits: logits, targets: targetsC, classes: labels, dlogits: d)
        }
        model.block.zeroGrads()
        _ = loss(dlogits.pointer)
        model.backward(dlogits: dlogits.pointer)
        let analytic = model.block.grads.array
        for view in model.block.views {
            // A key bias shifts every score of a query equally: softmax ignores it, so its gradient
            // is exactly zero (unless a prefix adds keys without that bias).
            let keyBias = view.name.hasSuffix("attention.self.key.bias") && plan.prefix == nil
            checkGradient("\(plan.json.serialized()) \(head).\(view.name)", param: model.block.value(view.offset), count: view.count,
                          analytic: Array(analytic[view.offset..<(view.offset + view.count)]),
                          // ReLU kinks: a smaller step crosses them far less often (roundoff at 2e-3 is ~1e-4).
                          eps: plan.serialAdapter != nil || plan.parallelAdapter != nil ? 2e-3 : 2e-2,
                          atol: 2e-4, samples: 24, allowZero: keyBias,
                          pattern: { model.activationSignature }, file: file, line: line) { loss(nil) }
            if keyBias {
                XCTAssertEqual(analytic[view.offset..<(view.offset + view.count)].map { abs($0) }.max() ?? 0, 0, accuracy: 1e-6,
                               "key bias gradient is zero", file: file, line: line)
            }
        }
    }

    func testLoRAOnEachTargetAlone() throws {
        for t in LinearTarget.ungated {
            try check(plan: PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, dropout: 0.2, targets: [t], layers: .only([1, 2]))),
                      head: .pooler, labels: 2)
        }
    }

    func testLoRAOnAllTargetsAllLayersEachHead() throws {
        let plan = PEFTPlan(lora: LoRASpec(rank: 3, alpha: 3, dropout: 0.1, targets: LinearTarget.ungated, layers: .all))
        for head in HeadInput.allCases { try check(plan: plan, head: head, labels: 3) }
    }

    func testRegressionGradientsWithEachHeadWithAndWithoutLoRA() throws {
        try check(plan: PEFTPlan(), head: .mean, labels: 1)
        try check(plan: PEFTPlan(), head: .dense, labels: 1)   // only the head trains: backward stops at its dense layer
        try check(plan: PEFTPlan(lora: LoRASpec(rank: 2, alpha: 2, targets: [.query, .value])), head: .pooler, labels: 1)
        try check(plan: PEFTPlan(lora: LoRASpec(rank: 2, alpha: 2, targets: [.value], layers: .only([2]))), head: .cls, labels: 1,
                  dropout: false)
    }

    func testEachModuleAloneAndAllCombined() throws {
        let plans: [(String, PEFTPlan)] = [
            ("serial", PEFTPlan(serialAdapter: AdapterSpec(size: 4, layers: .only([1, 2])))),
            ("parallel", PEFTPlan(parallelAdapter: AdapterSpec(size: 3, layers: .all, scale: 4))),
            ("prefix", PEFTPlan(prefix: PrefixSpec(length: 2, layers: .only([0, 2])))),
            ("prefix-mlp", PEFTPlan(prefix: PrefixSpec(length: 3, layers: .only([1, 2]), projection: 5))),
            ("ia3", PEFTPlan(ia3: IA3Spec(layers: .all))),
            ("bitfit", PEFTPlan(bitfit: BitFitSpec(layers: .only([1, 2])))),
            ("union", PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, dropout: 0.1, targets: [.value, .intermediate]),
                               serialAdapter: AdapterSpec(perLayer: [0, 3, 2]), parallelAdapter: AdapterSpec(size: 2, scale: 4),
                               prefix: PrefixSpec(length: 2), ia3: IA3Spec(sites: [.key, .feedforward]),
                               bitfit: BitFitSpec(biases: [.value, .intermediate, .outputNorm]))),
        ]
        for (_, plan) in plans {
            for head in [HeadInput.pooler, .mean] {
                try check(plan: plan, head: head, labels: 2)
            }
        }
    }

    /// The RoBERTa family runs the same block from other positions: every method, alone and
    /// combined, checked on it too.
    func testEachModuleOnRoBERTa() throws {
        let plans = [PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, dropout: 0.1, targets: LinearTarget.ungated)),
                     PEFTPlan(serialAdapter: AdapterSpec(size: 4, layers: .only([1, 2]))),
                     PEFTPlan(parallelAdapter: AdapterSpec(size: 3, layers: .all, scale: 4)),
                     PEFTPlan(prefix: PrefixSpec(length: 2, layers: .only([0, 2]))),
                     PEFTPlan(prefix: PrefixSpec(length: 2, positions: .shifted)),
                     PEFTPlan(ia3: IA3Spec(layers: .all)), PEFTPlan(bitfit: BitFitSpec(layers: .only([1, 2]))),
                     PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, targets: [.value]), serialAdapter: AdapterSpec(size: 2),
                              prefix: PrefixSpec(length: 2), ia3: IA3Spec(sites: [.key]), bitfit: BitFitSpec(biases: [.value]))]
        for plan in plans {
            for head in [HeadInput.cls, .mean, .dense] { try check(plan: plan, head: head, labels: 2, config: Self.tinyRoberta) }
        }
    }

    /// The tiny model as ELECTRA: embeddings narrower than the hidden size (6 against 8) and
    /// projected up, its head's dense layer followed by GELU.
    static var tinyElectra: BertConfig {
        var c = tiny
        c.family = .electra
        c.embeddingSize = 6
        return c
    }

    /// ELECTRA's projected embeddings and GELU head: LoRA, a prefix and BitFit through them, with each head.
    func testEachModuleOnELECTRA() throws {
        let plans = [PEFTPlan(), PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, dropout: 0.1, targets: LinearTarget.ungated)),
                     // The prefix below the last layer: there, through the first token alone, its keys' gradients
                     // are all below what a central difference resolves.
                     PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, targets: [.value]), prefix: PrefixSpec(length: 2, layers: .only([0, 1])),
                              bitfit: BitFitSpec(biases: [.value]))]
        for plan in plans {
            for head in [HeadInput.cls, .dense, .last] { try check(plan: plan, head: head, labels: 2, config: Self.tinyElectra) }
        }
    }

    /// PiSSA: at init the model computes what the pretrained one does (residual + s·B·A = W).
    func testPiSSAStartsAtTheOriginalFunction() throws {
        var cfg = Self.tiny
        cfg.hiddenDropout = 0
        cfg.attentionDropout = 0
        let weights = BertWeights.random(config: cfg, seed: 7)
        let plain = try BertClassifier(weights: weights, plan: PEFTPlan(), labels: 2, head: .mean)
        try plain.initialize(seed: 1)
        let pissa = try BertClassifier(weights: weights, plan: PEFTPlan(lora: LoRASpec(rank: 3, alpha: 6, targets: LinearTarget.ungated,
                                                                                      initialization: .pissa)), labels: 2, head: .mean)
        try pissa.initialize(seed: 1)
        var rng = RandomSource(seed: 0)
        let a = Array(UnsafeBufferPointer(start: plain.forward(Self.batch(), training: false, rng: &rng), count: 6))
        let b = Array(UnsafeBufferPointer(start: pissa.forward(Self.batch(), training: false, rng: &rng), count: 6))
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-5) }
        XCTAssertNotEqual(pissa.block.values.array.prefix(20).map { $0 == 0 }, [Bool](repeating: true, count: 20), "A and B are not zero")
        try check(plan: PEFTPlan(lora: LoRASpec(rank: 2, alpha: 2, targets: [.query, .output], initialization: .pissa)),
                  head: .cls, labels: 2)
    }

    /// Backward stops at the lowest adapted layer: the gradients of a plan in layers 1-2 do not
    /// depend on whether layer 0's backward ran (it must not), and equal finite differences above.
    /// A backward pass runs through the layers from the top down to the lowest one holding a
    /// trainable module, and through none below it (none at all when only the head trains).
    func testLowestTrainableLayerIsWhereBackwardStops() throws {
        let batch = Self.batch()
        for (plan, lowest) in [(PEFTPlan(lora: LoRASpec(rank: 2, alpha: 2, targets: [.query], layers: .only([1]))), 1),
                               (PEFTPlan(serialAdapter: AdapterSpec(size: 2, layers: .only([2]))), 2), (PEFTPlan(), Self.tiny.layers)] {
            let model = try BertClassifier(weights: BertWeights.random(config: Self.tiny, seed: 7), plan: plan, labels: 2, head: .pooler)
            try model.initialize(seed: 0)
            XCTAssertEqual(model.lowestTrainableLayer, lowest)
            var rng = RandomSource(seed: 1)
            let logits = model.forward(batch, training: true, rng: &rng)
            let d = FloatBuffer(count: batch.batch * 2)
            _ = Loss.crossEntropy(logits: logits, targets: [1, 0, 1], classes: 2, dlogits: d.pointer)
            model.backward(dlogits: d.pointer)
            XCTAssertEqual(model.layers.map(\.backwardPasses), (0..<Self.tiny.layers).map { $0 >= lowest ? 1 : 0 },
                           "lowest trainable layer \(lowest)")
        }
    }

    /// The analytic count of trainable scalars equals what the trainer allocates, for 200 random
    /// plans mixing every module kind.
    func testAnalyticParameterCountEqualsAllocated() throws {
        var rng = RandomSource(seed: 21)
        let weights = BertWeights.random(config: Self.tiny, seed: 7)
        func coin() -> Bool { rng.next() % 2 == 0 }
        func layers() -> LayerSelection {
            let ls = (0..<3).filter { _ in coin() }
            return ls.isEmpty ? .all : .only(ls)
        }
        for trial in 0..<200 {
            let labels = Int(rng.next() % 3) + 1
            var plan = PEFTPlan()
            let targets = LinearTarget.ungated.filter { _ in coin() }
            if coin(), !targets.isEmpty { plan.lora = LoRASpec(rank: Int(rng.next() % 8) + 1, alpha: 8, targets: targets,
                                                               layers: layers()) }
            if coin() { plan.serialAdapter = coin() ? AdapterSpec(size: Int(rng.next() % 16) + 1, layers: layers())
                                                    : AdapterSpec(perLayer: (0..<3).map { _ in Int(rng.next() % 5) }) }
            if coin() { plan.parallelAdapter = AdapterSpec(size: Int(rng.next() % 16) + 1, layers: layers(), scale: 4) }
            if coin() { plan.prefix = PrefixSpec(length: Int(rng.next() % 6) + 1, layers: layers(),
                                                 projection: coin() ? Int(rng.next() % 7) + 1 : nil) }
            if coin() { plan.ia3 = IA3Spec(sites: IA3Spec.Site.allCases.filter { _ in coin() }, layers: layers()) }
            if coin() { plan.bitfit = BitFitSpec(biases: BitFitSpec.Bias.allCases.filter { _ in coin() }, layers: layers()) }
            let model = try BertClassifier(weights: weights, plan: plan, labels: labels, head: .cls)
            XCTAssertEqual(model.trainableParameters, plan.trainableParameters(dims: Self.tiny.dimensions, labels: labels),
                           "plan \(trial): \(plan)")
            let dense = try BertClassifier(weights: weights, plan: plan, labels: labels, head: .dense)
            XCTAssertEqual(dense.trainableParameters, plan.trainableParameters(dims: Self.tiny.dimensions, labels: labels, denseHead: true),
                           "plan \(trial) with the dense head: \(plan)")
            // The coverage that priors and DiffoRA read charges every module parameter to a weight
            // matrix, except the LayerNorm shifts BitFit may train (no matrix of their own).
            let norms = (plan.bitfit?.biases ?? []).filter { $0 == .attentionNorm || $0 == .outputNorm }.count
                * (plan.bitfit?.layers.resolve(count: Self.tiny.layers).count ?? 0) * Self.tiny.hiddenSize
            let charged = SensitivityScores.coverage(plan, dims: Self.tiny.dimensions).reduce(0.0) { $0 + $1.cost }
            XCTAssertEqual(charged, Double(plan.moduleParameters(dims: Self.tiny.dimensions) - norms),
                           accuracy: 1e-9 * max(1, charged), "plan \(trial): coverage")
        }
    }
}
