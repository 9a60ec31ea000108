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
/// - `prefix.length` (switch), `prefix.projection` (0 or absent = flat prefixes),
///   `prefix.positions` (`"zero"`, the default, or `"shifted"`, the form HF PEFT loads).
/// - `ia3.sites`, `bitfit.biases` (subsets; on when non-empty).
/// - `training.learning_rate`: searched or fixed training settings, returned by `overrides`.
public enum PEFTSpace {
    /// Every parameter name a PEFT space may use: the shared mask, each method's own
    /// (`PEFTMethodKind.parameters`), the learning rate.
    static let fixedNames: [String] = ["layers"]
        + PEFTMethodKind.all.flatMap { kind in kind.parameters.map { "\(kind.key).\($0)" } } + ["training.learning_rate"]

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
            try checkItems(p, file: file, path: "\(path).\(p.name)")
        }
    }

    /// The items a list parameter may hold (LoRA targets, (IA)³ sites, BitFit biases), by parameter name.
    static let itemNames: [String: [String]] = Dictionary(uniqueKeysWithValues: PEFTMethodKind.all.flatMap { kind in
        kind.items.map { ("\(kind.key).\($0.key)", $0.value) }
    })

    /// Every item a subset or fixed list offers must be one the method knows, so that a misspelt
    /// site fails the space file, not every trial that draws it.
    static func checkItems(_ p: Parameter, file: String?, path: String) throws(ConfigError) {
        guard let known = itemNames[p.name] else { return }
        let items: [String]
        switch p.domain {
        case .subset(let of, _): items = of
        case .fixed(.strings(let s)): items = s
        case .fixed(.choice(let s)): items = [s]
        case .categorical(let c): items = c
        default: return
        }
        // A linear target may also be given by its full HF name (`attention.self.query`).
        for item in items where !known.contains(item) && !(known == LinearTarget.allCases.map(\.rawValue) && LinearTarget(name: item) != nil) {
            var msg = "unknown item \"\(item)\"; expected one of \(known.joined(separator: ", "))"
            if let m = didYouMean(item, among: known) { msg += " (did you mean \"\(m)\"?)" }
            throw ConfigError(file: file, path: path, message: msg)
        }
    }

    /// The plan a configuration describes: each method reads its own parameters
    /// (`PEFTMethodKind.searched`, in each method's file in `PEFT/`).
    public static func plan(_ c: Config, in space: SearchSpace, layers count: Int) throws(ConfigError) -> PEFTPlan {
        let v = ConfigView(config: c, space: space, layers: count)
        if let shared = v.shared, !shared.contains(true) { return PEFTPlan() }
        var methods: [any PEFTMethodSpec] = []
        for kind in PEFTMethodKind.all { if let m = try kind.searched(v) { methods.append(m) } }
        return PEFTPlan(methods: methods)
    }

    /// A configuration as the PEFT methods read it: numbers, layer selections and chosen lists.
    struct ConfigView {
        let config: Config
        let space: SearchSpace
        /// The model's layer count.
        let layers: Int

        /// The shared layer mask (`layers`), when the space has one.
        var shared: [Bool]? { config["layers"]?.bits }

        func number(_ name: String) -> Double? { config[name]?.number }

        /// `<module>.layers`, else the shared mask, else every layer.
        func selection(_ module: String) -> LayerSelection {
            if let b = config["\(module).layers"]?.bits ?? shared { return .only(b.indices.filter { b[$0] }) }
            return .all
        }

        /// The items a subset (or fixed list, or single choice) parameter chose.
        func list(_ name: String) -> [String]? {
            switch config[name] {
            case .bits(let b)?:
                let items = subsetItems(space, name)
                return b.indices.filter { b[$0] }.map { items.indices.contains($0) ? items[$0] : "" }
            case .strings(let s)?: return s
            case .choice(let s)?: return [s]
            default: return nil
            }
        }

        /// The items a subset parameter chose, as enum cases (nil when absent or empty).
        func cases<E: RawRepresentable>(_ name: String, _ what: String) throws(ConfigError) -> [E]? where E.RawValue == String {
            guard let names = list(name), !names.isEmpty else { return nil }
            var out: [E] = []
            for n in names {
                guard let e = E(rawValue: n) else { throw ConfigError(path: "space.\(name)", message: "unknown \(what) \"\(n)\"") }
                out.append(e)
            }
            return out
        }
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
