/// Which configurations of a PEFT space are the same candidate.
///
/// A module's own settings are inactive while its switch is off (`SearchSpace.init(reading:)`
/// adds "when the size is not 0" inside each group). The layer mask shared by the modules
/// (`layers`) needs a condition with several parents: it matters while any module that uses it
/// is on, and not at all when only the head trains. Without it, every mask of an all-off
/// configuration was a different point to the taboo list and the GP (a study once trained the
/// head alone 14 times with 14 masks, all scoring the same).
extension PEFTSpace {
    /// The modules, each with its switch: the size, rank or length that turns it off at 0, or the
    /// subset that turns it off when empty. Per-layer sizes (`….size[l]`) carry their own layers.
    static let switches: [(module: String, parameter: String)] = PEFTMethodKind.all.map { ($0.key, $0.switchParameter) }

    /// `space` with its shared layer mask active only while a module that uses it is on: any of
    /// the switches of the modules without a `<module>.layers` of their own. Unchanged when the
    /// space has no shared mask, when the mask has a condition of its own, when some module that
    /// uses it is always on (a fixed or non-zero size), or when no switch can turn its module off.
    public static func withLayerMaskFollowingModules(_ space: SearchSpace) -> SearchSpace {
        guard let maskIndex = space.parameters.firstIndex(where: { $0.name == "layers" }),
              case .layerMask = space.parameters[maskIndex].domain, space.parameters[maskIndex].condition == nil else { return space }
        var clauses: [Condition] = []
        for (module, name) in switches where space.parameter("\(module).layers") == nil {
            guard let p = space.parameter(name) else { continue }
            // A switch that depends on the mask would make a cycle: leave the mask as it is.
            if p.condition?.clauses.contains(where: { $0.parameter == "layers" }) == true { return space }
            switch p.domain {
            case .ordinal(let values, _) where values.contains(0):
                clauses.append(Condition(parameter: name, values: [.number(0)], negated: true))
            case .integer(let low, _, _) where low <= 0:
                clauses.append(Condition(parameter: name, values: [.number(0)], negated: true))
            case .subset(let items, let minCount) where minCount == 0:
                clauses.append(Condition(parameter: name, values: [.bits(items.map { _ in false })], negated: true))
            case .fixed(let v) where !SearchSpace.isOn(v):
                continue   // never on: it does not use the mask
            default:
                return space   // always on: the mask always matters
            }
        }
        guard let condition = Condition.anyOf(clauses) else { return space }
        var parameters = space.parameters
        parameters[maskIndex].condition = condition
        var out = SearchSpace(parameters: parameters, constraints: space.constraints)
        out.parameterCount = space.parameterCount
        return out
    }
}

extension PEFTSpace {
    /// The modules of `space` that a switch can turn on and off.
    public static func switchableModules(_ space: SearchSpace) -> Int {
        switches.filter { _, name in
            switch space.parameter(name)?.domain {
            case .ordinal(let v, _)?: return v.contains(0) && v.contains { $0 != 0 }
            case .integer(let lo, let hi, _)?: return lo <= 0 && hi > 0
            case .subset(_, 0)?: return true
            default: return false
            }
        }.count
    }

    /// `config` with every module but one turned off: the `preferred`-th of the modules on in it
    /// (counting round), so that rows asking for successive indices cycle through the methods.
    /// Unchanged when fewer than two modules are on, or when a switch cannot be turned off.
    ///
    /// Why: drawn uniformly, a union space (six methods, each with 0 among its sizes) turns on
    /// about five methods at once, so a design of 8 rows almost never holds the single-method
    /// configurations practice uses (LoRA alone, an adapter alone). A quarter of such a design's
    /// rows are made single-method with this (proposal rules 2, `Study.hypercubeRow`).
    public static func singleModule(_ config: Config, preferred: Int, in space: SearchSpace) -> Config {
        let on = switches.compactMap { _, name -> Int? in
            guard let i = space.parameters.firstIndex(where: { $0.name == name }), space.isActive(i, in: config.values),
                  SearchSpace.isOn(config.values[i]) else { return nil }
            return i
        }
        guard on.count >= 2 else { return config }
        let keep = on[preferred % on.count]
        var values = config.values
        for i in on where i != keep {
            switch space.parameters[i].domain {
            case .ordinal(let v, _) where v.contains(0): values[i] = .number(0)
            case .integer(let lo, _, _) where lo <= 0: values[i] = .number(0)
            case .subset(let items, 0): values[i] = .bits(items.map { _ in false })
            default: return config
            }
        }
        return space.canonical(Config(space: space, values: values))
    }
}
