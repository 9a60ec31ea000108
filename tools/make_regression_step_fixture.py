"""Golden fixture for one pooler-head regression step on the real model (HF transformers + PEFT).

Usage: python tools/make_regression_step_fixture.py [MODEL_DIR] [GLUE_DIR]
LoRA r=8 alpha 16 on query+value in all layers, num_labels=1 (MSE), dropout off (eval mode, grads on).
A, B and the classifier get fixed seeded values; the batch is the first 8 STS-B train pairs (max length 128).
Writes Tests/TrainerTests/Fixtures/regression_step.safetensors: the parameters, the logits, the loss and
the gradient of every trainable tensor, named as in autopeft's parameter block; then the loss after each of
five AdamW steps (lr 5e-3, weight decay 0.01, clipping 1.0) on the same batch and the parameters after them.
"""
import os, sys, torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, BertForSequenceClassification
from peft import LoraConfig, get_peft_model

model_dir = sys.argv[1] if len(sys.argv) > 1 else "models/all-MiniLM-L6-v2"
glue = sys.argv[2] if len(sys.argv) > 2 else "data/glue"
torch.manual_seed(0)
tok = AutoTokenizer.from_pretrained(model_dir)
m = BertForSequenceClassification.from_pretrained(model_dir, num_labels=1)
m = get_peft_model(m, LoraConfig(task_type="SEQ_CLS", r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["query", "value"]))
m.eval()
g = torch.Generator().manual_seed(1)
out = {}
for name, p in m.named_parameters():
    if not p.requires_grad: continue
    with torch.no_grad():
        p.copy_(torch.randn(p.shape, generator=g) * (0.05 if "lora" in name else 0.1))
rows = [l.split("\t") for l in open(f"{glue}/STS-B/train.tsv", encoding="utf-8").read().split("\n")[1:9]]
enc = tok([r[7] for r in rows], [r[8] for r in rows], truncation=True, max_length=128, padding=True, return_tensors="pt")
y = torch.tensor([float(r[9]) for r in rows])
logits = m(**enc).logits.squeeze(-1)
loss = torch.nn.functional.mse_loss(logits, y)
loss.backward()
def ours(name):
    n = name.replace("base_model.model.bert.", "").replace("base_model.model.", "")
    n = n.replace(".lora_A.default.weight", ".lora_A").replace(".lora_B.default.weight", ".lora_B")
    n = n.replace("classifier.modules_to_save.default.", "classifier.")
    return n
for name, p in m.named_parameters():
    if p.requires_grad and "original_module" not in name:
        out["value:" + ours(name)] = p.detach().clone().contiguous()
        out["grad:" + ours(name)] = p.grad.detach().clone().contiguous()
out["logits"] = logits.detach().contiguous(); out["loss"] = loss.detach().reshape(1); out["labels"] = y
# Then five AdamW steps on the same batch (lr 5e-3, weight decay 0.01, clipping at 1.0), still without dropout.
params = [p for p in m.parameters() if p.requires_grad]
opt = torch.optim.AdamW(params, lr=5e-3, weight_decay=0.01)
for step in range(5):
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    opt.step(); opt.zero_grad()
    l = torch.nn.functional.mse_loss(m(**enc).logits.squeeze(-1), y)
    l.backward()
    out[f"loss_after_{step + 1}"] = l.detach().reshape(1)
for name, p in m.named_parameters():
    if p.requires_grad and "original_module" not in name:
        out["after5:" + ours(name)] = p.detach().clone().contiguous()
save_file(out, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TrainerTests", "Fixtures", "regression_step.safetensors"))
print("loss", loss.item(), "tensors", len(out))
