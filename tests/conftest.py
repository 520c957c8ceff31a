"""Shared fixtures: the real pets data, and caches kept out of the user's home."""
import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
REPO = Path(__file__).resolve().parent.parent
# One feature/array cache for the whole test session (reused across local runs,
# fresh in CI's clean clone); results of notebook runs go to a throwaway file.
os.environ.setdefault("PTM_CACHE", str(REPO / ".cache" / "test"))


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
