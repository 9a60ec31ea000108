import Foundation
import Space

/// One trial as the journal records it.
public struct TrialRecord: Sendable {
    public enum Status: String, Sendable { case running, finished, failed }
    public var id: Int
    public var candidate: Candidate
    public var seed: UInt64
    /// The baseline's name when the trial is a baseline.
    public var baseline: String?
    public var status: Status
    /// Objective values in the study's objective order (finished trials).
    public var values: [Double] = []
    public var metrics: [String: Double] = [:]
    public var seconds: Double = 0
    public var proposalSeconds: Double = 0
    public var error: String?
    /// GP hyperparameters fitted for the proposal (warm starts on resume).
    public var hyperparameters: [[Double]] = []
    /// Where a candidate came from, as the journal spells it.
    public enum Origin: String, CaseIterable, Sendable {
        case baseline
        /// A starting configuration of the space file (`"start"`).
        case start
        /// The sensitivity method's own choice.
        case method
        /// The initial design: drawn from the prior, or the Latin hypercube.
        case prior, design
        case optimizer
        /// A design configuration run again at the target, paired with its cheap trial.
        case pair
        /// Another training seed of a configuration whose place on the front is uncertain (`replicates`).
        case replicate
    }
    public var origin: Origin = .optimizer
    /// The fidelity the trial trained at; nil in a study without fidelities (its one setting is the target).
    public var fidelity: Fidelity?
    /// The trial whose checkpoint this one continued (a promotion to a higher fidelity).
    public var continues: Int?
    /// The baseline this optimiser trial aimed to beat (`aims_at`; proposal rules 4), if any.
    public var aim: String?
    /// The trial whose configuration this one re-runs with another training seed, at the target.
    public var replicates: Int?
    /// Cluster jobs submitted for the trial, in order (a resubmission after a lost job adds one).
    public var jobs: [String] = []

    /// The configuration, when the candidate is one of the space.
    public var config: Config? { candidate.config }
}
