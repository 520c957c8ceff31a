"""Headline numbers each notebook records, for the accuracy arc (notebooks 01-04).

``record("ols", test_acc=0.55)`` stores them in the JSON file ``$PTM_RESULTS``
(default ``~/.cache/ptm-course/results.json``); ``load()`` reads them back, so
notebook 04 can draw the arc across all four notebooks.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

STAGES = ("ols", "edges", "frozen", "finetune")


def results_path() -> Path:
    default = Path.home() / ".cache" / "ptm-course" / "results.json"
    return Path(os.environ.get("PTM_RESULTS") or default).expanduser()


def load() -> dict:
    """All recorded stages: ``{stage: {metric: value}}`` (empty when none yet)."""
    path = results_path()
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def record(stage: str, **metrics) -> dict:
    """Store ``metrics`` (numbers) for ``stage``; returns everything recorded so far."""
    clean = {k: float(v) if hasattr(v, "__float__") else v for k, v in metrics.items()}
    results = load()
    results[stage] = {**results.get(stage, {}), **clean}
    path = results_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
    os.replace(tmp, path)
    return results
