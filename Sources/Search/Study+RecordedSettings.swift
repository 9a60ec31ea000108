import JSONKit
import Space

/// Where a study with a sensitivity prior tries the method's own choice.
/// - `design`: as a row of the initial design, in place of the prior's last row (or, where the
///   prior prefers nothing, the hypercube's last), so that a guided study reaches its optimiser,
///   and its first target trials, at the same trial as an unguided one. As an extra trial it put
///   every prior arm of the prior benchmark's seeds 0 and 1 behind the unguided one after what 10
///   target runs cost: each later step of the front came one trial later
///   (results/priors/mf/README.md).
/// - `extra`: a trial of its own before the design (journals written before the setting existed).
public enum MethodTrial: String, Sendable { case design, extra }

/// Search settings whose defaults changed over releases. A study keeps the value its journal's
/// `study_created` record holds, so that it resumes as it began: a journal written before a
/// setting existed gets the old behaviour, a new study the space file's (or the new default).
extension Study {
    /// The axis the study's acquisition weighs parameters on: as its journal recorded at creation;
    /// linear for a journal written before the setting existed (so that it resumes as it began);
    /// the space file's for a new study.
    public static func parameterAxis(_ journal: Journal, spec: StudySpec) -> ParameterAxis {
        ParameterAxis(rawValue: recorded("parameter_axis", journal, new: .string(spec.parameterAxis.rawValue),
                                         legacy: .string(ParameterAxis.linear.rawValue)).plainText) ?? .linear
    }

    /// Whether the prior's weight is set by the data (`PriorSettings.weightFromData`), as the
    /// journal recorded at creation; false for a journal written before the setting existed.
    public static func priorWeightFromData(_ journal: Journal, spec: StudySpec) -> Bool {
        recorded("prior_weight_from_data", journal, new: .bool(spec.priors.weightFromData), legacy: .bool(false)) == .bool(true)
    }

    /// How the sensitivity prior believes module sizes: uniform when trainable parameters are an
    /// objective (`SensitivityPrior.Sizes`), as the journal recorded; centred for older journals.
    public static func priorSizes(_ journal: Journal, spec: StudySpec) -> SensitivityPrior.Sizes {
        SensitivityPrior.Sizes(rawValue: recorded("prior_sizes", journal, new: .string(newPriorSizes(spec).rawValue),
                                                  legacy: .string(SensitivityPrior.Sizes.centred.rawValue)).plainText) ?? .centred
    }

    /// How the sensitivity prior believes layers (`SensitivityPrior.Layers`): as the space file
    /// says for a new study (neutral by default), as the journal recorded for an older one, and
    /// scored for a journal written before the setting existed.
    public static func priorLayers(_ journal: Journal, spec: StudySpec) -> SensitivityPrior.Layers {
        SensitivityPrior.Layers(rawValue: recorded("prior_layers", journal, new: .string(spec.priors.layers.rawValue),
                                                   legacy: .string(SensitivityPrior.Layers.scored.rawValue)).plainText) ?? .scored
    }

    /// How the prior's share of the initial design is drawn (`PriorSettings.InitialDesign`): as
    /// the journal recorded; random for a journal written before the setting existed.
    public static func priorDesign(_ journal: Journal, spec: StudySpec) -> PriorSettings.InitialDesign {
        PriorSettings.InitialDesign(rawValue: recorded("prior_design", journal, new: .string(spec.priors.initialDesign.rawValue),
                                                       legacy: .string(PriorSettings.InitialDesign.random.rawValue)).plainText) ?? .random
    }

    /// Where the sensitivity method's own choice runs (`MethodTrial`), as the journal recorded at
    /// creation; an extra trial for a journal written before the setting existed.
    public static func methodTrial(_ journal: Journal, spec: StudySpec) -> MethodTrial {
        MethodTrial(rawValue: recorded("method_trial", journal, new: .string(MethodTrial.design.rawValue),
                                       legacy: .string(MethodTrial.extra.rawValue)).plainText) ?? .extra
    }

    /// How cheap trials train (`CheapRuns`), as the journal recorded at creation; prefix runs for a
    /// journal written before the setting existed; nil without fidelities.
    public static func cheapRuns(_ journal: Journal, spec: StudySpec) -> CheapRuns? {
        guard let settings = spec.fidelity else { return nil }
        return CheapRuns(rawValue: recorded("cheap_runs", journal, new: .string(settings.cheapRuns.rawValue),
                                            legacy: .string(CheapRuns.prefix.rawValue)).plainText) ?? .prefix
    }

    /// How a multi-fidelity study prices trials (`FidelityCost`) and limits cheap streaks, as the
    /// journal recorded at creation; seconds and no limit for a journal written before the settings
    /// existed; nil without fidelities.
    public static func fidelityPolicy(_ journal: Journal, spec: StudySpec) -> (cost: FidelityCost, cheapStreak: Int?)? {
        guard let settings = spec.fidelity else { return nil }
        let cost = FidelityCost(rawValue: recorded("fidelity_cost", journal, new: .string(settings.cost.rawValue),
                                                   legacy: .string(FidelityCost.seconds.rawValue)).plainText) ?? .seconds
        let streak = recorded("cheap_streak", journal, new: settings.cheapStreak.map { .number($0) } ?? .null, legacy: .null)
        guard case .number(let n, _) = streak, let limit = Int(exactly: n), limit >= 0 else { return (cost, nil) }
        return (cost, limit)
    }

    /// The space file as this study reads it: the reference point (`referencePoint`) and the
    /// equivalence of configurations (`maskFollowsModules`) as the journal fixes them.
    public static func recordedSpec(_ spec: StudySpec, journal: Journal, constant: Double?) -> StudySpec {
        var spec = spec
        spec.reference = referencePoint(journal, spec: spec, constant: constant)
        if maskFollowsModules(journal) {
            spec.space = PEFTSpace.withLayerMaskFollowingModules(spec.space)
            spec.baselines = spec.baselines.map { b in (b.name, b.candidate.config.map { .config(spec.space.canonical($0)) } ?? b.candidate) }
        }
        spec.space.inactiveSetsEncodeEmpty = proposalRules(journal) >= 3
        return spec
    }

    /// The rules a study's proposals follow, as its journal recorded at creation; 1 for a journal
    /// written before they were numbered, so that it resumes as it began. Rules 2:
    /// - the shared layer mask counts only while a module that uses it is on
    ///   (`PEFTSpace.withLayerMaskFollowingModules`), so configurations that differ only there are one;
    /// - baselines given as PEFT plans inform the model (`baselinesInModel`);
    /// - the acquisition's local search also starts around the incumbents (`Optimizer.Settings.incumbentStarts`);
    /// - when the cheaper fidelities are dropped, the target gets a design of its own first
    ///   (`Study.targetDesignProposals`);
    /// - in spaces of four or more methods, a quarter of the initial design keeps one method (`Study.hypercubeRow`).
    ///
    /// Rules 3: inactive layer masks and subsets encode as empty (`SearchSpace.inactiveSetsEncodeEmpty`).
    /// Under rules 2 "every method off" encoded with all layers on, one coordinate from each
    /// every-layer baseline, so the model predicted the baselines' scores for it and the acquisition
    /// spent its trials on the smallest modules.
    ///
    /// Rules 4: every third optimiser trial aims at a baseline not yet matched (`baselineGoal`).
    ///
    /// Rules 5: a cheapest fidelity whose scores are flat is dropped whatever τ says
    /// (`cheapestScoresAreFlat`).
    ///
    /// Rules 6: when the cheaper fidelities are dropped during the initial design, the baselines go
    /// to the target first and the design's other rows run there only while the target holds fewer
    /// than `targetDesignSize` configurations, which a budget of seconds caps at half the target
    /// trials it pays for (`Study.propose`).
    ///
    /// Rules 7: in a study that answers by posterior mean, up to a fifth of the trials after the
    /// design re-run configurations whose place on the front is uncertain (`replicateProposal`); the
    /// multi-fidelity GP learns a cheap run's noise apart (`Optimizer.Settings.noisePerFidelity`).
    public static let currentProposalRules = 7

    public static func proposalRules(_ journal: Journal) -> Int {
        guard case .number(let n, _) = recorded("proposal_rules", journal, new: .number(Double(currentProposalRules)),
                                                legacy: .number(1)) else { return 1 }
        return Int(n)
    }

    /// Whether the shared layer mask counts only while a module that uses it is on: rules 2.
    public static func maskFollowsModules(_ journal: Journal) -> Bool { proposalRules(journal) >= 2 }

    /// Whether baselines given as PEFT plans inform the model at their points of the space
    /// (`Study.observations`): from proposal rules 2 on.
    public static func baselinesInModel(_ journal: Journal) -> Bool { proposalRules(journal) >= 2 }

    /// The hypervolume's reference point: as the journal recorded at creation; the space file's for
    /// a journal written before it was recorded. A new study takes the space file's, except that
    /// without `search.reference_point.score` the score's reference is what predicting one class
    /// for every dev example scores (`constant`, when known; `referenceAbove`): a configuration
    /// that learns nothing is then no answer and adds no volume, where the old default of 0 made
    /// every classification study warn about itself.
    public static func referencePoint(_ journal: Journal, spec: StudySpec, constant: Double?) -> [Double] {
        var new = spec.reference
        if !spec.scoreReferenceGiven, let c = constant, let j = spec.objectives.firstIndex(where: { $0.name == Objective.Name.score }),
           spec.objectives[j].goal == .maximize {
            new[j] = max(new[j], referenceAbove(c))
        }
        let value = recorded("reference_point", journal, new: .array(new.map { .number($0) }), legacy: .null)
        guard case .array(let items) = value, items.count == spec.reference.count else { return spec.reference }
        let numbers = items.compactMap { item -> Double? in if case .number(let x, _) = item { return x } else { return nil } }
        return numbers.count == items.count ? numbers : spec.reference
    }

    /// The score just above `constant` at 4 decimals: the reference the default takes and the
    /// warning advises (MRPC's one-class F1 0.812227 gives 0.8123).
    static func referenceAbove(_ constant: Double) -> Double { (constant * 1e4 - 1e-9).rounded(.up) / 1e4 }

    static func newPriorSizes(_ spec: StudySpec) -> SensitivityPrior.Sizes { spec.countsParameters ? .uniform : .centred }

    /// A search setting the journal's `study_created` record keeps: its value there; `legacy` for
    /// a journal written before the setting existed (it resumes as it began); `new` for a study
    /// not created yet.
    static func recorded(_ key: String, _ journal: Journal, new: JSONValue, legacy: JSONValue) -> JSONValue {
        guard let created = journal.records.first(where: { $0.op == .studyCreated })?.record else { return new }
        return created[key] ?? legacy
    }

    /// How the returned front is chosen (`AnswerMode`), as the journal recorded at creation; by the
    /// observed scores for a journal written before the setting existed.
    public static func answerMode(_ journal: Journal, spec: StudySpec) -> AnswerMode {
        AnswerMode(rawValue: recorded("answer", journal, new: .string(spec.answer.rawValue),
                                      legacy: .string(AnswerMode.observed.rawValue)).plainText) ?? .observed
    }

    /// The settings that `recorded` reads back, as a new study's `study_created` record keeps them.
    var recordedSettings: [(key: String, value: JSONValue)] {
        [("answer", .string(spec.answer.rawValue)), ("parameter_axis", .string(spec.parameterAxis.rawValue)), ("prior_weight_from_data", .bool(spec.priors.weightFromData)),
         ("prior_sizes", .string(Study.newPriorSizes(spec).rawValue)), ("prior_layers", .string(spec.priors.layers.rawValue)),
         ("prior_design", .string(spec.priors.initialDesign.rawValue)), ("method_trial", .string(MethodTrial.design.rawValue)),
         ("reference_point", .array(spec.reference.map { .number($0) })), ("proposal_rules", .number(Double(Study.currentProposalRules)))]
            + (spec.fidelity.map { [("cheap_runs", .string($0.cheapRuns.rawValue)), ("fidelity_cost", .string($0.cost.rawValue)),
                                    ("cheap_streak", $0.cheapStreak.map { .number($0) } ?? .null)] } ?? [])
    }

    /// The optimiser's settings that a study's journal fixes (see `recorded`).
    func applyRecordedSettings() {
        optimizer.settings.logParameters = Study.parameterAxis(journal, spec: spec).isLog
        optimizer.settings.priorWeightFromData = Study.priorWeightFromData(journal, spec: spec)
        optimizer.settings.incumbentStarts = Study.proposalRules(journal) >= 2
        optimizer.settings.parameterFeature = Study.proposalRules(journal) >= 3
        optimizer.settings.noisePerFidelity = Study.proposalRules(journal) >= 7
        if let runs = Study.cheapRuns(journal, spec: spec) { spec.fidelity?.cheapRuns = runs }
        if let policy = Study.fidelityPolicy(journal, spec: spec) {
            spec.fidelity?.cost = policy.cost
            spec.fidelity?.cheapStreak = policy.cheapStreak
        }
    }
}
