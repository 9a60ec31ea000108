"""What a space file's relative paths mean when a benchmark writes a derived copy elsewhere.

A space or run file resolves `model`, `task.train` and `task.dev` from its own folder; a copy
written to another folder must have them rewritten to resolve from there. One function for the
benchmarks that derive files (bench/priors/run, bench/priors/probe, bench/fidelity/agreement).
"""
import copy
import os


def relocate(doc, source, target_dir):
    """A copy of `doc` (read from the file `source`) whose model and task data paths resolve
    from `target_dir`, where the copy will be written. Absolute paths stay as given."""
    base = os.path.dirname(source)

    def rel(p):
        return p if os.path.isabs(p) else os.path.relpath(os.path.join(base, p), target_dir)

    out = copy.deepcopy(doc)
    out["model"] = rel(out["model"])
    for key in ("train", "dev"):
        if key in out["task"]:
            out["task"][key] = rel(out["task"][key])
    return out
