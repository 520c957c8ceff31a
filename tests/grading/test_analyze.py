"""``analyze``: the limited subprocess that reads one notebook for the host, run as the batch runs
it.

A real sample and hostile inputs go through ``analyze.py`` itself (stdin: the request line, then the
notebook's bytes; one JSON object on its result pipe). What the batch makes of a notebook that
overruns the analysis' limits is tested in ``test_batch.py``."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.demo import SAMPLES
from autograder.grading import assignment
from autograder.grading.stages import HERE

STEM = "01_ols_raw_pixels"
DIST = Path(__file__).resolve().parents[2] / "autograder" / "dist"


@pytest.fixture(scope="module")
def specs():
    if not (DIST / f"{STEM}.zip").is_file():
        pytest.fail(f"{DIST / STEM}.zip is missing: run `python -m autograder build` first")
    tpl = assignment.load_template(DIST / f"{STEM}.zip", Path(tempfile.mkdtemp(prefix="ptm-test-")))
    return {
        STEM: {"params": sorted(tpl.params), "given": sorted(tpl.given), "manual": tpl.manual or {}}
    }


def analyze(data, specs, forced=None):
    read, write = os.pipe()
    request = json.dumps({"assignment": forced, "templates": specs}).encode() + b"\n"
    proc = subprocess.run(
        [sys.executable, "-I", str(HERE / "analyze.py"), str(write)],
        input=request + data,
        pass_fds=(write,),
        capture_output=True,
        timeout=120,
    )
    os.close(write)
    with os.fdopen(read, "rb") as f:
        out = f.read()
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return json.loads(out)


def test_a_sample_is_read_its_definitions_picked_and_nothing_flagged(specs):
    got = analyze((SAMPLES / f"{STEM}-full.ipynb").read_bytes(), specs)
    assert got["problem"] is None and got["assignment"] == STEM
    sources = [src for _, src in got["definitions"]]
    assert "import numpy as np" in sources
    assert any(src.startswith("def fit_min_norm(") for src in sources)
    assert not any("grader.check" in src or "print(" in src.split("\n")[0] for src in sources)
    assert got["flags"] == []
    rebuilt = json.loads(got["nb"])  # the clean notebook the run stage executes
    assert rebuilt["nbformat"] == 4 and all(not c.get("outputs") for c in rebuilt["cells"])


def test_the_audit_reads_the_students_cells_only(specs):
    nb = json.loads((SAMPLES / f"{STEM}-full.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "def fit_min_norm(" in "".join(c["source"]))
    cell["source"] = "".join(cell["source"]) + "\nfrom otter.test_files import TestFile\n"
    got = analyze(json.dumps(nb).encode(), specs)
    number = nb["cells"].index(cell) + 1
    assert got["flags"] == [
        f"cell {number} imports otter internals (otter.test_files)",
    ], got["flags"]


def test_a_notebook_of_no_known_assignment_gets_no_definitions(specs):
    data = (SAMPLES / f"{STEM}-full.ipynb").read_bytes()
    got = analyze(data, specs, forced="99_unknown")
    assert got["problem"] is None and "definitions" not in got


@pytest.mark.parametrize(
    "data, says",
    [
        (b"{not json", "JSON"),
        (b"[]", "notebook"),
        (b'{"cells": "x"}', "cells"),
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
        (b"\xff\xfe\x00garbage", ""),
    ],
)
def test_what_is_not_a_notebook_is_a_problem_with_its_reason(specs, data, says):
    got = analyze(data, specs)
    assert got["problem"], got
    assert says.lower() in got["problem"].lower(), got["problem"]
    assert "definitions" not in got
