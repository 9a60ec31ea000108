import Foundation
import Space

/// One objective of a study: its name, direction, and whether it is known from the
/// configuration alone (trainable parameters: computed, never modelled) or measured by a trial
/// (score, seconds: modelled by a Gaussian process).
public struct Objective: Sendable, Equatable {
    public enum Goal: String, Sendable, CaseIterable { case minimize, maximize }
    public var name: String
    public var goal: Goal
    public var known: Bool

    public init(name: String, goal: Goal, known: Bool = false) {
        self.name = name
        self.goal = goal
        self.known = known
    }

    /// The names of the objectives a training problem offers, as the space file and the journal
    /// spell them (synthetic problems name their own).
    public enum Name {
        /// The task's dev metric, measured by a trial.
        public static let score = "score"
        /// Trainable parameters, computed from the configuration.
        public static let trainableParameters = "trainable_params"
    }

    /// The value in minimisation form (maximised objectives are negated).
    @inlinable public func minimised(_ v: Double) -> Double { goal == .maximize ? -v : v }

    /// The value as a hypervolume axis measures it, in minimisation form. With `logParameters`,
    /// trainable parameters count by their log10: the trade-off lives across orders of magnitude
    /// (2k against 20k parameters matters as much as 200k against 2M), which a linear axis
    /// bounded at millions flattens to nothing at the small-module end.
    public func hypervolumeCoordinate(_ v: Double, logParameters: Bool) -> Double {
        logParameters && name == Name.trainableParameters ? log10(max(v, 1)) : minimised(v)
    }
}

/// A finished trial as the optimiser sees it: the configuration and its objective values (in the
/// study's objective order, in the user's units and directions).
///
/// A baseline given as a PEFT plan is observed where the encoding holds it (`point`, off the
/// grid: serial 48 between 32 and 64) and stands for its nearest configuration (`config`) in
/// the local search; unless it is that configuration (`exact`), the configuration stays
/// proposable.
public struct Observation: Sendable {
    public var config: Config
    public var values: [Double]
    /// How far the trial's fidelity is from the study's target, in [0, 1] (0: at the target).
    public var distance: Double
    /// The encoded point when it is not `config`'s own (a plan's, `PEFTSpace.point(of:)`).
    public var point: [Double]?
    /// Whether the observation is of `config` itself (false for a plan near it).
    public var exact: Bool
    public init(config: Config, values: [Double], distance: Double = 0, point: [Double]? = nil, exact: Bool = true) {
        self.config = config
        self.values = values
        self.distance = distance
        self.point = point
        self.exact = exact
    }
}

/// A prior belief over configurations (πBO): the log of an unnormalised probability. The
/// acquisition is multiplied by π(x)^(β/n); with no prior it is left as it is.
public protocol ConfigurationPrior: Sendable {
    func logProbability(_ config: Config) -> Double
}
