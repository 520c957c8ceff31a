"""Each notebook executed once per test session, shared by every test that reads what it printed.

Two versions of each notebook are executed: ``answered`` (the student notebook with every answer cell
taken from the built solution: what a student who solved everything runs) and ``untouched`` (the
student notebook as released). Whoever needs one first runs it: ``tests/test_browser.py`` runs them
in JupyterLab and records what the page received (``record``); ``get`` returns that run, or executes
the notebook with nbclient when no browser run exists (a selection of tests, or no Chromium).

A run is ``(notebook, results)``: the notebook with its outputs (nbformat) and the course results
(``utils.results``: the JSON its cells recorded, read from the run's own ``PTM_RESULTS`` file).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import nbformat

from notebook_helpers import execute, fill_answers, load_built

VARIANTS = ("answered", "untouched")
_RUNS: dict = {}


def notebook(stem: str, variant: str):
    """The notebook to execute for ``variant`` (not executed)."""
    solution, student = load_built(stem)
    return fill_answers(student, solution) if variant == "answered" else nbformat.from_dict(student)


def record(stem: str, variant: str, nb, results: dict) -> None:
    """Keep a run made elsewhere (the browser test) for the tests that read its outputs."""
    _RUNS[stem, variant] = (nbformat.from_dict(nb), results)


def get(stem: str, variant: str):
    """``(notebook with outputs, results)`` of ``stem``'s ``variant``, executed with nbclient if nobody has yet."""
    if (stem, variant) not in _RUNS:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "results.json"
            saved = os.environ.get("PTM_RESULTS")
            os.environ["PTM_RESULTS"] = str(path)   # the kernel inherits it: this run's results only
            try:
                nb, _ = execute(notebook(stem, variant))
            finally:
                if saved is None:
                    os.environ.pop("PTM_RESULTS", None)
                else:
                    os.environ["PTM_RESULTS"] = saved
            results = json.loads(path.read_text()) if path.exists() else {}
        _RUNS[stem, variant] = (nb, results)
    return _RUNS[stem, variant]


def from_page(cells: list[dict]):
    """An nbformat notebook from JupyterLab's cell models (``NotebookPage.code_cells`` of every cell)."""
    nb = nbformat.v4.new_notebook()
    for cell in cells:
        if cell["type"] == "code":
            outputs = []
            for out in cell["outputs"]:
                out = dict(out)
                if isinstance(out.get("text"), list):
                    out["text"] = "".join(out["text"])
                if isinstance(out.get("data"), dict):
                    out["data"] = {k: "".join(v) if isinstance(v, list) else v for k, v in out["data"].items()}
                outputs.append(nbformat.from_dict(out))
            nb.cells.append(nbformat.v4.new_code_cell(cell["source"], outputs=outputs,
                                                      execution_count=cell["execution_count"]))
        elif cell["type"] == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(cell["source"]))
        else:
            nb.cells.append(nbformat.v4.new_raw_cell(cell["source"]))
    return nb
