"""Handing a notebook in: find the file this notebook was saved as, and zip it with otter
(every notebook).

The submit cell at the end of every notebook calls :func:`utils.colab.submit`, which says what to do
on Colab and otherwise calls :func:`export` here. otter 7's ``grader.export()`` guesses the notebook
only when its folder holds exactly one ``.ipynb``; the course's ``notebooks/`` holds four, so the
notebook's own path is found first, in this order:

1. what the front end tells the kernel: VS Code's ``__vsc_ipynb_file__``, Jupyter Server's
   ``JPY_SESSION_NAME`` (JupyterLab, Notebook 7 and the classic notebook on Jupyter Server pass the
   notebook's path to its kernel; ipykernel also keeps it as ``__session__``), when that file
   exists;
2. otherwise, among the notebooks in the working folder whose setup cell names this notebook's tests
   (``TESTS = "tests/<notebook>"``: the file as it was built, ``01_ols_raw_pixels.ipynb``, and any
   copy a student made of it), the one saved last.

Nothing found: a message that says how to call ``grader.export`` with the file name.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path


class NotebookNotFound(RuntimeError):
    """No saved notebook could be identified as the one running."""


def _front_end_hints(user_ns) -> list:
    """Paths the front end gave the kernel (newest convention first); maybe stale after a rename."""
    user_ns = user_ns or {}
    return [
        user_ns.get("__vsc_ipynb_file__"),
        os.environ.get("JPY_SESSION_NAME"),
        user_ns.get("__session__"),
    ]


def _names_tests(path: Path, tests: str) -> bool:
    try:
        return f'TESTS = \\"{tests}\\"' in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def notebook_file(tests: str, user_ns=None, cwd=None) -> Path:
    """The saved file of the notebook whose setup cell set ``TESTS = tests`` (see the module's
    docstring).

    Raises :class:`NotebookNotFound` with what to do when neither the front end nor the folder
    says."""
    cwd = Path.cwd() if cwd is None else Path(cwd)
    for hint in _front_end_hints(user_ns):
        if isinstance(hint, str) and hint.endswith(".ipynb") and (cwd / hint).is_file():
            return cwd / hint
    mine = [p for p in cwd.glob("*.ipynb") if _names_tests(p, tests)]
    if mine:
        return max(mine, key=lambda p: p.stat().st_mtime)
    name = f"{Path(tests).name}.ipynb"
    raise NotebookNotFound(
        f"could not find this notebook's file in {cwd} (no saved .ipynb there names {tests}). "
        "Save the "
        f"notebook (File → Save), or, if you renamed or moved it, run "
        f'grader.export("PATH/TO/YOUR/{name}", pdf=False) with its file name.'
    )


def export(grader, tests: str, user_ns=None, cwd=None) -> Path:
    """Zip the saved notebook with otter (no PDF) next to it; print what was zipped and what to
    upload."""
    cwd = Path.cwd() if cwd is None else Path(cwd)
    path = notebook_file(tests, user_ns, cwd)
    saved = dt.datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M:%S")
    stamp = dt.datetime.now().strftime("%Y_%m_%dT%H_%M_%S")
    shown = (
        path.relative_to(cwd) if path.is_relative_to(cwd) else path
    )  # otter zips the path as given
    zip_path = shown.with_name(f"{shown.stem}_{stamp}.zip")
    grader.export(str(shown), export_path=str(zip_path), pdf=False)
    print(
        f"Wrote {zip_path}: it holds {shown} as last saved ({saved}). Save first (File → Save) if "
        f"you changed anything since, then run this cell again. Hand in that zip."
    )
    return cwd / zip_path
