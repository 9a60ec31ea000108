"""Tiny random Llama-family decoders and what HF transformers computes with them: the reference for
autopeft's decoder block (issue 40).

    ~/peers-venv/bin/python tools/make_llama_fixture.py

writes, under Tests/TrainerTests/Fixtures/:
  llama-tiny/    LlamaForCausalLM, grouped-query (4 heads over 2 key/value heads), its own lm_head
  qwen2-tiny/    Qwen2ForCausalLM, 4 heads over 1 key/value head, biases on q/k/v, head tied to the embeddings
each with
  config.json, model.safetensors   as save_pretrained writes them (seeds 0 and 1, initializer_range 0.2 so
                                   that attention is far from uniform; RMSNorm scales drawn around 1 and
                                   biases around 0, so that one read wrongly shows)
  cases.json                       {"ids": [[...], [...]], "lengths": [7, 4]}: two rows right-padded with id 0
  reference.safetensors            the model (eval) on that batch, every real token's row concatenated:
                                   "logits" [tokens, vocab] and "hidden" (the last hidden state, after the
                                   final norm) [tokens, hidden]
and, for llama-tiny, classifier.safetensors: LlamaForSequenceClassification (3 labels, pad_token_id 0) on the same
base with a random `score.weight`, and its "logits" [2, 3] on the batch (pooled at each row's last real token);
and llama-tiny/llama-tiny.gguf: the same Llama as llama.cpp's converter writes it (query and key rows
permuted for its rotary layout; attention maps in Q4_1, Q4_0 and Q8_0, the embedding in Q8_0, the rest F32
or F16), with gguf-reference.safetensors: its "logits" as transformers computes them after loading the
GGUF file (`from_pretrained(..., gguf_file=...)`, which dequantizes it and undoes the permutation).
"""
import json, os
import numpy as np
import torch
import gguf
from gguf.constants import GGMLQuantizationType as Q
from transformers import AutoModelForCausalLM
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification, Qwen2Config, Qwen2ForCausalLM

FIX = "Tests/TrainerTests/Fixtures"
IDS = [[5, 17, 33, 2, 60, 41, 9], [12, 3, 3, 50]]


def padded_batch():
    """IDS right-padded with id 0, and the attention mask."""
    T = max(len(r) for r in IDS)
    ids = torch.zeros((len(IDS), T), dtype=torch.long)
    mask = torch.zeros((len(IDS), T), dtype=torch.long)
    for i, r in enumerate(IDS):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    return ids, mask


def build(name, model):
    out = f"{FIX}/{name}"
    os.makedirs(out, exist_ok=True)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n:
                p.copy_(1 + 0.3 * torch.randn_like(p))
            elif n.endswith("bias"):
                p.copy_(0.2 * torch.randn_like(p))
    model = model.eval()
    model.save_pretrained(out, safe_serialization=True)
    ids, mask = padded_batch()
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
        hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
    keep = mask.bool()
    save_file({"logits": logits[keep].contiguous(), "hidden": hidden[keep].contiguous()},
              f"{out}/reference.safetensors")
    json.dump({"ids": [r + [0] * (ids.shape[1] - len(r)) for r in IDS], "lengths": [len(r) for r in IDS]},
              open(f"{out}/cases.json", "w"))


def classifier(name, model):
    """The causal LM's base under LlamaForSequenceClassification, 3 labels, a random score head."""
    out = f"{FIX}/{name}"
    config = model.config.__class__.from_dict(model.config.to_dict())
    config.num_labels = 3
    config.pad_token_id = 0
    cls = LlamaForSequenceClassification(config).eval()
    missing = cls.load_state_dict({k: v for k, v in model.state_dict().items() if k.startswith("model.")}, strict=False)
    assert missing.missing_keys == ["score.weight"], missing
    with torch.no_grad():
        cls.score.weight.copy_(0.5 * torch.randn_like(cls.score.weight))
    ids, mask = padded_batch()
    with torch.no_grad():
        logits = cls(input_ids=ids, attention_mask=mask).logits
    save_file({"score.weight": cls.score.weight.detach().contiguous(), "logits": logits.contiguous()}, f"{out}/classifier.safetensors")


def permute(w, heads):
    """llama.cpp's convert_hf_to_gguf.py reorders each head's rows: pairs of adjacent rows for its rotary layout."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


HF_MAPS = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
           "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}


def add_tensor(w, name, x, qtype):
    """x as `qtype`: F32, F16, or a block type quantized by gguf.quants."""
    if qtype == Q.F32:
        w.add_tensor(name, np.ascontiguousarray(x))
    elif qtype == Q.F16:
        w.add_tensor(name, np.ascontiguousarray(x).astype(np.float16))
    else:
        w.add_tensor(name, gguf.quants.quantize(np.ascontiguousarray(x), qtype), raw_dtype=qtype)


def add_llama(w, model, types, embedding, output):
    """A Llama's hyperparameters and tensors as llama.cpp's converter writes them: query and key rows permuted, each
    block's maps in `types` (by GGUF name), the embedding in `embedding`, norms F32, the head in `output` (None: tied,
    no output.weight)."""
    c = model.config
    w.add_block_count(c.num_hidden_layers)
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_rope_freq_base(c.rope_theta if hasattr(c, "rope_theta") else c.rope_parameters["rope_theta"])
    w.add_rope_dimension_count(c.hidden_size // c.num_attention_heads)
    w.add_vocab_size(c.vocab_size)
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    add_tensor(w, "token_embd.weight", sd["model.embed_tokens.weight"], embedding)
    for l in range(c.num_hidden_layers):
        for g, h in HF_MAPS.items():
            x = sd[f"model.layers.{l}.{h}.weight"]
            if g == "attn_q":
                x = permute(x, c.num_attention_heads)
            if g == "attn_k":
                x = permute(x, c.num_key_value_heads)
            add_tensor(w, f"blk.{l}.{g}.weight", x, types[g])
        add_tensor(w, f"blk.{l}.attn_norm.weight", sd[f"model.layers.{l}.input_layernorm.weight"], Q.F32)
        add_tensor(w, f"blk.{l}.ffn_norm.weight", sd[f"model.layers.{l}.post_attention_layernorm.weight"], Q.F32)
    add_tensor(w, "output_norm.weight", sd["model.norm.weight"], Q.F32)
    if output is not None:
        add_tensor(w, "output.weight", sd["lm_head.weight"], output)


def write_gguf(name, model):
    """The model as a GGUF file, as llama.cpp's converter would write it; transformers' logits after loading it."""
    out = f"{FIX}/{name}"
    c = model.config
    path = f"{out}/{name}.gguf"
    w = gguf.GGUFWriter(path, arch="llama")
    types = {"attn_q": Q.Q4_1, "attn_k": Q.Q4_0, "attn_v": Q.Q8_0, "attn_output": Q.Q4_1, "ffn_gate": Q.F16, "ffn_up": Q.F32,
             "ffn_down": Q.F16}
    add_llama(w, model, types, embedding=Q.Q8_0, output=Q.Q8_0)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"t{i}" for i in range(c.vocab_size)])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    loaded = AutoModelForCausalLM.from_pretrained(out, gguf_file=f"{name}.gguf", dtype=torch.float32).eval()
    ids, mask = padded_batch()
    with torch.no_grad():
        logits = loaded(input_ids=ids, attention_mask=mask).logits
    save_file({"logits": logits[mask.bool()].contiguous()}, f"{out}/gguf-reference.safetensors")


def main():
    torch.manual_seed(0)
    llama = LlamaForCausalLM(LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=32, rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=False, initializer_range=0.2, pad_token_id=0, bos_token_id=1, eos_token_id=2))
    build("llama-tiny", llama)
    write_gguf("llama-tiny", llama)
    torch.manual_seed(2)
    classifier("llama-tiny", llama)
    torch.manual_seed(1)
    build("qwen2-tiny", Qwen2ForCausalLM(Qwen2Config(
        vocab_size=64, hidden_size=32, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=1, max_position_embeddings=32, rms_norm_eps=1e-6, rope_theta=100000.0,
        tie_word_embeddings=True, initializer_range=0.2, use_sliding_window=False)))


if __name__ == "__main__":
    main()
