"""The records of a study folder's append-only files, for the benchmarks that read studies.

`journal.jsonl` (what the search did) and `reevaluation.jsonl` (what `autopeft reevaluate`
measured) are one JSON object per line, each with an `op`. One reader for bench/fidelity/agreement
and bench/fidelity/wallclock, so both read a study the same way (a missing re-evaluation is empty).
"""
import json
import os


def records(study, name, op=None):
    """The objects of STUDY/NAME in order (those whose `op` is `op`, when given); [] when the
    file does not exist."""
    path = os.path.join(study, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r for r in rows if op is None or r.get("op") == op]


def journal(study, op=None):
    return records(study, "journal.jsonl", op)


def reevaluations(study):
    """The re-evaluation runs (`op` "reevaluated"): trial (0-based id), seed, score, seconds."""
    return records(study, "reevaluation.jsonl", "reevaluated")
