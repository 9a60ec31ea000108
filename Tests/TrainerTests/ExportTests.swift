import JSONKit
import XCTest
import TestSupport
import Space
@testable import Trainer

/// Export layouts (names, shapes, configs) pinned without Python; tools/verify_exports.sh checks
/// the logits against HF PEFT and AdapterHub themselves.
final class ExportTests: XCTestCase {
    func model(_ plan: PEFTPlan, head: HeadInput = .pooler) throws -> (BertClassifier, RunConfig) {
        let cfg = BertConfig(vocabSize: 30, hiddenSize: 12, layers: 3, heads: 2, intermediateSize: 20, maxPositions: 32)
        let m = try BertClassifier(weights: BertWeights.random(config: cfg, seed: 1), plan: plan, labels: 2, head: head)
        try m.initialize(seed: 0)
        let run = RunConfig(model: "/models/x", task: TaskSource(spec: TaskSpec.glue("sst2")!, train: "t", dev: "d", maxLength: 16),
                            plan: plan, head: head, training: TrainingSettings())
        return (m, run)
    }

    func files(_ dir: String, _ name: String) throws -> (SafetensorsFile, JSONValue) {
        let st = try SafetensorsFile(path: dir + "/" + name)
        let cfg = try JSONParser.parse(String(contentsOfFile: dir + "/adapter_config.json", encoding: .utf8))
        return (st, cfg)
    }

    func testLoRAExportNamesShapesAndConfig() throws {
        let (m, run) = try model(PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, targets: [.query, .output], layers: .only([1, 2]))))
        let dir = scratchDirectory("trainer")
        XCTAssertEqual(try PEFTExport.export(m, config: run, to: dir), [])
        let (st, cfg) = try files(dir, "adapter_model.safetensors")
        XCTAssertEqual(st.tensors["base_model.model.bert.encoder.layer.1.attention.self.query.lora_A.weight"]?.shape, [2, 12])
        XCTAssertEqual(st.tensors["base_model.model.bert.encoder.layer.2.output.dense.lora_B.weight"]?.shape, [12, 2])
        XCTAssertEqual(st.tensors["base_model.model.classifier.weight"]?.shape, [2, 12])
        XCTAssertEqual(st.tensors.count, 2 * 2 * 2 + 2)
        XCTAssertEqual(cfg["peft_type"], .string("LORA"))
        XCTAssertEqual(cfg["task_type"], .string("SEQ_CLS"))
        XCTAssertEqual(cfg["target_modules"], .string(".*\\.layer\\.(1|2)\\.(attention\\.self\\.query|output\\.dense)"),
                       "a regex: the name output.dense alone would also match attention.output.dense")
    }

    /// An export folder that cannot be made is an error naming the path in the way and why, from
    /// both exporters (before, Foundation's error object was printed whole).
    func testAFileInTheWayOfTheExportFolderIsNamed() throws {
        let dir = scratchDirectory("trainer")
        try "not a folder".write(toFile: dir + "/file", atomically: true, encoding: .utf8)
        let (lora, run) = try model(PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, targets: [.query])))
        XCTAssertThrowsError(try PEFTExport.export(lora, config: run, to: dir + "/file/export")) {
            XCTAssertEqual("\($0)", "\(dir)/file: is a file, not a folder")
        }
        let (serial, srun) = try model(PEFTPlan(serialAdapter: AdapterSpec(size: 4)))
        XCTAssertThrowsError(try AdapterHubExport.export(serial, config: srun, to: dir + "/file")) {
            XCTAssertEqual("\($0)", "\(dir)/file: is a file, not a folder")
        }
    }

    func testPiSSAExportsAsRank2r() throws {
        let (m, run) = try model(PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, targets: [.value], initialization: .pissa)))
        let dir = scratchDirectory("trainer")
        XCTAssertEqual(try PEFTExport.export(m, config: run, to: dir).count, 1)
        let (st, cfg) = try files(dir, "adapter_model.safetensors")
        XCTAssertEqual(st.tensors["base_model.model.bert.encoder.layer.0.attention.self.value.lora_A.weight"]?.shape, [4, 12])
        XCTAssertEqual(cfg["r"], .number(4))
        XCTAssertEqual(cfg["lora_alpha"], .number(8), "alpha doubles with the rank, keeping alpha/r")
    }

    func testIA3AndPrefixLayouts() throws {
        let (m, run) = try model(PEFTPlan(ia3: IA3Spec()))
        let dir = scratchDirectory("trainer")
        _ = try PEFTExport.export(m, config: run, to: dir)
        let (st, _) = try files(dir, "adapter_model.safetensors")
        XCTAssertEqual(st.tensors["base_model.model.bert.encoder.layer.2.attention.self.key.ia3_l"]?.shape, [12, 1])
        XCTAssertEqual(st.tensors["base_model.model.bert.encoder.layer.2.output.dense.ia3_l"]?.shape, [1, 20])
        let (p, prun) = try model(PEFTPlan(prefix: PrefixSpec(length: 3, projection: 5, positions: .shifted)))
        let pdir = scratchDirectory("trainer")
        _ = try PEFTExport.export(p, config: prun, to: pdir)
        let (pst, pcfg) = try files(pdir, "adapter_model.safetensors")
        XCTAssertEqual(pst.tensors["prompt_embeddings"]?.shape, [3, 3 * 2 * 12])
        XCTAssertEqual(pst.tensors["base_model.classifier.bias"]?.shape, [2])
        XCTAssertEqual(pcfg["prefix_projection"], .bool(false), "the MLP is evaluated into the prefixes")
    }

    func testAdapterHubLayout() throws {
        let (m, run) = try model(PEFTPlan(serialAdapter: AdapterSpec(perLayer: [4, 0, 5])))
        let dir = scratchDirectory("trainer")
        _ = try AdapterHubExport.export(m, config: run, to: dir)
        let (st, cfg) = try files(dir, "adapter.safetensors")
        XCTAssertEqual(st.tensors["bert.encoder.layer.0.output.adapters.serial_adapter.adapter_down.0.weight"]?.shape, [4, 12])
        XCTAssertEqual(st.tensors["bert.encoder.layer.2.output.adapters.serial_adapter.adapter_up.weight"]?.shape, [12, 5])
        let bn = cfg["config"]
        XCTAssertEqual(bn?["leave_out"], .array([.number(1)]))
        XCTAssertEqual(bn?["original_ln_before"], .bool(false))
        // 12/5 is not whole: the factor floors back to 5 in AdapterHub's int(H // factor).
        guard case .number(let f, _)? = bn?["reduction_factor"]?["2"] else { return XCTFail("no factor for layer 2") }
        XCTAssertEqual(Int((12 / f).rounded(.down)), 5)
        XCTAssertEqual(bn?["reduction_factor"]?["0"], .number(3))
        XCTAssertEqual(try SafetensorsFile(path: dir + "/classifier.safetensors").tensors["weight"]?.shape, [2, 12])
    }

    func testInexpressibleCandidatesAreRefusedWithTheReason() throws {
        let (m, run) = try model(PEFTPlan(lora: LoRASpec(rank: 2, alpha: 2, targets: [.query]), ia3: IA3Spec()))
        XCTAssertThrowsError(try PEFTExport.export(m, config: run,
                                                   to: scratchDirectory("trainer"))) { XCTAssertTrue("\($0)".contains("combines 2")) }
        let (p, prun) = try model(PEFTPlan(prefix: PrefixSpec(length: 2, layers: .only([1]), positions: .shifted)))
        XCTAssertThrowsError(try PEFTExport.export(p, config: prun,
                                                   to: scratchDirectory("trainer"))) { XCTAssertTrue("\($0)".contains("covers every layer")) }
        // A prefix trained with positions from 0 (the default) is not what HF PEFT computes: refused, with why.
        let (z, zrun) = try model(PEFTPlan(prefix: PrefixSpec(length: 2)))
        XCTAssertThrowsError(try PEFTExport.export(z, config: zrun, to: scratchDirectory("trainer"))) {
            XCTAssertTrue("\($0)".contains("positions from 0") && "\($0)".contains("ignores position_ids"), "\($0)")
        }
        let (h, hrun) = try model(PEFTPlan(lora: LoRASpec(rank: 2, alpha: 2, targets: [.query])), head: .mean)
        XCTAssertTrue(try PEFTExport.export(h, config: hrun, to: scratchDirectory("trainer")).first?.contains("pooler") ?? false,
                      "the head mismatch is noted")
    }

    /// A prefix trained with positions from 0 goes to AdapterHub (which leaves positions alone) as a
    /// flat `control_trans` over the layers that have it; a shifted one goes to HF PEFT and is refused
    /// here with why. tools/verify_exports.sh and ExportFixtureTests check the logits in `adapters`.
    func testAdapterHubHoldsAPrefixAtPositionsFromZero() throws {
        XCTAssertTrue(AdapterHubExport.isFormat(for: PEFTPlan(prefix: PrefixSpec(length: 2))))
        XCTAssertFalse(AdapterHubExport.isFormat(for: PEFTPlan(prefix: PrefixSpec(length: 2, positions: .shifted))))
        XCTAssertFalse(AdapterHubExport.isFormat(for: PEFTPlan(lora: LoRASpec(rank: 2, alpha: 2, targets: [.query]),
                                                               prefix: PrefixSpec(length: 2))))
        let (s, srun) = try model(PEFTPlan(prefix: PrefixSpec(length: 2, positions: .shifted)))
        XCTAssertThrowsError(try AdapterHubExport.export(s, config: srun, to: scratchDirectory("trainer"))) {
            XCTAssertTrue("\($0)".contains("Shifted prefixes export to HF PEFT"), "\($0)")
        }
        let (m, run) = try model(PEFTPlan(prefix: PrefixSpec(length: 2, layers: .only([0, 2]))))
        let dir = scratchDirectory("trainer")
        XCTAssertEqual(try AdapterHubExport.export(m, config: run, to: dir), [])
        let (st, file) = try files(dir, "adapter.safetensors")
        guard case .object(let top) = file, case .object(let cfg)? = top.first(where: { $0.key == "config" })?.value else {
            return XCTFail("adapter_config.json has no config object")
        }
        let config = Dictionary(uniqueKeysWithValues: cfg.map { ($0.key, $0.value) })
        XCTAssertEqual(config["leave_out"], .array([.number(1)]))
        XCTAssertEqual(config["flat"], .bool(true))
        XCTAssertEqual(config["prefix_length"], .number(2))
        let name = "bert.prefix_tuning.prefix_tunings.prefix_tuning.self_prefix.control_trans"
        let table = try st.floats(name)
        XCTAssertEqual(table.count, 2 * 2 * 2 * 12, "P × 2 layers × (key, value) × H")
        XCTAssertEqual(st.tensors.count, 1 + 3, "the pool's name and each layer's alias")
        XCTAssertEqual(try st.floats("bert.encoder.layer.1.attention.self.prefix_tuning.pool.prefix_tunings.prefix_tuning.self_prefix."
                                     + "control_trans"), table)
        // Row t holds layer 0's key and value, then layer 2's: read back from the layers' own prefixes.
        for (i, l) in [0, 2].enumerated() {
            let p = try XCTUnwrap(m.layers[l].prefix)
            for t in 0..<2 {
                for j in 0..<12 {
                    XCTAssertEqual(table[t * 48 + i * 24 + j], p.k[t * 12 + j])
                    XCTAssertEqual(table[t * 48 + i * 24 + 12 + j], p.v[t * 12 + j])
                }
            }
        }
    }

    /// An HF PEFT export loads into the family's sequence classifier: RoBERTa's names and its
    /// classification head (dense, out_proj); a head that class does not have is refused with why.
    func testRoBERTaExportsItsModuleNamesAndClassificationHead() throws {
        var cfg = BertConfig(vocabSize: 30, hiddenSize: 12, layers: 3, heads: 2, intermediateSize: 20, maxPositions: 34)
        cfg.family = .roberta
        cfg.positionBase = 2
        cfg.typeVocabSize = 1
        func model(_ head: HeadInput, _ config: BertConfig) throws -> (BertClassifier, RunConfig) {
            let plan = PEFTPlan(lora: LoRASpec(rank: 2, alpha: 4, targets: [.query]))
            let m = try BertClassifier(weights: BertWeights.random(config: config, seed: 1), plan: plan, labels: 2, head: head)
            try m.initialize(seed: 0)
            return (m, RunConfig(model: "/models/x", task: TaskSource(spec: TaskSpec.glue("sst2")!, train: "t", dev: "d", maxLength: 16),
                                 plan: plan, head: head, training: TrainingSettings()))
        }
        let (m, run) = try model(.dense, cfg)
        let dir = scratchDirectory("trainer")
        XCTAssertEqual(try PEFTExport.export(m, config: run, to: dir), [])
        let (st, _) = try files(dir, "adapter_model.safetensors")
        XCTAssertEqual(st.tensors["base_model.model.roberta.encoder.layer.0.attention.self.query.lora_A.weight"]?.shape, [2, 12])
        XCTAssertEqual(st.tensors["base_model.model.classifier.dense.weight"]?.shape, [12, 12])
        XCTAssertEqual(st.tensors["base_model.model.classifier.out_proj.weight"]?.shape, [2, 12])
        XCTAssertTrue(try String(contentsOfFile: dir + "/README.md", encoding: .utf8).contains("RobertaForSequenceClassification"))
        let (mean, meanRun) = try model(.mean, cfg)
        XCTAssertThrowsError(try PEFTExport.export(mean, config: meanRun, to: scratchDirectory("trainer"))) {
            XCTAssertTrue("\($0)".contains("RobertaForSequenceClassification's head has a dense layer") && "\($0)".contains("\"dense\""), "\($0)")
        }
        cfg.family = .bert
        cfg.positionBase = 0
        let (bert, bertRun) = try model(.dense, cfg)
        XCTAssertThrowsError(try PEFTExport.export(bert, config: bertRun, to: scratchDirectory("trainer"))) {
            XCTAssertTrue("\($0)".contains("BertForSequenceClassification's head has no dense layer") && "\($0)".contains("\"pooler\""),
                          "\($0)")
        }
    }
}
