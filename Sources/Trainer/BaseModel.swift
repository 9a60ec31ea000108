import JSONKit
import Foundation
import Space

/// Where a model's files are: a Hugging Face directory (`config.json`, `model.safetensors`, the
/// tokenizer's files), or a GGUF file (given itself, or as the one `.gguf` file of a directory).
public enum ModelSource: Equatable, Sendable {
    case huggingFace(directory: String)
    case gguf(file: String)

    /// Finds the model at `path`; a path that holds neither form is refused with what was expected.
    public static func locate(_ path: String) throws(TrainerError) -> ModelSource {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw .file(path: path, message: "model not found (run scripts/setup to fetch all-MiniLM-L6-v2 and SmolLM2-135M, or give a "
                + "Hugging Face model directory or a GGUF file)")
        }
        guard isDir.boolValue else {
            guard path.hasSuffix(".gguf") else { throw .file(path: path, message: "a model is a directory or a .gguf file") }
            return .gguf(file: path)
        }
        if FileManager.default.fileExists(atPath: path + "/config.json") { return .huggingFace(directory: path) }
        let ggufs = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".gguf") }.sorted()
        guard ggufs.count == 1 else {
            throw .file(path: path, message: ggufs.isEmpty ? "no config.json and no .gguf file in the model directory"
                : "no config.json and \(ggufs.count) .gguf files (\(ggufs.joined(separator: ", "))): give the file itself")
        }
        return .gguf(file: path + "/" + ggufs[0])
    }

    /// The file the weights come from: what identifies them in a frozen-prefix cache's key.
    public var weightsFile: String {
        switch self {
        case .huggingFace(let dir): return dir + "/model.safetensors"
        case .gguf(let file): return file
        }
    }

    /// The sizes parameter counts depend on, read without loading the weights (a search's space
    /// check): `config.json`'s, or a GGUF file's metadata. Problems come back as a `ConfigError` on the path.
    public static func dimensions(_ path: String) throws(ConfigError) -> ModelDimensions {
        // A model that is not there keeps config.json's error, which names the file.
        guard let source = try? locate(path) else { return try ModelDimensions(configFile: path + "/config.json") }
        switch source {
        case .huggingFace(let dir): return try ModelDimensions(configFile: dir + "/config.json")
        case .gguf(let file):
            do { return try DecoderConfig(gguf: GGUFFile(path: file)).dimensions } catch {
                throw ConfigError(file: file, path: "", message: "\(error)")
            }
        }
    }

    /// Whether the model is a decoder (`config.json`'s `model_type` a `DecoderFamily`, or GGUF),
    /// without loading it; false when it cannot be read (loading says why).
    public static func isDecoder(_ path: String) -> Bool {
        switch try? locate(path) {
        case .gguf?: return true
        case .huggingFace(let dir)?:
            guard let root = try? readJSONFile(dir + "/config.json", what: "config.json"),
                  case .string(let type)? = root["model_type"] else { return false }
            return DecoderFamily(rawValue: type) != nil
        case nil: return false
        }
    }
}

/// The frozen model a run fine-tunes: an encoder (`EncoderFamily`) or a decoder (`DecoderFamily`).
/// What differs between them stays here and in the two classifiers; the trainer sees a
/// `SequenceClassifier`.
public enum BaseModel {
    case encoder(BertWeights)
    case decoder(DecoderWeights)

    /// The families autopeft trains, for refusals.
    public static var supportedFamilies: [String] { EncoderFamily.allCases.map(\.rawValue) + DecoderFamily.allCases.map(\.rawValue) }

    /// Loads the weights and the tokenizer at `path` (see `ModelSource`). A GGUF base keeps its
    /// quantized linear maps in their blocks (`QuantizedMatrix`): the QLoRA setting, a frozen base
    /// in 4 or 8 bits and everything trained in fp32.
    public static func load(_ path: String) throws(TrainerError) -> (model: BaseModel, tokenizer: any TextTokenizer, source: ModelSource) {
        let source = try ModelSource.locate(path)
        switch source {
        case .gguf(let file):
            let gguf = try GGUFFile(path: file)
            let weights = try DecoderWeights(config: try DecoderConfig(gguf: gguf), gguf: gguf, keepQuantized: true)
            return (.decoder(weights), try ByteLevelBPETokenizer(gguf: gguf), source)
        case .huggingFace(let dir):
            let root = try readJSONFile(dir + "/config.json", what: "config.json")
            let tokenizer = try Tokenizers.load(directory: dir)
            let weightsFile = try SafetensorsFile(path: source.weightsFile)
            if case .string(let type)? = root["model_type"], DecoderFamily(rawValue: type) != nil {
                let config = try DecoderConfig(contentsOf: dir + "/config.json")
                return (.decoder(try DecoderWeights(config: config, safetensors: weightsFile)), tokenizer, source)
            }
            let config = try BertConfig(contentsOf: dir + "/config.json")
            return (.encoder(try BertWeights(config: config, safetensors: weightsFile)), tokenizer, source)
        }
    }

    /// The sizes parameter counts depend on.
    public var dimensions: ModelDimensions {
        switch self {
        case .encoder(let w): return w.config.dimensions
        case .decoder(let w): return w.config.dimensions
        }
    }

    /// Tokens a text may take (an encoder's positions after its first; a decoder's context).
    public var textPositions: Int {
        switch self {
        case .encoder(let w): return w.config.usablePositions
        case .decoder(let w): return w.config.maxPositions
        }
    }

    /// The head a run file that names none trains: the pooler on an encoder (HF's
    /// `BertForSequenceClassification`), the last real token on a decoder.
    public static func defaultHead(model path: String) -> HeadInput { ModelSource.isDecoder(path) ? .last : .pooler }

    /// The encoder's weights, for what only encoders do yet (`what` says what, in the refusal).
    public func encoderWeights(for what: String) throws(TrainerError) -> BertWeights {
        guard case .encoder(let w) = self else { throw .model("\(what) works on encoders (BERT, RoBERTa, ELECTRA) only so far") }
        return w
    }

    /// A causal-LM task's model: a decoder with the plan's modules, scored by its own output head.
    public func languageModel(plan: PEFTPlan) throws(TrainerError) -> DecoderLanguageModel {
        guard case .decoder(let w) = self else {
            throw .model("a causal_lm task needs a decoder (" + DecoderFamily.allCases.map(\.rawValue).joined(separator: ", ")
                + "); this model is an encoder")
        }
        return try DecoderLanguageModel(weights: w, plan: plan)
    }

    /// The classifier of a plan on this model: the plan's modules attached, the head declared.
    public func classifier(plan: PEFTPlan, labels: Int, head: HeadInput) throws(TrainerError) -> any SequenceClassifier {
        switch self {
        case .encoder(let w): return try BertClassifier(weights: w, plan: plan, labels: labels, head: head)
        case .decoder(let w):
            guard head == .last else {
                throw .config(ConfigError(path: "head", message: "a decoder reads its last real token: expected \"last\" (or no head), "
                    + "not \"\(head.rawValue)\""))
            }
            return try DecoderClassifier(weights: w, plan: plan, labels: labels)
        }
    }
}
