#!/usr/bin/env python3
"""The priors benchmark's summary (issue 15): for each task and prior, the hypervolume after 10, 20
and 30 trials, median and range over search seeds. The volume is the one each study reports
(trials.csv's "hypervolume" column, written by `autopeft report`: score against log10 trainable
parameters, target-fidelity trials only), so this script computes no volume of its own.

Usage: summarize.py DIR [--json FILE]   DIR as given to bench/priors/run; prints a Markdown table
and writes FILE (default DIR/summary.json): a list of {"task", "prior", "trials", "hv_median",
"hv_min", "hv_max", "seeds", "fidelity", "reference"}."""
import csv, json, os, statistics, subprocess, sys

CHECKPOINTS = (10, 20, 30)

def fidelity(space):
    f, t = space.get("fidelity"), space["training"]
    if f:
        target = f["target"]
        return (f"multi-fidelity: target {target['train_examples']} rows x {target['epochs']} epochs, cheaper "
                + ", ".join(str(c) for c in f["cheaper"]) + " examples of the target run")
    return f"{t.get('train_examples', 'all')} rows x {t['epochs']} epoch(s)"

def volumes(study_dir):
    """(trial seconds so far, hypervolume) after each trial, from trials.csv (regenerated when it
    predates the hypervolume column)."""
    path = os.path.join(study_dir, "trials.csv")
    if not os.path.exists(path) or "hypervolume" not in open(path).readline().split(","):
        subprocess.run([".build/release/autopeft", "report", study_dir], check=True, stdout=subprocess.DEVNULL)
    used, out = 0.0, []
    for r in csv.DictReader(open(path)):
        used += float(r["seconds"])
        out.append((used, float(r["hypervolume"])))
    return out

def at_seconds(trace, seconds):
    """The hypervolume once `seconds` of trials were spent (the last trial finished by then)."""
    hv = [v for used, v in trace if used <= seconds]
    return hv[-1] if hv else 0.0

def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    d = sys.argv[1]
    out = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else os.path.join(d, "summary.json")
    rows = []
    for task in ("sst2", "mrpc"):
        traces, spaces = {}, {}
        for prior in ("none", "spt", "diffora"):
            for s in range(10):
                study = os.path.join(d, f"{task}-{prior}-s{s}")
                if os.path.exists(os.path.join(study, "journal.jsonl")):
                    spaces[prior] = json.load(open(os.path.join(d, "spaces", f"{task}-{prior}-s{s}.json")))
                    traces.setdefault(prior, {})[s] = volumes(study)
        for prior, by_seed in traces.items():
            space = spaces[prior]
            ref = space["search"]["reference_point"]
            for k in CHECKPOINTS:
                hv = [v[k - 1][1] for v in by_seed.values() if len(v) >= k]
                if not hv:
                    continue
                row = {"task": task, "prior": prior, "trials": k, "hv_median": statistics.median(hv),
                       "hv_min": min(hv), "hv_max": max(hv),
                       "seeds": [s for s, v in by_seed.items() if len(v) >= k], "fidelity": fidelity(space),
                       "reference": {"score": ref["score"], "trainable_params": ref["trainable_params"],
                                     "trainable_params_axis": "log10"}}
                # Trials differ in cost across fidelities: also the volume after the seconds that
                # the unguided search (prior none) took for k trials, its median over seeds.
                none_seconds = [v[k - 1][0] for v in traces.get("none", {}).values() if len(v) >= k]
                if none_seconds:
                    budget = statistics.median(none_seconds)
                    at = [at_seconds(v, budget) for v in by_seed.values()]
                    row.update({"equivalent_seconds": budget, "hv_at_seconds_median": statistics.median(at),
                                "hv_at_seconds_min": min(at), "hv_at_seconds_max": max(at)})
                rows.append(row)
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)
        f.write("\n")
    print("| task | prior | trials | HV median [min, max] | against none | seconds (none's, k trials) | HV then, median [min, max] | against none | seeds |")
    print("|---|---|---|---|---|---|---|---|---|")
    none = {(r["task"], r["trials"]): r for r in rows if r["prior"] == "none"}
    def delta(r, key):
        base = none.get((r["task"], r["trials"]), {}).get(key)
        return f"{100 * (r[key] / base - 1):+.1f}%" if base and key in r else ""
    for r in rows:
        timed = (f"{r['equivalent_seconds']:.0f} | {r['hv_at_seconds_median']:.4f} [{r['hv_at_seconds_min']:.4f}, "
                 f"{r['hv_at_seconds_max']:.4f}]") if "equivalent_seconds" in r else " | "
        print(f"| {r['task']} | {r['prior']} | {r['trials']} | {r['hv_median']:.4f} [{r['hv_min']:.4f}, "
              f"{r['hv_max']:.4f}] | {delta(r, 'hv_median')} | {timed} | {delta(r, 'hv_at_seconds_median')} | "
              f"{len(r['seeds'])} |")
    for f in sorted({(r["task"], r["fidelity"]) for r in rows}):
        print(f"\n{f[0]}: {f[1]}")

if __name__ == "__main__":
    main()
