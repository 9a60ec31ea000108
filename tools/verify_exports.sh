#!/usr/bin/env bash
# Trains small SST-2 candidates of each exportable kind (examples/export/*.json, pooler head), exports them
# as HF PEFT or AdapterHub adapters and checks the logits with tools/verify_export.py (max |diff| <= 1e-4 on 16 dev rows).
# PYTHON: an interpreter with torch, transformers and peft (default ~/peers-venv/bin/python).
# An HF PEFT prefix (prefix-shifted) needs transformers < 5: 5.x BertModel no longer accepts past_key_values. Set
# PREFIX_PYTHONPATH to a folder holding transformers 4.57 + peft 0.17 (pip install --target DIR "transformers==4.57.1"
# "peft==0.17.1"). Bottleneck adapters and prefixes at positions from 0 (prefix, prefixmlp) export to AdapterHub and are
# checked with `adapters` 1.2.0, which pins transformers 4.51.3: set
# ADAPTERS_PYTHONPATH to a folder holding both (pip install --target DIR --no-deps "transformers==4.51.3" "adapters==1.2.0" ...).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$HOME/peers-venv/bin/python}
BIN=${AUTOPEFT:-.build/release/autopeft}
out=$(mktemp -d)
status=0
for v in lora pissa ia3 prefix-shifted prefix prefixmlp serial parallel; do
  "$BIN" train "examples/export/sst2-$v.json" --save "$out/cand-$v" >/dev/null 2>&1 || { echo "{\"kind\":\"$v\",\"error\":\"training failed\"}"; status=1; continue; }
  fmt=$("$BIN" export "$out/cand-$v" --out "$out/peft-$v" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["format"])') \
    || { echo "{\"kind\":\"$v\",\"error\":\"export failed\"}"; status=1; continue; }
  pp=""; script=tools/verify_export.py
  case $fmt:$v in adapterhub:*) pp=${ADAPTERS_PYTHONPATH:-} ;; hf-peft:prefix*) pp=${PREFIX_PYTHONPATH:-} ;; esac
  PYTHONPATH=$pp "$PY" "$script" "$out/cand-$v" "$out/peft-$v" 16 "$BIN" 2>/dev/null | grep '^{' || { echo "{\"kind\":\"$v\",\"error\":\"verification failed (prefix: transformers 5.x cannot load BERT prefixes, set PREFIX_PYTHONPATH; adapters: set ADAPTERS_PYTHONPATH)\"}"; status=1; }
done
exit $status
