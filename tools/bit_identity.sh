#!/usr/bin/env bash
# Whether two builds of autopeft train and search bit for bit alike: each run file of tools/bit-identity/ (a six-method
# stack with LoRA dropout, an MLP prefix, (IA)³ and BitFit in chosen layers; PiSSA with a shifted prefix and BitFit on
# the LayerNorm shifts, regression) is trained by both and the saved trainable tensors are compared byte for byte; the
# space search.json (a DiffoRA prior) is searched by both and the journals compared, timings and memory aside.
#   tools/bit_identity.sh OLD_AUTOPEFT NEW_AUTOPEFT      (e.g. a worktree's build of the commit before a refactor)
# Prints one line per run file; exits 1 when any differs.
set -uo pipefail
cd "$(dirname "$0")/.."
old=$1 new=$2 out=$(mktemp -d) status=0
for f in tools/bit-identity/stack.json tools/bit-identity/pissa.json; do
  n=$(basename "$f" .json)
  "$old" train "$f" --threads 2 --save "$out/old-$n" > /dev/null 2>&1 || { echo "$n: the old build failed"; status=1; continue; }
  "$new" train "$f" --threads 2 --save "$out/new-$n" > /dev/null 2>&1 || { echo "$n: the new build failed"; status=1; continue; }
  if cmp -s "$out/old-$n/adapter.safetensors" "$out/new-$n/adapter.safetensors"; then
    echo "$n: identical ($(python3 -c "import json;r=json.load(open('$out/new-$n/result.json'));print(r['trainable_params'],'trainable, final loss',r['final_loss'],', score',r['score'])"))"
  else
    echo "$n: DIFFERS"; status=1
  fi
done
for b in old new; do
  bin=$old; [ $b = new ] && bin=$new
  "$bin" search tools/bit-identity/search.json --out "$out/search-$b" --threads 2 > /dev/null 2>&1 || { echo "search: the $b build failed"; status=1; }
done
python3 - "$out" <<'PY' || status=1
import json, sys
def records(d):
    out = []
    for line in open(f"{d}/journal.jsonl"):
        r = json.loads(line)
        for k in ("seconds", "proposal_seconds", "created", "file"): r.pop(k, None)
        for k in ("peak_rss_mib", "train_seconds", "eval_seconds", "train_examples_per_s"): r.get("metrics", {}).pop(k, None)
        out.append(json.dumps(r, sort_keys=True))
    return out
a, b = records(sys.argv[1] + "/search-old"), records(sys.argv[1] + "/search-new")
same = len(a) == len(b) and all(x == y for x, y in zip(a, b))
print(f"search: {'identical' if same else 'DIFFERS'} ({len(b)} journal records)")
sys.exit(0 if same else 1)
PY
exit $status
