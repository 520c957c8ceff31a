"""Find and read submissions: notebooks, ``grader.export`` zips, folders of either.

Nothing here runs student code, and every parse is bounded: file size, JSON
nesting depth, code per cell. ``read`` (on the host) and ``parse`` (in the analysis
subprocess) fill a ``Submission`` whose ``problem`` says why it cannot be graded; neither raises
on a bad notebook. ``similarity`` reads submissions through this module too.
The notebook handed to the sandbox is rebuilt from scratch (code and markdown
cells, fresh unique ids, tags only, no outputs), so odd shapes, missing or
duplicated cell ids never reach otter.
"""

import hashlib
import json
import os
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .store import safe_read

MAX_NOTEBOOK_BYTES = 20 << 20
MAX_CELL_CHARS = 1 << 20
MAX_DEPTH = 64
MAX_CELLS = 2000
MAX_CODE_CHARS = 4 << 20  # all code cells together
SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class Submission:
    id: str
    path: Path
    file: str = ""  # the path as given (the `file` column)
    nb_name: str = "submission.ipynb"
    nb_bytes: bytes = b""  # the rebuilt notebook the sandbox runs
    assignment: str = None  # metadata.otter.assignment_name, validated later against the zips
    problem: str = None  # why it cannot be graded (status "invalid")
    cells: list = field(default_factory=list)  # (number, tags, source) of code cells
    sha256: str = ""  # of the file's bytes: a resumed batch reuses a row only when it matches
    manual: dict = (
        None  # the written answers and printed outputs (manual.extract), from the analysis
    )


def _slug(text):
    text = unicodedata.normalize("NFKC", text)
    return SAFE.sub("_", text).strip("_.")[:80]


def _short_hash(text):
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


HASHED = re.compile(r".*-[0-9a-f]{16}")


def submission_id(rel):
    """The row id of the submission at ``rel`` (its path relative to the folder given, without
    suffix).

    It depends on that path alone: the path itself where it is already safe, else a safe form of it
    followed by 16 hex digits of its hash. A safe path that merely looks like a hashed id is hashed
    too, so no file can take another's id.
    """
    base = _slug(rel) or "submission"
    if base == rel and not HASHED.fullmatch(rel):
        return base
    return f"{base}-{_short_hash(rel)}"


def _stem(shown):
    """A notebook's path without ``.ipynb`` (a zip keeps ``.zip``: alice.zip and alice.ipynb are two
    rows)."""
    return shown[: -len(".ipynb")] if shown.endswith(".ipynb") else shown


def _candidate(q):
    return q.suffix in (".ipynb", ".zip") and ".ipynb_checkpoints" not in q.parts


def collect(paths):
    """Expand files and folders into (id, path, shown path) triples, sorted by id.

    Every entry named like a submission is listed, a link, a pipe, a device or a folder included
    (each gets an ``invalid`` row of its own). With one folder given, a path is relative to it; with
    several, it starts with the folder's name. Two entries with one id (the same name under two
    folders of one name) are an error that names them.
    """
    found, several = [], len(paths) > 1
    for p in map(Path, paths):
        if p.is_dir() and not p.is_symlink():
            for q in sorted(p.rglob("*")):
                if _candidate(q) and not any(
                    part.endswith(".ipynb") for part in q.relative_to(p).parts[:-1]
                ):
                    rel = q.relative_to(p)
                    shown = str(Path(p.name) / rel) if several else str(rel)
                    found.append((_stem(shown), q, shown))
        else:
            found.append((_stem(p.name), p, str(p)))
    out, seen = [], {}
    for rel, q, shown in found:
        sid = submission_id(rel)
        if sid in seen:
            raise ValueError(
                f"two submissions would share the row id {sid!r}: {seen[sid]} and {shown}; "
                f"grade the folders one at a time or rename one"
            )
        seen[sid] = shown
        out.append((sid, q, shown))
    return sorted(out)


def content_hash(path):
    """sha256 of a regular file's bytes (the resume check), or "" for anything else."""
    try:
        st = os.lstat(path)
    except OSError:
        return ""
    if not stat.S_ISREG(st.st_mode) or st.st_size > 4 * MAX_NOTEBOOK_BYTES:
        return ""
    data = safe_read(path, 4 * MAX_NOTEBOOK_BYTES)
    return hashlib.sha256(data).hexdigest() if data is not None else ""


def _read_bytes(path):
    """(file name, bytes) of the notebook in ``path``; a zip must hold exactly one .ipynb."""
    mode = os.lstat(path).st_mode
    if stat.S_ISDIR(mode):
        raise ValueError("a folder named like a notebook, not a file")
    if not stat.S_ISREG(mode):
        raise ValueError("not a regular file (a link, a pipe or a device)")
    if path.suffix != ".zip":
        data = safe_read(path, MAX_NOTEBOOK_BYTES)
        if data is None:
            raise ValueError(
                f"not a regular file of at most {MAX_NOTEBOOK_BYTES >> 20} MB "
                f"(a link, a pipe, a device or too big)"
            )
        return path.name, data
    with zipfile.ZipFile(path) as zf:
        nbs = [
            i
            for i in zf.infolist()
            if i.filename.endswith(".ipynb")
            and not i.filename.startswith(("__MACOSX", "."))
            and "/." not in i.filename
        ]
        if len(nbs) != 1:
            raise ValueError(f"zip holds {len(nbs)} notebooks, expected exactly 1")
        if nbs[0].file_size > MAX_NOTEBOOK_BYTES:
            raise ValueError(
                f"the notebook in the zip is {nbs[0].file_size >> 20} MB, over "
                f"{MAX_NOTEBOOK_BYTES >> 20} MB"
            )
        with zf.open(nbs[0]) as f:
            return Path(nbs[0].filename).name, f.read(MAX_NOTEBOOK_BYTES + 1)


def _too_deep(obj):
    stack = [(obj, 0)]
    while stack:
        o, d = stack.pop()
        if d > MAX_DEPTH:
            return True
        if isinstance(o, dict):
            stack += [(v, d + 1) for v in o.values()]
        elif isinstance(o, list):
            stack += [(v, d + 1) for v in o]
    return False


def _text(value, where):
    """A cell source as text: a string or a list of strings, nothing else."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return "".join(value)
    raise ValueError(f"{where}: source must be text or a list of text, not {type(value).__name__}")


def _tags(cell, where):
    meta = cell.get("metadata", {})
    if not isinstance(meta, dict):
        raise ValueError(f"{where}: metadata must be an object, not {type(meta).__name__}")
    tags = meta.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValueError(f"{where}: metadata.tags must be a list of text")
    return [t[:64] for t in tags[:20]]


def rebuild(nb):
    """(clean notebook, [(number, tags, source)] of code cells) or ValueError naming the bad
    cell."""
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or "nbformat" not in nb:
        raise ValueError("not a Jupyter notebook: JSON without 'cells' (a list) and 'nbformat'")
    if len(nb["cells"]) > MAX_CELLS:
        raise ValueError(f"{len(nb['cells'])} cells, over the limit of {MAX_CELLS}")
    cells, code, total = [], [], 0
    for n, cell in enumerate(nb["cells"], 1):
        where = f"cell {n}"
        if not isinstance(cell, dict):
            raise ValueError(f"{where} is a {type(cell).__name__}, not an object")
        kind = cell.get("cell_type")
        if kind not in ("code", "markdown", "raw"):
            raise ValueError(f"{where}: unknown cell_type {str(kind)[:30]!r}")
        source, tags = _text(cell.get("source", ""), where), _tags(cell, where)
        if kind == "code" and len(source) > MAX_CELL_CHARS:
            raise ValueError(
                f"{where} holds {len(source) >> 10} KB of code, over the limit of "
                f"{MAX_CELL_CHARS >> 10} KB per cell"
            )
        new = {
            "cell_type": kind,
            "id": f"cell-{n}",
            "metadata": {"tags": tags} if tags else {},
            "source": source,
        }
        if kind == "code":
            total += len(source)
            if total > MAX_CODE_CHARS:
                raise ValueError(
                    f"more than {MAX_CODE_CHARS >> 20} MB of code in all, over the limit "
                    f"(at cell {n})"
                )
            new.update(execution_count=None, outputs=[])
            code.append((n, tags, source))
        cells.append(new)
    clean = {
        "cells": cells,
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
            "language_info": {"name": "python"},
        },
    }
    return clean, code


def assignment_of(nb):
    """``metadata.otter.assignment_name`` if it is a short string, else None (never used as a
    path)."""
    meta = nb.get("metadata") if isinstance(nb, dict) else None
    otter = meta.get("otter") if isinstance(meta, dict) else None
    name = otter.get("assignment_name") if isinstance(otter, dict) else None
    return name[:200] if isinstance(name, str) and name else None


def expected_name(code):
    """The file name the notebook's own ``otter.Notebook("NAME.ipynb")`` cell expects."""
    for _, _, source in code:
        m = re.search(
            r"Notebook\(\s*(?:nb_path\s*=\s*)?[\"']([A-Za-z0-9_.-]{1,100}\.ipynb)[\"']", source
        )
        if m:
            return m.group(1)
    return None


def read(sub_id, path, file=None):
    """The submission's notebook bytes, read on the host with bounds; sets ``problem`` instead of
    raising."""
    sub = Submission(sub_id, Path(path), file=str(file or path))
    try:
        _, data = _read_bytes(sub.path)
    except (
        OSError,
        zipfile.BadZipFile,
        ValueError,
        RuntimeError,
        NotImplementedError,
        EOFError,
    ) as e:
        sub.problem = f"cannot read submission: {str(e)[:200]}"
        return sub, b""
    if not data.strip():
        sub.problem = "empty file: no notebook to grade"
    elif len(data) > MAX_NOTEBOOK_BYTES:
        sub.problem = f"notebook larger than {MAX_NOTEBOOK_BYTES >> 20} MB"
    return sub, data


def parse(sub, data):
    """JSON, shape checks and the rebuilt notebook: fills ``sub`` (runs in the analysis
    subprocess)."""
    try:
        nb = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        sub.problem = "not a notebook: the file is binary, not JSON text"
        return sub
    except RecursionError:
        sub.problem = f"corrupted notebook: JSON nested deeper than {MAX_DEPTH} levels"
        return sub
    except ValueError as e:
        sub.problem = f"corrupted notebook: invalid JSON ({str(e)[:120]})"
        return sub
    if _too_deep(nb):
        sub.problem = f"corrupted notebook: JSON nested deeper than {MAX_DEPTH} levels"
        return sub
    try:
        clean, sub.cells = rebuild(nb)
    except ValueError as e:
        sub.problem = f"malformed notebook: {e}"
        return sub
    sub.assignment = assignment_of(nb)
    sub.nb_name = expected_name(sub.cells) or "submission.ipynb"
    sub.nb_bytes = json.dumps(clean).encode()
    return sub
