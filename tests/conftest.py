"""Shared fixtures: the real pets data, and caches kept out of the user's home; how `make test`
splits the suite.

``make test`` runs the suite in two processes (pytest-xdist, ``-n 2 --dist loadscope``). Each test
belongs to a group (``group_of``) that one process runs whole, in collection order: by default its
module, so that a module's expensive fixtures are built once. The exceptions are the notebook runs:
the browser test runs each notebook ``answered`` and ``untouched`` in JupyterLab, and the tests that
read what those runs printed (``tests/fixtures/executions.py``) must run in the same process, after
them, or they would run the notebook again. Each notebook is therefore one group, ``notebook NN``.
The groups start longest first (``FIRST``), so that the short ones even out the end. A plain
``pytest`` runs the same groups in the same order, in one process.

(xdist's ``--dist loadgroup`` marks do not work here: xdist 3.8 writes the group into
``item._nodeid``, which pytest 9 no longer reads, so they are silently ignored. Hence a scheduler of
our own.)
"""

import os
import re
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
REPO = Path(__file__).resolve().parent.parent
# The answer corpora and helpers (tests/fixtures/) are imported by name:
# `from notebook_helpers import ...`.
sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
# One feature/array cache for the whole test session (reused across local runs,
# fresh in CI's clean clone); results of notebook runs go to a throwaway file.
os.environ.setdefault("PTM_CACHE", str(REPO / ".cache" / "test"))
# Two test processes share the cores, and so do the kernels they start (which inherit this
# environment). Threads that wait for work sleep instead of spinning: with OpenMP's default
# spin-waits the two processes burned a third more CPU time (1,054 CPU-s for the suite instead of
# ~790). One thread per process instead left a core idle whenever the other process waited.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Progress bars redraw once a second instead of ten times: each redraw is a widget update that
# Chromium renders, and a running progress bar cost the browser a tenth of a core (measured) in the
# JupyterLab runs.
os.environ.setdefault("TQDM_MININTERVAL", "1")

# The notebook runs and the tests that read them (nodeid prefixes, module::name): for each notebook,
# the browser's answered and untouched runs, then test_notebooks' checks of what they printed, the
# per-notebook ones (test_01_... to test_04_...) included (the few of those that read only the
# source cost nothing).
RUN_TESTS = (
    "tests/test_browser.py::test_answered_",
    "tests/test_browser.py::test_untouched_",
    "tests/test_notebooks.py::test_answered_",
    "tests/test_notebooks.py::test_untouched_",
    "tests/test_notebooks.py::test_0",
)
# Tests that are a group of their own, though the rest of their module is not: each costs more
# than the rest of its module and builds no module fixture worth sharing, so either process can
# take it (a prefix of nodeids -> the group). The Colab stand-in's two sessions run at once, one
# per process; they and the project environment's notebooks share the run's one feature cache
# ($PTM_CACHE, test_colab_runtime.stand_in_cache), whose locks make each entry computed once.
# The stand-in's runs of notebook 04 are one group that runs last (``LAST``): they read Figure 5's
# grid, which the browser's run of notebook 04 computes (the first group), and a run that needs it
# sooner waits on its lock with a core idle (docs/performance.md).
COLAB_04 = "Colab stand-in: notebook 04"
OWN_GROUP = {
    "tests/test_colab_runtime.py::test_solution_passes_every_check[04": COLAB_04,
    "tests/test_colab_runtime.py::test_resnet18_solution_passes_every_check[04": COLAB_04,
    "tests/test_colab_runtime.py::test_resnet18_": "Colab stand-in, ResNet-18 session",
    "tests/test_train.py::test_fine_tuning_from_a_middle": "utils.train: fine-tuning on digits",
}
LAST = (COLAB_04,)
# The groups that start first, in this order (the rest keep their collection order behind them,
# then LAST): longest first, by their time on an empty feature cache (docs/performance.md, "The test
# suite's time"). Notebook 04 first: its browser run computes Figure 5's grid (and notebook 03's
# features), while the other process runs the Colab stand-in's notebooks 01-03.
FIRST = (
    "notebook 04",
    "tests/test_colab_runtime.py",
    "Colab stand-in, ResNet-18 session",
    "notebook 03",
    "tests/test_notebooks.py",
    "notebook 02",
    "tests/grading/test_batch.py",
    "notebook 01",
    "tests/test_colab.py",
    "tests/grading/test_gradescope.py",
    "utils.train: fine-tuning on digits",
)


def group_of(nodeid: str) -> str:
    """The group a test runs in: ``notebook NN`` for the runs of a notebook and the tests that read
    them, an ``OWN_GROUP``, else its module's path. (The browser's widget self-test goes with
    notebook 01.)"""
    if nodeid.startswith(RUN_TESTS):
        number = re.search(r"::test_(\d\d)_|\[(\d\d)_", nodeid)
        return f"notebook {number[1] or number[2]}"
    if nodeid.startswith("tests/test_browser.py::"):
        return "notebook 01"
    return next(
        (group for prefix, group in OWN_GROUP.items() if nodeid.startswith(prefix)),
        nodeid.split("::")[0],
    )


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(FIRST)}
    rank.update({name: len(FIRST) + 1 + i for i, name in enumerate(LAST)})
    items.sort(
        key=lambda item: rank.get(group_of(item.nodeid), len(FIRST))
    )  # stable: collection order within


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist's scheduler of scopes (a unit to one process, whole; first units first), ``group_of``
    as the scope."""
    from xdist.scheduler import LoadScopeScheduling

    class NotebookRunGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return group_of(nodeid)

        def _reschedule(self, node):
            """The next group goes to a process when it is about to run its last test (xdist's own
            threshold, two, committed a group to a process while two long tests, e.g. two notebook
            runs, were ahead of it there, and the other process could go idle meanwhile). One, not
            none: a process runs a test only once it knows the next one."""
            if node.shutting_down:
                return
            if not self.workqueue:
                node.shutdown()
            elif self._pending_of(self.assigned_work[node]) <= 1:
                self._assign_work_unit(node)

    return NotebookRunGroups(config, log)


@pytest.fixture(scope="session")
def run_tmp(tmp_path_factory):
    """A folder of this test run shared by its processes (``make test`` runs two): the parent of
    each xdist worker's own base folder, else the base folder itself."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


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
    for line in (
        (Path(root) / "oxford-iiit-pet" / "annotations" / f"{split}.txt").read_text().splitlines()
    ):
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
