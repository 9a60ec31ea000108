"""Byte-level BPE fixtures: three small tokenizers trained with HF `tokenizers` on GLUE text, and the ids
`tokenizers` gives for 500+ texts and pairs, which the Swift tokenizer must reproduce token for token.

    ~/peers-venv/bin/python tools/make_bpe_fixtures.py [DATA_DIR]     DATA_DIR default: data/glue

writes Tests/TrainerTests/Fixtures/bpe/<name>/tokenizer.json and Tests/TrainerTests/Fixtures/bpe/cases.json.
The three tokenizers are the pre-tokenizer shapes of the families autopeft reads:
  roberta  ByteLevel(add_prefix_space, GPT-2 regex), RobertaProcessing, <mask> with lstrip (RoBERTa, GPT-2)
  llama3   Split(Llama 3's regex, Isolated) then ByteLevel without regex, ignore_merges, TemplateProcessing
  smollm   NFC, Digits(individual) then ByteLevel without prefix space, TemplateProcessing for pairs
A real vocabulary cannot be downloaded here; these are trained on SST-2, MRPC and STS-B train text (1,500 tokens).
"""
import json, os, sys
from tokenizers import Tokenizer, Regex, models, normalizers, pre_tokenizers, processors, trainers, AddedToken

DATA = sys.argv[1] if len(sys.argv) > 1 else "data/glue"
OUT = "Tests/TrainerTests/Fixtures/bpe"
LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def column(path, index, skip_header=True, limit=None):
    rows = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if skip_header and i == 0:
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) > index:
                rows.append(parts[index])
            if limit and len(rows) >= limit:
                break
    return rows


def corpus():
    text = column(f"{DATA}/SST-2/train.tsv", 0, limit=20000)
    text += column(f"{DATA}/MRPC/train.tsv", 3) + column(f"{DATA}/MRPC/train.tsv", 4)
    text += column(f"{DATA}/STS-B/train.tsv", 7) + column(f"{DATA}/STS-B/train.tsv", 8)
    return text + HARD


HARD = [
    "", " ", "   ", "a", " leading space", "trailing space ", "two  spaces", "many      spaces here", "tab\tseparated\twords",
    "line\nbreak", "lines\n\n\nthree", "crlf\r\nline", " \n \n ", "end with newline\n", "\n\nstarts with newlines",
    "don't", "I'M", "they'LL", "we've", "she'd", "it's", "'s", "O'Neil's", "rock 'n' roll",
    "1234567890", "3.14159", "1,000,000", "year 2024", "a1b2c3", "007", "12345678901234567890",
    "café", "naïve", "résumé", "cafe\u0301 (decomposed)", "Ångström", "straße", "ﬁnance ligature",
    "日本語のテキスト", "中文字符", "한국어", "Здравствуйте", "مرحبا بالعالم", "नमस्ते", "ελληνικά",
    "emoji 😀", "😀😃😄", "👍🏽 thumbs", "👨‍👩‍👧‍👦 family", "🇫🇷 flag", "❤️", "☃", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "a" * 300, "pneumonoultramicroscopicsilicovolcanoconiosis" * 5, "x" * 40 + " " + "y" * 40,
    "https://example.com/path?query=1&b=2#frag", "user@example.com", "def f(x): return x**2  # code",
    "<mask>", "fill the <mask> here", "two<mask>joined", "<s>tags</s> in text", "<pad> and <unk>",
    "<|begin_of_text|>llama", "--- *** !!! ???", "«quotes» “curly” ‘single’", "…ellipsis…", "—em dash—",
    "\u00a0non-breaking\u00a0space", "zero\u200bwidth", "control\u0007bell", "\ufeffbom",
]


def train(name, tok, specials):
    trainer = trainers.BpeTrainer(vocab_size=1500, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer=trainer)
    return tok


def roberta():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok = train("roberta", tok, ["<s>", "<pad>", "</s>", "<unk>"])
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, normalized=False)])
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
    return tok


def llama3():
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok = train("llama3", tok, ["<|begin_of_text|>", "<|end_of_text|>"])
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    return tok


def smollm():
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok = train("smollm", tok, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    eos = tok.token_to_id("<|endoftext|>")
    tok.post_processor = processors.TemplateProcessing(single="$A <|endoftext|>", pair="$A <|endoftext|> $B:1 <|endoftext|>:1",
                                                       special_tokens=[("<|endoftext|>", eos)])
    return tok


def texts():
    """(a, b, max_length): SST-2 and STS-B dev sentences, MRPC dev pairs, the hard cases alone and paired, truncation cases."""
    out = [(s, None, 512) for s in column(f"{DATA}/SST-2/dev.tsv", 0, limit=200)]
    out += [(s, None, 512) for s in column(f"{DATA}/STS-B/dev.tsv", 7, limit=100)]
    a, b = column(f"{DATA}/MRPC/dev.tsv", 3, limit=100), column(f"{DATA}/MRPC/dev.tsv", 4, limit=100)
    out += [(x, y, 512) for x, y in zip(a, b)]
    out += [(h, None, 512) for h in HARD]
    out += [(h, HARD[(i * 7 + 3) % len(HARD)], 512) for i, h in enumerate(HARD)]
    out += [(x, y, n) for (x, y), n in zip(zip(a[:40], b[:40]), [8, 9, 10, 16, 17, 24, 31, 40] * 5)]
    out += [(s, None, n) for s, n in zip(column(f"{DATA}/SST-2/dev.tsv", 0, limit=30), [3, 4, 5, 8, 16] * 6)]
    return out


def main():
    cases = []
    names = {"roberta": roberta, "llama3": llama3, "smollm": smollm}
    for name, make in names.items():
        tok = make()
        os.makedirs(f"{OUT}/{name}", exist_ok=True)
        tok.save(f"{OUT}/{name}/tokenizer.json")
        for a, b, n in texts():
            tok.enable_truncation(max_length=n, strategy="longest_first")
            e = tok.encode(a, b) if b is not None else tok.encode(a)
            cases.append({"tokenizer": name, "a": a, "b": b, "max_length": n, "ids": e.ids, "type_ids": e.type_ids})
    with open(f"{OUT}/cases.json", "w", encoding="utf-8") as f:
        f.write('{"made_by": "tools/make_bpe_fixtures.py", "cases": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]}\n")
    print(f"{len(cases)} cases over {len(names)} tokenizers in {OUT}")


if __name__ == "__main__":
    main()
