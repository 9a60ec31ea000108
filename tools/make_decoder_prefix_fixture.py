"""HF PEFT prefix tuning on a decoder: the reference for autopeft's prefixes on Llama blocks (issue 40).

    ~/peers-venv/bin/python tools/make_decoder_prefix_fixture.py        (torch, transformers, peft)

reads Tests/TrainerTests/Fixtures/llama-tiny (tools/make_llama_fixture.py: the model, cases.json's padded batch,
classifier.safetensors' score head) and writes llama-tiny/prefix.safetensors:
  table    [P, layers · 2 · K]   PEFT's prompt_embeddings (P = 3 virtual tokens, K = 2 key/value heads × 8): row t
                                 holds, per layer, its key then its value, as PEFT's prefix encoder lays them out
  logits   [2, 3]                LlamaForSequenceClassification (3 labels, pad id 0) with PEFT's prefix tuning
                                 (PrefixTuningConfig, task SEQ_CLS) on the batch: past keys and values before the
                                 real tokens, whose positions start at P. PEFT 0.21.2's own SEQ_CLS forward refuses
                                 transformers 5.24's Llama ("does not support past key values"), so this calls what it
                                 would: the decoder with PEFT's get_prompt cache and the prefix's ones before the
                                 attention mask, then `score` on each row's last real token.
"""
import json
import torch
import peft
from peft import PrefixTuningConfig, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import LlamaConfig, LlamaForSequenceClassification

OUT = "Tests/TrainerTests/Fixtures/llama-tiny"
P = 3


def main():
    torch.manual_seed(4)
    config = LlamaConfig.from_pretrained(OUT)
    config.num_labels = 3
    config.pad_token_id = 0
    base = LlamaForSequenceClassification(config).eval()
    state = {k: v for k, v in load_file(f"{OUT}/model.safetensors").items() if k.startswith("model.")}
    state["score.weight"] = load_file(f"{OUT}/classifier.safetensors")["score.weight"]
    missing = base.load_state_dict(state, strict=False)
    assert not missing.missing_keys, missing
    model = get_peft_model(base, PrefixTuningConfig(task_type="SEQ_CLS", num_virtual_tokens=P)).eval()
    table = model.prompt_encoder["default"].embedding.weight
    K = config.num_key_value_heads * config.head_dim
    assert table.shape == (P, config.num_hidden_layers * 2 * K), table.shape
    with torch.no_grad():
        table.copy_(0.5 * torch.randn_like(table))
    cases = json.load(open(f"{OUT}/cases.json"))
    ids = torch.tensor(cases["ids"])
    mask = torch.tensor([[1] * n + [0] * (ids.shape[1] - n) for n in cases["lengths"]])
    with torch.no_grad():
        cache = model.get_prompt(ids.shape[0])
        full_mask = torch.cat([torch.ones(ids.shape[0], P, dtype=mask.dtype), mask], dim=1)
        hidden = base.model(input_ids=ids, attention_mask=full_mask, past_key_values=cache).last_hidden_state
        last = torch.tensor(cases["lengths"]) - 1
        logits = base.score(hidden[torch.arange(ids.shape[0]), last])
    save_file({"table": table.detach().contiguous(), "logits": logits.contiguous()}, f"{OUT}/prefix.safetensors",
              metadata={"peft": peft.__version__})


if __name__ == "__main__":
    main()
