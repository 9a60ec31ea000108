"""Summarises the protocol-P runs in this folder as Markdown tables (python3 results/protocol-p/summarize.py).

Reads runs.jsonl (LoRA r=8 q,v, both heads), mrpc-extra.jsonl, modules.jsonl (serial adapter 48,
AutoPEFT union), cache.jsonl (LoRA in layers 4-5, frozen-prefix cache on/off) and peer.jsonl (HF + PEFT).
Each file is written by bench/protocol-p.sh (or the peer script); a run is one JSON line.
"""
import json, os, statistics

HERE = os.path.dirname(os.path.abspath(__file__))

def load(name):
    p = os.path.join(HERE, name)
    return [json.loads(l) for l in open(p) if l.strip()] if os.path.exists(p) else []

def fmt(xs):
    if not xs: return "—"
    if len(xs) == 1: return f"{xs[0]:.4f}"
    return f"{statistics.mean(xs):.4f} ± {statistics.stdev(xs):.4f} ({', '.join(f'{x:.4f}' for x in xs)})"

def table(title, rows):
    print(f"\n### {title}\n\n| configuration | runs | metric | value (mean ± sd (each seed)) | trainable params | train s | train ex/s | peak RSS MiB |\n|---|---|---|---|---|---|---|---|")
    for label, runs, metric in rows:
        if not runs: continue
        vals = [r["metrics"][metric] for r in runs]
        print(f"| {label} | {len(runs)} | {metric} | {fmt(vals)} | {runs[0]['trainable_params']} | "
              f"{statistics.mean(r['train_seconds'] for r in runs):.0f} | {statistics.mean(r['train_examples_per_s'] for r in runs):.1f} | "
              f"{max(r['peak_rss_mib'] for r in runs):.0f} |")

runs, extra, modules, cache, peer = load("runs.jsonl"), load("mrpc-extra.jsonl"), load("modules.jsonl"), load("cache.jsonl"), load("peer.jsonl")
stsb_extra = load("stsb-extra.jsonl")  # pooler head without length grouping
def pick(rs, task, head=None, **kw):
    out = [r for r in rs if r["task"] == task and (head is None or r.get("head") == head)]
    return out

table("SST-2 (4000 rows × 3 epochs, max length 64, full dev 872)", [
    ("autopeft LoRA r=8 q,v, mean head", pick(runs, "sst2", "mean"), "accuracy"),
    ("autopeft LoRA r=8 q,v, pooler head", pick(runs, "sst2", "pooler"), "accuracy"),
    ("peer HF+PEFT LoRA r=8 q,v (pooler)", [r for r in peer if r["task"] == "sst2"], "accuracy"),
])
if modules:
    by_params = {}
    for r in modules: by_params.setdefault(r["trainable_params"], []).append(r)
    table("SST-2 PEFT modules under protocol P (mean head, seeds 0-2)", [
        (f"{'serial adapter 48' if p == min(by_params) else 'union: serial 24 + parallel 24 + prefix 8'} (all layers)", rs, "accuracy")
        for p, rs in sorted(by_params.items())])
print("\n(MRPC peer seed 0, measured on this machine and quoted in issue 2: accuracy 0.748, F1 0.835.)")
table("MRPC (first 4000 = all 3668 rows × 3 epochs, max length 128, full dev 408)", [
    ("autopeft LoRA r=8 q,v, mean head, seed 0", pick(runs, "mrpc", "mean"), "accuracy"),
    ("autopeft LoRA r=8 q,v, mean head, seed 0", pick(runs, "mrpc", "mean"), "f1"),
    ("autopeft LoRA r=8 q,v, pooler head, seed 0", pick(runs, "mrpc", "pooler"), "accuracy"),
    ("autopeft LoRA r=8 q,v, pooler head, seed 0", pick(runs, "mrpc", "pooler"), "f1"),
    ("autopeft mean head, seeds 1-2", [r for r in extra if r["seed"] in (1, 2)], "accuracy"),
    ("autopeft mean head, seeds 1-2", [r for r in extra if r["seed"] in (1, 2)], "f1"),
    ("autopeft mean head, seed 0, no length grouping", [r for r in extra if r["seed"] == 0], "accuracy"),
    ("autopeft mean head, seed 0, no length grouping", [r for r in extra if r["seed"] == 0], "f1"),
    ("peer HF+PEFT (pooler), seeds " + ",".join(str(r["seed"]) for r in peer if r["task"] == "mrpc"), [r for r in peer if r["task"] == "mrpc"], "accuracy"),
    ("peer HF+PEFT (pooler), seeds " + ",".join(str(r["seed"]) for r in peer if r["task"] == "mrpc"), [r for r in peer if r["task"] == "mrpc"], "f1"),
])
table("STS-B (4000 rows × 3 epochs, max length 128, full dev 1500)", [
    ("autopeft LoRA r=8 q,v, mean head", pick(runs, "stsb", "mean"), "pearson"),
    ("autopeft LoRA r=8 q,v, mean head", pick(runs, "stsb", "mean"), "spearman"),
    ("autopeft LoRA r=8 q,v, pooler head", pick(runs, "stsb", "pooler"), "pearson"),
    ("autopeft LoRA r=8 q,v, pooler head", pick(runs, "stsb", "pooler"), "spearman"),
    ("autopeft pooler head, no length grouping, seed 0", stsb_extra, "pearson"),
    ("autopeft pooler head, no length grouping, seed 0", stsb_extra, "spearman"),
    ("peer HF+PEFT (pooler)", [r for r in peer if r["task"] == "stsb"], "pearson"),
    ("peer HF+PEFT (pooler)", [r for r in peer if r["task"] == "stsb"], "spearman"),
])
if cache:
    half = [r for i, r in enumerate(cache) if i % 2 == 0], [r for i, r in enumerate(cache) if i % 2 == 1]
    table("Frozen-prefix cache: SST-2 protocol P with LoRA r=8 q,v in layers 4-5 (mean head)", [
        ("cache on (dropout off in layers 0-3)", half[0], "accuracy"), ("cache off (dropout everywhere)", half[1], "accuracy")])
