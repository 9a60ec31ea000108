import JSONKit
/// How the parameters of a PEFT search space become a `PEFTPlan` (and training overrides).
///
/// Names (all optional; a module is on when its switch is non-zero or non-empty):
/// - `layers`: a layer mask shared by every module (the AutoPEFT space); `<module>.layers`
///   overrides it for one module. Without either, modules go in all layers.
/// - `lora.rank` (switch), `lora.targets` (subset or fixed list; default query, value),
///   `lora.alpha` (default 2 × rank), `lora.dropout`, `lora.init` (`kaiming` | `pissa`).
/// - `serial_adapter.size` / `parallel_adapter.size` (switch), or per-layer
///   `….size[l]`; `parallel_adapter.scale` (default 4).
/// - `prefix.length` (switch), `prefix.projection` (0 or absent = flat prefixes).
/// - `ia3.sites`, `bitfit.biases` (subsets; on when non-empty).
/// - `training.learning_rate`: searched or fixed training settings, returned by `overrides`.
public enum PEFTSpace {
    static let fixedNames: [String] = [
        "layers", "lora.rank", "lora.targets", "lora.alpha", "lora.dropout", "lora.init", "lora.layers",
        "serial_adapter.size", "serial_adapter.layers", "parallel_adapter.size", "parallel_adapter.layers", "parallel_adapter.scale",
        "prefix.length", "prefix.projection", "prefix.layers", "ia3.sites", "ia3.layers", "bitfit.biases", "bitfit.layers",
        "training.learning_rate",
    ]

    /// Throws for a parameter name the mapping does not know (with a did-you-mean), so a typo in a
    /// space file is caught before any training.
    public static func check(_ space: SearchSpace, file: String?, path: String = "space") throws(ConfigError) {
        for p in space.parameters {
            var base = p.name
            if let b = base.firstIndex(of: "["), base.hasSuffix("]"), base.hasSuffix(".size" + base[b...]) { base = String(base[..<b]) }
            guard fixedNames.contains(base) else {
                var msg = "unknown PEFT parameter; expected one of \(fixedNames.joined(separator: ", "))"
                if let m = didYouMean(base, among: fixedNames) { msg = "unknown PEFT parameter (did you mean \"\(m)\"?)" }
                throw ConfigError(file: file, path: "\(path).\(p.name)", message: msg)
            }
        }
    }

    /// The plan a configuration describes.
    public static func plan(_ c: Config, in space: SearchSpace, layers count: Int) throws(ConfigError) -> PEFTPlan {
        func num(_ n: String) -> Double? { c[n]?.number }
        func selection(_ module: String) -> LayerSelection {
            if let b = c["\(module).layers"]?.bits ?? c["layers"]?.bits { return .only(b.indices.filter { b[$0] }) }
            return .all
        }
        func list(_ n: String, of space: [String]) -> [String]? {
            switch c[n] {
            case .bits(let b)?: return b.indices.filter { b[$0] }.map { space.indices.contains($0) ? space[$0] : "" }
            case .strings(let s)?: return s
            case .choice(let s)?: return [s]
            default: return nil
            }
        }
        var plan = PEFTPlan()
        let shared = c["layers"]?.bits
        if let shared, !shared.contains(true) { return plan }
        if let r = num("lora.rank"), r > 0 {
            let targetNames = list("lora.targets", of: subsetItems(space, "lora.targets")) ?? ["query", "value"]
            var targets: [LinearTarget] = []
            for t in targetNames {
                guard let lt = LinearTarget(name: t) else { throw ConfigError(path: "space.lora.targets",
                                                                              message: "unknown LoRA target \"\(t)\"") }
                targets.append(lt)
            }
            if !targets.isEmpty {
                let rank = Int(r)
                let initName = c["lora.init"]?.choice ?? "kaiming"
                guard let ini = LoRASpec.Initialization(rawValue: initName) else {
                    throw ConfigError(path: "space.lora.init", message: "expected \"kaiming\" or \"pissa\", got \"\(initName)\"")
                }
                plan.lora = LoRASpec(rank: rank, alpha: num("lora.alpha") ?? Double(2 * rank), dropout: num("lora.dropout") ?? 0,
                                     targets: targets, layers: selection("lora"), initialization: ini)
            }
        }
        for module in ["serial_adapter", "parallel_adapter"] {
            var spec: AdapterSpec?
            let scale = module == "parallel_adapter" ? num("parallel_adapter.scale") ?? 4 : 1
            if let m = num("\(module).size") {
                if m > 0 { spec = AdapterSpec(size: Int(m), layers: selection(module), scale: scale) }
            } else if c["\(module).size[0]"] != nil {
                let mask = c["\(module).layers"]?.bits ?? shared
                let sizes = (0..<count).map { l -> Int in
                    if let mask, l < mask.count, !mask[l] { return 0 }
                    return Int(num("\(module).size[\(l)]") ?? 0)
                }
                if sizes.contains(where: { $0 > 0 }) { spec = AdapterSpec(perLayer: sizes, scale: scale) }
            }
            if module == "serial_adapter" { plan.serialAdapter = spec } else { plan.parallelAdapter = spec }
        }
        if let p = num("prefix.length"), p > 0 {
            let proj = num("prefix.projection").flatMap { $0 > 0 ? Int($0) : nil }
            plan.prefix = PrefixSpec(length: Int(p), layers: selection("prefix"), projection: proj)
        }
        /// The items a subset parameter chose, as enum cases (nil when absent or empty).
        func cases<E: RawRepresentable>(_ name: String, _ what: String) throws(ConfigError) -> [E]? where E.RawValue == String {
            guard let names = list(name, of: subsetItems(space, name)), !names.isEmpty else { return nil }
            var out: [E] = []
            for n in names {
                guard let e = E(rawValue: n) else { throw ConfigError(path: "space.\(name)", message: "unknown \(what) \"\(n)\"") }
                out.append(e)
            }
            return out
        }
        if let sites: [IA3Spec.Site] = try cases("ia3.sites", "(IA)³ site") { plan.ia3 = IA3Spec(sites: sites, layers: selection("ia3")) }
        if let biases: [BitFitSpec.Bias] = try cases("bitfit.biases", "BitFit bias") { plan.bitfit = BitFitSpec(biases: biases,
            layers: selection("bitfit")) }
        return plan
    }

    /// Training settings the configuration sets (`training.learning_rate` → `learning_rate`).
    public static func overrides(_ c: Config) -> [String: Double] {
        var out: [String: Double] = [:]
        for (n, v) in zip(c.names, c.values) where n.hasPrefix("training.") {
            if let x = v.number { out[String(n.dropFirst("training.".count))] = x }
        }
        return out
    }

    /// The items of a subset parameter.
    static func subsetItems(_ space: SearchSpace, _ name: String) -> [String] {
        if case .subset(let items, _)? = space.parameter(name)?.domain { return items }
        return []
    }
}
