#!/usr/bin/env python3
"""The probe's correlations (issue 15): Spearman's rho between each method's sensitivity scores and
the scores measured by bench/priors/probe, per layer, per target and per cell, for each training
seed; the interval is the range over seeds. A subtracted no-module score would not change a rank,
so ranks of measured scores are ranks of gains.

Rows:
  - "lora per layer": a layer's mean over its 6 single-target LoRA runs, against the method's
    layer total;
  - "serial per layer": the serial adapter in that layer, against the layer total;
  - "lora per target": a target's mean over the 6 layers, against the method's target total, raw
    and divided by the LoRA's parameter count on that target (a score per parameter spent);
  - "lora per cell": the 36 (layer, target) cells.
"seed to seed" is the same correlation between two training seeds' measurements: how far the
gains can be predicted at all at this fidelity.

Usage: probe_summary.py OUT [SCORES]   (OUT as given to bench/priors/probe; SCORES default
results/priors/scores, holding <task>-<method>/sensitivity-<method>.json). Prints a Markdown table
and writes OUT/summary.json, or with SCORES given, SCORES/probe-summary.json (other scores, such as
bench/priors/scorer_variants', are compared with the same measurements)."""
import importlib.machinery, importlib.util, itertools, json, os, statistics, sys

def load_probe():
    """bench/priors/probe (a script without .py) as a module: its MEASURES and measure()."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe")
    loader = importlib.machinery.SourceFileLoader("probe", path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("probe", loader))
    loader.exec_module(module)
    return module

probe = load_probe()

TARGETS = ["query", "key", "value", "attention.output", "intermediate", "output"]
LORA_COST = {"query": 768, "key": 768, "value": 768, "attention.output": 768, "intermediate": 1920, "output": 1920}

def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2
        i = j + 1
    return r

def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.mean(ra), statistics.mean(rb)
    num = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    den = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return num / den if den > 0 else float("nan")

def newest(lines, task):
    """Each cell's newest line that holds the task's measure, with the measure as "gain"."""
    cells = {}
    for c in lines:
        value = probe.measure(c, task)
        if value is not None:
            cells[(c["module"], c["layer"], c["target"], c["seed"])] = dict(c, gain=value)
    return list(cells.values())

def measured(cells, seed):
    """Per-seed vectors: lora layer means, serial per layer, lora target means, lora cells."""
    lora = {(c["layer"], c["target"]): c["gain"] for c in cells if c["module"] == "lora" and c["seed"] == seed}
    serial = {c["layer"]: c["gain"] for c in cells if c["module"] == "serial" and c["seed"] == seed}
    if len(lora) < 36 or len(serial) < 6:
        return None
    return {
        "lora per layer": [statistics.mean(lora[(l, t)] for t in TARGETS) for l in range(6)],
        "serial per layer": [serial[l] for l in range(6)],
        "lora per target": [statistics.mean(lora[(l, t)] for l in range(6)) for t in TARGETS],
        "lora per target, per parameter": [statistics.mean(lora[(l, t)] for l in range(6)) for t in TARGETS],
        "lora per cell": [lora[(l, t)] for l in range(6) for t in TARGETS],
    }

def predicted(record):
    m = record["scores"]
    per_target = [record["per_target"][t] for t in TARGETS]
    return {
        "lora per layer": record["per_layer"],
        "serial per layer": record["per_layer"],
        "lora per target": per_target,
        "lora per target, per parameter": [s / LORA_COST[t] for s, t in zip(per_target, TARGETS)],
        "lora per cell": [m[l][TARGETS.index(t)] for l in range(6) for t in TARGETS],
    }

def main():
    out = sys.argv[1]
    scores_dir = sys.argv[2] if len(sys.argv) > 2 else "results/priors/scores"
    summary = []
    print("| task | comparison | method | Spearman ρ, mean over seeds [min, max] | seeds |")
    print("|---|---|---|---|---|")
    for task in ("sst2", "mrpc"):
        path = os.path.join(out, task, "cells.jsonl")
        if not os.path.exists(path):
            continue
        cells = newest([json.loads(line) for line in open(path)], task)
        per_seed = {s: v for s in sorted({c["seed"] for c in cells}) if (v := measured(cells, s))}
        if not per_seed:
            continue
        fidelity = {"rows": cells[0]["rows"], "epochs": cells[0]["epochs"], "measure": probe.MEASURES[task]}
        methods = {}
        for m in ("spt", "diffora"):
            p = os.path.join(scores_dir, f"{task}-{m}", f"sensitivity-{m}.json")
            if os.path.exists(p):
                methods[m] = predicted(json.load(open(p))["scores_record"])
        methods_and_ceiling = list(methods.items()) + [("seed to seed", None)]
        for comparison in per_seed[next(iter(per_seed))]:
            for name, pred in methods_and_ceiling:
                if pred is None:
                    pairs = itertools.combinations(per_seed, 2)
                    rhos = [spearman(per_seed[a][comparison], per_seed[b][comparison]) for a, b in pairs]
                else:
                    rhos = [spearman(pred[comparison], v[comparison]) for v in per_seed.values()]
                if not rhos:
                    continue
                row = {"task": task, "comparison": comparison, "method": name, "rho_mean": statistics.mean(rhos),
                       "rho_min": min(rhos), "rho_max": max(rhos), "seeds": sorted(per_seed), "fidelity": fidelity}
                summary.append(row)
                print(f"| {task} | {comparison} | {name} | {row['rho_mean']:+.2f} [{row['rho_min']:+.2f}, "
                      f"{row['rho_max']:+.2f}] | {len(per_seed)} |")
        means = {k: [statistics.mean(v[k][i] for v in per_seed.values()) for i in range(len(v0))]
                 for k, v0 in per_seed[next(iter(per_seed))].items()}
        summary.append({"task": task, "measured_means": means, "seeds": sorted(per_seed), "fidelity": fidelity})
    target = os.path.join(scores_dir, "probe-summary.json") if len(sys.argv) > 2 else os.path.join(out, "summary.json")
    with open(target, "w") as f:
        json.dump(summary, f, indent=1)

if __name__ == "__main__":
    main()
