"""Checks that an autopeft HF PEFT export computes autopeft's own logits.

Usage: python tools/verify_peft_export.py CANDIDATE_DIR EXPORT_DIR [N] [AUTOPEFT_BINARY]
  CANDIDATE_DIR  saved by `autopeft train ... --save DIR` (its run.json names the model, task and max length)
  EXPORT_DIR     written by `autopeft export CANDIDATE_DIR --out EXPORT_DIR`
  N              dev rows to compare (default 16)
Runs `autopeft predict` on the first N dev rows, loads BertForSequenceClassification + PeftModel
from the export, and compares logits. Prints one JSON line; exits 1 when the max abs difference
exceeds 1e-4, 0 otherwise, and 0 with "skipped" when torch/transformers/peft are not installed.
"""
import json, os, subprocess, sys, tempfile

def main():
    cand, export = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    binary = sys.argv[4] if len(sys.argv) > 4 else os.environ.get("AUTOPEFT", ".build/release/autopeft")
    try:
        import torch
        from transformers import AutoTokenizer, BertForSequenceClassification
        from peft import PeftModel
    except ImportError as e:
        print(json.dumps({"export": export, "skipped": f"missing {e.name}"})); return 0
    run = json.load(open(os.path.join(cand, "run.json")))
    task = run["task"]
    lines = open(task["dev"], encoding="utf-8-sig").read().split("\n")
    header, rows = lines[0], [l for l in lines[1:] if l.strip()][:n]
    cols = {"sst2": ([0], None), "mrpc": ([3, 4], None), "stsb": ([7, 8], None)}
    if task.get("format") != "glue" or task["name"] not in cols:
        print(json.dumps({"export": export, "skipped": "the script reads GLUE sst2, mrpc or stsb dev files"})); return 0
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False, encoding="utf-8") as f:
        f.write(header + "\n" + "\n".join(rows) + "\n")
        data = f.name
    out = subprocess.run([binary, "predict", cand, "--data", data], capture_output=True, text=True, check=True).stdout
    ours = [json.loads(l) for l in out.splitlines() if l.strip()]
    ours = [o["logits"] if "logits" in o else [o["value"]] for o in ours]
    labels = len(ours[0])
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(run["model"])
    base = BertForSequenceClassification.from_pretrained(run["model"], num_labels=labels)
    model = PeftModel.from_pretrained(base, export).eval()
    idx = cols[task["name"]][0]
    texts = [[r.split("\t")[i] for i in idx] for r in rows]
    enc = tok(*[list(t) for t in zip(*texts)], truncation=True, max_length=task.get("max_length", 128), padding=True, return_tensors="pt")
    with torch.no_grad():
        theirs = model(**enc).logits.tolist()
    diff = max(abs(a - b) for x, y in zip(ours, theirs) for a, b in zip(x, y))
    cfg = json.load(open(os.path.join(export, "adapter_config.json")))
    print(json.dumps({"export": export, "peft_type": cfg["peft_type"], "rows": len(rows), "max_abs_diff": diff, "ok": diff <= 1e-4}))
    return 0 if diff <= 1e-4 else 1

if __name__ == "__main__":
    sys.exit(main())
