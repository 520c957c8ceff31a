"""Gradescope's entry point: grade ``/autograder/submission`` with this grading service, not otter's run.

The zip's ``run_autograder`` calls ``python /autograder/source/grader/autograder/grading/gradescope.py`` as
root. This program

1. makes ``/autograder/source`` (the tests) and ``/autograder/results`` readable by root only;
2. reads the assignment from the unpacked zip itself (``tests/``, ``files/``, ``given_cells.json``);
3. grades the one notebook (or ``grader.export`` zip) of ``/autograder/submission`` exactly as the local
   batch does: the run stage and the workers as nobody, the judge (tests, assertions, results) as root;
   inside bubblewrap where the container allows namespaces, else as nobody without them (``--no-namespaces``:
   what that gives up is in docs/grading.md);
4. writes ``/autograder/results/results.json`` in Gradescope's schema: per question a visible test for the
   public cases and an ``after_published`` one for the hidden cases; a submission that cannot be graded gets
   a score of 0 and one visible test that says why.

``PTM_AUTOGRADER_ROOT`` replaces ``/autograder`` (the tests run it in a simulated layout).
"""
import json
import os
import stat
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))   # the folder holding autograder/

from autograder.grading import assignment, batch, sandbox, store  # noqa: E402


def _lock_down(path, mode=0o700):
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, 0, 0)
    os.chmod(path, mode)


def _reachable_interpreter():
    """nobody must be able to start the interpreter: open traversal (o+x) on the folders above it."""
    changed = []
    for top in {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}:
        for parent in reversed(Path(top).parents):
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                os.chmod(parent, mode | stat.S_IXOTH)
                changed.append(str(parent))
    return changed


def template_from_source(source):
    """The assignment as the host reads it, from Gradescope's unpacked zip (``source``)."""
    work = Path(tempfile.mkdtemp(prefix="ptm-gradescope-"))
    tpl = assignment.load_folder(source, work / "public-tests")
    return tpl


def results_for(row, results_path):
    """Gradescope's results: the service's own for a graded row, else a zero score with the reason."""
    if row["status"] == "graded" and results_path.is_file():
        return json.loads(results_path.read_text())
    return {"score": 0, "stdout_visibility": "hidden",
            "tests": [{"name": "grading", "score": 0, "max_score": float(row.get("maximum") or 0),
                       "visibility": "visible", "output": f"{row['status']}: {row['reason']}"}]}


def main():
    root = Path(os.environ.get("PTM_AUTOGRADER_ROOT", "/autograder"))
    source, submission, results = root / "source", root / "submission", root / "results"
    if os.geteuid() != 0:
        raise SystemExit("run_autograder must run as root (Gradescope runs it so): student code is started as nobody")
    _lock_down(source)
    _lock_down(results)
    opened = _reachable_interpreter()
    tpl = template_from_source(source)
    found = sorted(p for p in submission.iterdir() if p.suffix in (".ipynb", ".zip")) if submission.is_dir() else []
    out = Path(tempfile.mkdtemp(prefix="ptm-gradescope-out-"))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        row = {"status": "invalid", "reason": f"upload exactly one notebook (.ipynb) or grader.export zip; "
                                              f"found {len(found)}: {names}", "maximum": ""}
    else:
        nobody = not sandbox.bwrap_status()[0] or os.environ.get("PTM_FORCE_NO_NAMESPACES") == "1"
        rows = batch.grade([str(found[0])], out, assignment=tpl.name, jobs=1, quiet=True, nobody=nobody,
                           use_bwrap=False if nobody else None, templates={tpl.name: tpl})
        (row,) = rows.values()
    data = results_for(row, out / "results" / f"{row.get('id', '')}.json")
    if opened:
        print(f"opened traversal (o+x) on {', '.join(opened)} so that nobody can start Python", file=sys.stderr)
    store.atomic_write(results / "results.json", json.dumps(data, indent=1))
    print(f"{row['status']}: {data['score']} points", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
