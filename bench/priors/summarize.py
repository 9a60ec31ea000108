#!/usr/bin/env python3
"""Hypervolume after 30 trials per task and prior: median and range over search seeds, and the
trials' total seconds. Usage: summarize.py DIR"""
import json, os, statistics, sys
d = sys.argv[1]
print("| task | prior | HV after 30 trials: median [min, max] | per seed | best score | trial time (s, mean per study) |")
print("|---|---|---|---|---|---|")
for task in ("sst2", "mrpc"):
    for prior in ("none", "spt", "diffora"):
        hvs, best, secs = [], [], []
        for s in (0, 1, 2):
            p = os.path.join(d, f"{task}-{prior}-s{s}.summary.json")
            if not os.path.exists(p) or os.path.getsize(p) == 0: continue
            r = json.load(open(p))
            hvs.append(r["hypervolume"]); secs.append(r["seconds"])
            best.append(max(f["values"]["score"] for f in r["front"]))
        if not hvs: continue
        print(f"| {task} | {prior} | {statistics.median(hvs):.4g} [{min(hvs):.4g}, {max(hvs):.4g}] | "
              + ", ".join(f"{h:.4g}" for h in hvs) + f" | {max(best):.4f} | {statistics.mean(secs):.0f} |")
