"""Shared fixtures: the real pets data, and caches kept out of the user's home; how `make test` splits the suite.

``make test`` runs the suite in two processes (pytest-xdist: ``-n 2 --dist loadgroup``). Each test
belongs to a group that one process runs whole, in order: by default its module, so that a module's
expensive fixtures are built once. The exceptions are the notebook runs. The browser test runs each
notebook ``answered`` and ``untouched`` in JupyterLab, and the tests that read what those runs printed
(``tests/executions.py``) must run in the same process, after them: the groups ``answered`` and
``untouched``. The two start first, one per process, since they take the longest; the other groups
follow, longest first, so that the short ones even out the end. A plain ``pytest`` runs the same groups
in the same order, in one process.
"""
import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
REPO = Path(__file__).resolve().parent.parent
# One feature/array cache for the whole test session (reused across local runs,
# fresh in CI's clean clone); results of notebook runs go to a throwaway file.
os.environ.setdefault("PTM_CACHE", str(REPO / ".cache" / "test"))


# The groups that start first, in this order (the rest keep their collection order behind them):
# the notebook runs, then the longest modules (the judge pool, the attack batch, the Colab runs).
FIRST = ("answered", "untouched", "test_notebooks", "test_grade", "test_colab", "test_gradescope")


def _group(item) -> str:
    mark = item.get_closest_marker("xdist_group")
    return mark.args[0] if mark else item.module.__name__


@pytest.hookimpl(tryfirst=True)   # before pytest-xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        if not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    rank = {name: i for i, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(_group(item), len(rank)))   # stable: collection order within a group


@pytest.fixture(scope="session")
def pets_root():
    """The folder holding oxford-iiit-pet/ ($PTM_DATA or data/); fails loudly if absent."""
    from utils import data
    return data.find_root()


@pytest.fixture(autouse=True)
def _results_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PTM_RESULTS", str(tmp_path / "results.json"))


def read_split(root, split):
    """(image ids, species) from an annotation list: the ground truth tests compare with."""
    ids, species = [], []
    for line in (Path(root) / "oxford-iiit-pet" / "annotations" / f"{split}.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            parts = line.split()
            ids.append(parts[0])
            species.append(int(parts[2]))
    return ids, species


@pytest.fixture(scope="session")
def student_release(tmp_path_factory):
    """One student release (``python -m autograder release``), committed with git, whose notebooks
    clone it from its own ``file://`` URL: what an instructor pushes, and what Colab clones."""
    from autograder import release
    out = tmp_path_factory.mktemp("student-release") / "ptm-course-release"
    release.release(out, repo_url=out.as_uri())
    return out
