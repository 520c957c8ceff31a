"""Gradescope's entry point: grade ``/autograder/submission`` with this grading service, not otter's
run.

The zip's ``run_autograder`` calls
``python /autograder/source/grader/autograder/grading/gradescope.py`` as root. This program

1. makes ``/autograder/source`` (the tests) and ``/autograder/results`` readable by root only (its
   own folders: the only permissions it changes for good);
2. reads the assignment from the unpacked zip itself (``tests/``, ``files/``, ``given_cells.json``);
3. grades the one notebook (or ``grader.export`` zip) of ``/autograder/submission`` exactly as the
   local batch does: the run stage and the workers as nobody, the judge (tests, assertions, results)
   as root; inside bubblewrap where the container allows namespaces, else as nobody without them
   (``--no-namespaces``: what that gives up is in docs/grading.md);
4. writes ``/autograder/results/results.json`` in Gradescope's schema: per question a visible test
   for the public cases and an ``after_published`` one for the hidden cases; a submission that
   cannot be graded gets a score of 0 and one visible test that says why;
5. removes its temporary folders. It changes no permission outside its own folders: where the
   interpreter sits below a folder an unprivileged uid cannot enter (``/root``, where otter's
   ``setup.sh`` installs conda), the zip's ``setup.sh`` opens traversal once, when the image is
   built.

``PTM_AUTOGRADER_ROOT`` replaces ``/autograder`` (the tests run it in a simulated layout).
"""

import json
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the folder holding autograder/

from autograder.grading import assignment, batch, sandbox, store  # noqa: E402


def _lock_down(path, mode=0o700):
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, 0, 0)
    os.chmod(path, mode)


def unreachable_folders(tops=None):
    """The folders above the interpreter that an unprivileged uid cannot traverse (no ``o+x``):
    without namespaces a stage starts Python as its own uid on the host's file system, and cannot
    through them. The zip's ``setup.sh`` opens them once, when Gradescope builds the image
    (``autograder/build.py``); this program changes no permission outside its own folders."""
    tops = tops or {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
    return sorted(
        {
            str(parent)
            for top in tops
            for parent in (Path(top), *Path(top).parents)
            if not parent.stat().st_mode & stat.S_IXOTH
        }
    )


def template_from_source(source, work):
    """The assignment as the host reads it, from Gradescope's unpacked zip (``source``); its public
    tests go to ``work`` (a folder the caller removes)."""
    return assignment.load_folder(source, Path(work) / "public-tests")


def results_for(row, results_path):
    """Gradescope's results: the service's own for a graded row, else a zero score with the
    reason."""
    if row["status"] == "graded" and results_path.is_file():
        return json.loads(results_path.read_text())
    return {
        "score": 0,
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": "grading",
                "score": 0,
                "max_score": float(row.get("maximum") or 0),
                "visibility": "visible",
                "output": f"{row['status']}: {row['reason']}",
            }
        ],
    }


def main():
    root = Path(os.environ.get("PTM_AUTOGRADER_ROOT", "/autograder"))
    source, submission, results = root / "source", root / "submission", root / "results"
    if os.geteuid() != 0:
        raise SystemExit(
            "run_autograder must run as root (Gradescope runs it so): student code is started as "
            "nobody"
        )
    _lock_down(source)
    _lock_down(results)
    work = Path(
        tempfile.mkdtemp(prefix="ptm-gradescope-")
    )  # 0700, root's: public tests and the grades
    try:
        data, row = _grade(source, submission, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    store.atomic_write(results / "results.json", json.dumps(data, indent=1))
    print(f"{row['status']}: {data['score']} points", file=sys.stderr)
    return 0


def _grade(source, submission, work):
    """(Gradescope's results, the row) of the one submission in ``submission``."""
    tpl = template_from_source(source, work)
    found = (
        sorted(p for p in submission.iterdir() if p.suffix in (".ipynb", ".zip"))
        if submission.is_dir()
        else []
    )
    out = work / "out"
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        row = {
            "status": "invalid",
            "reason": f"upload exactly one notebook (.ipynb) or grader.export zip; "
            f"found {len(found)}: {names}",
            "maximum": "",
        }
    else:
        nobody = not sandbox.bwrap_status()[0] or os.environ.get("PTM_FORCE_NO_NAMESPACES") == "1"
        closed = unreachable_folders() if nobody else []
        if closed:  # inside bubblewrap the interpreter's folders are made anew, 0755
            row = {
                "status": "error",
                "reason": "not graded: the autograder's Python is out of reach of the sandbox's "
                f"users (no traversal on {', '.join(closed)}); the instructor must rebuild the "
                "autograder zip with the course's build, whose setup.sh opens it",
                "maximum": "",
            }
            return results_for(row, work / "none"), row
        rows = batch.grade(
            [str(found[0])],
            out,
            assignment=tpl.name,
            jobs=1,
            quiet=True,
            nobody=nobody,
            use_bwrap=False if nobody else None,
            templates={tpl.name: tpl},
        )
        (row,) = rows.values()
    return results_for(row, out / "results" / f"{row.get('id', '')}.json"), row


if __name__ == "__main__":
    sys.exit(main())
