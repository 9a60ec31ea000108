#!/usr/bin/env bash
# Makes the export half of a search-export fixture (what tests check with checkExportAgainstFixture): the fixture's
# committed space.json searched, re-evaluated and exported as a user would, then the export loaded by HF PEFT:
#   export/   the HF PEFT export of the first front trial that has one (its base-model path rewritten to BASE_NAME, no
#             README: both would carry this machine's paths), and trial.txt its trial number
#   rows.tsv  8 SST-2 dev rows
#   hf.json   the logits of the model's sequence classifier with export/ loaded by PEFT (tools/hf_export_logits.py)
#   tools/make_search_export_fixture.sh FIXTURE_DIR HF_MODEL BASE_NAME     (run from anywhere)
#   HF_MODEL: a model folder, or a GGUF file (loaded dequantized); PYTHON (default ~/peers-venv/bin/python: torch 2.13
#   CPU, transformers 5.24, PEFT 0.21.2, gguf 0.19); AUTOPEFT (default: a release build of this checkout)
set -euo pipefail
cd "$(dirname "$0")/.."
d=$1 model=$2 name=$3
PY=${PYTHON:-$HOME/peers-venv/bin/python}
bin=${AUTOPEFT:-}
if [ -z "$bin" ]; then swift build -c release --product autopeft >&2; bin=.build/release/autopeft; fi
study=$(mktemp -d)/study
"$bin" search "$d/space.json" --out "$study" > /dev/null
"$bin" reevaluate "$study" --seeds 2 > /dev/null
trial=$(python3 - "$study" <<'PY'
import json, os, sys
study = sys.argv[1]
front = sorted(int(f.split("-")[1]) for f in os.listdir(study + "/exports")
               if os.path.exists(f"{study}/exports/{f}/adapter/adapter_config.json")
               and "peft_type" in json.load(open(f"{study}/exports/{f}/adapter/adapter_config.json")))
print(front[0])
PY
)
rm -rf "$d/export" && mkdir -p "$d/export"
cp "$study/exports/trial-$trial/adapter/adapter_model.safetensors" "$d/export/"
python3 - "$study/exports/trial-$trial/adapter/adapter_config.json" "$d/export/adapter_config.json" "$name" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["base_model_name_or_path"] = sys.argv[3]
json.dump(cfg, open(sys.argv[2], "w"), indent=1)
PY
echo "$trial" > "$d/export/trial.txt"
head -n 9 data/glue/SST-2/dev.tsv > "$d/rows.tsv"
"$PY" tools/hf_export_logits.py "$model" "$study/exports/trial-$trial/adapter" "$d/rows.tsv" 32 > "$d/hf.json"
echo "$(basename "$d"): trial $trial exported, $(du -sh "$d" | cut -f1)" >&2
