"""Makes the reference fixtures the Swift tests compare against, with HF tokenizers/transformers.

Usage: python tools/make_fixtures.py [MODEL_DIR] [GLUE_DIR]
  (defaults: models/all-MiniLM-L6-v2 and data/glue; needs torch, transformers, safetensors)

Writes Tests/TrainerTests/Fixtures/:
  tokenizer_cases.json  >= 200 texts (SST-2 and MRPC dev lines, hard cases), each with the ids and
                        token-type ids of HF's fast tokenizer at its max_length (longest-first truncation).
  forward_cases.json    16 of them (8 single, 8 pairs) encoded at max_length 64.
  forward_reference.safetensors  BertModel (eval) on those 16 as one padded batch: the last hidden
                        state of every real token, concatenated [tokens, 384], and the pooler output [16, 384].
"""
import json, os, sys
import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, BertModel

model_dir = sys.argv[1] if len(sys.argv) > 1 else "models/all-MiniLM-L6-v2"
glue = sys.argv[2] if len(sys.argv) > 2 else "data/glue"
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TrainerTests", "Fixtures")
os.makedirs(out, exist_ok=True)
tok = AutoTokenizer.from_pretrained(model_dir)
assert tok.is_fast

def rows(path):
    lines = open(path, encoding="utf-8-sig").read().split("\n")
    return [l.split("\t") for l in lines[1:] if l.strip()]

sst = [r[0] for r in rows(f"{glue}/SST-2/dev.tsv")][:130]
mrpc = [(r[3], r[4]) for r in rows(f"{glue}/MRPC/dev.tsv")][:50]
hard = [
    "Café crème brûlée à la française — naïve façade, Ångström, Øresund, Straße",
    "ÉCOLE NORMALE SUPÉRIEURE; İstanbul; ΑΘΗΝΑ; Москва",
    "中文分词测试：我爱自然语言处理。日本語のテキストも。한국어 문장도",
    "Mixed 漢字and latin字符 without spaces",
    "emoji 😀😃🤖 and flags 🇫🇷 and skin tones 👍🏽 and ZWJ 👨‍👩‍👧",
    "runs of punctuation!!!??? ... ,,,;;; --- ((( ))) [[[ ]]] {{{ }}} \"\"\" ''' ``` ~~~",
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "a" * 99 + " " + "b" * 100 + " " + "c" * 101,
    "tabs\tand\nnewlines\r\nand\u00a0non-breaking\u2003em spaces\u3000ideographic",
    "control\u0000chars\u0001here\u200bzero\u200dwidth\ufeffbom\ufffdreplacement",
    "combining: e\u0301 a\u0308 n\u0303 o\u0302 and precomposed é ä ñ ô",
    "URLs http://example.com/path?q=1&r=2#frag and emails someone@example.org",
    "numbers 3.14159 1,000,000 -42 +7 1e-5 50% $100 €20 £5 ¥300",
    "don't won't can't it's O'Neill rock'n'roll",
    "“curly quotes” ‘single’ «guillemets» „low“ — en–dash … ellipsis",
    "math ∑∫√∞≈≠≤≥ ± × ÷ → ← ↔ ∀∃",
    "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ and ｈａｌｆ",
    "Ελληνικά κείμενα με τόνους: ά έ ή ί ό ύ ώ ϊ ϋ ΐ ΰ",
    "Tiếng Việt có dấu: Nguyễn Thị Minh Khai, Hà Nội",
    "עברית ועֲרָבִית: العربية مع التشكيل العَرَبِيَّة",
    "हिन्दी देवनागरी लिपि में पाठ",
    "ไทย ภาษาไทย ไม่มีช่องว่าง",
    "",
    "   ",
    "!",
    "[CLS] [SEP] [PAD] [UNK] [MASK] literal special tokens",
    "UPPER lower MiXeD CaSe",
    "hyphen-ated well-known state-of-the-art",
    "under_scores and back\\slashes and /forward/slashes/",
    "x" * 300,
    "ﬁ ligature ﬂ ﬀ and ǅ titlecase and ß ẞ",
]
cases = []
for t in sst:
    cases.append({"a": t, "max_length": 64})
for a, b in mrpc:
    cases.append({"a": a, "b": b, "max_length": 128})
for t in hard:
    cases.append({"a": t, "max_length": 128})
# Truncation: odd and even budgets, long first / long second / both long.
long_a = " ".join(sst[:6]); long_b = " ".join(sst[6:10])
for ml in (16, 17, 24, 25, 40):
    cases.append({"a": long_a, "b": long_b, "max_length": ml})
    cases.append({"a": sst[0], "b": long_b, "max_length": ml})
    cases.append({"a": long_a, "b": sst[1], "max_length": ml})
    cases.append({"a": long_a, "max_length": ml})
cases.append({"a": hard[4], "b": hard[2], "max_length": 32})
cases.append({"a": hard[0], "b": hard[1], "max_length": 20})
for c in cases:
    enc = tok(c["a"], c.get("b"), truncation=True, max_length=c["max_length"])
    c["ids"] = enc["input_ids"]; c["type_ids"] = enc["token_type_ids"]
json.dump({"tokenizer": "HF tokenizers (fast) from " + os.path.basename(model_dir), "cases": cases},
          open(os.path.join(out, "tokenizer_cases.json"), "w"), ensure_ascii=False, indent=0)
print(f"tokenizer cases: {len(cases)}")

fwd = [{"a": t} for t in sst[:8]] + [{"a": a, "b": b} for a, b in mrpc[:8]]
batch_a = [c["a"] for c in fwd]; batch_b = [c.get("b") for c in fwd]
encs = [tok(a, b, truncation=True, max_length=64) for a, b in zip(batch_a, batch_b)]
T = max(len(e["input_ids"]) for e in encs)
ids = torch.zeros(len(encs), T, dtype=torch.long); types = torch.zeros_like(ids); mask = torch.zeros_like(ids)
for i, e in enumerate(encs):
    n = len(e["input_ids"])
    ids[i, :n] = torch.tensor(e["input_ids"]); types[i, :n] = torch.tensor(e["token_type_ids"]); mask[i, :n] = 1
model = BertModel.from_pretrained(model_dir).eval()
with torch.no_grad():
    o = model(input_ids=ids, token_type_ids=types, attention_mask=mask)
hidden = torch.cat([o.last_hidden_state[i, :len(e["input_ids"])] for i, e in enumerate(encs)], 0).contiguous()
save_file({"last_hidden_state": hidden, "pooler_output": o.pooler_output.contiguous()},
          os.path.join(out, "forward_reference.safetensors"))
for c, e in zip(fwd, encs):
    c["ids"] = e["input_ids"]; c["type_ids"] = e["token_type_ids"]
json.dump({"max_length": 64, "cases": fwd}, open(os.path.join(out, "forward_cases.json"), "w"), ensure_ascii=False, indent=0)
print(f"forward cases: {len(fwd)}, tokens: {hidden.shape[0]}")
