"""A tiny quantized Llama with a chat template, causal-LM rows, and what transformers computes on them: the
reference for autopeft's causal-LM tasks (issue 40: loss on response tokens, chat-template rendering, greedy
generation).

    ~/peers-venv/bin/python tools/make_causal_lm_fixture.py      (torch, transformers, gguf, numpy)

writes Tests/CLITests/Fixtures/causal-lm/:
  chat-tiny.gguf     LlamaForCausalLM with random weights (seed 1): 2 blocks, hidden 64, 4 heads over 2 key/value heads,
                     FFN 128, tied embeddings, every linear map in Q4_1, the embedding in Q8_0 (as SmolLM2-135M's file);
                     the SmolLM-shaped tokenizer of Fixtures/gguf/smollm-tokenizer.gguf with SmolLM2's special ids (BOS 1,
                     EOS and padding 2, "<|im_end|>") and SmolLM2-135M-Instruct's chat template
  qa.jsonl           12 {"prompt", "response"} rows (a word and what follows it)
  chat.jsonl         4 {"messages"} rows, one to three turns, with and without a system message
  reference.json     transformers' reading of the GGUF file (dequantized): for every row of both files the token ids,
                     which of them the loss counts, the summed and mean cross-entropy over those (LlamaForCausalLM with
                     labels -100 elsewhere); and for the first 4 prompts of qa.jsonl the greedy continuation (8 tokens)
A conversation's counted tokens are found as autopeft documents it: for each assistant turn, the rendering
(apply_chat_template, tokenize=False) of the turns before it with the generation prompt, then of the turns through
it; what the second adds is counted. Each piece is tokenized alone (add_special_tokens=False).
"""
import json, os
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM
from make_decoder_search_fixture import tokenizer_fields, write_tiny_gguf

OUT = "Tests/CLITests/Fixtures/causal-lm"
NAME = "chat-tiny.gguf"
# SmolLM2-135M-Instruct's template, as its GGUF file's tokenizer.chat_template holds it.
TEMPLATE = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
            "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + "
            "message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
            "{{ '<|im_start|>assistant\n' }}{% endif %}")
QA = [("red", " apple"), ("blue", " sky"), ("green", " grass"), ("white", " snow"), ("black", " night"), ("yellow", " sun"),
      ("one", " two"), ("two", " three"), ("cat", " dog"), ("hot", " cold"), ("up", " down"), ("left", " right")]
CHAT = [
    [{"role": "user", "content": "Say red."}, {"role": "assistant", "content": "red"}],
    [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": "Sky?"},
     {"role": "assistant", "content": "blue"}],
    [{"role": "user", "content": "One?"}, {"role": "assistant", "content": "two"}, {"role": "user", "content": "Two?"},
     {"role": "assistant", "content": "three"}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello, friend!"}, {"role": "user", "content": "Bye"},
     {"role": "assistant", "content": "Goodbye."}, {"role": "user", "content": "Thanks"}, {"role": "assistant", "content": "You are welcome."}],
]


def write_model():
    tokens = tokenizer_fields()[0]
    torch.manual_seed(1)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokens), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True,
        initializer_range=0.1, pad_token_id=None, bos_token_id=1, eos_token_id=2))  # no padding_idx: its embedding row would be 0, an EOS the tied head could never predict
    write_tiny_gguf(f"{OUT}/{NAME}", "chat-tiny", model, bos=1, eos=2, pad=2, chat_template=TEMPLATE)


def encode(tok, row):
    """(ids, counted) as the module docstring says."""
    pieces = []
    if "messages" in row:
        m, done = row["messages"], ""
        for k, turn in enumerate(m):
            if turn["role"] != "assistant":
                continue
            before = tok.apply_chat_template(m[:k], tokenize=False, add_generation_prompt=True)
            through = tok.apply_chat_template(m[:k + 1], tokenize=False, add_generation_prompt=False)
            assert before.startswith(done) and through.startswith(before)
            pieces += [(before[len(done):], False), (through[len(before):], True)]
            done = through
    else:
        pieces = [(row["prompt"], False), (row["response"], True)]
    ids, counted = [], []
    for text, c in pieces:
        x = tok(text, add_special_tokens=False)["input_ids"]
        if c and "messages" not in row:
            x = x + [tok.eos_token_id]
        ids += x
        counted += [c] * len(x)
    return ids, counted


def main():
    os.makedirs(OUT, exist_ok=True)
    write_model()
    qa = [{"prompt": p, "response": r} for p, r in QA]
    chat = [{"messages": m} for m in CHAT]
    for name, rows in (("qa.jsonl", qa), ("chat.jsonl", chat)):
        with open(f"{OUT}/{name}", "w") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    tok = AutoTokenizer.from_pretrained(OUT, gguf_file=NAME)
    model = AutoModelForCausalLM.from_pretrained(OUT, gguf_file=NAME, dtype=torch.float32).eval()
    cases = []
    for file, rows in (("qa.jsonl", qa), ("chat.jsonl", chat)):
        for i, row in enumerate(rows):
            ids, counted = encode(tok, row)
            labels = [t if c else -100 for t, c in zip(ids, counted)]
            with torch.no_grad():
                out = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels]))
            n = sum(counted[1:])
            case = {"file": file, "row": i, "ids": ids, "counted": counted, "mean_loss": float(out.loss),
                    "sum_loss": float(out.loss) * n, "tokens": n}
            if file == "qa.jsonl" and i < 4:
                prompt = tok(row["prompt"], add_special_tokens=False)["input_ids"]
                with torch.no_grad():
                    g = model.generate(torch.tensor([prompt]), max_new_tokens=8, do_sample=False, eos_token_id=None,
                                       pad_token_id=2)
                case["greedy"] = g[0, len(prompt):].tolist()
            cases.append(case)
    versions = {"torch": torch.__version__, "transformers": transformers.__version__, "gguf": "0.19"}
    with open(f"{OUT}/reference.json", "w") as f:
        json.dump({"made_by": "tools/make_causal_lm_fixture.py", "cases": cases, "versions": versions}, f)
        f.write("\n")
    print(f"{len(cases)} rows; mean losses", [round(c["mean_loss"], 4) for c in cases])


if __name__ == "__main__":
    main()
