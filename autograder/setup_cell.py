"""The one setup cell that opens every notebook: the source of truth.

Each master in ``solutions/`` starts (after its ``# ASSIGNMENT CONFIG`` cell)
with a code cell whose source is exactly :data:`SOURCE`; ``tests/test_build.py``
fails when one drifts. To update them all after editing :data:`SOURCE`, run
``python -m autograder.setup_cell`` (rewrites the first code cell of every master).

The cell works in three places:

* a repo checkout: ``notebooks/`` is one level below the repo root, so the root
  goes on ``sys.path`` when ``utils`` is not importable yet;
* Colab (``"google.colab" in sys.modules``): clones the course repo once
  (``REPO_URL``, a placeholder until the course has its public home), installs
  the pinned requirements, links the public tests next to the notebook and
  downloads the Oxford-IIIT Pet data with torchvision into ``./data``;
* the grader, where otter has copied ``utils/`` next to the notebook.

It defines ``attempt(fn, *args)``, which demo cells use to call a student's
function: while the function is still a stub (raises ``NotImplementedError``)
or an earlier step returned nothing, it prints a reminder and returns ``None``,
so an untouched notebook runs top to bottom without a traceback.

It ends by creating otter's ``grader`` (tests are files in ``./tests``), so the
assign config sets ``init_cell: false``: otter's own init cell would run
``import otter`` before Colab had a chance to install it.
"""
import sys
from pathlib import Path

import nbformat

SOURCE = '''\
# Setup (run first; safe to re-run): works in a repo checkout, in Colab and in the grader.
import os, subprocess, sys
from pathlib import Path
REPO_URL = "https://github.com/ptm-course/pretrained-models-module"  # placeholder for the course repo
if "google.colab" in sys.modules:  # Colab: course code, pinned packages, public tests and data
    repo = Path("/content/ptm-course")
    if not repo.exists():
        subprocess.run(["git", "clone", "--depth", "1", REPO_URL, str(repo)], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", str(repo / "requirements.txt")], check=True)
    if not Path("tests").exists():
        Path("tests").symlink_to(repo / "notebooks" / "tests")
    sys.path.insert(0, str(repo))
    from torchvision.datasets import OxfordIIITPet
    for split in ("trainval", "test"):
        OxfordIIITPet("data", split=split, download=True)
    os.environ["PTM_DATA"] = str(Path("data").resolve())
else:
    try:
        import utils  # the grader copies utils/ next to the notebook
    except ImportError:  # repo checkout: notebooks/ is one level below the repo root
        sys.path.insert(0, str(Path.cwd().parent))
import numpy as np
import matplotlib.pyplot as plt
import otter
from utils import data, plots, results
grader = otter.Notebook(tests_dir="tests")


def attempt(fn, *args, **kwargs):
    """Call fn; while fn (or an earlier step giving an argument) is unfinished, print a reminder, return None."""
    if any(arg is None for arg in args):
        return print(f"skipped {getattr(fn, '__name__', fn)}: an earlier step is not done yet")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as todo:
        return print(f"to do: {todo}")


print("utils from", Path(data.__file__).parent)'''


def first_code_cell(nb):
    """The first code cell of a notebook (``None`` when it has none)."""
    return next((c for c in nb.cells if c.cell_type == "code"), None)


def sync(master: Path) -> bool:
    """Make ``master``'s first code cell equal :data:`SOURCE`; True when it changed."""
    nb = nbformat.read(str(master), as_version=4)
    cell = first_code_cell(nb)
    if cell is None:
        raise ValueError(f"{master}: no code cell to hold the setup code")
    if cell.source == SOURCE:
        return False
    cell.source = SOURCE
    nbformat.write(nb, str(master))
    return True


def main(argv=None) -> int:
    from . import SOLUTIONS

    for master in sorted(SOLUTIONS.glob("*.ipynb")):
        if sync(master):
            print(f"updated the setup cell of {master.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
