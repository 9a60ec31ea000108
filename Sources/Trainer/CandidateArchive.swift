import JSONKit
import Foundation
import Space

/// A trained candidate on disk, in autopeft's own format:
///
///     DIR/run.json                   the run configuration (absolute paths), so the candidate can be rebuilt
///     DIR/adapter.safetensors        every trainable tensor by its name in the parameter block,
///                                    plus PiSSA residual weights (`….pissa_residual`)
///     DIR/result.json                the training result
///
/// `load` rebuilds the classifier on the same frozen model and restores the tensors. Version 2
/// writes a prefix's `positions`; a version 1 candidate's prefix was trained shifted.
public enum CandidateArchive {
    public static func save(_ model: any TrainableModel, config: RunConfig, result: TrainResult?, to dir: String) throws(TrainerError) {
        try OutputFiles.createFolder(dir)
        var tensors: [(name: String, shape: [Int], values: [Float])] = model.block.views.map { v in
            (v.name, v.shape, Array(UnsafeBufferPointer(start: model.block.value(v.offset), count: v.count)))
        }
        for layer in model.hosts {
            for t in LinearTarget.allCases {
                guard let m = layer.lora(t), let r = m.residual else { continue }
                tensors.append((residualName(layer: layer.index, target: t), [m.outFeatures, m.inFeatures], r.array))
            }
        }
        try OutputFiles.write(SafetensorsWriter.encode(tensors, metadata: ["format": "autopeft-candidate", "version": "2"]), to: dir
            + "/adapter.safetensors")
        try OutputFiles.write(config.json.serialized() + "\n", to: dir + "/run.json")
        if let result { try OutputFiles.write(result.json().serialized() + "\n", to: dir + "/result.json") }
    }

    /// Rebuilds a saved candidate: its run configuration, the frozen model and the trained tensors.
    public static func load(_ dir: String) throws(TrainerError) -> (RunConfig, FineTuner, any TrainableModel) {
        // A folder without the two files is most likely a study folder or a typo: say what is expected.
        for name in ["run.json", "adapter.safetensors"] where !FileManager.default.fileExists(atPath: dir + "/" + name) {
            throw .file(path: dir, message: "not a saved candidate: no \(name) in it (save one with autopeft train --save DIR; "
                + "a study keeps its front's in exports/trial-K after autopeft reevaluate)")
        }
        var config = try RunConfig(contentsOf: dir + "/run.json")
        // Version 1 candidates (saved before prefixes had `positions`) trained theirs shifted, HF BERT's way.
        if config.plan.prefix != nil, let text = try? String(contentsOfFile: dir + "/run.json", encoding: .utf8),
           let doc = try? JSONParser.parse(text), doc["peft"]?["prefix"]?["positions"] == nil {
            config.plan.prefix?.positions = .shifted
        }
        let tuner = try FineTuner(config: config)
        let model = try tuner.makeModel()
        let file = try SafetensorsFile(path: dir + "/adapter.safetensors")
        for v in model.block.views {
            let values = try file.floats(v.name, shape: v.shape)
            values.withUnsafeBufferPointer { model.block.value(v.offset).update(from: $0.baseAddress!, count: v.count) }
        }
        for layer in model.hosts {
            for t in LinearTarget.allCases {
                guard let m = layer.lora(t), m.initialization == .pissa else { continue }
                let name = residualName(layer: layer.index, target: t)
                m.setResidual(FloatBuffer(try file.floats(name, shape: [m.outFeatures, m.inFeatures])))
            }
        }
        return (config, tuner, model)
    }

    /// A PiSSA residual's tensor name in the archive (BERT's module names on every family: the
    /// archive is autopeft's own format).
    static func residualName(layer: Int, target: LinearTarget) -> String {
        "encoder.layer.\(layer).\(target.modulePath).pissa_residual"
    }
}
