"""What HF PEFT computes with an autopeft causal-LM export: LlamaForCausalLM on transformers' dequantizing load of a
GGUF file, the adapter loaded by PeftModel, greedy generations and the loss on the counted tokens of JSONL rows (the
counted tokens found as tools/make_causal_lm_fixture.py documents). Compare with `autopeft predict` on the candidate.

    ~/peers-venv/bin/python tools/hf_causal_lm_check.py GGUF ADAPTER_DIR ROWS.jsonl MAX_NEW_TOKENS
        ADAPTER_DIR may also be an `autopeft export --merged` folder (it has a config.json): that model is loaded as it
        is, with no PEFT, and the tokenizer still comes from GGUF

prints one JSON line a row, {"row", "generation", "loss_sum", "tokens"}, then {"mean_loss", "exact_match"}.
"""
import json, os, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from peft import PeftModel
from make_causal_lm_fixture import encode


def main():
    gguf_path, adapter, rows_path, new = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    folder, name = os.path.dirname(os.path.abspath(gguf_path)), os.path.basename(gguf_path)
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if os.path.exists(os.path.join(adapter, "config.json")):
        model = AutoModelForCausalLM.from_pretrained(adapter, dtype=torch.float32).eval()
    else:
        base = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        model = PeftModel.from_pretrained(base, adapter).eval()
    rows = [json.loads(l) for l in open(rows_path) if l.strip()]
    total, count, matches = 0.0, 0, 0
    for i, row in enumerate(rows):
        ids, counted = encode(tok, row)
        labels = [t if c else -100 for t, c in zip(ids, counted)]
        n = sum(counted[1:])
        with torch.no_grad():
            loss = float(model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss)
        if "messages" in row:
            prompt = tok(tok.apply_chat_template(row["messages"][:-1], tokenize=False, add_generation_prompt=True),
                         add_special_tokens=False)["input_ids"]
            reference = row["messages"][-1]["content"]
        else:
            prompt = tok(row["prompt"], add_special_tokens=False)["input_ids"]
            reference = row["response"]
        with torch.no_grad():
            out = model.generate(input_ids=torch.tensor([prompt]), max_new_tokens=new, do_sample=False,
                                 eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
        generated = out[0, len(prompt):].tolist()
        if tok.eos_token_id in generated:
            generated = generated[:generated.index(tok.eos_token_id)]
        text = tok.decode(generated, skip_special_tokens=False)
        matches += text.strip() == reference.strip()
        total, count = total + loss * n, count + n
        print(json.dumps({"row": i, "generation": text, "loss_sum": loss * n, "tokens": n}, ensure_ascii=False), flush=True)
    print(json.dumps({"mean_loss": total / count, "exact_match": matches / len(rows)}))


if __name__ == "__main__":
    main()
