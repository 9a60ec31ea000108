"""Issue 38's table from a benchmark folder (bench/baselines/run): per task, search seed and search (new, or the
Optuna peer), the front's hypervolume on the 3-seed means (mean score against log10 trainable parameters, searched
points only, reference score 0 and 3M parameters), each baseline's verdict, and the repeated evaluations.

    python3 bench/baselines/summarize.py OUT [--json FILE]

A baseline is matched when a searched front point's 3-seed mean is at least the baseline's 3-seed mean with at
most its trainable parameters; otherwise the table gives the miss (the best searched mean at no more parameters,
minus the baseline's). Repeats: trials of one configuration at one fidelity beyond the first, counted from the
journal (a promotion to another fidelity is not a repeat). A study re-evaluated with `--front-only` takes its
task's baselines from the study that retrained them (the same runs: a baseline's training does not depend on the
search seed).
"""
import glob, json, math, os, sys
from collections import defaultdict

REFERENCE = (0.0, 3e6)


def hypervolume(points):
    """2-D hypervolume of (score, params) points, maximising score and minimising log10 params."""
    pts = sorted({(s, math.log10(max(p, 1))) for s, p in points if s > REFERENCE[0] and p < REFERENCE[1]}, key=lambda x: x[1])
    hv, best = 0.0, REFERENCE[0]
    edges = [x for _, x in pts] + [math.log10(REFERENCE[1])]
    for k, (s, x) in enumerate(pts):
        best = max(best, s)
        hv += (best - REFERENCE[0]) * (edges[k + 1] - x)
    return hv


def pareto(points):
    return [p for p in points if not any(q[0] >= p[0] and q[1] <= p[1] and q != p for q in points)]


def verdicts(searched, baselines):
    out = {}
    for name, (score, params) in baselines.items():
        match = [p for p in searched if p[0] >= score and p[1] <= params]
        if match:
            out[name] = "matched"
        else:
            cheaper = [p[0] for p in searched if p[1] <= params]
            out[name] = f"missed by {score - max(cheaper):.3f}" if cheaper else "nothing as small"
    return out


def ours(study):
    trials, repeats = {}, defaultdict(int)
    for line in open(os.path.join(study, "journal.jsonl")):
        r = json.loads(line)
        if r.get("op") == "trial_started":
            trials[r["id"]] = r
            # A replicate (issue 41) re-runs a configuration with another training seed on purpose.
            if "baseline" not in r and r.get("origin") != "replicate":
                repeats[(json.dumps(r.get("config"), sort_keys=True), json.dumps(r.get("fidelity"), sort_keys=True))] += 1
    scores, params = defaultdict(list), {}
    for line in open(os.path.join(study, "reevaluation.jsonl")):
        r = json.loads(line)
        if r.get("op") == "reevaluated" and r.get("score") is not None:
            scores[r["trial"]].append(r["score"])
    for line in open(os.path.join(study, "journal.jsonl")):
        r = json.loads(line)
        if r.get("op") == "trial_finished":
            params[r["id"]] = r["values"]["trainable_params"]
    means = {k: (sum(v) / len(v), params[k]) for k, v in scores.items() if len(v) == 3}
    searched = [means[k] for k in means if "baseline" not in trials[k]]
    baselines = {trials[k]["baseline"]: means[k] for k in means if "baseline" in trials[k]}
    return searched, baselines, sum(n - 1 for n in repeats.values())


def peer(folder):
    runs = defaultdict(list)
    for line in open(os.path.join(folder, "front.jsonl")):
        r = json.loads(line)
        if r["score"] is not None:
            runs[r["number"]].append((r["score"], r["trainable_params"]))
    searched = [(sum(s for s, _ in v) / len(v), v[0][1]) for v in runs.values() if len(v) == 3]
    trials = [json.loads(l) for l in open(os.path.join(folder, "trials.jsonl"))]
    seen = defaultdict(int)
    for t in trials:
        seen[json.dumps(t["config"], sort_keys=True)] += 1
    return searched, sum(n - 1 for n in seen.values())


def main():
    out = sys.argv[1]
    rows = []
    for study in sorted(glob.glob(os.path.join(out, "*-s[0-9]*"))):
        if not os.path.isdir(study) or "optuna" in study or not os.path.exists(os.path.join(study, "reevaluation.jsonl")):
            continue
        task, seed = os.path.basename(study).rsplit("-s", 1)
        searched, baselines, repeats = ours(study)
        rows.append({"task": task, "seed": int(seed), "search": "new", "hv": hypervolume(pareto(searched)),
                     "repeats": repeats, "baselines": baselines, "searched": searched})
    for r in rows:   # a front-only study: its task's baselines from the study that retrained them all
        full = max((o["baselines"] for o in rows if o["task"] == r["task"]), key=len, default={})
        r["baselines"] = {**full, **r["baselines"]}
        r["verdicts"] = verdicts(pareto(r.pop("searched")), r["baselines"])
    for folder in sorted(glob.glob(os.path.join(out, "*-optuna-s*"))):
        if not os.path.exists(os.path.join(folder, "front.jsonl")):
            continue
        task, seed = os.path.basename(folder).rsplit("-optuna-s", 1)
        searched, repeats = peer(folder)
        baselines = next((r["baselines"] for r in rows if r["task"] == task and r["search"] == "new"), {})
        rows.append({"task": task, "seed": int(seed), "search": "optuna TPE", "hv": hypervolume(pareto(searched)),
                     "verdicts": verdicts(pareto(searched), baselines), "repeats": repeats, "baselines": baselines})
    names = ["LoRA r8 q,v", "serial 48", "parallel 64", "prefix 16"]
    print("| task | seed | search | front HV | " + " | ".join(names) + " | repeats |")
    print("|---|---|---|---|" + "---|" * len(names) + "---|")
    for r in rows:
        print(f"| {r['task']} | {r['seed']} | {r['search']} | {r['hv']:.4f} | "
              + " | ".join(r["verdicts"].get(n, "–") for n in names) + f" | {r['repeats']} |")
    if "--json" in sys.argv:
        json.dump(rows, open(sys.argv[sys.argv.index("--json") + 1], "w"), indent=1)


if __name__ == "__main__":
    main()
