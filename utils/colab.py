"""What the setup cell does on Google Colab once it has cloned the course release (every notebook).

The cell itself clones the release (``utils`` is not importable before that) and
then calls :func:`prepare`, which

1. installs only the packages Colab lacks (``requirements-colab.txt``: otter-grader,
   timm, the EfficientNet-Lite0 weights), with torch, torchvision and numpy held at
   Colab's own versions, so no runtime restart is needed;
2. links the release's public tests as ``tests/`` next to the notebook;
3. finds the data (``$PTM_DATA`` or the release's ``data/``) or downloads it with
   ``data/download.py``, the same code as ``make data``.

Each step is safe to re-run, and each failure says what went wrong and what to do.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

KEEP = ("torch", "torchvision", "numpy")  # Colab's own builds: reinstalling them forces a restart


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
    """The ``name==version`` pins that are absent or at another version (never torch/torchvision/numpy).

    ``have(name)`` gives an installed version or None (default: :func:`installed_version`)."""
    have = have or installed_version
    return [f"{name}=={version}" for name, version in pins.items()
            if name not in KEEP and have(name) != version]


def constraints(have=None) -> list[str]:
    """``name==version`` for the installed torch, torchvision and numpy: pip must keep them."""
    have = have or installed_version
    return [f"{name}=={have(name)}" for name in KEEP if have(name)]


def install(requirements: Path) -> list[str]:
    """pip-install what is missing, holding torch, torchvision and numpy; returns what was installed."""
    needed = to_install(pinned(requirements))
    if not needed:
        print("packages: everything needed is already installed")
        return []
    print("packages: installing", ", ".join(needed), "(torch, torchvision and numpy stay as they are)")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as held:
        held.write("\n".join(constraints()) + "\n")
    run = subprocess.run([sys.executable, "-m", "pip", "install", "-q", *needed, "-c", held.name],
                         capture_output=True, text=True)
    Path(held.name).unlink()
    if run.returncode:
        raise RuntimeError(f"pip could not install {', '.join(needed)}:\n{run.stderr.strip()[-2000:]}\n"
                           "torch, torchvision and numpy were not touched. Check the internet connection and re-run the "
                           "setup cell.")
    return needed


def link_tests(repo: Path, here: Path) -> Path:
    """Make ``here/tests`` the release's public tests (a link; an existing real folder is kept)."""
    tests, target = here / "tests", repo / "notebooks" / "tests"
    if not target.is_dir():
        raise RuntimeError(f"{target} is missing: {repo} is not a complete course release. Delete {repo} "
                           "and re-run the setup cell; if it happens again, tell your instructor.")
    if tests.is_symlink() and tests.resolve() != target.resolve():
        tests.unlink()
    if not tests.exists():
        tests.symlink_to(target, target_is_directory=True)
    return tests


def find_or_download_data(repo: Path) -> Path:
    """The data root with every course image: found, or downloaded into ``repo/data`` like ``make data``."""
    from . import data
    try:
        return data.check_course()
    except data.MissingImagesError as err:  # a partial copy is reported, never patched or ignored
        raise RuntimeError(str(err)) from None
    except data.DataNotFoundError:
        pass
    print("data: downloading Oxford-IIIT Pet (about 800 MB, a few minutes) with data/download.py ...")
    if subprocess.run([sys.executable, str(repo / "data" / "download.py")]).returncode:
        raise RuntimeError("the download failed (see the message above); re-run the setup cell to try again")
    return data.check_course()


def prepare(repo, here=None) -> None:
    """Packages, public tests and data for a notebook in ``here`` (default: the working folder)."""
    repo = Path(repo).resolve()
    here = Path.cwd() if here is None else Path(here)
    install(repo / "requirements-colab.txt")
    link_tests(repo, here)
    print(f"tests: {here / 'tests'} -> {repo / 'notebooks' / 'tests'}")
    print(f"data: the course images are in {find_or_download_data(repo)}")
