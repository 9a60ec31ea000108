"""A GLUE classification task as causal-LM rows: each sentence (or pair) a user turn asking for the label, the label's
name the assistant's answer, so a decoder fine-tunes on it as a chat model would and is scored by exact match.

    python3 tools/glue_to_chat.py TASK OUT_DIR [--train N] [--dev N]
        TASK: sst2 or mrpc (data/glue/, linked by scripts/setup); N: the first N rows of each file (default all)

writes OUT_DIR/train.jsonl and OUT_DIR/dev.jsonl, one {"messages": [...]} a line. Standard library only.
"""
import argparse, csv, json, os

TASKS = {
    "sst2": ("SST-2", ["sentence"], "label", {"0": "negative", "1": "positive"},
             "Is the sentiment of this movie review positive or negative? Answer with one word.\n\n{0}"),
    "mrpc": ("MRPC", ["#1 String", "#2 String"], "Quality", {"0": "no", "1": "yes"},
             "Do these two sentences mean the same thing? Answer yes or no.\n\n1. {0}\n2. {1}"),
}


def rows(path, columns, label, names, question, limit):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        at = [header.index(c) for c in columns]
        li = header.index(label)
        for n, r in enumerate(reader):
            if limit is not None and n >= limit:
                break
            yield {"messages": [{"role": "user", "content": question.format(*[r[i] for i in at])},
                                {"role": "assistant", "content": names[r[li]]}]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("task", choices=sorted(TASKS))
    ap.add_argument("out")
    ap.add_argument("--train", type=int)
    ap.add_argument("--dev", type=int)
    a = ap.parse_args()
    folder, columns, label, names, question = TASKS[a.task]
    os.makedirs(a.out, exist_ok=True)
    for split, limit in (("train", a.train), ("dev", a.dev)):
        with open(f"{a.out}/{split}.jsonl", "w", encoding="utf-8") as f:
            for row in rows(f"data/glue/{folder}/{split}.tsv", columns, label, names, question, limit):
                f.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
