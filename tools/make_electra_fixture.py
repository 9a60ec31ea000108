"""A tiny random ELECTRA discriminator and what HF transformers computes with it: the reference for autopeft's
ELECTRA family (issue 39).

    ~/peers-venv/bin/python tools/make_electra_fixture.py

writes Tests/TrainerTests/Fixtures/electra-tiny/:
  config.json, model.safetensors   ElectraForSequenceClassification(ElectraConfig(...)), 3 labels, random weights
                                   (seed 0, initializer_range 0.2; LayerNorm scales drawn around 1 and shifts around 0),
                                   embeddings narrower than the hidden size (16 against 32: `embeddings_project`)
  cases.json                       {"ids": [[...], [...]], "types": [...], "lengths": [...]}: two rows right-padded with 0
  reference.safetensors            the model (eval) on that batch: "hidden", the last hidden state of every real token
                                   [tokens, 32], and "logits" [2, 3] from its classification head (dense, GELU, out_proj
                                   on the first token)
"""
import json, os
import torch
from safetensors.torch import save_file
from transformers import ElectraConfig, ElectraForSequenceClassification

OUT = "Tests/TrainerTests/Fixtures/electra-tiny"
IDS = [[2, 17, 33, 5, 60, 41, 3, 9, 3], [2, 12, 8, 8, 50, 3]]
TYPES = [[0, 0, 0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0]]


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    config = ElectraConfig(vocab_size=64, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=48, max_position_embeddings=32, type_vocab_size=2, layer_norm_eps=1e-12,
                           initializer_range=0.2, num_labels=3, pad_token_id=0)
    model = ElectraForSequenceClassification(config)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "LayerNorm.weight" in n:
                p.copy_(1 + 0.3 * torch.randn_like(p))
            elif n.endswith("bias"):
                p.copy_(0.2 * torch.randn_like(p))
    model = model.eval()
    model.save_pretrained(OUT, safe_serialization=True)
    T = max(len(r) for r in IDS)
    ids = torch.zeros((len(IDS), T), dtype=torch.long)
    types = torch.zeros((len(IDS), T), dtype=torch.long)
    mask = torch.zeros((len(IDS), T), dtype=torch.long)
    for i, (r, t) in enumerate(zip(IDS, TYPES)):
        ids[i, :len(r)] = torch.tensor(r)
        types[i, :len(t)] = torch.tensor(t)
        mask[i, :len(r)] = 1
    with torch.no_grad():
        hidden = model.electra(input_ids=ids, token_type_ids=types, attention_mask=mask).last_hidden_state
        logits = model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits
    save_file({"hidden": hidden[mask.bool()].contiguous(), "logits": logits.contiguous()}, f"{OUT}/reference.safetensors")
    json.dump({"ids": [r + [0] * (T - len(r)) for r in IDS], "types": [t + [0] * (T - len(t)) for t in TYPES],
               "lengths": [len(r) for r in IDS]}, open(f"{OUT}/cases.json", "w"))


if __name__ == "__main__":
    main()
