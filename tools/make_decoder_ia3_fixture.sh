#!/usr/bin/env bash
# Makes the fixture of DecoderSearchTests' (IA)³ export check (Tests/CLITests/Fixtures/decoder-ia3/): its run.json
# ((IA)³ on keys, values and down_proj's input in block 1 of decoder-tiny.gguf) trained and exported as a user would,
# then the export loaded by HF PEFT on transformers' dequantized GGUF load:
#   export/   the HF PEFT export (its base-model path rewritten to the file's name, no README: both would carry this
#             machine's paths)
#   hf.json   LlamaForSequenceClassification's logits with export/ loaded by PEFT on decoder-search/rows.tsv
#             (tools/hf_export_logits.py)
#   PYTHON (default ~/peers-venv/bin/python: torch 2.13 CPU, transformers 5.24, PEFT 0.21.2, gguf 0.19);
#   AUTOPEFT (default: a release build of this checkout)
#   tools/make_decoder_ia3_fixture.sh        (run from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$HOME/peers-venv/bin/python}
bin=${AUTOPEFT:-}
if [ -z "$bin" ]; then swift build -c release --product autopeft >&2; bin=.build/release/autopeft; fi
d=Tests/CLITests/Fixtures/decoder-ia3
tmp=$(mktemp -d)
"$bin" train "$d/run.json" --save "$tmp/candidate" > /dev/null
"$bin" export "$tmp/candidate" --out "$tmp/export" > /dev/null
rm -rf "$d/export" && mkdir -p "$d/export"
cp "$tmp/export/adapter_model.safetensors" "$d/export/"
python3 - "$tmp/export/adapter_config.json" "$d/export/adapter_config.json" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["base_model_name_or_path"] = "decoder-tiny.gguf"
json.dump(cfg, open(sys.argv[2], "w"), indent=1)
PY
"$PY" tools/hf_export_logits.py Tests/CLITests/Fixtures/decoder-search/decoder-tiny.gguf "$tmp/export" \
    Tests/CLITests/Fixtures/decoder-search/rows.tsv 32 > "$d/hf.json"
echo "decoder-ia3: exported, $(du -sh "$d" | cut -f1)" >&2
