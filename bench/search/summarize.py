#!/usr/bin/env python3
"""Summarise bench/search/run output: HV median [quartiles] at 20/40/60 evaluations per problem and
method, the share of the true front's HV, and seconds per proposal. Usage: summarize.py DIR"""
import json, statistics, sys, os

d = sys.argv[1]
runs = [json.loads(l) for l in open(os.path.join(d, "runs.jsonl"))]
botorch = {"zdt1": 0.863, "zdt2": 0.460, "dtlz2": 0.362}
def q(xs):
    xs = sorted(xs); n = len(xs)
    qs = statistics.quantiles(xs, n=4, method="inclusive") if n > 1 else [xs[0]] * 3
    return qs
print("| problem (true HV) | method | HV@20 median [q1, q3] | HV@40 | HV@60 | mean HV@60 | BoTorch HV@60 | seconds/proposal (mean, max) | seeds |")
print("|---|---|---|---|---|---|---|---|---|")
for p in ["zdt1", "zdt2", "dtlz2", "branin_currin"]:
    for m in ["autopeft", "random"]:
        rs = [r for r in runs if r["problem"] == p and r["method"] == m]
        if not rs: continue
        cells = []
        for k in (20, 40, 60):
            a, b, c = q([r["hypervolume"][k - 1] for r in rs])
            cells.append(f"{b:.3f} [{a:.3f}, {c:.3f}]")
        mean60 = statistics.mean(r["hypervolume"][59] for r in rs)
        secs = [s for r in rs for s in r["proposal_seconds"]]
        opt = rs[0]["optimal_hypervolume"]
        print(f"| {p} ({opt:.3f}) | {m} | " + " | ".join(cells) + f" | {mean60:.3f} | {botorch.get(p, '—')} | {statistics.mean(secs):.3f}, {max(secs):.3f} | {len(rs)} |")
t = os.path.join(d, "timing.jsonl")
if os.path.exists(t):
    print()
    print("| problem | observations | seconds per proposal (median of repeats) |")
    print("|---|---|---|")
    for l in open(t):
        r = json.loads(l)
        print(f"| {r['problem']} | {r['observations']} | {statistics.median(r['seconds']):.3f} |")
