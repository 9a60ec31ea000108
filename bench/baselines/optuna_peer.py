"""The peer a user would pick instead of autopeft's search: Optuna's TPE (multivariate, grouped) over the same
union space, written define-by-run with its conditionals, each trial run by `autopeft trial` at the target, for
the same seconds of trials as the search. Then its front is retrained under training seeds 1 and 2 (seed 0 is
the search's own run), as `autopeft reevaluate --seeds 3` measures the search's.

    PEERS_PYTHON bench/baselines/optuna_peer.py SPACE.json OUT_DIR [--seed N] [--budget-seconds S] [--autopeft BIN]
writes OUT_DIR/trials.jsonl (one line a trial: number, config, values, seconds) and OUT_DIR/front.jsonl (one line a
front point and training seed). Both resume: trials and runs already written are kept.
Needs optuna (pip install optuna) in the Python that runs it; not in the product.
"""
import argparse, json, os, subprocess, sys, time

TARGETS = ["query", "key", "value", "attention.output"]
SITES = ["key", "value", "feedforward"]
BIASES = ["query", "value", "intermediate", "output"]


def suggest(trial, space):
    """The union space, define-by-run: a method's options only when it is on, the layer mask only when one is."""
    s = space["space"]
    c = {"training.learning_rate": trial.suggest_categorical("training.learning_rate", s["training"]["learning_rate"])}
    rank = trial.suggest_categorical("lora.rank", s["lora"]["rank"])
    c["lora.rank"] = rank
    if rank > 0:
        chosen = [t for t in TARGETS if trial.suggest_categorical(f"lora.targets.{t}", [True, False])]
        c["lora.targets"] = chosen or ["query"]
    for m in ["serial_adapter", "parallel_adapter"]:
        c[f"{m}.size"] = trial.suggest_categorical(f"{m}.size", s[m]["size"])
    c["prefix.length"] = trial.suggest_categorical("prefix.length", s["prefix"]["length"])
    c["ia3.sites"] = [x for x in SITES if trial.suggest_categorical(f"ia3.sites.{x}", [True, False])]
    c["bitfit.biases"] = [x for x in BIASES if trial.suggest_categorical(f"bitfit.biases.{x}", [True, False])]
    on = rank > 0 or c["serial_adapter.size"] or c["parallel_adapter.size"] or c["prefix.length"] or c["ia3.sites"] or c["bitfit.biases"]
    if on:
        layers = [l for l in range(6) if trial.suggest_categorical(f"layers.{l}", [True, False])]
        c["layers"] = layers or [5]
    return c


def run_trial(autopeft, space_file, config, seed, examples, training_seed=None):
    cmd = [autopeft, "trial", space_file, "--candidate", json.dumps({"config": config}), "--seed", str(seed),
           "--examples", str(examples), "--threads", "2"]
    if training_seed is not None:
        cmd += ["--training-seed", str(training_seed)]
    t0 = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return None, time.time() - t0, out.stderr.strip().splitlines()[-1:]
    return json.loads(out.stdout), time.time() - t0, []


def front(points):
    """Indices of the non-dominated (max score, min params) points."""
    keep = []
    for i, (s, p) in enumerate(points):
        if not any((s2 >= s and p2 <= p) and (s2 > s or p2 < p) for j, (s2, p2) in enumerate(points) if j != i):
            keep.append(i)
    return keep


def main():
    import optuna
    ap = argparse.ArgumentParser()
    ap.add_argument("space"); ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0); ap.add_argument("--budget-seconds", type=float,
                                                                  help="default: the space file's search.budget_seconds")
    ap.add_argument("--autopeft", default=".build/release/autopeft")
    a = ap.parse_args()
    space = json.load(open(a.space))
    if a.budget_seconds is None:
        a.budget_seconds = float(space["search"]["budget_seconds"])
    examples = space["fidelity"]["target"]["train_examples"]
    os.makedirs(a.out, exist_ok=True)
    trials_file, front_file = os.path.join(a.out, "trials.jsonl"), os.path.join(a.out, "front.jsonl")
    done = [json.loads(l) for l in open(trials_file)] if os.path.exists(trials_file) else []
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(multivariate=True, group=True, seed=a.seed)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    spent = sum(t.get("trial_seconds", t["seconds"]) for t in done)
    for t in done:   # replay: the same questions get the same answers, so a resumed run is the run it would have been
        trial = study.ask()
        suggest(trial, space)
        study.tell(trial, t["values"] if t["values"] else None, state=None if t["values"] else optuna.trial.TrialState.FAIL)
    while spent < a.budget_seconds:
        trial = study.ask()
        config = suggest(trial, space)
        result, seconds, err = run_trial(a.autopeft, a.space, config, seed=trial.number, examples=examples)
        # The budget counts what the search's counts: each trial's own seconds (its `seconds` value), not the
        # process's start-up around it; a failed trial counts its wall time.
        spent += result["values"]["seconds"] if result else seconds
        values = [result["values"]["score"], result["known"]["trainable_params"]] if result else None
        if values:
            study.tell(trial, values)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        with open(trials_file, "a") as f:
            f.write(json.dumps({"number": trial.number, "config": config, "values": values, "seconds": seconds,
                                "trial_seconds": result["values"]["seconds"] if result else seconds, "error": err}) + "\n")
        print(f"optuna trial {trial.number}: {values} in {seconds:.0f} s; {spent:.0f} of {a.budget_seconds:.0f} s spent",
              file=sys.stderr, flush=True)
    done = [json.loads(l) for l in open(trials_file)]
    ok = [t for t in done if t["values"]]
    best = [ok[i] for i in front([(t["values"][0], t["values"][1]) for t in ok])]
    runs = [json.loads(l) for l in open(front_file)] if os.path.exists(front_file) else []
    have = {(r["number"], r["training_seed"]) for r in runs}
    for t in best:
        for k in [0, 1, 2]:
            if (t["number"], k) in have:
                continue
            if k == 0:
                score = t["values"][0]   # the search's own run, as reevaluate takes the search's seed-0 runs
            else:
                result, seconds, err = run_trial(a.autopeft, a.space, t["config"], seed=t["number"], examples=examples,
                                                 training_seed=k)
                score = result["values"]["score"] if result else None
            with open(front_file, "a") as f:
                f.write(json.dumps({"number": t["number"], "training_seed": k, "score": score,
                                    "trainable_params": t["values"][1], "config": t["config"]}) + "\n")
            print(f"optuna front point {t['number']}, training seed {k}: {score}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
