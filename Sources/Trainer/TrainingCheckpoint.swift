import JSONKit
import Foundation
import Space

/// Which part of a run to train: a cheap fidelity is the first steps of the target run (the same
/// rows, data order and learning-rate schedule, which is defined by the whole run), so promoting a
/// configuration continues where its cheap trial stopped instead of starting over.
public struct TrainingSegment: Sendable {
    /// Stop after this many optimiser steps (nil: run to the end).
    public var stopAfterSteps: Int?
    /// Or after this share of the run's steps (rounded up, at least one step).
    public var stopAfterShare: Double?
    /// A checkpoint of an earlier segment of the same run to continue from. When it is missing,
    /// torn or of another run, training starts over from step 0, which reaches the same state
    /// (a seed fixes the run bit for bit), only slower.
    public var resumeFrom: String?
    /// Where to write the state at the stop, for a later segment.
    public var checkpointTo: String?
    /// Where to save the state when asked to stop early (a preemption signal), and continue from on
    /// the next attempt: tried before `resumeFrom`, since it is further along the same run.
    public var preemptTo: String?
    /// When the segment stops before the end of the run: evaluate after a cool-down branch of
    /// this share of the run's steps up to the stop (rounded up), the learning rate falling linearly
    /// from the schedule's value at the stop to zero, on the data that come next. The branch is
    /// for evaluation only: the checkpoint for the next segment is the state at the stop, so a
    /// continued run is the same as one never stopped. Why: a prefix of a long schedule is scored
    /// at a learning rate near the peak, where scores rank configurations worse than after an
    /// annealed run of the same length (bench/fidelity/agreement).
    public var coolDownShare: Double?

    public init(stopAfterSteps: Int? = nil, stopAfterShare: Double? = nil, resumeFrom: String? = nil, checkpointTo: String? = nil) {
        self.stopAfterSteps = stopAfterSteps
        self.stopAfterShare = stopAfterShare
        self.resumeFrom = resumeFrom
        self.checkpointTo = checkpointTo
    }

    /// The whole run, no checkpoint.
    public static let whole = TrainingSegment()

    /// Where a run of `total` steps stops.
    public func stop(total: Int) -> Int {
        if let s = stopAfterSteps { return min(s, total) }
        if let share = stopAfterShare { return min(total, max(1, Int((share * Double(total)).rounded(.up)))) }
        return total
    }

    /// The cool-down branch's steps after a stop at `stop` of `total` (0 at the end of the run).
    public func coolDownSteps(stop: Int, total: Int) -> Int {
        guard let share = coolDownShare, share > 0, stop < total else { return 0 }
        return Int((share * Double(stop)).rounded(.up))
    }
}

/// A run's state between two segments, in a folder:
///
///     DIR/state.safetensors   values, adam_m, adam_v: the trainable block and AdamW's moments
///     DIR/state.json          step, AdamW's step, the position in the epoch, both generators'
///                             states, the run's fingerprint, and a seal: FNV-1a over the tensors'
///                             bytes and the json's other fields
///
/// state.safetensors is written first and state.json last, each through a temporary file and a
/// rename, so a kill leaves either the old checkpoint or a json whose seal does not match the
/// tensors (refused as torn), never a silently mixed one.
public struct TrainingCheckpoint {
    public var step: Int
    public var adamStep: Int
    public var epoch: Int
    /// Batches of the current epoch already trained (0 at an epoch boundary).
    public var batchInEpoch: Int
    /// The data generator at the start of the current epoch (it draws the epoch's batches).
    public var epochStartRNG: [UInt64]
    public var dropoutRNG: [UInt64]
    public var seen: Int
    public var runningLoss: Double, lastLoss: Double
    /// FNV-1a of the run configuration (without its stop): a checkpoint continues only its own run.
    public var fingerprint: String
    public var values: [Float], adamM: [Float], adamV: [Float]

    public func write(to dir: String) throws(TrainerError) {
        try OutputFiles.createFolder(dir)
        let n = values.count
        let tensors = SafetensorsWriter.encode([("values", [n], values), ("adam_m", [n], adamM), ("adam_v", [n], adamV)],
                                               metadata: ["format": "autopeft-checkpoint"])
        try OutputFiles.write(tensors, to: dir + "/state.safetensors")
        func words(_ s: [UInt64]) -> JSONValue { .array(s.map { .string(String($0)) }) }
        let fields: [(key: String, value: JSONValue)] = [
            ("format", .number(1)), ("step", .number(step)), ("adam_step", .number(adamStep)), ("epoch", .number(epoch)),
            ("batch_in_epoch", .number(batchInEpoch)), ("epoch_start_rng", words(epochStartRNG)), ("dropout_rng", words(dropoutRNG)),
            ("seen", .number(seen)), ("running_loss", .number(runningLoss)), ("last_loss", .number(lastLoss.isFinite ? lastLoss : 0)),
            ("fingerprint", .string(fingerprint)),
        ]
        let json: JSONValue = .object(fields + [("seal", .string(Self.seal(tensors, fields)))])
        try OutputFiles.write(json.serialized() + "\n", to: dir + "/state.json")
    }

    /// The checkpoint in `dir`, or nil (with the reason) when it is missing, torn or not of this run.
    public static func read(_ dir: String, fingerprint: String) -> (TrainingCheckpoint?, String) {
        guard let jsonData = FileManager.default.contents(atPath: dir + "/state.json") else { return (nil, "no checkpoint in \(dir)") }
        guard let tensors = FileManager.default.contents(atPath: dir + "/state.safetensors") else { return (nil, "\(dir): no tensors") }
        do {
            let value = try JSONParser.parse(bytes: [UInt8](jsonData))
            let r = JSONReader(value, file: dir + "/state.json")
            guard try r.required("fingerprint").string() == fingerprint else { return (nil, "\(dir) belongs to another run") }
            guard case .object(let members) = value,
                  try r.required("seal").string() == seal(tensors, members.filter { $0.key != "seal" }) else {
                return (nil, "\(dir) is torn (state.json does not match state.safetensors)")
            }
            func words(_ key: String) throws -> [UInt64] { try r.required(key).array().map { UInt64(try $0.string()) ?? 0 } }
            let file = try SafetensorsFile(data: tensors, path: dir + "/state.safetensors")
            let c = TrainingCheckpoint(
                step: try r.required("step").int(), adamStep: try r.required("adam_step").int(), epoch: try r.required("epoch").int(),
                batchInEpoch: try r.required("batch_in_epoch").int(), epochStartRNG: try words("epoch_start_rng"),
                dropoutRNG: try words("dropout_rng"), seen: try r.required("seen").int(),
                runningLoss: try r.required("running_loss").double(), lastLoss: try r.required("last_loss").double(),
                fingerprint: fingerprint,
                values: try file.floats("values"), adamM: try file.floats("adam_m"), adamV: try file.floats("adam_v"))
            return (c, "")
        } catch {
            return (nil, "\(dir): \(error)")
        }
    }

    /// FNV-1a over the tensors' bytes, then the other fields as serialised.
    static func seal(_ tensors: Data, _ fields: [(key: String, value: JSONValue)]) -> String {
        var h = FNV1a()
        tensors.withUnsafeBytes { h.mix(bytes: $0) }
        h.mix(bytes: JSONValue.object(fields).serialized().utf8)
        return String(h.value, radix: 16)
    }
}
