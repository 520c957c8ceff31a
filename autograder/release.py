"""``python -m autograder release --out DIR [--repo-url URL]``: the student repository, ready to \
push.

It builds the student notebooks afresh (with the release URL in every setup cell
and Colab badge) and copies only what a student needs:

* ``README.md`` (local, Colab, how to submit) and ``CREDITS.md``, from
  ``autograder/release_files/``;
* ``notebooks/`` with the public tests;
* ``utils/``;
* ``data/``: ``download.py``, ``README.md`` and the course split lists;
* ``requirements.txt`` (the instructor repository's ``requirements-student.txt``: only what the
  notebooks import, PyTorch's CPU wheels), ``environment.yml`` written from it,
  ``requirements-colab.txt``;
* a ``Makefile`` with ``make lab`` and ``make data``.

Never solutions, hidden tests, sample submissions, autograder zips or instructor
code (``tests/test_release.py`` scans for them). ``DIR`` must be empty, new, or a git
repository (then everything but ``.git`` is replaced). The result is committed
in ``DIR`` with git, so ``git push`` publishes it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jinja2
import nbformat

from . import REPO
from .build import IGNORE, build, colab_link, course_config

FILES = REPO / "autograder" / "release_files"
COPIED = ["utils", "data/download.py", "data/README.md", "data/splits", "requirements-colab.txt"]
STUDENT_REQUIREMENTS = REPO / "requirements-student.txt"


def _prepare(out: Path) -> None:
    """Empty ``out`` for a fresh release, keeping only its ``.git``; refuse a folder with other
    content."""
    if out.exists() and any(out.iterdir()) and not (out / ".git").is_dir():
        raise SystemExit(
            f"release: {out} is not empty and not a git repository; give a new or empty folder, "
            "or a clone of the release repository (everything but .git is replaced)"
        )
    out.mkdir(parents=True, exist_ok=True)
    for child in out.iterdir():
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def _copy(rel: str, out: Path) -> None:
    src, dst = REPO / rel, out / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, ignore=IGNORE)
    else:
        shutil.copy2(src, dst)


def _student_environment(out: Path) -> None:
    """The release's ``requirements.txt`` (the student pins) and a conda ``environment.yml`` with
    the same."""
    text = STUDENT_REQUIREMENTS.read_text()
    (out / "requirements.txt").write_text(text)
    pins = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    (out / "environment.yml").write_text(
        "# Conda environment for students who use conda: `conda env create -f environment.yml`.\n"
        "# The same packages as requirements.txt (PyTorch's CPU wheels where its index has them).\n"
        "name: ptm-course\nchannels:\n  - conda-forge\ndependencies:\n"
        "  - python=3.11\n  - pip\n  - pip:\n" + "".join(f"      - {pin}\n" for pin in pins)
    )


def _notebook_rows(out: Path, repo_url: str, branch: str) -> list[dict]:
    rows = []
    for path in sorted((out / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        heading = next(
            (
                line
                for c in nb.cells
                if c.cell_type == "markdown"
                for line in c.source.splitlines()
                if line.startswith("# ")
            ),
            path.stem,
        )
        title = heading.lstrip("# ").split(":", 1)[-1].strip()
        rows.append(
            {"name": path.name, "title": title, "colab": colab_link(repo_url, branch, path.name)}
        )
    return rows


def _render(out: Path, course: dict) -> None:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(FILES),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    notebooks = _notebook_rows(out, course["release_url"], course["branch"])
    context = dict(
        course,
        repo_url=course["release_url"],
        notebooks=notebooks,
        colab_ok=all(nb["colab"] for nb in notebooks),
    )
    for name in ("README.md", "CREDITS.md"):
        (out / name).write_text(env.get_template(f"{name}.j2").render(**context))
    shutil.copy2(FILES / "Makefile", out / "Makefile")
    shutil.copy2(FILES / "gitignore", out / ".gitignore")


def _commit(out: Path) -> None:
    """Commit the release in ``out`` (a new repository on branch ``main`` when there is none)."""

    def git(*args, check=True):
        return subprocess.run(
            ["git", "-C", str(out), *args], capture_output=True, text=True, check=check
        )

    if not (out / ".git").is_dir():
        git("init", "-q", "-b", "main")
    ident = (
        []
        if git("config", "user.email", check=False).stdout.strip()
        else ["-c", "user.name=course release", "-c", "user.email=release@localhost"]
    )
    git("add", "-A")
    if git("diff", "--cached", "--quiet", check=False).returncode:
        subprocess.run(
            ["git", "-C", str(out), *ident, "commit", "-q", "-m", "Course release"],
            check=True,
            capture_output=True,
            text=True,
        )


def release(out: Path, repo_url: str | None = None, commit: bool = True) -> Path:
    """Write the student release into ``out``; returns ``out``."""
    course = course_config()
    if repo_url is not None:
        course["release_url"] = repo_url
    out = Path(out).resolve()
    if out == REPO or out.is_relative_to(REPO / "notebooks") or REPO.is_relative_to(out):
        raise SystemExit(
            f"release: {out} overlaps the instructor repository's own files; choose another folder"
        )
    _prepare(out)
    with tempfile.TemporaryDirectory(
        prefix="release-dist-"
    ) as dist:  # the zips never reach the release
        build(out=out / "notebooks", dist=Path(dist), repo_url=course["release_url"])
    for rel in COPIED:
        _copy(rel, out)
    _student_environment(out)
    _render(out, course)
    if commit:
        _commit(out)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder release", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the student repository")
    parser.add_argument(
        "--repo-url",
        default=None,
        help="the release's public git URL (default: course.toml's release_url)",
    )
    parser.add_argument(
        "--no-commit", action="store_true", help="write the files but do not git-commit them"
    )
    args = parser.parse_args(argv)
    out = release(args.out, args.repo_url, commit=not args.no_commit)
    url = course_config()["release_url"] if args.repo_url is None else args.repo_url
    print(f"student release written to {out}")
    print(
        f"next: push it to {url}"
        if url
        else "next: create the public repository, set release_url in course.toml "
        "(or pass --repo-url), re-run this"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
