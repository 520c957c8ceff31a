"""``python -m autograder check``: prove each autograder zip grades correctly.

For every built notebook it grades, with the real zip and the grading service that grades the
students (``python -m autograder grade``, which Gradescope's ``run_autograder`` runs too), in one
batch:

* the solution notebook otter wrote (``autograder/dist/<stem>-solution.ipynb``):
  must score full points;
* the untouched student notebook (``notebooks/<stem>.ipynb``): every question
  must score 0 (the stubs only raise ``NotImplementedError``).

Both notebooks are the course's own, so they are graded in the sandbox where bubblewrap works and
without one (``trusted``) where it does not.

A written question (otter ``manual: true``, listed in the zip's ``manual.json``) is read by a
person: its completion checks are worth 0 points, so it must claim nothing (0 possible) from either
notebook.

It prints one table and exits non-zero on any failure. It builds first when a
zip is missing or older than its master or
the files it ships (``utils/``). ``time_grade_one(stem)`` is the timing
``make bench`` records as ``grade_seconds.<stem>``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import DIST, NOTEBOOKS, SOLUTIONS, solution_path, zip_path
from .build import assignment_config, build, masters


def _inputs_mtime(stem: str) -> float:
    """Newest modification time of a master and of every file its config ships (e.g. utils/)."""
    master = SOLUTIONS / f"{stem}.ipynb"
    paths = [master]
    for rel in assignment_config(master).get("files") or []:
        src = (master.parent / rel).resolve()
        paths += [p for p in src.rglob("*.py")] if src.is_dir() else [src]
    return max(p.stat().st_mtime for p in paths if p.exists())


def ensure_built(stems) -> None:
    """Build the masters whose zip is missing or older than the master or the files it ships.

    One process builds at a time (a lock file in ``autograder/dist/``): a second one, e.g. the
    other worker of ``make test``, waits and then finds the build fresh instead of writing the
    same notebooks while the first one reads them."""
    from filelock import FileLock

    DIST.mkdir(parents=True, exist_ok=True)
    with FileLock(DIST / ".build.lock"):
        stale = [
            s
            for s in stems
            if not zip_path(s).exists() or zip_path(s).stat().st_mtime < _inputs_mtime(s)
        ]
        if stale:
            build(stale)


def grade(notebooks, stem: str) -> dict[str, dict[str, tuple[float, float]]]:
    """Grade ``notebooks`` with ``<stem>``'s zip by the grading service, in one batch:
    ``{file name: {question: (score, possible)}}``; a notebook that was not graded has no entry."""
    from .grading import batch, store

    out = Path(tempfile.mkdtemp(prefix="ptm-check-"))
    try:
        rows = batch.grade(
            [str(p) for p in notebooks], out, assignment=stem, jobs=2, quiet=True, trusted=True
        )
        scores = {}
        for sid, row in rows.items():
            questions = store.verdict(out, sid).get("questions")
            if row["status"] == "graded" and questions is not None:
                scores[Path(row["file"]).name] = {
                    q: (s, p) for q, (s, p) in sorted(questions.items())
                }
            else:
                print(f"{row['file']}: {row['status']}: {row['reason']}", file=sys.stderr)
        return scores
    finally:
        shutil.rmtree(out, ignore_errors=True)


def time_grade_one(stem: str) -> float:
    """Seconds to grade the built solution of ``stem`` once with its zip (for ``make bench``)."""
    ensure_built([stem])
    start = time.perf_counter()
    grade([solution_path(stem)], stem)
    return time.perf_counter() - start


def manual_questions(stem: str) -> dict:
    """{question: spec} of the written questions in ``stem``'s zip (``manual.json``), {} when it has
    none."""
    import json
    import zipfile

    with zipfile.ZipFile(zip_path(stem)) as zf:
        return json.loads(zf.read("manual.json")) if "manual.json" in zf.namelist() else {}


def check_one(stem: str) -> list[dict]:
    """Grade the solution and the untouched student notebook; one row per question."""
    written = manual_questions(stem)
    solution, untouched = solution_path(stem), NOTEBOOKS / f"{stem}.ipynb"
    start = time.perf_counter()
    graded = grade([solution, untouched], stem)
    seconds = time.perf_counter() - start
    solved, blank = graded.get(solution.name, {}), graded.get(untouched.name, {})
    rows = []
    for name in sorted(set(solved) | set(blank)):
        score, possible = solved.get(name, (0.0, 0.0))
        blank_score = blank.get(name, (None, None))[0]
        full = possible > 0 and abs(score - possible) < 1e-9  # split points sum to 2.999...
        ok = (possible == 0 if name in written else full) and blank_score == 0
        rows.append(
            {
                "notebook": stem,
                "question": name,
                "solution": score,
                "possible": possible,
                "untouched": blank_score,
                "ok": ok,
                "seconds": seconds,
                "written": name in written,
            }
        )
    if not rows:
        rows.append(
            {
                "notebook": stem,
                "question": "(none)",
                "solution": 0,
                "possible": 0,
                "untouched": None,
                "ok": False,
                "seconds": seconds,
            }
        )
    return rows


def format_table(rows: list[dict]) -> str:
    header = (
        f"{'notebook':<32} {'question':<14} {'solution':>9} {'untouched':>9}  {'grade s':>7}  ok"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        untouched = "-" if r["untouched"] is None else f"{r['untouched']:g}"
        scored = "manual" if r.get("written") else f"{r['solution']:>4g}/{r['possible']:<4g}"
        lines.append(
            f"{r['notebook']:<32} {r['question']:<14} {scored:>9} "
            f"{untouched:>9}  {r['seconds']:>7.1f}  {'yes' if r['ok'] else 'NO'}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder check", description=__doc__.splitlines()[0]
    )
    parser.add_argument("stems", nargs="*", help="notebooks to check (default: every master)")
    args = parser.parse_args(argv)
    stems = args.stems or [m.stem for m in masters()]
    ensure_built(stems)
    rows = [row for stem in stems for row in check_one(stem)]
    print(format_table(rows))
    failed = [f"{r['notebook']}:{r['question']}" for r in rows if not r["ok"]]
    if failed:
        print(
            f"\nFAILED: {', '.join(failed)} (solutions must score full points, "
            "untouched notebooks 0)",
            file=sys.stderr,
        )
        return 1
    print(f"\nOK: {len(stems)} notebooks, {len(rows)} questions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
