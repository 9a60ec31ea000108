/// Every command's declaration, in the order `autopeft help` lists them.
enum Commands {
    static let search = CommandSpec(
        name: "search", arguments: ["SPACE.json"],
        summary: """
        Multi-objective Bayesian search over the space. Resumes the study in DIR (default results/<name>)
        when it exists. Progress per trial on stderr, then the front, the baselines and the report's path;
        a JSON summary on stdout.
        """,
        options: [.value("out", "DIR", "the study folder"), .count("trials", "the trial budget (extends a finished study)"),
                  .flag("fresh", "start over (only into a new folder, or with --force)"),
                  .flag("force", "with --fresh: keep the old journal as journal.<time>.jsonl and start over"),
                  .count("workers", "train N trials at once in worker processes"),
                  .value("budget-seconds", "S", "stop proposing trials once S seconds of trials are spent (the trial count still limits)",
                         kind: .amount),
                  .value("executor", "local|slurm", "where trials run: this process (or --workers processes), or Slurm jobs "
                         + "(the space file's \"executor\" section sets sbatch options)", kind: .choice(["local", "slurm"])),
                  .flag("cancel-on-stop", "with --executor slurm: on Ctrl-C or SIGTERM, scancel the jobs in flight (default: "
                        + "leave them running; the next search re-attaches)"), .threads,
                  .flag("no-report", "do not write the report at the end")],
        example: "autopeft search spaces/quickstart.json")
    static let report = CommandSpec(
        name: "report", arguments: ["DIR"],
        summary: "Write report.md, report.html, pareto.svg, hypervolume.svg and trials.csv for the study in DIR.",
        options: [], example: "autopeft report results/quickstart")
    static let score = CommandSpec(
        name: "score", arguments: ["SPACE.json"],
        summary: """
        Sensitivity scores of the space's model and task: a layers × targets table on stdout, saved as
        DIR/sensitivity-<method>.json, and the method's own choice in the space.
        """,
        options: [.value("method", "spt|diffora", "the scoring method (default spt)", kind: .choice(["spt", "diffora"])),
                  .value("out", "DIR", "where to save the scores"),
                  .value("budget", "N", "the method's choice within N trainable parameters", kind: .amount), .threads],
        example: "autopeft score spaces/sst2-autopeft.json --method spt")
    static let reevaluate = CommandSpec(
        name: "reevaluate", arguments: ["DIR"],
        summary: """
        Retrain the Pareto configurations and baselines at the space file's "final" fidelity with several
        seeds (DIR/reevaluation.jsonl; resumable), keeping the first finished run's models and exports in
        DIR/exports, then write the report again with the re-evaluated scores. Runs are scored on dev. A
        seed-0 run the search already trained and scored at these settings (a trial at the target fidelity,
        in a study without a validation split) is taken from its journal.
        """,
        options: [.count("seeds", "seeds per configuration"), .count("rows", "training rows"), .count("epochs", "training epochs"),
                  .flag("front-only", "retrain the Pareto front only, not the baselines off it"),
                  .flag("no-report", "do not write the report again at the end"),
                  .flag("retrain", "train seed 0 again even where the search trained the same run (by default taken from the journal)"),
                  .threads],
        example: "autopeft reevaluate results/sst2-lora --seeds 3")
    static let train = CommandSpec(
        name: "train", arguments: ["RUN.json"],
        summary: "Fine-tune one configuration; prints a JSON result on stdout.",
        options: [.value("seed", "N", "the training seed (overrides the run file's)", kind: .seed), .threads,
                  .value("save", "DIR", "keep the trained candidate in DIR (for predict and export)")],
        example: "autopeft train examples/sst2-quick.json --save runs/sst2")
    static let predict = CommandSpec(
        name: "predict", arguments: ["DIR"],
        summary: """
        Apply a saved candidate to the rows of FILE (the task's format; labels optional): one JSON line per
        row on stdout, logits and label (or value); metrics on stderr when the rows are labelled.
        """,
        options: [.value("data", "FILE", "the rows to predict", required: true), .threads],
        example: "autopeft predict runs/sst2 --data data/glue/SST-2/dev.tsv")
    static let export = CommandSpec(
        name: "export", arguments: ["DIR"],
        summary: """
        Write a saved candidate as an HF PEFT adapter (LoRA, PiSSA, (IA)³, prefix) or in the AdapterHub
        layout (one serial or parallel bottleneck adapter); with --merged, a decoder's LoRA and (IA)³ folded
        into its weights as a whole model folder.
        """,
        options: [.value("out", "OUT", "the export folder", required: true),
                  .flag("merged", "write the base with the modules folded in (decoders; LoRA, PiSSA, (IA)³), loadable without PEFT")],
        example: "autopeft export runs/sst2 --out exports/sst2")
    static let trial = CommandSpec(
        name: "trial", arguments: ["SPACE.json"],
        summary: "Evaluate one candidate of the space, as worker processes do; JSON on stdout.",
        options: [.value("candidate", "JSON", "{\"config\": {...}} or {\"peft\": {...}}", required: true),
                  .value("seed", "N", "the trial's seed: its training seed unless the space file's training.seed fixes every "
                         + "trial's, as in a search", kind: .seed),
                  .value("training-seed", "N", "train with seed N whatever the space file's training.seed says (the same "
                         + "candidate under another training seed, as reevaluate trains it)", kind: .seed),
                  .value("trial", "K", "the trial id (for progress lines and its checkpoint)", kind: .seed),
                  .count("examples", "the fidelity: train N examples (below the target: as --cheap-runs says)"),
                  .value("cheap-runs", "prefix|annealed", "below the target, the first N examples of the target run or an annealed "
                         + "run of N examples (default: the space file's fidelity.cheap_runs)", kind: .choice(["prefix", "annealed"])),
                  .value("continues", "K", "continue trial K's run from its checkpoint", kind: .seed),
                  .count("continues-examples", "the fidelity trial K trained at"),
                  .value("checkpoints", "DIR", "the study's checkpoint folder"),
                  .value("result", "FILE", "also write the outcome (or the trial's error) to FILE, through a rename"),
                  .value("preempt-checkpoint", "DIR", "on SIGTERM save the training state in DIR and exit 143; the same command "
                         + "continues from it"), .threads,
                  .flag("lifeline", "exit when standard input closes: worker processes die with their driver, even on kill -9")],
        example: "autopeft trial spaces/quickstart.json --candidate '{\"config\": {\"lora.rank\": 4}}'")
    static let doctor = CommandSpec(
        name: "doctor", arguments: [],
        summary: "Print the CPU, the BLAS kernel, a cross-kernel probe and whether results are bit-identical on 1, 2 and 3 workers.",
        options: [], example: "autopeft doctor")

    static let all = [search, report, score, reevaluate, train, predict, export, trial, doctor]

    /// `autopeft help`: every command's usage line and summary, generated from the declarations.
    static var usage: String {
        var s = "autopeft: find the best parameter-efficient fine-tuning configuration for a model and a task.\n\nCOMMANDS\n"
        for c in all {
            s += "  \(c.usageLine)\n"
            s += c.summary.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n") + "\n"
        }
        s += "  autopeft help | --version\n\nautopeft CMD --help describes a command's options. Progress goes to stderr; stdout "
            + "holds only the machine-readable result.\n"
        return s
    }
}
