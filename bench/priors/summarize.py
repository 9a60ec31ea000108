#!/usr/bin/env python3
"""Hypervolume after 30 trials per task and prior: median and range over search seeds, with and
without the four baselines (which every study shares), and the trials' total seconds.
Usage: summarize.py DIR"""
import json, os, statistics, sys

def hv2(points, ref):
    """2-D hypervolume, both objectives minimised."""
    pts = sorted(p for p in points if p[0] < ref[0] and p[1] < ref[1])
    total, best = 0.0, ref[1]
    for x, y in pts:
        if y < best:
            total += (ref[0] - x) * (best - y)
            best = y
    return total

d = sys.argv[1]
print("| task | prior | HV, all 30 trials: median [min, max] | HV without the 4 baselines: median [min, max] | best score | study time (s, mean) |")
print("|---|---|---|---|---|---|")
for task in ("sst2", "mrpc"):
    for prior in ("none", "spt", "diffora"):
        hv_all, hv_search, best, secs = [], [], [], []
        for s in (0, 1, 2):
            p = os.path.join(d, f"{task}-{prior}-s{s}.summary.json")
            j = os.path.join(d, f"{task}-{prior}-s{s}", "journal.jsonl")
            if not os.path.exists(p) or os.path.getsize(p) == 0: continue
            r = json.load(open(p))
            ref = (-r["reference_point"][0], r["reference_point"][1])
            started, pts = {}, []
            for line in open(j):
                rec = json.loads(line)
                if rec["op"] == "trial_started": started[rec["id"]] = rec.get("baseline")
                if rec["op"] == "trial_finished" and started.get(rec["id"]) is None:
                    pts.append((-rec["values"]["score"], rec["values"]["trainable_params"]))
            hv_all.append(r["hypervolume"]); hv_search.append(hv2(pts, ref)); secs.append(r["seconds"])
            best.append(max(f["values"]["score"] for f in r["front"]))
        if not hv_all: continue
        f = lambda xs: f"{statistics.median(xs):.4g} [{min(xs):.4g}, {max(xs):.4g}]"
        print(f"| {task} | {prior} | {f(hv_all)} | {f(hv_search)} | {max(best):.4f} | {statistics.mean(secs):.0f} |")
