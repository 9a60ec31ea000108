#!/usr/bin/env bash
# Makes the export half of the fixture DecoderSearchTests checks (Tests/CLITests/Fixtures/decoder-search/): the
# committed space.json on decoder-tiny.gguf (tools/make_decoder_search_fixture.py) searched, re-evaluated and
# exported as a user would, then the export loaded by HF PEFT on transformers' dequantized GGUF load:
#   export/   the HF PEFT export of the first front trial (its base-model path rewritten to the file's name, no
#             README: both would carry this machine's paths), and trial.txt its trial number
#   rows.tsv  8 SST-2 dev rows
#   hf.json   the logits of LlamaForSequenceClassification with export/ loaded by PEFT (tools/hf_export_logits.py)
#   PYTHON (default ~/peers-venv/bin/python: torch 2.13 CPU, transformers 5.24, PEFT 0.21.2, gguf 0.19)
#   AUTOPEFT (default: a release build of this checkout)
#   tools/make_decoder_search_export.sh        (run from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$HOME/peers-venv/bin/python}
bin=${AUTOPEFT:-}
if [ -z "$bin" ]; then swift build -c release --product autopeft >&2; bin=.build/release/autopeft; fi
d=Tests/CLITests/Fixtures/decoder-search
study=$(mktemp -d)/study
"$bin" search "$d/space.json" --out "$study" > /dev/null
"$bin" reevaluate "$study" --seeds 2 > /dev/null
trial=$(python3 - "$study" <<'PY'
import json, os, sys
study = sys.argv[1]
front = sorted(int(f.split("-")[1]) for f in os.listdir(study + "/exports")
               if os.path.exists(f"{study}/exports/{f}/adapter/adapter_config.json"))
print(front[0])
PY
)
rm -rf "$d/export" && mkdir -p "$d/export"
cp "$study/exports/trial-$trial/adapter/adapter_model.safetensors" "$d/export/"
python3 - "$study/exports/trial-$trial/adapter/adapter_config.json" "$d/export/adapter_config.json" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["base_model_name_or_path"] = "decoder-tiny.gguf"
json.dump(cfg, open(sys.argv[2], "w"), indent=1)
PY
echo "$trial" > "$d/export/trial.txt"
head -n 9 data/glue/SST-2/dev.tsv > "$d/rows.tsv"
"$PY" tools/hf_export_logits.py "$d/decoder-tiny.gguf" "$study/exports/trial-$trial/adapter" "$d/rows.tsv" 32 > "$d/hf.json"
echo "decoder-search: trial $trial exported, $(du -sh "$d" | cut -f1)" >&2
