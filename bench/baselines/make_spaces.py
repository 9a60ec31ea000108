"""The union space a user writes for a GLUE task, as issue 38's benchmark searches it.

LoRA (rank 0-16 on four targets), serial and parallel adapters (0-128), prefix (0-32), (IA)3 sites and BitFit
biases, each of which may be off; the layer mask; the learning rate in {1e-3, 2e-3, 5e-3}. Target 4000 rows x 3
epochs (MRPC: its 3668 rows), the cheaper fidelity 1000 rows; the four usual baselines; the final stage at the
target with 3 seeds. The budget of trials is the issue's 900 s on SST-2 (max length 64) and 2700 s on MRPC and STS-B
(sentence pairs at max length 128): there a target trial costs 222-247 s on a 2-core machine (results/baselines,
`mrpc-s0` at 900 s), so the four baselines alone would take 900 s and no searched configuration would reach the
target. The Optuna peer reads the same budget from the space file.

    python3 bench/baselines/make_spaces.py OUT_DIR TASK SEED     writes OUT_DIR/spaces/TASK-sSEED.json
Paths in it are relative to OUT_DIR/spaces (the repository's models/ and data/glue links, three levels up).
"""
import json, os, sys

TASKS = {"sst2": ("SST-2", 4000, 64, 900), "mrpc": ("MRPC", 3668, 128, 2700), "stsb": ("STS-B", 4000, 128, 2700)}


def space(task, seed, up):
    folder, rows, max_length, budget = TASKS[task]
    return {
        "name": f"{task}-union-s{seed}",
        "description": f"issue 38's union space: every method may be off, the layer mask, the learning rate; "
                       f"target 4000 rows x 3 epochs (MRPC all 3668), cheaper fidelity 1000 rows, {budget} s of trials",
        "model": f"{up}/models/all-MiniLM-L6-v2",
        "task": {"format": "glue", "name": task, "train": f"{up}/data/glue/{folder}/train.tsv",
                 "dev": f"{up}/data/glue/{folder}/dev.tsv", "max_length": max_length},
        "head": "mean",
        "training": {"epochs": 3, "batch_size": 32, "learning_rate": 0.002, "weight_decay": 0.01, "warmup_fraction": 0.06,
                     "max_grad_norm": 1.0, "train_examples": rows, "sample": "random", "seed": 0},
        "objectives": [{"name": "score", "goal": "maximize"}, {"name": "trainable_params", "goal": "minimize"}],
        "search": {"trials": 200, "initial": 8, "seed": seed, "budget_seconds": budget},
        "space": {
            "layers": {"type": "layer_mask", "min_on": 1},
            "lora": {"rank": [0, 2, 4, 8, 16],
                     "targets": {"type": "subset", "of": ["query", "key", "value", "attention.output"], "min": 1}},
            "serial_adapter": {"size": [0, 4, 8, 16, 32, 64, 128]},
            "parallel_adapter": {"size": [0, 4, 8, 16, 32, 64, 128]},
            "prefix": {"length": [0, 2, 4, 8, 16, 32]},
            "ia3": {"sites": {"type": "subset", "of": ["key", "value", "feedforward"]}},
            "bitfit": {"biases": {"type": "subset", "of": ["query", "value", "intermediate", "output"]}},
            "training": {"learning_rate": [0.001, 0.002, 0.005]},
        },
        "baselines": [
            {"name": "LoRA r8 q,v", "peft": {"lora": {"rank": 8, "alpha": 16, "targets": ["query", "value"]}}},
            {"name": "serial 48", "peft": {"serial_adapter": {"size": 48}}},
            {"name": "parallel 64", "peft": {"parallel_adapter": {"size": 64, "scale": 4}}},
            {"name": "prefix 16", "peft": {"prefix": {"length": 16}}},
        ],
        "final": {"train_examples": rows, "epochs": 3, "seeds": 3},
        "fidelity": {"target": {"train_examples": rows, "epochs": 3}, "cheaper": [1000]},
    }


def main():
    out, task, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(os.path.join(out, "spaces"), exist_ok=True)
    depth = len(os.path.normpath(os.path.join(out, "spaces")).split(os.sep))
    path = os.path.join(out, "spaces", f"{task}-s{seed}.json")
    with open(path, "w") as f:
        json.dump(space(task, seed, "/".join([".."] * depth)), f, indent=1)
        f.write("\n")
    print(path)


if __name__ == "__main__":
    main()
