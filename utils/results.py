"""Headline numbers each notebook records, for the accuracy arc (notebooks 01-04).

``record("ols", test_acc=0.55)`` stores them in the JSON file ``$PTM_RESULTS``
(default ``~/.cache/ptm-course/results.json``); ``load()`` reads them back, so
notebook 04 can draw the arc across all four notebooks.

How to read an accuracy on the course data, whose breeds are unequal (``data.composition``):
``balanced_accuracy`` (0.5 for any constant answer) and ``by_group`` / ``group_table`` (all images,
the big breeds, the others, beside the constant answers), printed next to each notebook's test
accuracy (notebooks 01-03).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np


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


def balanced_accuracy(y_hat, y) -> float:
    """The mean over the classes present in ``y`` of the share of that class predicted right
    (notebooks 01-03).

    ``y_hat``, ``y``: arrays (or tensors) of shape (n,) holding the same label values (±1 or 0/1).
    Always answering one class scores 0.5 on two classes, whatever their proportions."""
    y_hat, y = _labels(y_hat), _labels(y)
    return float(np.mean([np.mean(y_hat[y == c] == c) for c in np.unique(y)]))


def _labels(a) -> np.ndarray:
    return np.asarray(a.detach().cpu() if hasattr(a, "detach") else a).reshape(-1)


def by_group(y_hat, y, groups, labels) -> list[dict]:
    """Accuracy on all images and on each group of them (notebooks 01-03).

    ``y_hat``, ``y``, ``groups``: shape (n,); ``labels``: ``{label value: name}``, e.g.
    ``{1: "cat", -1: "dog"}``.
    One dict per row, all images first:
    ``{"group", "n", "accuracy", "balanced", "always <name>" ...}``: the last ones are the accuracy
    of always answering that label on the row's images (the constant baselines)."""
    y_hat, y, groups = _labels(y_hat), _labels(y), np.asarray(groups).reshape(-1)
    if not len(y_hat) == len(y) == len(groups):
        raise ValueError(
            "y_hat, y and groups must have one entry per image, got "
            f"{len(y_hat)}, {len(y)}, {len(groups)}"
        )
    rows = []
    for group in ["all images", *dict.fromkeys(groups.tolist())]:
        keep = np.ones(len(y), bool) if group == "all images" else groups == group
        rows.append(
            {
                "group": group,
                "n": int(keep.sum()),
                "accuracy": float(np.mean(y_hat[keep] == y[keep])),
                "balanced": balanced_accuracy(y_hat[keep], y[keep]),
                **{
                    f"always {name}": float(np.mean(y[keep] == value))
                    for value, name in labels.items()
                },
            }
        )
    return rows


def group_table(predictions, y, groups, labels) -> str:
    """A text table of :func:`by_group` for one model (``predictions``: y_hat) or several
    ({name: y_hat})."""
    models = predictions if isinstance(predictions, dict) else {"": predictions}
    rows = [(name, r) for name, y_hat in models.items() for r in by_group(y_hat, y, groups, labels)]
    keys = [k for k in rows[0][1] if k not in ("group", "n")]
    w_model, w_group = max(map(len, models)), max(len(r["group"]) for _, r in rows)
    lines = [f"{'':{w_model}s}  {'':{w_group}s} {'n':>5s}" + "".join(f" {k:>11s}" for k in keys)]
    for i, (name, r) in enumerate(rows):
        shown = name if i == 0 or rows[i - 1][0] != name else ""
        lines.append(
            f"{shown:{w_model}s}  {r['group']:{w_group}s} {r['n']:5d}"
            + "".join(f" {r[k]:11.3f}" for k in keys)
        )
    return "\n".join(line.strip("\n") for line in lines)
