#!/usr/bin/env python3
"""Are the MRPC prior benchmark's differences at 30 trials noise? (issue 15)

On MRPC every study's front is LoRA r8 q,v plus a few 1-2k-parameter modules whose F1 lies within
0.006 of the reference 0.8123 (what predicting "paraphrase" for every pair scores), so whether a
study gains volume beyond the baseline turns on those modules' single runs. This trains each such
module that a study ran at the target with further training seeds and prints, per module, the
search's run (the space file's training seed), the other seeds' and their mean and standard
deviation.

Usage: near_reference.py [--seeds 1,2] [--jobs 2] [--out FILE] STUDY:TRIAL [STUDY:TRIAL ...]
  STUDY is a study folder of bench/priors/run (its space file is DIR/../spaces/NAME.json), TRIAL
  the trial's id in trials.csv (journal id + 1). Each run appends one JSON line to FILE (default
  results/priors/mf/near-reference-seeds.jsonl) and is skipped when FILE already has it, so a
  stopped run resumes. The binary is $AUTOPEFT or .build/release/autopeft.
"""
import concurrent.futures, json, os, statistics, subprocess, sys

def args():
    a = sys.argv[1:]
    if not a or a[0] in ("-h", "--help"):
        print(__doc__, file=sys.stdout if a else sys.stderr)
        sys.exit(0 if a else 2)
    opts = {"--seeds": "1,2", "--jobs": "2", "--out": "results/priors/mf/near-reference-seeds.jsonl"}
    rest = []
    while a:
        x = a.pop(0)
        if x in opts:
            if not a:
                sys.exit(f"near_reference.py: {x} needs a value")
            opts[x] = a.pop(0)
        else:
            rest.append(x)
    return [int(s) for s in opts["--seeds"].split(",")], int(opts["--jobs"]), opts["--out"], rest

def trial_record(study, trial):
    """The journal's trial_started and trial_finished records of trials.csv's trial TRIAL."""
    started = finished = None
    with open(os.path.join(study, "journal.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if r.get("id") == trial - 1 and r["op"] == "trial_started":
                started = r
            if r.get("id") == trial - 1 and r["op"] == "trial_finished":
                finished = r
    if not started or not finished:
        sys.exit(f"near_reference.py: {study}: no finished trial {trial} in journal.jsonl")
    return started, finished

def run(binary, space, config, seed, name):
    # --training-seed, not --seed: the space file's training.seed fixes every trial's seed otherwise.
    cmd = [binary, "trial", space, "--candidate", json.dumps({"config": config}), "--training-seed", str(seed), "--threads", "1"]
    print(f"near_reference.py: {name} seed {seed}: training", file=sys.stderr, flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"near_reference.py: {name} seed {seed} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout)

def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    seeds, jobs, out, targets = args()
    binary = os.environ.get("AUTOPEFT", ".build/release/autopeft")
    done = {}
    if os.path.exists(out):
        for line in open(out):
            r = json.loads(line)
            done[(r["study"], r["trial"], r["seed"])] = r
    todo, modules = [], []
    for t in targets:
        study, trial = t.rsplit(":", 1)
        study, trial = study.rstrip("/"), int(trial)
        started, finished = trial_record(study, trial)
        space = os.path.join(os.path.dirname(study), "spaces", os.path.basename(study) + ".json")
        modules.append((study, trial, started, finished))
        todo += [(study, trial, space, started["config"], s) for s in seeds if (study, trial, s) not in done]
    with open(out, "a") as f, concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        runs = {pool.submit(run, binary, space, config, s, f"{study}:{trial}"): (study, trial, config, s)
                for study, trial, space, config, s in todo}
        for fut in concurrent.futures.as_completed(runs):
            study, trial, config, s = runs[fut]
            o = fut.result()
            rec = {"study": study, "trial": trial, "config": config, "seed": s, "score": o["values"]["score"],
                   "seconds": o["values"].get("seconds"), "metrics": o.get("metrics", {})}
            f.write(json.dumps(rec) + "\n")
            f.flush()
            done[(study, trial, s)] = rec
    print("| study | trial | params | search's run | " + " | ".join(f"seed {s}" for s in seeds)
          + " | mean ± sd, all runs |")
    print("|---|---|---|---|" + "---|" * len(seeds) + "---|")
    for study, trial, started, finished in modules:
        first, params = finished["values"]["score"], int(finished["values"]["trainable_params"])
        others = [done[(study, trial, s)]["score"] for s in seeds]
        allruns = [first] + others
        print(f"| {os.path.basename(study)} | {trial} | {params:,} | {first:.4f} | "
              + " | ".join(f"{x:.4f}" for x in others)
              + f" | {statistics.mean(allruns):.4f} ± {statistics.stdev(allruns):.4f} |")

if __name__ == "__main__":
    main()
