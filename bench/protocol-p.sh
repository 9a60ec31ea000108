#!/usr/bin/env bash
# Protocol P (issue 2): LoRA r=8, alpha 16, dropout 0.1 on query+value in all layers, AdamW 5e-4, wd 0.01,
# linear schedule with 6% warm-up, batch 32, first 4000 training rows, 3 epochs, max length 64 (SST-2) / 128 (pairs),
# full dev set. Runs autopeft (release) for the tasks, heads and seeds given and appends one JSON line per run.
# Usage: bench/protocol-p.sh OUT.jsonl TASK:VARIANT:SEED ...   runs examples/TASK-protocol-p-VARIANT.json with --seed SEED,
# e.g. bench/protocol-p.sh results/protocol-p/runs.jsonl sst2:mean:0 mrpc:pooler:0 sst2:serial48:1 (VARIANT: mean, pooler, serial48, union)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1; shift
swift build -c release --product autopeft >&2
for spec in "$@"; do
  IFS=: read -r task variant seed <<<"$spec"
  echo "protocol P: $task $variant seed=$seed" >&2
  .build/release/autopeft train "examples/$task-protocol-p-$variant.json" --seed "$seed" 2>/dev/null | tee -a "$out"
done
