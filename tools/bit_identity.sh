#!/usr/bin/env bash
# Whether two builds of autopeft train and search bit for bit alike: each run file of tools/bit-identity/ (a six-method
# stack with LoRA dropout, an MLP prefix, (IA)³ and BitFit in chosen layers; PiSSA with a shifted prefix and BitFit on
# the LayerNorm shifts, regression) is trained by both and the saved trainable tensors are compared byte for byte; the
# space search.json (a DiffoRA prior) is searched by both and the journals compared, timings and memory aside.
#   tools/bit_identity.sh OLD_AUTOPEFT NEW_AUTOPEFT [RUN.json ...] [--search SPACE.json ...]
#   (OLD: e.g. a worktree's build of the commit before a refactor; further run files and spaces are compared too,
#   e.g. examples/sst2-protocol-p-mean.json for protocol P and spaces/quickstart.json for a committed study)
# Prints one line per run file; exits 1 when any differs.
set -uo pipefail
cd "$(dirname "$0")/.."
old=$1 new=$2 out=$(mktemp -d) status=0
shift 2
runs=(tools/bit-identity/stack.json tools/bit-identity/pissa.json) spaces=(tools/bit-identity/search.json)
while [ $# -gt 0 ]; do
  if [ "$1" = --search ]; then spaces+=("$2"); shift 2; else runs+=("$1"); shift; fi
done
for f in "${runs[@]}"; do
  n=$(basename "$f" .json)
  "$old" train "$f" --threads 2 --save "$out/old-$n" > /dev/null 2>&1 || { echo "$n: the old build failed"; status=1; continue; }
  "$new" train "$f" --threads 2 --save "$out/new-$n" > /dev/null 2>&1 || { echo "$n: the new build failed"; status=1; continue; }
  if cmp -s "$out/old-$n/adapter.safetensors" "$out/new-$n/adapter.safetensors"; then
    echo "$n: identical ($(python3 -c "import json;r=json.load(open('$out/new-$n/result.json'));print(r['trainable_params'],'trainable, final loss',r['final_loss'],', score',r['score'])"))"
  else
    echo "$n: DIFFERS"; status=1
  fi
done
for space in "${spaces[@]}"; do
  n=$(basename "$space" .json)
  for b in old new; do
    bin=$old; [ $b = new ] && bin=$new
    "$bin" search "$space" --out "$out/search-$n-$b" --threads 2 > /dev/null 2>&1 || { echo "search $n: the $b build failed"; status=1; }
  done
  python3 - "$out/search-$n" "$n" <<'PY' || status=1
import json, sys
def records(d):
    out = []
    for line in open(f"{d}/journal.jsonl"):
        r = json.loads(line)
        for k in ("seconds", "proposal_seconds", "created", "file"): r.pop(k, None)
        for k in ("peak_rss_mib", "train_seconds", "eval_seconds", "train_examples_per_s"): r.get("metrics", {}).pop(k, None)
        out.append(json.dumps(r, sort_keys=True))
    return out
a, b = records(sys.argv[1] + "-old"), records(sys.argv[1] + "-new")
same = len(a) == len(b) and all(x == y for x, y in zip(a, b))
print(f"search {sys.argv[2]}: {'identical' if same else 'DIFFERS'} ({len(b)} journal records, timings and memory aside)")
sys.exit(0 if same else 1)
PY
done
exit $status
