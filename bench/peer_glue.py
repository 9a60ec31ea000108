"""The peer for end-to-end candidate timing: HF transformers + PEFT on CPU PyTorch.

Same protocol as ../shared/peers/torch_peft_glue.py (LoRA alpha 2r, dropout 0.1, AdamW wd 0.01,
linear schedule with 6% warm-up, batch 32, dynamic padding, first N rows, full dev set,
BertForSequenceClassification's pooler head), plus the LoRA layers and rank as options, so that
"LoRA r=8 in layers 4-5 only" can be timed on both sides.

Usage: python bench/peer_glue.py TASK SEED ROWS EPOCHS MAXLEN LR [LAYERS]   (LAYERS e.g. 4,5; default all)
Prints one JSON line: dev metrics, train/eval seconds, examples/s, peak RSS.
"""
import json, os, random, resource, sys, time
import numpy as np, torch
from transformers import AutoTokenizer, BertForSequenceClassification, get_linear_schedule_with_warmup
from peft import LoraConfig, get_peft_model

MODEL = os.environ.get("PEERS_MODEL_DIR", "models/all-MiniLM-L6-v2")
DATA = os.environ.get("PEERS_GLUE_DIR", "data/glue")
TASKS = {"sst2": ("SST-2", ["sentence"], "label", 2), "mrpc": ("MRPC", ["#1 String", "#2 String"], "Quality", 2)}

def read(task, split):
    d, cols, lab, _ = TASKS[task]
    rows = [r for r in open(f"{DATA}/{d}/{split}.tsv", encoding="utf-8-sig").read().split("\n") if r.strip()]
    head = rows[0].split("\t")
    return [([r.split("\t")[head.index(c)] for c in cols], int(r.split("\t")[head.index(lab)])) for r in rows[1:]]

def main():
    task, seed, n, epochs, maxlen, lr = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
    layers = [int(x) for x in sys.argv[7].split(",")] if len(sys.argv) > 7 else None
    torch.manual_seed(seed); random.seed(seed); np.random.seed(seed); torch.set_num_threads(2)
    t_start = time.time()
    tok = AutoTokenizer.from_pretrained(MODEL)
    model = BertForSequenceClassification.from_pretrained(MODEL, num_labels=2)
    cfg = LoraConfig(task_type="SEQ_CLS", r=8, lora_alpha=16, lora_dropout=0.1, target_modules=["query", "value"],
                     layers_to_transform=layers)
    model = get_peft_model(model, cfg)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    train = read(task, "train")[:n]; dev = read(task, "dev")
    def batches(data, shuffle):
        idx = list(range(len(data)))
        if shuffle: random.shuffle(idx)
        for i in range(0, len(idx), 32):
            chunk = [data[j] for j in idx[i:i + 32]]
            texts = list(zip(*[c[0] for c in chunk]))
            enc = tok(*[list(t) for t in texts], truncation=True, max_length=maxlen, padding=True, return_tensors="pt")
            yield enc, torch.tensor([c[1] for c in chunk])
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    steps = epochs * ((len(train) + 31) // 32)
    sch = get_linear_schedule_with_warmup(opt, int(0.06 * steps), steps)
    t0 = time.time(); seen = 0
    for _ in range(epochs):
        model.train()
        for enc, y in batches(train, True):
            out = model(**enc, labels=y)
            out.loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step(); sch.step(); opt.zero_grad(); seen += len(y)
    train_s = time.time() - t0
    model.eval(); preds = []; gold = []; t1 = time.time()
    with torch.no_grad():
        for enc, y in batches(dev, False):
            preds += model(**enc).logits.argmax(-1).tolist(); gold += y.tolist()
    eval_s = time.time() - t1
    acc = float((np.array(preds) == np.array(gold)).mean())
    print(json.dumps({"task": task, "seed": seed, "layers": layers, "train_examples": len(train), "epochs": epochs,
                      "trainable_params": trainable, "metrics": {"accuracy": acc}, "train_seconds": round(train_s, 2),
                      "train_examples_per_s": round(seen / train_s, 2), "eval_seconds": round(eval_s, 2),
                      "total_seconds": round(time.time() - t_start, 2),
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))

if __name__ == "__main__":
    main()
