"""A tiny quantized Llama in one GGUF file, tokenizer included: the model of issue 40's end-to-end check
(DecoderSearchTests: space file, search, report, reevaluate, predict on a decoder).

    ~/peers-venv/bin/python tools/make_decoder_search_fixture.py      (torch, transformers, gguf, numpy)

writes Tests/CLITests/Fixtures/decoder-search/:
  decoder-tiny.gguf   LlamaForCausalLM with random weights (seed 0): 2 blocks, hidden 64, 4 heads over 2 key/value
                      heads, FFN 128, tied embeddings, laid out as SmolLM2-135M-Instruct's file is: every linear map in
                      Q4_1 (query and key rows permuted as llama.cpp's converter does), the embedding in Q8_0, norms
                      F32; its tokenizer is the SmolLM-shaped byte-level BPE of Fixtures/gguf/smollm-tokenizer.gguf
                      (1500 tokens, pre-tokenizer "smollm"), without BOS/EOS as SmolLM2's
  reference.json      transformers' reading of that file (`from_pretrained(dir, gguf_file=...)`, dequantized): the
                      ids its tokenizer gives 4 SST-2 dev sentences, and the normed last hidden state at each one's
                      last token (what a sequence classifier's `score` reads), with the versions used
"""
import csv, json, os
import numpy as np
import torch
import gguf
from gguf.constants import GGMLQuantizationType as Q
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM
from make_llama_fixture import HF_MAPS, add_llama  # tools/ is the script's folder, so on its path

OUT = "Tests/CLITests/Fixtures/decoder-search"
TOKENIZER = "Tests/TrainerTests/Fixtures/gguf/smollm-tokenizer.gguf"
SST2_DEV = "data/glue/SST-2/dev.tsv"


def tokenizer_fields():
    r = gguf.GGUFReader(TOKENIZER)
    def strings(key):
        f = r.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    types = [int(r.fields["tokenizer.ggml.token_type"].parts[i][0]) for i in r.fields["tokenizer.ggml.token_type"].data]
    pre = bytes(r.fields["tokenizer.ggml.pre"].parts[-1]).decode()
    eos = int(r.fields["tokenizer.ggml.eos_token_id"].parts[-1][0])
    return strings("tokenizer.ggml.tokens"), types, strings("tokenizer.ggml.merges"), pre, eos


def write_tiny_gguf(path, name, model, eos, pad, bos=None, chat_template=None):
    """`model` as SmolLM2-135M's file lays itself out (every linear map Q4_1, the embedding Q8_0, tied), with the
    SmolLM-shaped tokenizer, its special ids, and no BOS or EOS added to a text."""
    tokens, types, merges, pre, _ = tokenizer_fields()
    w = gguf.GGUFWriter(path, arch="llama")
    w.add_name(name)
    add_llama(w, model, {g: Q.Q4_1 for g in HF_MAPS}, embedding=Q.Q8_0, output=None)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    if bos is not None:
        w.add_bos_token_id(bos)
    w.add_eos_token_id(eos)
    w.add_pad_token_id(pad)
    w.add_add_bos_token(False)
    w.add_add_eos_token(False)
    if chat_template is not None:
        w.add_chat_template(chat_template)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    os.makedirs(OUT, exist_ok=True)
    tokens, types, merges, pre, eos = tokenizer_fields()
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokens), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True,
        initializer_range=0.1, pad_token_id=eos, bos_token_id=eos, eos_token_id=eos))
    write_tiny_gguf(f"{OUT}/decoder-tiny.gguf", "decoder-tiny", model, eos=eos, pad=eos)

    with open(SST2_DEV, newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:5]
    texts = [r[0] for r in rows]
    tok = AutoTokenizer.from_pretrained(OUT, gguf_file="decoder-tiny.gguf")
    loaded = AutoModelForCausalLM.from_pretrained(OUT, gguf_file="decoder-tiny.gguf", dtype=torch.float32).eval()
    ids, last = [], []
    for t in texts:
        x = tok(t, add_special_tokens=True)["input_ids"]
        with torch.no_grad():
            h = loaded.model(input_ids=torch.tensor([x])).last_hidden_state[0, -1]
        ids.append(x)
        last.append([float(v) for v in h])
    versions = {"torch": torch.__version__, "transformers": transformers.__version__, "gguf": "0.19"}
    with open(f"{OUT}/reference.json", "w") as f:
        json.dump({"texts": texts, "ids": ids, "last_hidden": last, "versions": versions}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
