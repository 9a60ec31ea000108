"""What transformers computes with the real SmolLM2-135M-Instruct (GGUF Q4_1, loaded and dequantized by
transformers' GGUF loader): the reference for autopeft's decoder on real weights (issue 40).

    ~/peers-venv/bin/python tools/make_smollm2_fixture.py [GGUF]
        GGUF default: models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/setup fetches it)

writes Tests/TrainerTests/Fixtures/smollm2/:
  cases.json              the prompts: a plain sentence, the chat-templated question "What is the capital of
                          France?" (apply_chat_template with the generation prompt), and a text with two bytes the
                          vocabulary has no token for, each with its text, the ids
                          transformers' tokenizer (built from the GGUF metadata) gives, and for the question the
                          greedy continuation (ids and text) of 12 tokens
  reference.safetensors   per prompt: "last_<k>" the logits of its last token [vocab], and "head_<k>" the logits of
                          every token over the first 512 vocabulary entries [tokens, 512]
"""
import json, os, sys
import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

GGUF = sys.argv[1] if len(sys.argv) > 1 else "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
OUT = "Tests/TrainerTests/Fixtures/smollm2"


def main():
    folder, name = os.path.dirname(os.path.abspath(GGUF)), os.path.basename(GGUF)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    torch.set_num_threads(2)
    chat = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}], tokenize=False,
                                   add_generation_prompt=True)
    # The third holds bytes SmolLM2's vocabulary has no token for (0x04, 0x06): what becomes of them.
    texts = ["The quick brown fox jumps over the lazy dog, 12345 times.", chat, "a\x04b\x06 c\td"]
    cases, tensors = [], {}
    for k, text in enumerate(texts):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids])).logits[0]
        tensors[f"last_{k}"] = logits[-1].contiguous()
        tensors[f"head_{k}"] = logits[:, :512].contiguous()
        case = {"text": text, "ids": ids}
        if k == 1:
            with torch.no_grad():
                out = model.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False)
            new = out[0, len(ids):].tolist()
            case["greedy_ids"] = new
            case["greedy_text"] = tok.decode(new, skip_special_tokens=True)
        cases.append(case)
    os.makedirs(OUT, exist_ok=True)
    save_file(tensors, f"{OUT}/reference.safetensors")
    json.dump({"made_by": "tools/make_smollm2_fixture.py", "gguf": name, "cases": cases}, open(f"{OUT}/cases.json", "w"),
              ensure_ascii=False, indent=1)
    print(json.dumps(cases, ensure_ascii=False)[:600])


if __name__ == "__main__":
    main()
