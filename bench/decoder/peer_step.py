"""The peer of `bench-trainer decoder-step`: HF transformers + PEFT on CPU PyTorch, on the same SmolLM2 weights
(transformers' GGUF load, dequantized to fp32), one JSON line on stdout.

    ~/peers-venv/bin/python bench/decoder/peer_step.py --seq 64 [--batch 8] [--steps 10] [--warmup 3] [--threads 2] [--gguf FILE]

LlamaForSequenceClassification (2 labels, pad_token_id set so the last token pools), LoRA r=8 alpha 16 dropout 0 on
q_proj and v_proj, AdamW lr 5e-4 (weight decay 0.01), random token ids in [100, 49000), every token real; the median
step time (forward, loss, backward, update) over the timed steps, and the process's peak RSS.
"""
import argparse, json, os, resource, time
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoConfig, LlamaForSequenceClassification


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gguf", default="models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    folder, name = os.path.dirname(os.path.abspath(a.gguf)), os.path.basename(a.gguf)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    config.num_labels = 2
    config.pad_token_id = 0
    model = LlamaForSequenceClassification.from_pretrained(folder, gguf_file=name, config=config, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["q_proj", "v_proj"],
                                             task_type="SEQ_CLS"))
    model.train()
    g = torch.Generator().manual_seed(1234)
    ids = torch.randint(100, 49000, (a.batch, a.seq), generator=g)
    labels = torch.randint(0, 2, (a.batch,), generator=g)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-4, weight_decay=0.01)
    times, losses = [], []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(input_ids=ids).logits, labels)
        loss.backward()
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
        losses.append(loss.item())
    med = sorted(times)[len(times) // 2]
    print(json.dumps({"impl": "peer", "mode": "train", "peft": "lora_r8_qv", "base": "fp32", "batch": a.batch, "seq_len": a.seq,
                      "threads": a.threads, "step_s_median": med, "examples_per_s": a.batch / med,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
                      "first_loss": losses[0], "last_loss": losses[-1], "torch": torch.__version__}))


if __name__ == "__main__":
    main()
