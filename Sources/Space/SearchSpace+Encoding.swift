import Foundation

/// Configurations ⇄ points of [0, 1]^d for the Gaussian process.
///
/// Layer masks and subsets are 0/1 per bit; ordinals are placed by their (log) value between the
/// smallest and the largest; categoricals are one-hot; integers and reals map their (log) range
/// onto [0, 1]. Inactive parameters encode their default (inactive masks and subsets: nothing
/// chosen, with `inactiveSetsEncodeEmpty`), so equal canonical configurations encode equally.
/// `decode(encode(c)) == canonical(c)`.
extension SearchSpace {
    public func encode(_ config: Config) -> [Double] {
        let c = canonical(config)
        let active = inactiveSetsEncodeEmpty ? activeNames(c) : []
        var out: [Double] = []
        out.reserveCapacity(dimensions)
        for (p, v) in zip(parameters, c.values) {
            switch (p.domain, v) {
            case (.layerMask, .bits(let b)), (.subset, .bits(let b)):
                let empty = inactiveSetsEncodeEmpty && !active.contains(p.name)
                out += b.map { $0 && !empty ? 1 : 0 }
            case let (.ordinal(values, logScale), .number(x)):
                out.append(Self.ordinalPosition(x, values: values, logScale: logScale))
            case let (.categorical(choices), .choice(s)):
                out += choices.map { $0 == s ? 1 : 0 }
            case let (.integer(lo, hi, log), .number(x)):
                out.append(Self.rangePosition(x, Double(lo), Double(hi), log: log))
            case let (.real(lo, hi, log), .number(x)):
                out.append(Self.rangePosition(x, lo, hi, log: log))
            case (.fixed, _):
                break
            default:
                out += Array(repeating: 0, count: p.width)
            }
        }
        return out
    }

    /// The configuration nearest to a point of [0, 1]^d (bits by threshold 0.5, ordinals to the
    /// nearest encoded value, categoricals by the largest coordinate), canonicalised. It may
    /// violate constraints: check with `violation`.
    public func decode(_ x: [Double]) -> Config {
        canonical(Config(space: self, values: decodedValues(x)))
    }

    /// Each parameter's value nearest to its slice of `x`, before canonicalisation (inactive
    /// parameters keep what `x` says): `decode`'s first half, for mappings that replace some values.
    public func decodedValues(_ x: [Double]) -> [ParameterValue] {
        var values: [ParameterValue] = []
        var k = 0
        for p in parameters {
            let w = p.width
            let slice = Array(x[k..<(k + w)])
            k += w
            switch p.domain {
            case .layerMask, .subset:
                values.append(.bits(slice.map { $0 >= 0.5 }))
            case let .ordinal(vals, logScale):
                let best = vals.min { abs(Self.ordinalPosition($0, values: vals,
                                                               logScale: logScale) - slice[0]) < abs(Self.ordinalPosition($1,
                                                               values: vals, logScale: logScale) - slice[0]) }!
                values.append(.number(best))
            case .categorical(let choices):
                let i = slice.indices.max { slice[$0] < slice[$1] } ?? 0
                values.append(.choice(choices[i]))
            case let .integer(lo, hi, log):
                let v = Self.rangeValue(slice[0], Double(lo), Double(hi), log: log).rounded()
                values.append(.number(min(max(v, Double(lo)), Double(hi))))
            case let .real(lo, hi, log):
                values.append(.number(min(max(Self.rangeValue(slice[0], lo, hi, log: log), lo), hi)))
            case .fixed(let v):
                values.append(v)
            }
        }
        return values
    }

    static func ordinalPosition(_ x: Double, values: [Double], logScale: Bool) -> Double {
        guard let lo = values.min(), let hi = values.max(), hi > lo else { return 0 }
        if logScale {
            // Zero ("off") sits one geometric step below the smallest positive value p₁ (at p₁²/p₂),
            // so that powers of two with a 0 in front stay evenly spaced.
            let pos = values.filter { $0 > 0 }.sorted()
            guard let p1 = pos.first else { return 0 }
            let floorValue = pos.count > 1 ? p1 * p1 / pos[1] : p1 / 2
            func place(_ v: Double) -> Double { Foundation.log(v > 0 ? v : floorValue) }
            let a = place(lo), b = place(hi)
            return b > a ? (place(x) - a) / (b - a) : 0
        }
        return (x - lo) / (hi - lo)
    }

    static func rangePosition(_ x: Double, _ lo: Double, _ hi: Double, log: Bool) -> Double {
        guard hi > lo else { return 0 }
        return log ? (Foundation.log(x) - Foundation.log(lo)) / (Foundation.log(hi) - Foundation.log(lo)) : (x - lo) / (hi - lo)
    }

    static func rangeValue(_ u: Double, _ lo: Double, _ hi: Double, log: Bool) -> Double {
        log ? exp(Foundation.log(lo) + u * (Foundation.log(hi) - Foundation.log(lo))) : lo + u * (hi - lo)
    }

    /// A stable text key of the canonical configuration: equal keys, equal configurations.
    public func key(_ config: Config) -> String {
        canonical(config).values.map { v -> String in
            switch v {
            case .bits(let b): return String(b.map { $0 ? "1" : "0" })
            case .number(let x): return "\(x)"
            case .choice(let s): return "\"\(s)\""
            case .strings(let s): return s.joined(separator: "|")
            case .flag(let f): return f ? "T" : "F"
            }
        }.joined(separator: ",")
    }
}
