#!/usr/bin/env python3
"""The priors benchmark's summary (issue 15): for each task and prior, the hypervolume after 10, 20
and 30 trials, median and range over search seeds. The volume is the one each study reports
(trials.csv's "hypervolume" column, written by `autopeft report`: score against log10 trainable
parameters, target-fidelity trials only), so this script computes no volume of its own.

Usage: summarize.py DIR [DIR...] [--json FILE]   DIRs as given to bench/priors/run (studies under
another initial design or fidelity pricing, e.g. results/priors/mf-random-design and
results/priors/mf-seconds-cost, are further arms, each compared with the unguided arm of its
pricing); prints a Markdown table and writes FILE (default the first DIR's summary.json): a list
of {"task", "prior", "initial_design" (prior arms: "stratified" or "random"), "method_trial"
(prior arms: "design" or "extra"), "fidelity_cost" (multi-fidelity: "examples" or "seconds"), "trials", "hv_median", "hv_min", "hv_max", "seeds",
"hv_by_seed" (for the table of each prior against the unguided study of its search seed),
"fidelity", "reference"}, with the volume at the cheapest fidelity, after the unguided search's
cost and after what k target runs cost (median, range and by seed, and averaged over the examples
up to that cost) where they apply, and the prior's earned trust (trials.csv's prior_trust) where
the report has it.
       summarize.py --table-from FILE   prints the tables of a summary FILE already written (the
README's table, made from results/priors/summary.json)."""
import csv, json, os, statistics, subprocess, sys

CHECKPOINTS = (10, 20, 30)

def fidelity(space):
    f, t = space.get("fidelity"), space["training"]
    if f:
        target = f["target"]
        return (f"multi-fidelity: target {target['train_examples']} rows x {target['epochs']} epochs, cheaper "
                + ", ".join(str(c) for c in f["cheaper"]) + " examples of the target run")
    return f"{t.get('train_examples', 'all')} rows x {t['epochs']} epoch(s)"

def volumes(study_dir, multi_fidelity):
    """(cost so far, hypervolume, hypervolume at the cheapest fidelity or None, the prior's trust
    at the latest optimiser trial or None) after each trial, from trials.csv (regenerated each time: the study may have gone on since). The cost is the
    examples trained in a multi-fidelity study, seconds otherwise. Why not seconds there: studies
    that ran while the machine was busier took up to 1.7x longer for the same trial (SST-2's
    2000-example trials took 31-35 s in sst2-none-s2, 42-68 s in sst2-none-s0)."""
    path = os.path.join(study_dir, "trials.csv")
    r = subprocess.run([".build/release/autopeft", "report", study_dir], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"autopeft report {study_dir} failed:\n{r.stderr}")
    used, trust, out = 0.0, None, []
    for r in csv.DictReader(open(path)):
        if r["status"] == "running":  # a study under way: its trials so far
            break
        used += float(r["trained_examples"] if multi_fidelity else r["seconds"])
        cheapest = r.get("cheapest_fidelity_hypervolume")
        if multi_fidelity and cheapest is None:
            sys.exit(f"{path} has no cheapest_fidelity_hypervolume column: rebuild .build/release/autopeft")
        # The earned weight's trust when this trial was proposed (reports since 2026-12-04).
        trust = float(r["prior_trust"]) if r.get("prior_trust") else trust
        out.append((used, float(r["hypervolume"]), float(cheapest) if cheapest is not None else None, trust))
    return out

def at_cost(trace, cost):
    """The hypervolume once `cost` was spent (the last trial finished by then)."""
    hv = [v for used, v, *_ in trace if used <= cost]
    return hv[-1] if hv else 0.0

def mean_until(trace, cost):
    """The hypervolume averaged over the first `cost` spent (each trial's volume counts from the
    cost at which it finished): an anytime measure, where a point reading jumps with a trial that
    finishes just before or after `cost`."""
    area, last_used, last_hv = 0.0, 0.0, 0.0
    for used, v, *_ in trace:
        if used > cost:
            break
        area += last_hv * (used - last_used)
        last_used, last_hv = used, v
    return (area + last_hv * (cost - last_used)) / cost

def arm_key(study_dir, prior, multi_fidelity):
    """(prior, initial design, fidelity pricing, method trial) as the study's journal recorded them
    at creation: the design of its prior's share of the initial design (`prior_design`; journals
    written before the setting existed drew at random; None without a prior), how a multi-fidelity
    study priced trials (`fidelity_cost`; before the setting existed, fitted seconds; None without
    fidelities) and where the method's own choice ran (`method_trial`: "design" as a design row,
    "extra" as a trial of its own, as journals before the setting did; None without a prior)."""
    with open(os.path.join(study_dir, "journal.jsonl")) as f:
        created = json.loads(f.readline())
    design = None if prior == "none" else created.get("prior_design", "random")
    method = None if prior == "none" else created.get("method_trial", "extra")
    return prior, design, created.get("fidelity_cost", "seconds") if multi_fidelity else None, method

def arm(row):
    """A row's arm as the tables name it: the prior, for a prior its initial design, and fidelities
    priced in seconds (the older policy) where they were."""
    notes = ([f"{row['initial_design']} design"] if "initial_design" in row else []) \
        + (["method's choice a design row"] if row.get("method_trial") == "design" else []) \
        + (["seconds-priced"] if row.get("fidelity_cost") == "seconds" else [])
    return row["prior"] + (f" ({', '.join(notes)})" if notes else "")

def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__, file=sys.stdout if len(sys.argv) > 1 else sys.stderr)
        sys.exit(0 if len(sys.argv) > 1 else 2)
    if "--table-from" in sys.argv:
        print_tables(json.load(open(sys.argv[sys.argv.index("--table-from") + 1])))
        return
    args = [a for i, a in enumerate(sys.argv[1:], 1) if a != "--json" and sys.argv[i - 1] != "--json"]
    out = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else os.path.join(args[0], "summary.json")
    rows = []
    for task in ("sst2", "mrpc"):
        traces, spaces = arm_traces(task, args)
        for key, by_seed in traces.items():
            rows += [row for k in CHECKPOINTS if (row := checkpoint_row(task, key, k, by_seed, spaces[key], traces))]
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)
        f.write("\n")
    print_tables(rows)

def arm_traces(task, dirs):
    """The task's studies in DIRs by arm, (prior, initial design, pricing) -> {seed: trace} (the
    same prior under two designs or pricings is two arms), in the tables' order, and each arm's
    space file."""
    traces, spaces = {}, {}
    for d in dirs:
        for prior in ("none", "spt", "diffora"):
            for s in range(10):
                study = os.path.join(d, f"{task}-{prior}-s{s}")
                if os.path.exists(os.path.join(study, "journal.jsonl")):
                    space = json.load(open(os.path.join(d, "spaces", f"{task}-{prior}-s{s}.json")))
                    key = arm_key(study, prior, "fidelity" in space)
                    spaces[key] = space
                    traces.setdefault(key, {})[s] = volumes(study, "fidelity" in space)
    order = {"none": 0, "spt": 1, "diffora": 2}
    return dict(sorted(traces.items(), key=lambda a: (a[0][2] == "seconds", order[a[0][0]], a[0][1] != "stratified",
                                                      a[0][3] == "design"))), spaces

def checkpoint_row(task, key, k, by_seed, space, traces):
    """An arm's summary row after k trials (None when no seed got that far): the volume, the
    volume at the cheapest fidelity, after the unguided search's cost and after k target runs'
    cost, each as median and range over seeds (and by seed where the paired table reads it)."""
    prior, design, pricing, method = key
    ref = space["search"]["reference_point"]
    hv = [v[k - 1][1] for v in by_seed.values() if len(v) >= k]
    if not hv:
        return None
    row = {"task": task, "prior": prior, **({"initial_design": design} if design else {}),
           **({"fidelity_cost": pricing} if pricing else {}), **({"method_trial": method} if method else {}),
           "trials": k, "hv_median": statistics.median(hv),
           "hv_min": min(hv), "hv_max": max(hv),
           "seeds": [s for s, v in by_seed.items() if len(v) >= k],
           "hv_by_seed": {str(s): v[k - 1][1] for s, v in sorted(by_seed.items()) if len(v) >= k},
           "fidelity": fidelity(space),
           "reference": {"score": ref["score"], "trainable_params": ref["trainable_params"],
                         "trainable_params_axis": "log10"}}
    trust = [v[k - 1][3] for v in by_seed.values() if len(v) >= k and v[k - 1][3] is not None]
    if trust:
        # How far the trials bore the prior out when the optimiser last asked by trial k.
        row.update({"prior_trust_median": statistics.median(trust), "prior_trust_min": min(trust),
                    "prior_trust_max": max(trust)})
    cheap = [v[k - 1][2] for v in by_seed.values() if len(v) >= k]
    if cheap and None not in cheap:
        # Early on a multi-fidelity study has no answer at the target (volume 0): what
        # it measured at the cheapest fidelity, on the same axes and reference.
        row.update({"hv_cheapest_fidelity_median": statistics.median(cheap),
                    "hv_cheapest_fidelity_min": min(cheap), "hv_cheapest_fidelity_max": max(cheap)})
    # Trials differ in cost across fidelities: also the volume after the cost that
    # the unguided search (prior none) spent on k trials, its median over seeds.
    none_cost = [v[k - 1][0] for v in traces.get(("none", None, pricing, None), {}).values() if len(v) >= k]
    budget = statistics.median(none_cost) if none_cost else None
    # Only studies that got that far (or finished): one under way would count low.
    at = [at_cost(v, budget) for v in by_seed.values() if budget is not None and v
          and (v[-1][0] >= budget or len(v) >= CHECKPOINTS[-1])]
    if at:
        row.update({"equivalent_cost": budget, "cost_unit": "trained examples" if "fidelity" in space else "seconds",
                    "hv_at_cost_median": statistics.median(at), "hv_at_cost_min": min(at), "hv_at_cost_max": max(at)})
    # "k trials" of a multi-fidelity study are mostly cheap ones: also the volume after
    # what k runs at the target fidelity cost, from studies that spent that much.
    if "fidelity" in space:
        target = space["fidelity"]["target"]
        cost = k * target["train_examples"] * target["epochs"]
        at = {str(s): at_cost(v, cost) for s, v in sorted(by_seed.items()) if v and v[-1][0] >= cost}
        mean = {s: mean_until(by_seed[int(s)], cost) for s in at}
        if at:
            row.update({"hv_mean_to_target_runs_cost_median": statistics.median(mean.values()),
                        "hv_mean_to_target_runs_cost_by_seed": mean})
            row.update({"target_runs_cost": cost, "hv_at_target_runs_cost_median": statistics.median(at.values()),
                        "hv_at_target_runs_cost_min": min(at.values()), "hv_at_target_runs_cost_max": max(at.values()),
                        "target_runs_cost_seeds": [int(s) for s in at], "hv_at_target_runs_cost_by_seed": at})
    return row

def table(title, columns, lines):
    """A titled Markdown table, or nothing when it has no lines."""
    if lines:
        print(f"\n{title}\n")
        print("| " + " | ".join(columns) + " |")
        print("|" + "---|" * len(columns))
        print("\n".join(lines))

def print_tables(rows):
    """The Markdown tables of a summary's rows (what main wrote, or --table-from FILE read)."""
    print("| task | prior | trials | HV median [min, max] | against none | cost (none's, k trials) | HV then, median [min, max] "
          "| against none | HV at the cheapest fidelity, median [min, max] | against none | seeds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    none = {(r["task"], r.get("fidelity_cost"), r["trials"]): r for r in rows if r["prior"] == "none"}
    def delta(r, key):
        base = none.get((r["task"], r.get("fidelity_cost"), r["trials"]), {}).get(key)
        return f"{100 * (r[key] / base - 1):+.1f}%" if base and key in r else ""
    for r in rows:
        timed = (f"{r['equivalent_cost']:.0f} {r['cost_unit']} | {r['hv_at_cost_median']:.4f} [{r['hv_at_cost_min']:.4f}, "
                 f"{r['hv_at_cost_max']:.4f}]") if "equivalent_cost" in r else " | "
        cheap = (f"{r['hv_cheapest_fidelity_median']:.4f} [{r['hv_cheapest_fidelity_min']:.4f}, "
                 f"{r['hv_cheapest_fidelity_max']:.4f}]") if "hv_cheapest_fidelity_median" in r else ""
        print(f"| {r['task']} | {arm(r)} | {r['trials']} | {r['hv_median']:.4f} [{r['hv_min']:.4f}, "
              f"{r['hv_max']:.4f}] | {delta(r, 'hv_median')} | {timed} | {delta(r, 'hv_at_cost_median')} | "
              f"{cheap} | {delta(r, 'hv_cheapest_fidelity_median')} | {len(r['seeds'])} |")
    table("After what k runs at the target fidelity cost (studies that spent that much):",
          ["task", "prior", "k", "trained examples", "HV median [min, max]", "against none", "seeds"],
          [f"| {r['task']} | {arm(r)} | {r['trials']} | {r['target_runs_cost']} | {r['hv_at_target_runs_cost_median']:.4f} "
           f"[{r['hv_at_target_runs_cost_min']:.4f}, {r['hv_at_target_runs_cost_max']:.4f}] | "
           f"{delta(r, 'hv_at_target_runs_cost_median')} | {len(r['target_runs_cost_seeds'])} |"
           for r in rows if "target_runs_cost" in r])
    # The same search seed draws the same initial design but for the prior's share of it: each
    # prior against the unguided study of its own seed, after k trials and after k target runs' cost.
    for by_seed, title in (("hv_by_seed", "Each prior against the unguided study of the same search seed (HV change, %):"),
                           ("hv_at_target_runs_cost_by_seed", "The same after what k runs at the target cost (HV change, %):"),
                           ("hv_mean_to_target_runs_cost_by_seed",
                            "The same, HV averaged over the trained examples up to what k runs at the target cost (%):")):
        paired = []
        for r in rows:
            base = none.get((r["task"], r.get("fidelity_cost"), r["trials"]))
            if r["prior"] == "none" or not base or by_seed not in r or by_seed not in base:
                continue
            diffs = {s: 100 * (v / base[by_seed][s] - 1) for s, v in r[by_seed].items() if base[by_seed].get(s)}
            if diffs:
                paired.append((r, diffs))
        table(title, ["task", "prior", "k", "per seed", "median"],
              [f"| {r['task']} | {arm(r)} | {r['trials']} | " + ", ".join(f"s{s} {d:+.1f}" for s, d in sorted(diffs.items()))
               + f" | {statistics.median(diffs.values()):+.1f} |" for r, diffs in paired])
    table("The prior's earned trust when the optimiser last proposed by trial k (trials.csv's prior_trust):",
          ["task", "prior", "k", "trust median [min, max]", "seeds"],
          [f"| {r['task']} | {arm(r)} | {r['trials']} | {r['prior_trust_median']:.2f} [{r['prior_trust_min']:.2f}, "
           f"{r['prior_trust_max']:.2f}] | {len(r['seeds'])} |" for r in rows if "prior_trust_median" in r])
    for f in sorted({(r["task"], r["fidelity"]) for r in rows}):
        print(f"\n{f[0]}: {f[1]}")

if __name__ == "__main__":
    main()
