import Foundation

/// A PEFT plan (a hand-picked baseline given as `"peft"`) as a point of a space's encoding, so
/// that what it scored informs the surrogate like any trial.
///
/// Each parameter takes the plan's value where the encoding can hold it:
/// - layer masks and subsets: the plan's layers and items (items the subset lacks are dropped);
///   the shared mask is the union of the layers of the modules that use it;
/// - ordinals, integers and reals: the plan's number placed on the parameter's (log) axis, also
///   between the listed values (serial 48 between 32 and 64), clamped to the axis's ends;
/// - categoricals and fixed values: the plan's value when the parameter admits it, else theirs
///   (the point is then not exact);
/// - a parameter the plan says nothing of (a learning rate not given): its default;
/// - an inactive parameter: its default, as `encode` does.
/// A plan the space cannot hold at all is nil: a module on that the space lacks or cannot turn
/// on, or a module off that the space cannot turn off. Such a baseline stays out of the model
/// (it is still run first and compared with the front).
extension PEFTSpace {
    /// A value a plan gives one of a space's parameters.
    public indirect enum PlanValue: Sendable, Equatable {
        case number(Double)
        case items([String])
        case layers([Int])
        /// A value that stands for the plan only roughly (adapters of different sizes per layer).
        case inexact(PlanValue)
    }

    /// Where a plan sits in a space.
    public struct PlanPoint: Sendable {
        /// The point of [0, 1]^d, off the grid where the plan's values are.
        public var encoding: [Double]
        /// The configuration nearest to it (canonical).
        public var nearest: Config
        /// True when the nearest configuration is the plan itself (same plan, same learning rate):
        /// then it is that configuration, evaluated.
        public var exact: Bool
    }

    /// The values the plan gives the space's parameter names (`searchedValues` of each method),
    /// switches of absent modules at off, and the learning rate when given.
    static func planValues(_ plan: PEFTPlan, learningRate: Double?, space: SearchSpace, layers count: Int) -> [String: PlanValue] {
        var v: [String: PlanValue] = [:]
        // A switch off: an empty list for a list switch ((IA)³ sites, BitFit biases), else 0.
        for kind in PEFTMethodKind.all { v[kind.switchParameter] = kind.items[kind.parameters[0]] != nil ? .items([]) : .number(0) }
        for m in plan.methods { v.merge(m.searchedValues(layers: count)) { $1 } }
        if space.parameter("layers") != nil {
            // The shared mask: the union of the layers of the modules on that have no layers of their own.
            var union = Set<Int>(), sets = Set<[Int]>()
            for (module, _) in switches where space.parameter("\(module).layers") == nil {
                guard case .layers(let ls)? = v["\(module).layers"], moduleIsOn(module, plan) else { continue }
                union.formUnion(ls)
                sets.insert(ls)
            }
            let all = PlanValue.layers(union.sorted())
            v["layers"] = sets.count > 1 ? .inexact(all) : all
        }
        if let learningRate { v["training.learning_rate"] = .number(learningRate) }
        return v
    }

    static func moduleIsOn(_ module: String, _ plan: PEFTPlan) -> Bool { plan.method(module) != nil }

    /// The point of `plan` in `space` (see the type's comment), or nil where the space cannot hold it.
    public static func point(of plan: PEFTPlan, learningRate: Double?, in space: SearchSpace, layers count: Int) -> PlanPoint? {
        let given = planValues(plan, learningRate: learningRate, space: space, layers: count)
        // Every module the plan turns on needs a switch in the space.
        for (module, name) in switches where moduleIsOn(module, plan) && space.parameter(name) == nil
            && space.parameter("\(name)[0]") == nil { return nil }
        var nearest: [ParameterValue] = [], positions: [[Double]?] = [], exact = true
        for p in space.parameters {
            var value = given[p.name]
            if case .inexact(let inner)? = value { exact = false; value = inner }
            guard let value else {
                nearest.append(p.defaultValue)
                positions.append(nil)
                if p.name.hasPrefix("training.") { exact = false }
                continue
            }
            guard let (v, position, onGrid) = place(value, on: p) else { return nil }
            nearest.append(v)
            positions.append(position)
            if !onGrid { exact = false }
        }
        let config = space.canonical(Config(space: space, values: nearest))
        // A switch the plan sets that the space cannot take (off where 0 is not a value) is no point of it.
        for (_, name) in switches {
            guard let i = space.parameters.firstIndex(where: { $0.name == name }), let want = given[name] else { continue }
            if SearchSpace.isOn(config.values[i]) != isOn(want) { return nil }
        }
        var encoding = space.encode(config)
        var k = 0
        for (i, p) in space.parameters.enumerated() {
            defer { k += p.width }
            guard space.isActive(i, in: config.values), let position = positions[i] else { continue }
            encoding.replaceSubrange(k..<(k + p.width), with: position)
        }
        if exact, let same = try? PEFTSpace.plan(config, in: space, layers: count) {
            // The same values (layer selections resolved: "all" and every layer are one) and rate.
            let rate = PEFTSpace.overrides(config)["learning_rate"]
            exact = planValues(same, learningRate: learningRate, space: space, layers: count) == given
                && (rate == nil || rate == learningRate)
        } else {
            exact = false
        }
        return PlanPoint(encoding: encoding, nearest: config, exact: exact)
    }

    static func isOn(_ v: PlanValue) -> Bool {
        switch v {
        case .number(let x): return x != 0
        case .items(let s): return !s.isEmpty
        case .layers(let l): return !l.isEmpty
        case .inexact(let inner): return isOn(inner)
        }
    }

    /// A plan's value on one parameter: the nearest legal value, its encoded slice (possibly off
    /// the grid), and whether the value is on the grid; nil when the parameter cannot hold it.
    static func place(_ value: PlanValue, on p: Parameter) -> (ParameterValue, [Double], onGrid: Bool)? {
        switch (p.domain, value) {
        case let (.layerMask(l, _), .layers(ls)):
            let bits = (0..<l).map { ls.contains($0) }
            return (.bits(bits), bits.map { $0 ? 1 : 0 }, ls.allSatisfy { $0 < l })
        case let (.subset(items, _), .items(names)):
            let bits = items.map { names.contains($0) }
            return (.bits(bits), bits.map { $0 ? 1 : 0 }, names.allSatisfy(items.contains))
        case let (.ordinal(values, logScale), .number(x)):
            let position = min(max(SearchSpace.ordinalPosition(x, values: values, logScale: logScale), 0), 1)
            let near = values.min { abs(SearchSpace.ordinalPosition($0, values: values, logScale: logScale) - position)
                < abs(SearchSpace.ordinalPosition($1, values: values, logScale: logScale) - position) } ?? x
            // Off (0) and on must stay what the plan says: a module's size never rounds to 0.
            let nearest = x != 0 && near == 0 ? values.first { $0 > 0 } ?? near : near
            return (.number(nearest), [position], values.contains(x))
        case let (.integer(lo, hi, log), .number(x)):
            let v = min(max(x.rounded(), Double(lo)), Double(hi))
            return (.number(v), [min(max(SearchSpace.rangePosition(x, Double(lo), Double(hi), log: log), 0), 1)], v == x)
        case let (.real(lo, hi, log), .number(x)):
            let v = min(max(x, lo), hi)
            return (.number(v), [SearchSpace.rangePosition(v, lo, hi, log: log)], v == x)
        case let (.categorical(choices), .items(names)):
            // A choice the space lacks (PiSSA where it offers Kaiming only): its default, roughly.
            let choice = names.count == 1 && choices.contains(names[0]) ? names[0] : choices[0]
            return (.choice(choice), choices.map { $0 == choice ? 1 : 0 }, choice == names.first)
        case let (.fixed(f), _):
            // A fixed value stays; the point is exact only where the plan agrees (LoRA's alpha).
            switch (f, value) {
            case let (.number(a), .number(b)): return (f, [], a == b)
            case let (.strings(a), .items(b)): return (f, [], Set(a) == Set(b))
            case let (.choice(a), .items(b)): return (f, [], b == [a])
            case let (.flag(a), .number(b)): return (f, [], (b != 0) == a)
            default: return (f, [], false)
            }
        default:
            return nil
        }
    }
}
