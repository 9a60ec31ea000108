"""Logits of an autopeft export as Hugging Face computes them: the model's sequence classifier
(AutoModelForSequenceClassification: BertForSequenceClassification, RobertaForSequenceClassification,
LlamaForSequenceClassification) with the export loaded by PEFT (adapter_config.json with "peft_type") or by
AdapterHub `adapters` ("model_class"). A model folder with only a tokenizer.json (the tiny test models) gets
PreTrainedTokenizerFast over it; a GGUF file (MODEL_DIR ending in .gguf) loads with transformers' GGUF loader,
dequantized, its tokenizer from the same file, and the pad id set for the score's last-token pooling.

As a script: python tools/hf_export_logits.py MODEL_DIR EXPORT_DIR ROWS.tsv MAX_LENGTH
  ROWS.tsv  GLUE SST-2 rows (header `sentence<TAB>label`)
prints one JSON object: {"logits": [[...], ...], "versions": {...}}. tools/verify_export.py imports hf_logits.
"""
import json, os, sys


def hf_logits(model_dir, export, texts, max_length, labels):
    """texts: a list of tuples (one text, or a pair). Returns (logits as lists, the packages' versions)."""
    import torch, transformers
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedTokenizerFast
    cfg = json.load(open(os.path.join(export, "adapter_config.json")))
    torch.set_num_threads(2)
    if model_dir.endswith(".gguf"):
        folder, name = os.path.split(model_dir)
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        base = AutoModelForSequenceClassification.from_pretrained(folder, gguf_file=name, num_labels=labels, dtype=torch.float32)
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        base.config.pad_token_id = tok.pad_token_id
        tok.padding_side = "right"
    elif os.path.exists(os.path.join(model_dir, "tokenizer_config.json")):
        tok = AutoTokenizer.from_pretrained(model_dir)
        base = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=labels)
    else:
        tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(model_dir, "tokenizer.json"), pad_token="<pad>")
        base = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=labels)
    versions = {"torch": torch.__version__, "transformers": transformers.__version__}
    if "peft_type" in cfg:
        import peft
        from peft import PeftModel
        model = PeftModel.from_pretrained(base, export)
        versions["peft"] = peft.__version__
    else:
        import adapters
        from safetensors.torch import load_file
        adapters.init(base)
        name = base.load_adapter(export, use_safetensors=True)
        base.set_active_adapters(name)
        base.classifier.load_state_dict(load_file(os.path.join(export, "classifier.safetensors")))
        model = base
        versions["adapters"] = adapters.__version__
    model.eval()
    enc = tok(*[list(t) for t in zip(*texts)], truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    with torch.no_grad():
        return model(**enc).logits.tolist(), versions


def main():
    model_dir, export, rows, max_length = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    lines = [l for l in open(rows, encoding="utf-8-sig").read().split("\n")[1:] if l.strip()]
    logits, versions = hf_logits(model_dir, export, [(l.split("\t")[0],) for l in lines], max_length, 2)
    print(json.dumps({"logits": logits, "versions": versions}))


if __name__ == "__main__":
    main()
