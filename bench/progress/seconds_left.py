#!/usr/bin/env python3
"""How well the progress line's time left prices the trials to come, replayed on real studies.

For each study (a folder with the trials.csv that `autopeft report` writes) and each stop k from 5 to
N-3, two models are fitted to trials 1..k and asked for the seconds of trials k+1..N, given the
examples those trials trained (the seconds part alone; `Study.examplesLeft` estimates the examples):
  rate: one rate per trained example (the progress line before 2026-12-04);
  fit:  a fixed part per trial plus a part per example, least squares (`Study.trialSeconds`).
Trials slower than 3x the median seconds per example are left out, of the fit and of the truth: a
pause (SIGSTOP for a CI run) no model can foresee. Prints the mean relative error per study and over
all.

  python3 bench/progress/seconds_left.py results/priors/mf/*-s0 results/priors/mf-seconds-cost/*-s0
"""
import csv, statistics, sys


def fit(xs, ys):
    """Least squares y = a + b x (one rate when the x are all equal)."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0, sum(ys) / sum(xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - b * mx, b


def replay(folder):
    rows = [r for r in csv.DictReader(open(folder + "/trials.csv")) if r["status"] == "finished"]
    pairs = [(float(r["trained_examples"]), float(r["seconds"])) for r in rows]
    median = statistics.median(y / x for x, y in pairs)
    pairs = [(x, y) for x, y in pairs if y / x < 3 * median]
    errors = {"rate": [], "fit": []}
    for k in range(5, len(pairs) - 2):
        xs, ys = [p[0] for p in pairs[:k]], [p[1] for p in pairs[:k]]
        rest = pairs[k:]
        actual, examples = sum(p[1] for p in rest), sum(p[0] for p in rest)
        rate = sum(ys) / sum(xs)
        a, b = fit(xs, ys)
        errors["rate"].append(abs(rate * examples - actual) / actual)
        errors["fit"].append(abs(max(a * len(rest) + b * examples, 0.01 * rate * examples) - actual) / actual)
    return len(rows) - len(pairs), errors


total = {"rate": [], "fit": []}
for folder in sys.argv[1:]:
    dropped, errors = replay(folder.rstrip("/"))
    for m in total:
        total[m] += errors[m]
    print(f"{folder}: left out {dropped} paused, rate {statistics.fmean(errors['rate']):.2f}, fit {statistics.fmean(errors['fit']):.2f}")
print(f"all {len(total['rate'])} stops: rate {statistics.fmean(total['rate']):.3f}, fit {statistics.fmean(total['fit']):.3f}")
