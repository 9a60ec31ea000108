/// What each PEFT module costs in one layer, and which weight matrix it is charged to: the one
/// source of every parameter count (`PEFTPlan.moduleParameters`), coverage
/// (`SensitivityScores.coverage`), prior size centre (`SensitivityPrior`) and DiffoRA module cost.
/// `ModelGradientTests` checks the counts against what the trainer allocates on 200 random
/// mixed plans. Generic over the number type so that Double callers (priors over arbitrary ordinal
/// values) never convert to Int.
extension ModelDimensions {
    /// LoRA of rank r on one linear map: A is r×in, B is out×r.
    public func loraParameters<T: Numeric>(rank r: T, target: LinearTarget) -> T {
        let (i, o) = shape(of: target)
        return r * (T(exactly: i)! + T(exactly: o)!)
    }

    /// A bottleneck adapter of width m (serial or parallel): down H×m plus its bias m, up m×H
    /// plus its bias H.
    public func bottleneckParameters<T: Numeric>(size m: T) -> T {
        let h = T(exactly: hiddenSize)!
        return 2 * h * m + m + h
    }

    /// Prefix tuning without a projection, per layer: a key and a value vector per prefix token.
    public func prefixParameters<T: Numeric>(length p: T) -> T { 2 * p * T(exactly: hiddenSize)! }

    /// Prefix tuning with the MLP reparameterisation (embedding [P, H] → p → tanh → 2·H per layer),
    /// in all `layers` at once: every MLP weight trains.
    public func projectedPrefixParameters(length p: Int, projection q: Int, layers: Int) -> Int {
        let h = hiddenSize
        return p * h + h * q + q + q * 2 * h * layers + 2 * h * layers
    }

    /// One (IA)³ scaling vector: as wide as what it scales.
    public func ia3Parameters(_ site: IA3Spec.Site) -> Int { site == .feedforward ? intermediateSize : hiddenSize }

    /// One BitFit bias: as wide as the output it shifts.
    public func bitfitParameters(_ bias: BitFitSpec.Bias) -> Int { bias == .intermediate ? intermediateSize : hiddenSize }
}

extension IA3Spec.Site {
    /// The weight matrix whose output this vector scales (the FFN's inner activation is the
    /// `intermediate` map's output).
    public var chargedTarget: LinearTarget {
        switch self {
        case .key: return .key
        case .value: return .value
        case .feedforward: return .intermediate
        }
    }
}
