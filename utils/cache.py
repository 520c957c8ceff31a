"""One on-disk cache for arrays and features (used by ``data`` and ``train``).

Folder: ``$PTM_CACHE`` if set, else ``~/.cache/ptm-course``. Entries are named
by a SHA-256 key of everything that determines their content, so a stale entry
is never reused; delete the folder to free space.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def cache_dir(kind: str) -> Path:
    base = Path(os.environ.get("PTM_CACHE") or Path.home() / ".cache" / "ptm-course")
    folder = base.expanduser() / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def key(*parts) -> str:
    """A short hex key from the ``repr`` of every part."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:24]


def has(kind: str, name: str) -> bool:
    """Whether ``<cache>/<kind>/<name>.pt`` exists (a caller deciding where to compute the missing
    entries; :func:`load_or_compute` still checks that it loads)."""
    return (cache_dir(kind) / f"{name}.pt").exists()


def load_or_compute(kind: str, name: str, compute):
    """Load ``<cache>/<kind>/<name>.pt``, or call ``compute()`` and save its result.

    The result is a dict of tensors or arrays. Writes are atomic, so an
    interrupted run never leaves a half-written entry behind. One process
    computes an entry at a time (a lock file beside it): a second notebook
    or test process that needs the same entry waits and then loads it,
    instead of computing it again.
    """
    # here, not at the top: notebooks 01 and 02 (and the grader's run of them)
    # need no torch until now
    import torch
    from filelock import FileLock  # installed with torch

    path = cache_dir(kind) / f"{name}.pt"
    with FileLock(path.with_suffix(".lock")):
        if path.exists():
            try:
                return torch.load(path, map_location="cpu", weights_only=False)
            except Exception:  # a corrupted entry is recomputed, never trusted
                path.unlink(missing_ok=True)
        value = compute()
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        torch.save(value, tmp)
        os.replace(tmp, path)
        return value
