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
import html
import io
import json
import os
import sys
import time
from pathlib import Path

from . import BUILD, DIST, NOTEBOOKS, REPO, solution_path

SAMPLES = Path(__file__).with_name("samples")
ANSWER_TAG = "otter_answer_cell"


def _read(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _write(path, nb):
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return Path(path)


def answer_ids(student):
    """Ids of the student's answer cells, in notebook order."""
    return [c["id"] for c in student["cells"] if ANSWER_TAG in c.get("metadata", {}).get("tags", [])]


def fill(student, solution, ids=None):
    """The student notebook with the answer cells in ``ids`` (default all) taken from the solution."""
    import copy
    nb = copy.deepcopy(student)
    sources = {c.get("id"): c["source"] for c in solution["cells"]}
    wanted = set(answer_ids(student) if ids is None else ids)
    for cell in nb["cells"]:
        if cell.get("id") in wanted and cell.get("id") in sources:
            cell["source"] = sources[cell["id"]]
    return nb


def pair(stem, dist=DIST, notebooks=NOTEBOOKS):
    """(built student notebook, otter's solution notebook) of ``stem``, as JSON."""
    return _read(Path(notebooks) / f"{stem}.ipynb"), _read(solution_path(stem, dist))


def make_samples(dest=SAMPLES, dist=DIST, notebooks=NOTEBOOKS):
    """Full, partial and broken submission of every built notebook, in autograder/samples/."""
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
        paths += [_write(dest / f"{stem}-full.ipynb", fill(student, solution)),
                  _write(dest / f"{stem}-partial.ipynb", fill(student, solution, ids[: (len(ids) + 1) // 2])),
                  _write(dest / f"{stem}-broken.ipynb", broken)]
    return paths


def grade_samples(out=None, jobs=2):
    """Grade ``autograder/samples`` into ``build/grading``; returns the report's path."""
    import shutil
    from .grading import batch
    out = Path(out or BUILD / "grading")
    shutil.rmtree(out, ignore_errors=True)   # a demo grades afresh; `grade` itself resumes
    if not any(SAMPLES.glob("*.ipynb")):
        make_samples()
    batch.grade([str(SAMPLES)], out, jobs=jobs)
    return out / "report.html"


def run_notebook(src: Path, out_dir: Path, timeout=900) -> dict:
    """Execute ``src`` in notebooks/ with nbclient; save it with outputs; return timing."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(str(src), as_version=4)
    start, error = time.perf_counter(), None
    log = NOTEBOOKS / ".OTTER_LOG"
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    except CellExecutionError as err:
        error = str(err).strip().splitlines()[-1][:300]
    except (DeadKernelError, CellTimeoutError, RuntimeError) as err:
        # a dead kernel (out of memory, a crash, a lost ZMQ socket) is recorded, and the run goes on
        error = f"{type(err).__name__}: {str(err).strip()[:300]}"
    finally:
        log.unlink(missing_ok=True)
    seconds = time.perf_counter() - start
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(out_dir / src.name.replace("-solution", "")))
    return {"seconds": round(seconds, 1), "error": error}


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


def write_report(report: dict) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    from utils import plots

    BUILD.mkdir(exist_ok=True)
    (BUILD / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True))
    stages = report["stages"]
    arc = _png(plots.accuracy_arc(stages, baseline=report.get("majority_baseline"))) if stages else ""
    rows = "".join(
        f"<tr><td><a href='notebooks/{html.escape(stem)}.ipynb'>{html.escape(stem)}</a></td>"
        f"<td>{info['seconds']}</td><td>{html.escape(info['error'] or 'ok')}</td></tr>"
        for stem, info in report["notebooks"].items())
    acc = "".join(f"<tr><td>{html.escape(s)}</td><td>{v['test_acc']:.3f}</td></tr>" for s, v in stages.items())
    grading = report.get("grading_report")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Cats vs dogs: module report</title>
<style>body{{font-family:sans-serif;max-width:900px;margin:2em auto}}td,th{{padding:2px 10px}}</style></head><body>
<h1>Can we tell cats from dogs? Module report</h1>
<p>Built {html.escape(report['finished_at'])} on {html.escape(report['machine'])}; total {report['seconds']} s.</p>
<h2>The accuracy arc (test split)</h2>
{f'<img alt="accuracy arc" src="data:image/png;base64,{arc}">' if arc else '<p>No stage recorded a result.</p>'}
<table><tr><th>stage</th><th>test accuracy</th></tr>{acc}</table>
<h2>Solution notebooks, run end to end</h2>
<table><tr><th>notebook</th><th>seconds</th><th>status</th></tr>{rows}</table>
<h2>Autograder self-check</h2><p>{html.escape(report['check'])}</p>
<h2>Grading of the sample submissions</h2>
<p>{f'<a href="{html.escape(grading)}">grading report</a>' if grading else 'not run'}</p>
<p style="color:gray;font-size:small">Images: Oxford-IIIT Pet (Parkhi et al., CVPR 2012), CC BY-SA 4.0.</p>
</body></html>"""
    path = BUILD / "report.html"
    path.write_text(page)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-grading", action="store_true", help="skip grading the sample submissions")
    parser.add_argument("--samples-only", action="store_true",
                        help="only rewrite autograder/samples/ (full, partial, broken) from the built notebooks")
    args = parser.parse_args(argv)
    if args.samples_only:
        for p in make_samples():
            print(p)
        return 0
    sys.path.insert(0, str(REPO))
    from . import build, check

    start = time.perf_counter()
    os.environ["PTM_RESULTS"] = str(BUILD / "results.json")  # the kernels inherit it
    (BUILD / "results.json").unlink(missing_ok=True)
    print("1/4 build", flush=True)
    stems = [m.stem for m in build.masters()]
    build.build()
    print("2/4 run the solutions end to end", flush=True)
    notebooks = {}
    for stem in stems:
        notebooks[stem] = run_notebook(solution_path(stem), BUILD / "notebooks")
        print(f"    {stem}: {notebooks[stem]}", flush=True)
    print("3/4 self-check the autograders", flush=True)
    check_code = check.main([])
    print("4/4 grade the sample submissions", flush=True)
    grading = None if args.skip_grading else grade_samples(out=BUILD / "grading")

    from utils import results
    recorded = results.load()
    report = {
        "stages": {s: v for s, v in recorded.items() if "test_acc" in v},
        "majority_baseline": majority_baseline(),
        "notebooks": notebooks,
        "check": "passed" if check_code == 0 else f"FAILED (exit {check_code}); see the console output",
        "grading_report": str(Path(grading).relative_to(BUILD)) if grading else None,
        "seconds": round(time.perf_counter() - start, 1),
        "finished_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": f"{os.cpu_count()} CPUs, {sys.platform}",
    }
    path = write_report(report)
    print(json.dumps({k: report[k] for k in ("stages", "check", "seconds")}, indent=2))
    print(f"report: {path}")
    failed = check_code != 0 or any(n["error"] for n in notebooks.values())
    return 1 if failed else 0
