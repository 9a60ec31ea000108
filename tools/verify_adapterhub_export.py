"""Checks that an autopeft AdapterHub export computes autopeft's own logits.

Usage: python tools/verify_adapterhub_export.py CANDIDATE_DIR EXPORT_DIR [N] [AUTOPEFT_BINARY]
Needs torch and the `adapters` package (1.2.0 pins transformers 4.51.3; install both to a folder with
pip install --target DIR --no-deps "transformers==4.51.3" "adapters==1.2.0" "tokenizers>=0.21,<0.22" and put it on PYTHONPATH).
Runs `autopeft predict` on the first N SST-2/MRPC/STS-B dev rows, loads BertForSequenceClassification with the
adapter and the classifier, compares logits. Prints one JSON line; exits 1 when max |diff| > 1e-4.
"""
import json, os, subprocess, sys, tempfile

def main():
    cand, export = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    binary = sys.argv[4] if len(sys.argv) > 4 else os.environ.get("AUTOPEFT", ".build/release/autopeft")
    try:
        import torch, adapters
        from safetensors.torch import load_file
        from transformers import AutoTokenizer, BertForSequenceClassification
    except ImportError as e:
        print(json.dumps({"export": export, "skipped": f"missing {e.name}"})); return 0
    run = json.load(open(os.path.join(cand, "run.json")))
    task = run["task"]
    cols = {"sst2": [0], "mrpc": [3, 4], "stsb": [7, 8]}
    lines = open(task["dev"], encoding="utf-8-sig").read().split("\n")
    header, rows = lines[0], [l for l in lines[1:] if l.strip()][:n]
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False, encoding="utf-8") as f:
        f.write(header + "\n" + "\n".join(rows) + "\n")
    out = subprocess.run([binary, "predict", cand, "--data", f.name], capture_output=True, text=True, check=True).stdout
    ours = [json.loads(l)["logits"] for l in out.splitlines() if l.strip()]
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(run["model"])
    model = BertForSequenceClassification.from_pretrained(run["model"], num_labels=len(ours[0]))
    adapters.init(model)
    name = model.load_adapter(export, use_safetensors=True)
    model.set_active_adapters(name)
    model.classifier.load_state_dict(load_file(os.path.join(export, "classifier.safetensors")))
    model.eval()
    texts = [[r.split("\t")[i] for i in cols[task["name"]]] for r in rows]
    enc = tok(*[list(t) for t in zip(*texts)], truncation=True, max_length=task.get("max_length", 128), padding=True, return_tensors="pt")
    with torch.no_grad():
        theirs = model(**enc).logits.tolist()
    diff = max(abs(a - b) for x, y in zip(ours, theirs) for a, b in zip(x, y))
    print(json.dumps({"export": export, "adapter": name, "rows": len(rows), "max_abs_diff": diff, "ok": diff <= 1e-4}))
    return 0 if diff <= 1e-4 else 1

if __name__ == "__main__":
    sys.exit(main())
