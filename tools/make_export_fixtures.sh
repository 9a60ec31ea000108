#!/usr/bin/env bash
# Makes the export fixtures that ExportFixtureTests checks in CI (Tests/CLITests/Fixtures/exports/<kind>/):
#   candidate/  a small SST-2 candidate: `autopeft train tools/export-fixtures/<kind>.json --save`, with the
#               paths in its run.json rewritten relative to the candidate folder
#   export/     `autopeft export candidate --out export` as made here
#   rows.tsv    8 SST-2 dev rows
#   hf.json     the logits Hugging Face computes for rows.tsv with export/ loaded by PEFT or AdapterHub
#               (tools/hf_export_logits.py), and the versions that computed them
# Python: as tools/verify_exports.sh. PYTHON (default ~/peers-venv/bin/python: torch 2.13 CPU,
# transformers 5.24, PEFT 0.21.2) for LoRA, PiSSA and (IA)³; PREFIX_PYTHONPATH (transformers 4.57.1 +
# PEFT 0.17.1) for HF PEFT prefixes; ADAPTERS_PYTHONPATH (transformers 4.51.3 + adapters 1.2.0) for bottleneck
# adapters and the AdapterHub prefix (adapterhub-prefix: positions from 0, an MLP, some layers).
#   tools/make_export_fixtures.sh        (run from anywhere; release build)
#   KINDS="serial parallel" tools/make_export_fixtures.sh    (remake some kinds only; the others' Pythons need not be set)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$HOME/peers-venv/bin/python}
KINDS=${KINDS:-lora pissa ia3 prefix prefixmlp serial parallel adapterhub-prefix}
case " $KINDS " in *" prefix"*) : "${PREFIX_PYTHONPATH:?set PREFIX_PYTHONPATH to a folder with transformers 4.57.1 and peft 0.17.1}" ;; esac
case " $KINDS " in *" serial "*|*" parallel "*|*" adapterhub-prefix "*) : "${ADAPTERS_PYTHONPATH:?set ADAPTERS_PYTHONPATH to a folder with transformers 4.51.3 and adapters 1.2.0}" ;; esac
swift build -c release --product autopeft >&2
bin=.build/release/autopeft
root=Tests/CLITests/Fixtures/exports
for kind in $KINDS; do
  d=$root/$kind
  rm -rf "$d" && mkdir -p "$d"
  "$bin" train "tools/export-fixtures/$kind.json" --threads 2 --save "$d/candidate" > /dev/null
  "$bin" export "$d/candidate" --out "$d/export" > /dev/null
  # No machine paths in what is committed: the candidate's paths relative to its folder (through the
  # repository's models/ and data/glue links), the export's base-model location as the model's name
  # (ExportFixtureTests compares everything else), and no export README (it quotes the local path).
  python3 - "$d" <<'PY'
import json, os, sys
d = os.path.abspath(sys.argv[1])
repo = os.getcwd()
p = os.path.join(d, "candidate", "run.json")
run = json.load(open(p))
rel = lambda *x: os.path.relpath(os.path.join(repo, *x), os.path.join(d, "candidate"))
run["model"] = rel("models", "all-MiniLM-L6-v2")
run["task"]["train"], run["task"]["dev"] = rel("data", "glue", "SST-2", "train.tsv"), rel("data", "glue", "SST-2", "dev.tsv")
json.dump(run, open(p, "w"), indent=1)
c = os.path.join(d, "export", "adapter_config.json")
cfg = json.load(open(c))
for key in ("base_model_name_or_path", "model_name"):
    if key in cfg: cfg[key] = "all-MiniLM-L6-v2"
json.dump(cfg, open(c, "w"), indent=1)
os.remove(os.path.join(d, "export", "README.md"))
PY
  head -n 9 data/glue/SST-2/dev.tsv > "$d/rows.tsv"
  pp=""
  case $kind in prefix*) pp=$PREFIX_PYTHONPATH ;; serial|parallel|adapterhub-prefix) pp=$ADAPTERS_PYTHONPATH ;; esac
  PYTHONPATH=$pp "$PY" tools/hf_export_logits.py models/all-MiniLM-L6-v2 "$d/export" "$d/rows.tsv" 48 > "$d/hf.json"
  echo "$kind: $(du -sh "$d" | cut -f1)" >&2
done
