"""Checks that an autopeft export computes autopeft's own logits.

Usage: python tools/verify_export.py CANDIDATE_DIR EXPORT_DIR [N] [AUTOPEFT_BINARY]
  CANDIDATE_DIR  saved by `autopeft train ... --save DIR` (its run.json names the model, task and max length)
  EXPORT_DIR     written by `autopeft export CANDIDATE_DIR --out EXPORT_DIR`: an HF PEFT adapter
                 (adapter_config.json with "peft_type") or an AdapterHub one ("model_class")
  N              dev rows to compare (default 16)
Runs `autopeft predict` on the first N dev rows (GLUE sst2, mrpc or stsb), loads BertForSequenceClassification
with the export (PEFT's PeftModel, or `adapters` plus classifier.safetensors), and compares logits.
Prints one JSON line; exits 1 when the max abs difference exceeds 1e-4, 0 otherwise, and 0 with "skipped"
when torch, transformers, peft or adapters are missing. HF PEFT prefix tuning on BERT needs transformers < 5
(5.x's BertModel takes no past_key_values); `adapters` 1.2.0 pins transformers 4.51.3.
"""
import json, os, subprocess, sys, tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_export_logits import hf_logits

COLUMNS = {"sst2": [0], "mrpc": [3, 4], "stsb": [7, 8]}

def main():
    cand, export = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    binary = sys.argv[4] if len(sys.argv) > 4 else os.environ.get("AUTOPEFT", ".build/release/autopeft")
    cfg = json.load(open(os.path.join(export, "adapter_config.json")))
    kind = "peft" if "peft_type" in cfg else "adapterhub"
    try:
        import torch, transformers
        if kind == "peft":
            import peft
        else:
            import adapters
    except ImportError as e:
        print(json.dumps({"export": export, "skipped": f"missing {e.name}"})); return 0
    run = json.load(open(os.path.join(cand, "run.json")))
    task = run["task"]
    if task.get("format") != "glue" or task["name"] not in COLUMNS:
        print(json.dumps({"export": export, "skipped": "the script reads GLUE sst2, mrpc or stsb dev files"})); return 0
    lines = open(task["dev"], encoding="utf-8-sig").read().split("\n")
    header, rows = lines[0], [l for l in lines[1:] if l.strip()][:n]
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False, encoding="utf-8") as f:
        f.write(header + "\n" + "\n".join(rows) + "\n")
    out = subprocess.run([binary, "predict", cand, "--data", f.name], capture_output=True, text=True, check=True).stdout
    ours = [json.loads(l) for l in out.splitlines() if l.strip()]
    ours = [o["logits"] if "logits" in o else [o["value"]] for o in ours]
    texts = [[r.split("\t")[i] for i in COLUMNS[task["name"]]] for r in rows]
    theirs, _ = hf_logits(run["model"], export, texts, task.get("max_length", 128), len(ours[0]))
    label = cfg.get("peft_type", "adapterhub")
    diff = max(abs(a - b) for x, y in zip(ours, theirs) for a, b in zip(x, y))
    print(json.dumps({"export": export, "format": kind, "method": label, "rows": len(rows), "max_abs_diff": diff, "ok": diff <= 1e-4}))
    return 0 if diff <= 1e-4 else 1

if __name__ == "__main__":
    sys.exit(main())
