"""The table of bench/prefix-positions/run: per task and candidate, the dev score (mean ± sd over 3 training
seeds) with the prefix's positions from 0 and shifted, and the difference.

    python3 bench/prefix-positions/summarize.py OUT
"""
import json, os, statistics, sys
from collections import defaultdict

runs = defaultdict(list)
for line in open(os.path.join(sys.argv[1], "runs.jsonl")):
    r = json.loads(line)
    runs[r["run"]].append(r["score"])
print("| task | candidate | positions from 0 | shifted | difference |")
print("|---|---|---|---|---|")
for key in sorted({k.rsplit("-", 1)[0] for k in runs}):
    z, s = runs.get(key + "-zero", []), runs.get(key + "-shifted", [])
    def fmt(v):
        return f"{statistics.mean(v):.4f} ± {statistics.stdev(v):.4f} ({len(v)})" if len(v) > 1 else (f"{v[0]:.4f} (1)" if v else "–")
    diff = f"{statistics.mean(z) - statistics.mean(s):+.4f}" if z and s else "–"
    task, name = key.split("-", 1)
    print(f"| {task} | {name} | {fmt(z)} | {fmt(s)} | {diff} |")
