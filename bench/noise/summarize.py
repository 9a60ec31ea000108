"""Issue 41's table from bench/noise/run's studies: per task, arm and search seed, the returned
front's dev hypervolume (its 3-seed mean dev scores against log10 parameters, searched points and
baselines on the front alike, the reference from the study), the search-time hypervolume it claimed
(today: the runs' scores; new: the posterior means) and the gap between the two, and whether the
study's verdict on each baseline agrees with what dev measures.

The dev measurement of a baseline: the front point no larger than it (trainable parameters) with
the best 3-seed dev mean; "beaten" when that mean is above the baseline's by more than two standard
errors of the difference (sd over seeds / sqrt(3) each), "not matched" when below by more than two,
"tied within noise" otherwise. Today's study says "beaten" when some search trial matched the
baseline (the runs' own comparison) and "not matched" otherwise; the new one gives its posterior
verdict. Usage: python3 bench/noise/summarize.py OUT
"""
import json, math, os, sys
from collections import defaultdict


def jsonl(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def hypervolume(points, ref):
    """2-D hypervolume of minimised points (-score, log10 params) against ref."""
    pts = sorted(p for p in points if p[0] < ref[0] and p[1] < ref[1])
    volume, best = 0.0, ref[1]
    for x, y in pts:
        if y < best:
            volume += (ref[0] - x) * (best - y)
            best = y
    return volume


def study_table(out, name):
    base = os.path.join(out, name)
    summary = json.load(open(base + ".summary.json"))
    journal = jsonl(os.path.join(base, "journal.jsonl"))
    params, names = {}, {}
    for r in journal:
        if r.get("op") == "trial_started" and "baseline" in r:
            names[r["id"]] = r["baseline"]
        if r.get("op") == "trial_finished":
            params[r["id"]] = r["values"]["trainable_params"]
    dev = defaultdict(list)
    for r in jsonl(os.path.join(base, "reevaluation.jsonl")):
        if r.get("op") == "reevaluated" and "score" in r:
            dev[r["trial"]].append(r["score"])
    ref_score, ref_params = summary["reference_point"]
    ref = (-ref_score, math.log10(ref_params))
    front = [p["id"] for p in summary["front"]]
    if any(len(dev[i]) < 3 for i in front):
        return None
    mean = {i: sum(s) / len(s) for i, s in dev.items()}
    sd = {i: (sum((x - mean[i]) ** 2 for x in s) / (len(s) - 1)) ** 0.5 if len(s) > 1 else 0 for i, s in dev.items()}
    dev_hv = hypervolume([(-mean[i], math.log10(max(params[i], 1))) for i in front], ref)
    claimed = summary.get("hypervolume_posterior") or summary["hypervolume_log10_params"]
    verdicts = {}
    said = {b["id"]: b for b in summary.get("baselines", [])}
    for bid, bname in names.items():
        if bid not in mean:
            continue
        small = [i for i in front if names.get(i) is None and params[i] <= params[bid]]
        if small:
            best = max(small, key=lambda i: mean[i])
            diff, se = mean[best] - mean[bid], math.sqrt(sd[best] ** 2 / 3 + sd[bid] ** 2 / 3)
            measured = "beaten" if diff > 2 * se else "not matched" if diff < -2 * se else "tied within noise"
        else:
            measured = "not matched"
        b = said.get(bid)
        if b is not None and "posterior" in b:
            study = b["posterior"]["verdict"]
        else:
            study = "beaten" if matched(journal, summary, bid, params) else "not matched"
        verdicts[bname] = (study, measured)
    return {"dev_hv": dev_hv, "claimed_hv": claimed, "verdicts": verdicts}


def matched(journal, summary, bid, params):
    """Whether a search trial at the target matched the baseline by its own run (today's verdict)."""
    scores, fidelity, baseline = {}, {}, set()
    for r in journal:
        if r.get("op") == "trial_started":
            fidelity[r["id"]] = (r.get("fidelity") or {}).get("examples")
            if "baseline" in r:
                baseline.add(r["id"])
        if r.get("op") == "trial_finished":
            scores[r["id"]] = r["values"]["score"]
    target = fidelity.get(bid)
    return any(i not in baseline and fidelity.get(i) == target and scores[i] >= scores[bid] and params[i] <= params[bid]
               for i in scores)


def main(out):
    rows = []
    for f in sorted(os.listdir(out)):
        if f.endswith(".summary.json"):
            name = f[: -len(".summary.json")]
            task, arm, seed = name.rsplit("-", 2)
            t = study_table(out, name)
            if t:
                rows.append((task, arm, seed, t))
    names = sorted({n for *_, t in rows for n in t["verdicts"]})
    print("| task | arm | seed | dev HV | search-time HV | gap | " + " | ".join(names) + " |")
    print("|---" * (6 + len(names)) + "|")
    for task, arm, seed, t in rows:
        cells = []
        for n in names:
            study, measured = t["verdicts"].get(n, ("-", "-"))
            cells.append(f"{study} / dev {measured}" + (" ✓" if study == measured else " ✗"))
        print(f"| {task} | {arm} | {seed[1:]} | {t['dev_hv']:.4f} | {t['claimed_hv']:.4f} | {t['claimed_hv'] - t['dev_hv']:+.4f} | "
              + " | ".join(cells) + " |")
    by = defaultdict(list)
    for task, arm, _, t in rows:
        by[(task, arm)].append(t)
    for (task, arm), ts in sorted(by.items()):
        n = len(ts)
        agree = sum(s == m for t in ts for s, m in t["verdicts"].values())
        total = sum(len(t["verdicts"]) for t in ts)
        print(f"{task} {arm}: {n} seeds, mean dev HV {sum(t['dev_hv'] for t in ts) / n:.4f}, mean gap "
              f"{sum(t['claimed_hv'] - t['dev_hv'] for t in ts) / n:+.4f}, verdicts agreeing with dev {agree} of {total}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results/noise")
