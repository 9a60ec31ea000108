"""A tiny GGUF file and what the `gguf` package reads from it: the reference for autopeft's GGUF reader.

    ~/peers-venv/bin/python tools/make_gguf_fixture.py        (gguf 0.19, numpy, safetensors)

writes Tests/TrainerTests/Fixtures/gguf/:
  tiny.gguf              metadata of every value type GGUF has (integers of each width, floats, a bool, a string,
                         arrays of strings and of integers, a nested array) and one tensor of each type the reader
                         takes: F32, F16, BF16, Q8_0, Q4_0, Q4_1 (random values, quantized by gguf.quants)
  expected.safetensors   each tensor as gguf.quants.dequantize gives it, F32, in PyTorch's shape
  expected.json          the metadata as the gguf package reads it back
  smollm-tokenizer.gguf  the SmolLM-shaped byte-level BPE of Fixtures/bpe/smollm/tokenizer.json (make_bpe_fixtures.py)
                         as llama.cpp's converter stores a tokenizer: tokens by id, merges "a b", token types (added
                         tokens control), pre-tokenizer "smollm", and EOS appended as that file's template does
"""
import json, os
import numpy as np
import gguf
from gguf.constants import GGMLQuantizationType as Q
from safetensors.numpy import save_file

OUT = "Tests/TrainerTests/Fixtures/gguf"


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(0)
    path = f"{OUT}/tiny.gguf"
    w = gguf.GGUFWriter(path, arch="llama")
    w.add_uint32("llama.block_count", 2)
    w.add_int32("test.int32", -7)
    w.add_uint8("test.uint8", 200)
    w.add_int8("test.int8", -100)
    w.add_uint16("test.uint16", 60000)
    w.add_int16("test.int16", -30000)
    w.add_uint64("test.uint64", 2**40 + 3)
    w.add_int64("test.int64", -(2**40) - 3)
    w.add_float32("llama.rope.freq_base", 100000.0)
    w.add_float64("test.float64", 0.1)
    w.add_bool("test.bool", True)
    w.add_string("tokenizer.ggml.model", "gpt2")
    w.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "héllo", "Ġworld"])
    w.add_array("test.ints", [1, -2, 3])
    w.add_array("test.nested", [[1, 2], [3]])
    expected = {}
    for name, shape, qtype in [("f32.weight", (3, 64), Q.F32), ("f16.weight", (2, 64), Q.F16), ("bf16.weight", (2, 64), Q.BF16),
                               ("q8_0.weight", (4, 64), Q.Q8_0), ("q4_0.weight", (4, 64), Q.Q4_0), ("q4_1.weight", (5, 96), Q.Q4_1),
                               ("norm.weight", (64,), Q.F32)]:
        x = rng.standard_normal(shape).astype(np.float32)
        if qtype == Q.F32:
            data, raw = x, None
        elif qtype == Q.F16:
            data, raw = x.astype(np.float16), None
        else:
            data, raw = gguf.quants.quantize(x, qtype), qtype
        w.add_tensor(name, data, raw_dtype=raw)
        values = gguf.quants.dequantize(data, qtype) if raw is not None else data.astype(np.float32)
        expected[name] = np.ascontiguousarray(values, dtype=np.float32).reshape(shape)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    save_file(expected, f"{OUT}/expected.safetensors")
    reader = gguf.GGUFReader(path)
    meta = {}
    for f in reader.fields.values():
        if f.name.startswith("GGUF."):
            continue
        meta[f.name] = f.contents()
    tensors = {t.name: {"type": t.tensor_type.name, "shape": [int(d) for d in reversed(t.shape.tolist())]} for t in reader.tensors}
    with open(f"{OUT}/expected.json", "w", encoding="utf-8") as fh:
        json.dump({"made_by": "tools/make_gguf_fixture.py", "gguf": gguf.__version__ if hasattr(gguf, "__version__") else "0.19",
                   "metadata": meta, "tensors": tensors}, fh, ensure_ascii=False, indent=1)
    print(f"{len(expected)} tensors, {len(meta)} metadata keys, written to {OUT}")


def smollm_tokenizer():
    tok = json.load(open("Tests/TrainerTests/Fixtures/bpe/smollm/tokenizer.json", encoding="utf-8"))
    vocab = tok["model"]["vocab"]
    tokens = [None] * len(vocab)
    for t, i in vocab.items():
        tokens[i] = t
    added = {a["id"] for a in tok["added_tokens"]}
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    w = gguf.GGUFWriter(f"{OUT}/smollm-tokenizer.gguf", arch="llama")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types([3 if i in added else 1 for i in range(len(tokens))])
    w.add_token_merges(merges)
    w.add_eos_token_id(vocab["<|endoftext|>"])
    w.add_add_bos_token(False)
    w.add_add_eos_token(True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
    smollm_tokenizer()
