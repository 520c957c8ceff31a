"""``python -m autograder demo`` (``make demo``): the module's main job, end to end.

1. build the assignment (student notebooks and autograder zips);
2. run every solution notebook end to end on the real data, as a student
   would (in ``notebooks/``), saving the executed copies under build/notebooks/;
3. self-check the autograders (solutions full marks, blank notebooks 0);
4. grade the committed sample submissions (``autograder/samples``, rewritten by
   ``--samples-only``) into build/grading/;
5. write build/report.json (``stages.<stage>.test_acc``, runtimes, checks) and
   build/report.html (the accuracy arc and links to everything above).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from . import BUILD, DIST, NOTEBOOKS, REPO, solution_path
from .nbrun import run_notebook, warnings_once  # noqa: F401 (run_notebook: bench and tests use it from here)

SAMPLES = Path(__file__).with_name("samples")
ANSWER_TAG = "otter_answer_cell"
# otter's markers in a solution's code: a student's notebook never holds them (see clean_source)
MARKER_LINE = re.compile(r'^\s*(?:""" ?)?# (BEGIN|END) (SOLUTION|PROMPT)( NO PROMPT)?\s*$')
MARKER_TAIL = re.compile(r"\s*# ?(SOLUTION( NO PROMPT)?|SEED)\s*$")


def _read(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _write(path, nb):
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return Path(path)


def answer_ids(student):
    """Ids of the student's answer cells, in notebook order."""
    return [
        c["id"] for c in student["cells"] if ANSWER_TAG in c.get("metadata", {}).get("tags", [])
    ]


def clean_source(source) -> str:
    """A solution cell's code as a student would have written it: otter's markers gone.

    ``# BEGIN/END SOLUTION`` lines go, a ``# BEGIN PROMPT … # END PROMPT`` block (what the student
    was shown instead) goes whole, and a trailing ``# SOLUTION`` / ``# SEED`` comment leaves its
    line."""
    text = "".join(source) if isinstance(source, list) else source
    lines, prompt = [], False
    for line in text.splitlines(keepends=True):
        marker = MARKER_LINE.match(line.rstrip("\n"))
        if marker:
            prompt = marker[2] == "PROMPT" and marker[1] == "BEGIN"
            continue
        if not prompt:
            body = line.rstrip("\n")
            lines.append(MARKER_TAIL.sub("", body) + line[len(body) :])
    return "".join(lines)


def fill(student, solution, ids=None):
    """The student notebook with the answer cells in ``ids`` (default all) taken from the
    solution."""
    import copy

    nb = copy.deepcopy(student)
    sources = {c.get("id"): clean_source(c["source"]) for c in solution["cells"]}
    wanted = set(answer_ids(student) if ids is None else ids)
    for cell in nb["cells"]:
        if cell.get("id") in wanted and cell.get("id") in sources:
            cell["source"] = sources[cell["id"]]
    return nb


def pair(stem, dist=DIST, notebooks=NOTEBOOKS):
    """(built student notebook, otter's solution notebook) of ``stem``, as JSON."""
    return _read(Path(notebooks) / f"{stem}.ipynb"), _read(solution_path(stem, dist))


def _text_outputs(nb):
    """``nb`` with its figures dropped from the outputs (their text stays): samples stay small in
    git."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "data" in out:
                out["data"] = {
                    k: v
                    for k, v in out["data"].items()
                    if not k.startswith(("image/", "application/vnd"))
                }
    return nb


def run_sample(path, log=print):
    """Run the sample at ``path`` in notebooks/ as a student would (a failing cell recorded, the run
    going on), and save it with its outputs, figures dropped."""
    import nbformat

    with tempfile.TemporaryDirectory(prefix="ptm-sample-") as tmp:
        done = run_notebook(
            Path(path),
            Path(tmp),
            timeout=900,
            allow_errors=True,
            progress=lambda line: log(f"    {Path(path).stem}: {line}"),
        )
        nb = nbformat.read(str(Path(tmp) / Path(path).name), as_version=4)
    nbformat.write(_text_outputs(nb), str(path))
    log(
        f"    {Path(path).stem}: ran in {done['seconds']} s"
        + (f", {done['error']}" if done["error"] else "")
    )
    return path


def make_samples(dest=SAMPLES, dist=DIST, notebooks=NOTEBOOKS, execute=False, log=print):
    """Full, partial and broken submission of every built notebook, in autograder/samples/.

    Answers are the solution's code without otter's markers; ``execute``: each sample is then run as
    a student would run it, so it carries its outputs (what review pages show beside a written
    answer)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for zip_file in sorted(Path(dist).glob("*.zip")):
        stem = zip_file.stem
        if not (Path(notebooks) / f"{stem}.ipynb").exists():
            continue
        student, solution = pair(stem, dist, notebooks)
        ids = answer_ids(student)
        broken = fill(student, solution)
        last = next(c for c in broken["cells"] if c.get("id") == ids[-1])
        source = "".join(last["source"]) if isinstance(last["source"], list) else last["source"]
        last["source"] = source.rstrip() + "\n  this is not python (\n"
        paths += [
            _write(dest / f"{stem}-full.ipynb", fill(student, solution)),
            _write(
                dest / f"{stem}-partial.ipynb", fill(student, solution, ids[: (len(ids) + 1) // 2])
            ),
            _write(dest / f"{stem}-broken.ipynb", broken),
        ]
    if execute:
        for path in paths:
            run_sample(path, log)
    return paths


def grade_samples(out=None, jobs=2):
    """Grade ``autograder/samples`` into ``build/grading``; returns the report's path."""
    import shutil

    from .grading import batch

    out = Path(out or BUILD / "grading")
    shutil.rmtree(out, ignore_errors=True)  # a demo grades afresh; `grade` itself resumes
    if not any(SAMPLES.glob("*.ipynb")):
        make_samples()
    batch.grade([str(SAMPLES)], out, jobs=jobs)
    return out / "report.html"


def majority_baseline() -> float:
    """Test accuracy of always predicting the training split's majority class."""
    from utils import data

    _, y_train = data.pets_arrays("trainval", 8)
    _, y_test = data.pets_arrays("test", 8)
    majority = 1 if (y_train == 1).sum() >= (y_train == -1).sum() else -1
    return float((y_test == majority).mean())


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def self_check(stems) -> list[dict]:
    """One row per notebook: the built solution scores full marks, the untouched notebook 0."""
    from . import check

    rows = []
    for stem in stems:
        questions = check.check_one(stem)
        failed = [q["question"] for q in questions if not q["ok"]]
        rows.append(
            {
                "notebook": stem,
                "questions": len(questions),
                "ok": not failed,
                "failed": ", ".join(failed),
                "solution": f"{sum(q['solution'] for q in questions):g} / "
                f"{sum(q['possible'] for q in questions):g}",
                "untouched": f"{sum(q['untouched'] or 0 for q in questions):g}",
            }
        )
    return rows


def grading_summary(report_path) -> dict | None:
    """Counts of the graded samples by status, read back from grades.csv."""
    from collections import Counter

    from .grading import store

    if not report_path:
        return None
    rows = store.read_rows(Path(report_path).with_name("grades.csv")).values()
    counts = Counter(row.get("status", "?") for row in rows)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no rows"
    return {
        "summary": f"{len(rows)} sample submissions: {summary}",
        "report": str(Path(report_path).relative_to(BUILD)),
    }


def _scenario_rows(grid):
    """The Figure 5 grid, one row per (task, train_per_class), one column per strategy: mean ±
    standard error over the seeds, the verdict (a winner beyond 2 standard errors of the paired
    difference, else a tie) as in notebook 04."""
    from utils import transfer

    grid = [{"seed": 0, **cell} for cell in grid]
    verdicts = transfer.verdicts(grid)
    rows = {}
    for cell in transfer.summarize(grid):
        key = (cell["task"], cell["train_per_class"])
        row = rows.setdefault(
            key,
            {
                "task": key[0],
                "train_per_class": key[1],
                "acc": {},
                "se": {},
                "seeds": cell["seeds"],
                "tied": verdicts[key]["tied"],
                "verdict": verdicts[key]["winner"] or "tie: " + ", ".join(verdicts[key]["tied"]),
            },
        )
        row["acc"][cell["strategy"]], row["se"][cell["strategy"]] = cell["mean"], cell["se"]
    return list(rows.values()), list(dict.fromkeys(cell["strategy"] for cell in grid))


def _module_order(stages) -> list:
    """Stage names in the module's order (ols, edges, frozen, finetune), not results.json's
    alphabetical one."""
    from utils import plots

    return [s for s in plots.STAGE_LABELS if s in stages] + sorted(
        s for s in stages if s not in plots.STAGE_LABELS
    )


def write_report(report: dict) -> Path:
    """build/report.json and build/report.html (from templates/module_report.html.j2)."""
    import jinja2
    import matplotlib

    matplotlib.use("Agg")
    from utils import plots

    BUILD.mkdir(exist_ok=True)
    (BUILD / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True))
    stages = report["stages"]
    arc = (
        _png(plots.accuracy_arc(stages, baseline=report.get("majority_baseline"))) if stages else ""
    )
    scenarios, strategies = _scenario_rows(report.get("scenarios") or [])
    problems = [f"{stem} failed" for stem, info in report["notebooks"].items() if info["error"]]
    problems += [f"{c['notebook']} self-check failed" for c in report["checks"] if not c["ok"]]
    counts = report.get("course_data") or {}
    data_line = ", ".join(
        f"{split}: {c['n']} images ({c['cat']} cats, {c['dog']} dogs)"
        for split, c in counts.items()
    )
    screens_index = BUILD / "screens" / "index.json"
    screens = json.loads(screens_index.read_text()) if screens_index.is_file() else []
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")), autoescape=True
    )
    page = env.get_template("module_report.html.j2").render(
        r=report,
        arc=arc,
        healthy=not problems,
        data_line=data_line or "not found",
        headline=(
            "All four notebooks ran, every self-check passed."
            if not problems
            else "Needs attention: " + "; ".join(problems) + "."
        ),
        stages=[(name, stages[name]["test_acc"]) for name in _module_order(stages)],
        scenarios=scenarios,
        scenario_strategies=strategies,
        notebooks=list(report["notebooks"].items()),
        checks=report["checks"],
        grading=report.get("grading"),
        screens=screens,
    )
    path = BUILD / "report.html"
    path.write_text(page)
    return path


def main(argv=None) -> int:
    with warnings_once():  # each kernel and grading stage would print the same warnings again
        return _main(argv)


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--skip-grading", action="store_true", help="skip grading the sample submissions"
    )
    parser.add_argument(
        "--samples-only",
        action="store_true",
        help="only rewrite autograder/samples/ (full, partial, broken) from the built notebooks, "
        "each run on the data so it carries its outputs",
    )
    parser.add_argument(
        "--no-run", action="store_true", help="with --samples-only: write them without running them"
    )
    args = parser.parse_args(argv)
    if args.samples_only:
        for p in make_samples(execute=not args.no_run, log=lambda line: print(line, flush=True)):
            print(p, flush=True)
        return 0
    sys.path.insert(0, str(REPO))
    from . import build

    start = time.perf_counter()
    os.environ["PTM_RESULTS"] = str(BUILD / "results.json")  # the kernels inherit it
    (BUILD / "results.json").unlink(missing_ok=True)
    print("1/4 build", flush=True)
    stems = [m.stem for m in build.masters()]
    build.build()
    print("2/4 run the solutions end to end", flush=True)
    notebooks = {}
    for stem in stems:
        notebooks[stem] = run_notebook(
            solution_path(stem),
            BUILD / "notebooks",
            progress=lambda line, stem=stem: print(f"    {stem}: {line}", flush=True),
        )
        print(f"    {stem}: {notebooks[stem]}", flush=True)
    print("3/4 self-check the autograders", flush=True)
    checks = self_check(stems)
    print("4/4 grade the sample submissions", flush=True)
    grading = None if args.skip_grading else grade_samples(out=BUILD / "grading")

    from utils import data, results

    recorded = results.load()
    report = {
        "stages": {s: v for s, v in recorded.items() if "test_acc" in v},
        "scenarios": recorded.get("scenarios", {}).get("grid", []),
        "course_data": data.course_counts(),
        "majority_baseline": majority_baseline(),
        "notebooks": notebooks,
        "checks": checks,
        "check": "passed" if all(c["ok"] for c in checks) else "FAILED; see the self-check table",
        "grading": grading_summary(grading),
        "seconds": round(time.perf_counter() - start, 1),
        "finished_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": f"{os.cpu_count()} CPUs, {sys.platform}",
    }
    path = write_report(report)
    print(json.dumps({k: report[k] for k in ("stages", "check", "seconds")}, indent=2))
    print(f"report: {path}")
    failed = report["check"] != "passed" or any(n["error"] for n in notebooks.values())
    return 1 if failed else 0
