"""``python -m autograder build``: run otter assign on every ``solutions/*.ipynb``.

For each master ``solutions/<stem>.ipynb`` it writes

* ``notebooks/<stem>.ipynb``: the student notebook (committed; no outputs, no
  solutions, no hidden tests), byte-for-byte reproducible, with course.toml's
  ``release_url`` in its setup cell and an "Open in Colab" badge on top;
* ``notebooks/tests/<stem>/<question>.py``: its public tests, in a folder of its
  own (the build writes ``TESTS = "tests/<stem>"`` into the setup cell), so
  ``grader.check_all()`` runs exactly this notebook's questions;
* ``autograder/dist/<stem>.zip``: otter's autograder zip (not committed);
* ``autograder/dist/<stem>-solution.ipynb``: the solution notebook as otter
  writes it (what ``check`` grades to prove the zip gives full marks).

Each master is assigned in a fresh temp dir that mirrors the repo layout, with
clean copies of the files its config names (``../utils`` without
``__pycache__``), so a build never depends on, or writes into, the working tree
until the results are copied over.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

import nbformat
import yaml

from . import DIST, NOTEBOOKS, REPO, SOLUTIONS, setup_cell

COURSE_TOML = REPO / "course.toml"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"

IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")


def course_config(path: Path = COURSE_TOML) -> dict:
    """The ``[course]`` table of ``course.toml``: ``name``, ``release_url`` (may be empty),
    ``branch``, ``licence``."""
    try:
        course = tomllib.loads(path.read_text())["course"]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as err:
        raise ValueError(
            f"{path}: cannot read the [course] table ({err}); see the comments in the "
            "committed course.toml"
        ) from None
    course.setdefault("release_url", "")
    course.setdefault("branch", "main")
    return course


def colab_link(repo_url: str, branch: str, notebook: str) -> str | None:
    """Colab's address for ``notebooks/<notebook>`` of a github.com repository (None for other
    hosts)."""
    m = re.match(r"^(?:https://|git@)github\.com[/:]([\w.-]+)/([\w.-]+?)(?:\.git)?/?$", repo_url)
    if not m:
        return None
    return (
        f"https://colab.research.google.com/github/{m[1]}/{m[2]}/blob/{branch}/notebooks/{notebook}"
    )


def question_order(notebook: Path, names) -> list:
    """``names`` in the order the notebook asks them (its ``grader.check("…")`` cells), then any
    others."""
    text = "\n".join(
        c.source for c in nbformat.read(str(notebook), as_version=4).cells if c.cell_type == "code"
    )
    asked = list(dict.fromkeys(re.findall(r"grader\.check\(\s*[\"']([\w.-]+)[\"']", text)))
    return [n for n in asked if n in names] + sorted(set(names) - set(asked))


def point_at_tests(nb_path: Path, stem: str) -> None:
    """Write ``TESTS = "tests/<stem>"`` (the notebook's own public tests) into a built notebook's
    setup cell."""
    nb = nbformat.read(str(nb_path), as_version=4)
    cell = setup_cell.first_code_cell(nb)
    cell.source = setup_cell.with_tests(cell.source, stem)
    nbformat.write(nb, str(nb_path))


def personalize(nb_path: Path, repo_url: str, branch: str, prefix: str) -> None:
    """Write the release URL into a student notebook's setup cell and a Colab cell at its top."""
    nb = nbformat.read(str(nb_path), as_version=4)
    cell = setup_cell.first_code_cell(nb)
    cell.source = setup_cell.with_repo_url(cell.source, repo_url)
    if repo_url:
        link = colab_link(repo_url, branch, nb_path.name)
        text = (
            f"[![Open In Colab]({COLAB_BADGE})]({link})"
            if link
            else f"**Colab:** upload this notebook (File → Upload notebook) and run its "
            f"first cell; it fetches the course from `{repo_url}`."
        )
        badge = nbformat.v4.new_markdown_cell(text)
        badge["id"] = f"{prefix}-colab"
        nb.cells.insert(0, badge)
    nbformat.write(nb, str(nb_path))


def masters() -> list[Path]:
    """Every assignment master, sorted by name (so 03/04 are picked up automatically)."""
    return sorted(SOLUTIONS.glob("*.ipynb"))


def assignment_config(master: Path) -> dict:
    """The YAML of the master's raw ``# ASSIGNMENT CONFIG`` cell."""
    nb = nbformat.read(str(master), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "raw" and cell.source.lstrip().startswith("# ASSIGNMENT CONFIG"):
            return yaml.safe_load(cell.source) or {}
    raise ValueError(f"{master}: no raw '# ASSIGNMENT CONFIG' cell")


def _stage(master: Path, root: Path) -> Path:
    """Copy the master and the paths its config names into ``root`` (same layout as the repo)."""
    config = assignment_config(master)
    needed = list(config.get("files") or []) + list(config.get("autograder_files") or [])
    for key in ("requirements", "environment"):
        if isinstance(config.get(key), str):
            needed.append(config[key])
    staged = root / master.relative_to(REPO)
    staged.parent.mkdir(parents=True)
    shutil.copy2(master, staged)
    for rel in needed:
        src = (master.parent / rel).resolve()
        dst = (staged.parent / rel).resolve()
        if not src.is_relative_to(REPO):
            raise ValueError(f"{master.name}: '{rel}' points outside the repo")
        if src.is_dir():
            shutil.copytree(src, dst, ignore=IGNORE, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    return staged


def normalize(nb_path: Path, prefix: str) -> None:
    """Make a notebook otter wrote reproducible: deterministic cell ids, no outputs.

    Cells copied from the master keep their ids; cells otter creates (check
    cells) get random uuids, replaced by a hash of the notebook name, their
    position and their source.
    """
    nb = nbformat.read(str(nb_path), as_version=4)
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        cid = cell.get("id")
        if not cid or not cid.startswith(prefix) or cid in seen:
            digest = hashlib.sha1(f"{nb_path.stem}/{i}/{cell.source}".encode()).hexdigest()[:8]
            cid = f"{prefix}-otter-{digest}"
        cell["id"] = cid
        seen.add(cid)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, str(nb_path))


def build_one(
    master: Path, out: Path, dist: Path, run_tests: bool = False, course: dict | None = None
) -> list[str]:
    """Assign one master; write its student notebook and public tests under ``out``,
    its zip and solution notebook under ``dist``. Returns the public test names.
    ``course`` (default: course.toml) gives the release URL written into the student notebook."""
    from otter.assign import main as assign

    course = course or course_config()
    stem = master.stem
    with tempfile.TemporaryDirectory(prefix=f"assign-{stem}-") as tmp:
        staged = _stage(master, Path(tmp) / "src")
        result = Path(tmp) / "result"
        assign(str(staged), str(result), no_pdfs=True, no_run_tests=not run_tests)
        student, autograder = result / "student", result / "autograder"
        prefix = _id_prefix(master)
        normalize(student / master.name, prefix)
        normalize(autograder / master.name, prefix)
        for built in (student / master.name, autograder / master.name):
            point_at_tests(built, stem)
        personalize(student / master.name, course["release_url"], course["branch"], prefix)

        out.mkdir(parents=True, exist_ok=True)
        tests = out / "tests" / stem
        if (
            tests.is_dir()
        ):  # a fresh copy: a question removed from the master leaves no stale test behind
            shutil.rmtree(tests)
        tests.mkdir(parents=True)
        shutil.copy2(student / master.name, out / master.name)
        for test in sorted((student / "tests").glob("*.py")):
            shutil.copy2(test, tests / test.name)
        names = question_order(
            out / master.name, [t.stem for t in (student / "tests").glob("*.py")]
        )

        dist.mkdir(parents=True, exist_ok=True)
        (zip_path,) = autograder.glob(f"{stem}-autograder_*.zip")
        with_grading_service(zip_path, dist / f"{stem}.zip", student / master.name, master)
        shutil.copy2(autograder / master.name, dist / f"{stem}-solution.ipynb")
    return names


GRADING = Path(__file__).resolve().parent / "grading"
SETUP_TAIL = """
# The course's grading service (run_autograder) starts student code as unprivileged uids. Without namespaces
# they start the interpreter from the host's file system: traversal (o+x, never read) on /root, where the
# conda above lives, is what they need. Done once, here, when the image is built.
chmod o+x /root
"""  # noqa: E501

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this as root for each submission. It grades with the course's grading service
# (grader/autograder/grading/gradescope.py): the student's code runs as nobody, the tests stay root-only.
{activate}
exec python /autograder/source/grader/autograder/grading/gradescope.py
"""  # noqa: E501


def with_grading_service(
    otter_zip: Path, out: Path, student_nb: Path, master: Path | None = None
) -> None:
    """Otter's zip with the grading service in ``grader/`` and a ``run_autograder`` that calls it.

    Otter's ``setup.sh`` (the image: its environment, the requirements) is kept; only the grading
    step is replaced, so that Gradescope grades a submission the way the local batch does
    (docs/grading.md). ``given_cells.json`` holds the code cells the course ships (the setup
    cell...), which the audit skips; ``manual.json`` the written questions a person grades
    (``autograder/grading/manual.py``).
    """
    import json
    import zipfile

    from .grading import manual

    nb = nbformat.read(str(student_nb), as_version=4)
    given = sorted({c.source.strip() for c in nb.cells if c.cell_type == "code"})
    with zipfile.ZipFile(otter_zip) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        original = src.read("run_autograder").decode()
        activate = "\n".join(ln for ln in original.splitlines()[1:] if "run_otter.py" not in ln)
        for item in src.infolist():
            if item.filename == "setup.sh":
                dst.writestr(item, src.read(item).decode().rstrip("\n") + "\n" + SETUP_TAIL)
            elif item.filename != "run_autograder":
                dst.writestr(item, src.read(item))
        info = zipfile.ZipInfo("run_autograder", date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o755 << 16
        dst.writestr(info, RUN_AUTOGRADER.format(activate=activate))
        dst.writestr("given_cells.json", json.dumps(given, indent=0))
        specs = {}
        if master is not None:
            specs = manual.manifest(
                json.loads(master.read_text(encoding="utf-8")),
                json.loads(student_nb.read_text(encoding="utf-8")),
            )
            dst.writestr(manual.MANIFEST, json.dumps(specs, indent=1, ensure_ascii=False))
        tests = [Path(n).stem for n in src.namelist() if re.fullmatch(r"tests/[^/]+\.py", n)]
        order = notebook_order(nb, [*tests, *specs])
        dst.writestr(QUESTIONS, json.dumps(order, indent=0))
        dst.write(GRADING.parent / "__init__.py", "grader/autograder/__init__.py")
        for f in (
            sorted(GRADING.glob("*.py"))
            + sorted((GRADING / "programs").glob("*.py"))
            + sorted((GRADING / "templates").glob("*.j2"))
        ):
            dst.write(f, f"grader/autograder/{f.relative_to(GRADING.parent)}")


QUESTIONS = "questions.json"  # in the zip: every question, in the order the notebook asks them


def notebook_order(nb, names):
    """``names`` (questions) in the order the notebook ``nb`` checks them (``grader.check("q")``),
    else first mentions them; names it never mentions go last, sorted."""
    text = "\n".join(c.source for c in nb.cells)
    first = {}
    for name in names:
        m = re.search(rf"check\(\s*[\"']{re.escape(name)}[\"']", text) or re.search(
            rf"\b{re.escape(name)}\b", text
        )
        first[name] = m.start() if m else len(text)
    return sorted(dict.fromkeys(names), key=lambda q: (first[q], q))


def _id_prefix(master: Path) -> str:
    """The id prefix the master's own cells share (e.g. ``nb01``), else one made from its stem."""
    nb = nbformat.read(str(master), as_version=4)
    ids = [c.get("id", "") for c in nb.cells]
    first = ids[0].split("-")[0] if ids and ids[0] else ""
    if first and all(i.startswith(first + "-") for i in ids):
        return first
    return "c" + hashlib.sha1(master.stem.encode()).hexdigest()[:6]


def build(
    stems=None,
    out: Path = NOTEBOOKS,
    dist: Path = DIST,
    run_tests: bool = False,
    repo_url: str | None = None,
) -> dict[str, list[str]]:
    """Build every master (or those in ``stems``). Returns ``{stem: [public test names]}``.

    ``repo_url`` overrides course.toml's ``release_url`` (what the student notebooks clone on
    Colab).

    A full build also removes what in ``out/tests`` no master owns any more (a removed master's
    folder, loose files from the older flat layout). Raises ``ValueError`` when two masters define
    the same question name: grade reports and feedback name a question without its notebook.
    """
    chosen = [m for m in masters() if stems is None or m.stem in stems]
    if stems is not None and len(chosen) != len(set(stems)):
        missing = set(stems) - {m.stem for m in chosen}
        raise ValueError(f"no master named {sorted(missing)} in {SOLUTIONS}")
    course = course_config()
    if repo_url is not None:
        course["release_url"] = repo_url
    if not course["release_url"]:
        print(
            "note: course.toml has no release_url, so the notebooks cannot fetch the course on "
            "Colab (their setup cell says so); set it before you share them",
            file=sys.stderr,
        )
    owners: dict[str, str] = {}
    built = {}
    for master in chosen:
        print(f"otter assign {master.relative_to(REPO)}", flush=True)
        built[master.stem] = build_one(master, out, dist, run_tests, course)
        for name in built[master.stem]:
            if name in owners:
                raise ValueError(
                    f"question '{name}' is defined in both {owners[name]} and {master.stem}: "
                    "question names must be unique across notebooks (reports name questions alone)"
                )
            owners[name] = master.stem
    if stems is None:
        for stale in (out / "tests").iterdir():
            if stale.name not in built:
                shutil.rmtree(
                    stale
                ) if stale.is_dir() and not stale.is_symlink() else stale.unlink()
    return built


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder build", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "stems", nargs="*", help="masters to build (default: every solutions/*.ipynb)"
    )
    parser.add_argument("--out", type=Path, default=NOTEBOOKS, help="where student notebooks go")
    parser.add_argument(
        "--dist", type=Path, default=DIST, help="where zips and solution notebooks go"
    )
    parser.add_argument(
        "--run-tests",
        action="store_true",
        help="let otter assign also grade each solution (check does this too)",
    )
    parser.add_argument(
        "--repo-url",
        default=None,
        help="the student release's git URL for the setup cells (default: course.toml's "
        "release_url)",
    )
    args = parser.parse_args(argv)
    built = build(args.stems or None, args.out, args.dist, args.run_tests, args.repo_url)
    for stem, names in built.items():
        print(f"built {stem}: {len(names)} questions ({', '.join(names)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
