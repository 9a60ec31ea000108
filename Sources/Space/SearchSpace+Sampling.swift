import Foundation
import JSONKit

public struct SamplingError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

extension SearchSpace {
    /// One value of a parameter drawn uniformly from its domain (each bit of a mask or subset is a
    /// fair coin; minimum counts are enforced by rejection).
    func sampleValue(_ p: Parameter, _ rng: inout SplitMix64) -> ParameterValue {
        switch p.domain {
        case .layerMask(let l, let minOn):
            while true {
                let b = (0..<l).map { _ in rng.next() & 1 == 1 }
                if b.filter({ $0 }).count >= minOn { return .bits(b) }
            }
        case .subset(let items, let minCount):
            while true {
                let b = items.map { _ in rng.next() & 1 == 1 }
                if b.filter({ $0 }).count >= minCount { return .bits(b) }
            }
        case .ordinal(let v, _): return .number(v[Int(rng.next() % UInt64(v.count))])
        case .categorical(let c): return .choice(c[Int(rng.next() % UInt64(c.count))])
        case let .integer(lo, hi, log):
            if log { return .number(min(max(Self.rangeValue(rng.unit(), Double(lo) - 0.5 + 1e-9, Double(hi) + 0.5, log: false),
                                            Double(lo)), Double(hi)).rounded()) }
            return .number(Double(lo + Int(rng.next() % UInt64(hi - lo + 1))))
        case let .real(lo, hi, log): return .number(Self.rangeValue(rng.unit(), lo, hi, log: log))
        case .fixed(let v): return v
        }
    }

    /// A valid configuration drawn uniformly per parameter (inactive ones at their default),
    /// redrawn until every constraint holds.
    public func sample(_ rng: inout SplitMix64, maxAttempts: Int = 100_000) throws(SamplingError) -> Config {
        for _ in 0..<maxAttempts {
            var values: [ParameterValue] = []
            for (i, p) in parameters.enumerated() {
                values.append(p.defaultValue)
                values[i] = isActive(i, in: values) ? sampleValue(p, &rng) : p.defaultValue
            }
            let c = canonical(Config(space: self, values: values))
            if violation(c) == nil { return c }
        }
        throw SamplingError(message: "no valid configuration in \(maxAttempts) random draws: the constraints leave (almost) "
            + "nothing of the space")
    }

    /// Every valid configuration one change away: flip a layer bit or a subset item, step an
    /// ordinal or an integer one notch, switch a categorical, or move a real by ±`realStep` of
    /// its (encoded) range. Only active parameters move; results are canonical and distinct.
    public func neighbours(of config: Config, realStep: Double = 0.1) -> [Config] {
        let base = canonical(config)
        var out: [Config] = []
        var seen: Set<String> = [key(base)]
        func add(_ i: Int, _ v: ParameterValue) {
            var values = base.values
            values[i] = v
            let c = canonical(Config(space: self, values: values))
            guard violation(c) == nil, seen.insert(key(c)).inserted else { return }
            out.append(c)
        }
        for (i, p) in parameters.enumerated() where isActive(i, in: base.values) {
            let v = base.values[i]
            switch (p.domain, v) {
            case (.layerMask, .bits(let b)), (.subset, .bits(let b)):
                for k in b.indices { var f = b; f[k].toggle(); add(i, .bits(f)) }
            case (.ordinal(let vals, _), .number(let x)):
                let sorted = vals.sorted()
                if let k = sorted.firstIndex(of: x) {
                    if k > 0 { add(i, .number(sorted[k - 1])) }
                    if k + 1 < sorted.count { add(i, .number(sorted[k + 1])) }
                }
            case (.categorical(let choices), .choice(let s)):
                for c in choices where c != s { add(i, .choice(c)) }
            case let (.integer(lo, hi, _), .number(x)):
                if x > Double(lo) { add(i, .number(x - 1)) }
                if x < Double(hi) { add(i, .number(x + 1)) }
            case let (.real(lo, hi, log), .number(x)):
                let u = Self.rangePosition(x, lo, hi, log: log)
                for d in [-realStep, realStep] {
                    let w = min(max(u + d, 0), 1)
                    if w != u { add(i, .number(min(max(Self.rangeValue(w, lo, hi, log: log), lo), hi))) }
                }
            default:
                break
            }
        }
        return out
    }
}
