"""The one setup cell that opens every notebook: the source of truth.

Each master in ``solutions/`` starts (after its ``# ASSIGNMENT CONFIG`` cell)
with a code cell whose source is exactly :data:`SOURCE`; ``tests/test_build.py``
fails when one drifts. To update them all after editing :data:`SOURCE`, run
``python -m autograder.setup_cell`` (rewrites the first code cell of every master).

The cell works in three places:

* a repo checkout: ``notebooks/`` is one level below the repo root, so the root
  goes on ``sys.path`` when ``utils`` is not importable yet;
* Colab (``"google.colab" in sys.modules``): clones the course's student
  release once (``REPO_URL``, which the build writes from ``course.toml``; see
  :func:`with_repo_url`) into a temp folder next to the notebook and renames it
  to ``ptm-course/`` only when the clone is complete; then
  ``utils.colab.prepare`` installs only what Colab lacks, links the public tests
  and finds or downloads the data (the same code as ``make data``);
* the grader, where otter has copied ``utils/`` next to the notebook.

Bad input stops the cell with one message that says what to do, and leaves
nothing half-done: no ``REPO_URL`` (the instructor must set ``release_url`` in
``course.toml``), a URL that does not clone (the temp folder is removed), a
partial data folder (how many course images are missing, the first few names),
a notebook opened without the course's ``utils/``; a missing ``tests/<notebook>/``
folder is reported. ``tests/test_colab.py`` runs each case in a simulated Colab kernel.

It defines ``attempt(fn, *args)``, which demo cells use to call a student's
function: while the function is still a stub (raises ``NotImplementedError``)
or an earlier step returned nothing, it prints a reminder and returns ``None``,
so an untouched notebook runs top to bottom without a traceback.

It ends by creating otter's ``grader`` on the notebook's own public tests,
``tests/<notebook>/`` (``TESTS``, which the build writes; see :func:`with_tests`),
so ``grader.check_all()`` runs this notebook's questions and no other's. The
assign config sets ``init_cell: false``: otter's own init cell would run
``import otter`` before Colab had a chance to install it.
"""

import re
import sys
from pathlib import Path

import nbformat

SOURCE = """\
# Setup (run first; safe to re-run): works in a repo checkout, in Colab and in the grader.
import os, shutil, subprocess, sys, tempfile
from pathlib import Path
REPO_URL = ""  # the course's student release (the build writes it from course.toml)
TESTS = "tests"  # this notebook's public tests (the build writes tests/<this notebook's name>)
if "google.colab" in sys.modules and not Path("utils").is_dir():  # Colab: fetch the release once
    repo = Path("ptm-course").resolve()
    if not repo.is_dir():
        if not REPO_URL:
            raise RuntimeError("this copy of the notebook does not say where the course's files are (its REPO_URL "
                               "is empty), so Colab cannot fetch them. Open the notebook from the 'Open in Colab' "
                               "link your instructor shared, or work on your own computer (see the course's "
                               "README). Instructors: set release_url in course.toml and rebuild.")
        tmp = tempfile.mkdtemp(prefix=".ptm-course-", dir=repo.parent)  # renamed into place only when complete
        clone = subprocess.run(["git", "clone", "-q", "--depth", "1", REPO_URL, tmp], capture_output=True, text=True)
        if clone.returncode:
            shutil.rmtree(tmp)
            raise RuntimeError(f"could not clone {REPO_URL}:\\n{clone.stderr.strip()}\\nCheck the internet "
                               "connection and the URL, then re-run this cell.")
        os.rename(tmp, repo)
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    from utils import colab
    colab.prepare(repo)  # installs only what Colab lacks, links tests/, finds or downloads the data
elif not Path("utils").is_dir():  # repo checkout: notebooks/ is one level below the repo root
    sys.path.insert(0, str(Path.cwd().parent))
try:
    from utils import data, plots, results
except ImportError as err:  # opened on its own (no utils/ around it), or the course's packages are missing
    fix = ("this notebook needs the course's utils/ folder: open it from notebooks/ in the course repository "
           f"({REPO_URL or 'ask your instructor'}), or in Colab" if err.name == "utils"
           else "install the course's packages first: pip install -r requirements.txt")
    raise RuntimeError(f"{err}: {fix}.") from None
if not Path(TESTS).is_dir():
    print(f"No tests/ folder next to this notebook with its public tests ({TESTS}/): grader.check cannot run. Open it "
          "from notebooks/ in the course repository, or in Colab.")
import numpy as np
import matplotlib.pyplot as plt
import otter
grader = otter.Notebook(tests_dir=TESTS)


def attempt(fn, *args, **kwargs):
    \"\"\"Call fn; while fn (or an earlier step giving an argument) is unfinished, print a reminder, return None.\"\"\"
    if any(arg is None for arg in args):
        return print(f"skipped {getattr(fn, '__name__', fn)}: an earlier step is not done yet")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as todo:
        return print(f"to do: {todo}")


print("utils from", Path(data.__file__).parent)"""  # noqa: E501


URL_LINE = re.compile(r'^REPO_URL = "[^"\n]*"', re.M)
TESTS_LINE = re.compile(r'^TESTS = "[^"\n]*"', re.M)
STEM = re.compile(r"^[\w.-]+$")


def _set_line(source: str, pattern, line: str, what: str) -> str:
    new, count = pattern.subn(line, source, count=1)
    if count != 1:
        raise ValueError(f"the setup cell has no {line.split(' = ')[0]} line to write {what} into")
    return new


def with_repo_url(source: str, url: str) -> str:
    """The setup cell's source with ``REPO_URL`` set to ``url`` (``""``: not configured)."""
    if '"' in url or "\n" in url or "\\" in url:
        raise ValueError(
            f"a repository URL cannot contain quotes, backslashes or newlines: {url!r}"
        )
    return _set_line(source, URL_LINE, f'REPO_URL = "{url}"', "the course URL")


def with_tests(source: str, stem: str) -> str:
    """The setup cell's source with ``TESTS`` set to ``tests/<stem>``, the public tests of notebook
    ``stem``."""
    if not STEM.match(stem):
        raise ValueError(
            "a notebook name for the tests folder must be letters, digits, '.', '_' or '-': "
            f"{stem!r}"
        )
    return _set_line(source, TESTS_LINE, f'TESTS = "tests/{stem}"', "the notebook's tests folder")


def for_notebook(stem: str, url: str) -> str:
    """The setup cell of the built notebook ``stem``: :data:`SOURCE` with its tests folder and the
    course URL."""
    return with_tests(with_repo_url(SOURCE, url), stem)


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
