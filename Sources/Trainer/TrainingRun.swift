import Foundation
import Space

/// One run's training loop and its state: the model, AdamW, the schedule over the whole run,
/// both generators and the position in the data. `train(until:)` may be called after `restore`,
/// and a run trained to step s, saved and restored, continues exactly as an uninterrupted one.
final class TrainingRun {
    let tuner: FineTuner
    let model: any TrainableModel
    let objective: any TrainingObjective
    let examples: [Example], encodings: [TokenEncoding], lengths: [Int]
    let cache: FrozenPrefixCache?
    let adam: AdamW
    let schedule: LinearSchedule
    let totalSteps: Int
    private(set) var step = 0, epoch = 0, batchInEpoch = 0, seen = 0
    private(set) var runningLoss = 0.0, lastLoss = Double.nan
    private var dataRNG: RandomSource, epochStartRNG: RandomSource, dropRNG: RandomSource
    private var batches: [[Int]]?

    init(tuner: FineTuner, model: any TrainableModel, objective: any TrainingObjective, examples: [Example],
         encodings: [TokenEncoding], cache: FrozenPrefixCache?) {
        let t = tuner.config.training
        self.tuner = tuner
        self.model = model
        self.objective = objective
        self.examples = examples
        self.encodings = encodings
        lengths = encodings.map(\.ids.count)
        self.cache = cache
        totalSteps = tuner.totalSteps(rows: examples.count)
        schedule = LinearSchedule(base: t.learningRate, warmupFraction: t.warmupFraction, totalSteps: totalSteps)
        adam = AdamW(parameterCount: model.block.count, weightDecay: Float(t.weightDecay))
        dataRNG = RandomSource(seed: t.seed, stream: "data")
        epochStartRNG = dataRNG
        dropRNG = RandomSource(seed: t.seed, stream: "dropout")
    }

    /// Trains until `stop` optimiser steps have been taken in all, at the run's schedule unless
    /// `learningRate` (of the step) is given; returns the examples this call saw.
    @discardableResult
    func train(until stop: Int, learningRate: ((Int) -> Double)? = nil) throws(TrainerError) -> Int {
        let t = tuner.config.training
        let start = Date(), startStep = step, startSeen = seen
        var lastReport = Date.distantPast
        while step < stop {
            if tuner.stopRequested?() == true { return seen - startSeen }
            if batches == nil {
                epochStartRNG = dataRNG
                batches = FineTuner.epochBatches(lengths: lengths, batchSize: t.batchSize, grouping: t.lengthGrouping, rng: &dataRNG)
                batchInEpoch = 0
            }
            let idx = batches![batchInEpoch]
            let batch = TokenBatch(idx.map { encodings[$0] }, padId: tuner.tokenizer.padId)
            model.block.zeroGrads()
            let loss = try objective.trainingStep(batch, rows: idx, rng: &dropRNG, cache: cache)
            guard loss.isFinite else {
                throw .training("loss is \(loss) at epoch \(epoch + 1), step \(step + 1): lower the learning rate (now \(t.learningRate))")
            }
            if t.maxGradNorm > 0 { clipGradientNorm(model.block, maxNorm: Float(t.maxGradNorm)) }
            adam.update(model.block, learningRate: Float(learningRate?(step) ?? schedule.learningRate(step: step)))
            step += 1
            seen += idx.count
            runningLoss = step == 1 ? loss : 0.95 * runningLoss + 0.05 * loss
            lastLoss = loss
            let shownEpoch = epoch + 1
            batchInEpoch += 1
            if batchInEpoch == batches!.count { epoch += 1; batches = nil }
            let now = Date()
            if now.timeIntervalSince(lastReport) >= 2 || step == stop {
                lastReport = now
                let elapsed = now.timeIntervalSince(start)
                tuner.progress?.report(String(format: "epoch %d/%d  step %d/%d  loss %.4f  %.1f ex/s  ETA %@", shownEpoch,
                                              t.epochs, step, stop, runningLoss, Double(seen - startSeen) / elapsed,
                                              formatTimeLeft(elapsed: elapsed, done: step - startStep, left: stop - step)))
            }
        }
        return seen - startSeen
    }

    /// Trains `steps` more with the learning rate falling linearly from the schedule's value now
    /// to zero (the last step's rate is 1/steps of it): an annealed end for a run stopped early.
    /// The state afterwards is a branch; a continuation starts from a checkpoint taken before.
    @discardableResult
    func coolDown(steps: Int) throws(TrainerError) -> Int {
        let start = step, peak = schedule.learningRate(step: step)
        return try train(until: start + steps) { s in peak * Double(start + steps - s) / Double(steps) }
    }

    /// The state now, to continue later.
    func checkpoint() -> TrainingCheckpoint {
        let a = adam.state
        let boundary = batches == nil
        return TrainingCheckpoint(step: step, adamStep: a.step, epoch: epoch, batchInEpoch: boundary ? 0 : batchInEpoch,
                                  epochStartRNG: (boundary ? dataRNG : epochStartRNG).state, dropoutRNG: dropRNG.state,
                                  seen: seen, runningLoss: runningLoss, lastLoss: lastLoss, fingerprint: tuner.fingerprint,
                                  values: model.block.values.array, adamM: a.m, adamV: a.v)
    }

    /// Continues from a checkpoint of this run; false (nothing changed) when it does not fit.
    func restore(_ c: TrainingCheckpoint) -> Bool {
        guard c.values.count == model.block.count, c.step <= totalSteps, let start = RandomSource(state: c.epochStartRNG),
              let drop = RandomSource(state: c.dropoutRNG), adam.restore(m: c.adamM, v: c.adamV, step: c.adamStep) else { return false }
        c.values.withUnsafeBufferPointer { model.block.values.pointer.update(from: $0.baseAddress!, count: c.values.count) }
        step = c.step; epoch = c.epoch; seen = c.seen; runningLoss = c.runningLoss; lastLoss = c.lastLoss
        dropRNG = drop
        dataRNG = start
        epochStartRNG = start
        if c.batchInEpoch > 0 {
            batches = FineTuner.epochBatches(lengths: lengths, batchSize: tuner.config.training.batchSize,
                                             grouping: tuner.config.training.lengthGrouping, rng: &dataRNG)
            batchInEpoch = c.batchInEpoch
        } else {
            batches = nil
            batchInEpoch = 0
        }
        return true
    }
}

/// What one optimiser step asks of the task: the batch's loss, and its gradients accumulated into
/// the model's block.
protocol TrainingObjective {
    func trainingStep(_ batch: TokenBatch, rows: [Int], rng: inout RandomSource, cache: FrozenPrefixCache?) throws(TrainerError) -> Double
}

/// Classification and regression: the classifier's logits, `Loss.batch`, backward from dlogits.
final class ClassificationObjective: TrainingObjective {
    let model: any SequenceClassifier
    let examples: [Example]
    let task: TaskSpec
    private let dlogits: FloatBuffer

    init(model: any SequenceClassifier, examples: [Example], task: TaskSpec, batchSize: Int) {
        self.model = model
        self.examples = examples
        self.task = task
        dlogits = FloatBuffer(count: max(batchSize, 1) * task.labelCount)
    }

    func trainingStep(_ batch: TokenBatch, rows: [Int], rng: inout RandomSource, cache: FrozenPrefixCache?) throws(TrainerError) -> Double {
        let logits = try model.forward(batch, training: true, rng: &rng, cache: cache, rows: rows)
        let loss = Loss.batch(logits: logits, indices: rows, examples: examples, task: task, dlogits: dlogits.pointer)
        if loss.isFinite { model.backward(dlogits: dlogits.pointer) }
        return loss
    }
}

/// Causal-LM tasks: the mean negative log-likelihood of the counted tokens (`DecoderLanguageModel.loss`).
final class LanguageModelingObjective: TrainingObjective {
    let model: DecoderLanguageModel
    let counted: [[Bool]]

    init(model: DecoderLanguageModel, encodings: [LanguageModelingEncoding]) {
        self.model = model
        counted = encodings.map(\.counted)
    }

    func trainingStep(_ batch: TokenBatch, rows: [Int], rng: inout RandomSource, cache: FrozenPrefixCache?) throws(TrainerError) -> Double {
        try model.loss(batch, counted: Self.mask(rows.map { counted[$0] }, length: batch.length), backward: true, rng: &rng,
                       cache: cache, rows: rows).mean
    }

    /// The rows' counted flags padded to the batch's length, row-major [B·T].
    static func mask(_ rows: [[Bool]], length: Int) -> [Bool] {
        rows.flatMap { $0 + [Bool](repeating: false, count: length - $0.count) }
    }
}
