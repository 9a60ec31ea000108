"""A tiny random RoBERTa and what HF transformers computes with it: the reference for autopeft's RoBERTa family.

    ~/peers-venv/bin/python tools/make_roberta_fixture.py [DATA_DIR]     DATA_DIR default: data/glue

writes Tests/TrainerTests/Fixtures/roberta-tiny/:
  config.json, model.safetensors   RobertaForSequenceClassification(RobertaConfig(...)) with random weights
                                   (seed 0, initializer_range 0.2 so that attention is far from uniform), as
                                   save_pretrained writes them: tensors named roberta.embeddings..., no pooler
  tokenizer.json                   the byte-level BPE of Fixtures/bpe/roberta (make_bpe_fixtures.py)
  cases.json                       16 texts (8 single, 8 MRPC pairs) with their ids at max_length 48
  reference.safetensors            the encoder (eval) on those 16 as one padded batch: last_hidden_state of
                                   every real token, concatenated [tokens, 32]
"""
import json, os, shutil, sys
import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer
from transformers import RobertaConfig, RobertaForSequenceClassification

DATA = sys.argv[1] if len(sys.argv) > 1 else "data/glue"
FIX = "Tests/TrainerTests/Fixtures"
OUT = f"{FIX}/roberta-tiny"


def rows(path):
    lines = open(path, encoding="utf-8-sig").read().split("\n")
    return [l.split("\t") for l in lines[1:] if l.strip()]


def main():
    os.makedirs(OUT, exist_ok=True)
    shutil.copy(f"{FIX}/bpe/roberta/tokenizer.json", f"{OUT}/tokenizer.json")
    tok = Tokenizer.from_file(f"{OUT}/tokenizer.json")
    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=64, max_position_embeddings=50, type_vocab_size=1, pad_token_id=1,
                           bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5, initializer_range=0.2, num_labels=2)
    model = RobertaForSequenceClassification(config).eval()
    model.save_pretrained(OUT, safe_serialization=True)
    sst = [r[0] for r in rows(f"{DATA}/SST-2/dev.tsv")][:8]
    mrpc = [(r[3], r[4]) for r in rows(f"{DATA}/MRPC/dev.tsv")][:8]
    cases = [{"a": a, "b": None} for a in sst] + [{"a": a, "b": b} for a, b in mrpc]
    tok.enable_truncation(max_length=48, strategy="longest_first")
    encodings = [tok.encode(c["a"], c["b"]) if c["b"] is not None else tok.encode(c["a"]) for c in cases]
    for c, e in zip(cases, encodings):
        c["ids"] = e.ids
    T = max(len(e.ids) for e in encodings)
    ids = torch.full((len(cases), T), config.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(cases), T), dtype=torch.long)
    for i, e in enumerate(encodings):
        ids[i, :len(e.ids)] = torch.tensor(e.ids)
        mask[i, :len(e.ids)] = 1
    with torch.no_grad():
        hidden = model.roberta(input_ids=ids, attention_mask=mask).last_hidden_state
    real = torch.cat([hidden[i, :len(e.ids)] for i, e in enumerate(encodings)])
    save_file({"last_hidden_state": real.contiguous()}, f"{OUT}/reference.safetensors")
    with open(f"{OUT}/cases.json", "w", encoding="utf-8") as f:
        json.dump({"made_by": "tools/make_roberta_fixture.py", "max_length": 48, "cases": cases}, f, ensure_ascii=False, indent=1)
    print(f"{len(cases)} cases, {real.shape[0]} tokens, written to {OUT}")


if __name__ == "__main__":
    main()
