"""Issue 41's benchmark spaces: issue 12's multi-fidelity arm (c) on SST-2 and MRPC, 1500 s of
trials, for two arms:
- today: the space as issue 12 ran it (selected on dev, the front of the runs' scores), for a build
  from before issue 41 (TODAY_BIN);
- new: the same with a validation split carved from the training file (500 rows on SST-2, 400 on
  MRPC, about its dev set's size) and the answer by posterior mean, for the current build.
Usage: python3 bench/noise/make_spaces.py OUT TASK ARM SEED   (prints the written file's path)
"""
import json, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from spacepaths import relocate

SOURCES = {"sst2": ("spaces/sst2-autopeft-mf-2000.json", 500), "mrpc": ("spaces/mrpc-autopeft-mf.json", 400)}

out, task, arm, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
src, held = SOURCES[task]
target = os.path.join(out, "spaces")
os.makedirs(target, exist_ok=True)
d = relocate(json.load(open(src)), src, target)
d["name"] = f"{task}-{arm}-s{seed}"
d["description"] = (f"{src} with search seed {seed} and 1500 s of trials (bench/noise, arm {arm}"
                    + (f": {held} validation rows carved from train, answer by posterior mean)" if arm == "new" else ")"))
d["search"]["seed"] = seed
d["search"]["budget_seconds"] = 1500
if arm == "new":
    d["task"]["validation"] = {"rows": held, "seed": 0}
    d["search"]["answer"] = "posterior_mean"
path = os.path.join(target, d["name"] + ".json")
json.dump(d, open(path, "w"), indent=1)
print(path)
