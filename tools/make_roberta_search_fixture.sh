#!/usr/bin/env bash
# Makes the fixture RobertaSearchTests checks (Tests/CLITests/Fixtures/roberta-search/): the committed space.json
# searched, re-evaluated and exported as a user would, then the export loaded by HF PEFT:
#   export/   the HF PEFT export of the first front trial that has one (its base-model path rewritten to the
#             model's folder name, no README: both would carry this machine's paths), and trial.txt its trial number
#   rows.tsv  8 SST-2 dev rows
#   hf.json   the logits of RobertaForSequenceClassification with export/ loaded by PEFT (tools/hf_export_logits.py)
#   PYTHON (default ~/peers-venv/bin/python: torch 2.13 CPU, transformers 5.24, PEFT 0.21.2)
#   tools/make_roberta_search_fixture.sh        (run from anywhere; release build)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$HOME/peers-venv/bin/python}
swift build -c release --product autopeft >&2
bin=.build/release/autopeft
d=Tests/CLITests/Fixtures/roberta-search
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
python3 - "$study/exports/trial-$trial/adapter/adapter_config.json" "$d/export/adapter_config.json" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["base_model_name_or_path"] = "roberta-tiny"
json.dump(cfg, open(sys.argv[2], "w"), indent=1)
PY
echo "$trial" > "$d/export/trial.txt"
head -n 9 data/glue/SST-2/dev.tsv > "$d/rows.tsv"
"$PY" tools/hf_export_logits.py Tests/TrainerTests/Fixtures/roberta-tiny "$study/exports/trial-$trial/adapter" "$d/rows.tsv" 32 > "$d/hf.json"
echo "roberta-search: trial $trial exported, $(du -sh "$d" | cut -f1)" >&2
