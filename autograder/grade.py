"""``python -m autograder grade SUBMISSION... --out DIR``: Docker-free parallel batch grading.

Each submission (``.ipynb``, a ``grader.export`` zip, or a folder of either) is
graded by otter's own grading code against the real autograder zip, inside its
own sandbox (``autograder/sandbox.py``). Results land in ``DIR``:
``grades.csv`` (one row per submission, written as each finishes, atomically;
a restarted batch skips finished rows), ``results/<id>.json`` (otter's
Gradescope results), ``feedback/<id>.html`` (public tests and hints only) and
``report.html``.
"""
import argparse
import os
import json
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from . import DIST, gradereport, sandbox, submissions

MEMORY_HINTS = ("MemoryError", "can't allocate memory", "Unable to allocate", "out of memory",
                "bad_alloc")


class Batch:
    """Shared state of one grading run: templates per assignment, finished rows."""

    def __init__(self, out, dist=DIST, assignment=None, limits=None, use_bwrap=None):
        self.out, self.dist, self.assignment = Path(out), Path(dist), assignment
        self.limits = limits or sandbox.Limits()
        self.use_bwrap = sandbox.bwrap_status()[0] if use_bwrap is None else use_bwrap
        self.work = Path(tempfile.mkdtemp(prefix="ptm-grade-"))   # never inside the output folder
        for sub in ("results", "feedback"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        self.rows = gradereport.read_rows(self.out / "grades.csv")
        self.lock, self.templates = threading.Lock(), {}

    def template(self, name):
        """(unpacked template dir, hidden-test secrets) for an assignment, or None if not built."""
        with self.lock:
            if name not in self.templates:
                zip_path = self.dist / f"{name}.zip"
                if not zip_path.is_file():
                    self.templates[name] = None
                else:
                    tpl = sandbox.unpack_template(zip_path, self.work / "templates" / name)
                    self.templates[name] = (tpl, gradereport.hidden_secrets(tpl / "source" / "tests"))
            return self.templates[name]

    def finish(self, row, gradescope=None, feedback=None):
        """Write results and feedback, then commit the row (the CSV is the commit point)."""
        sid = row["id"]
        if gradescope is not None:
            gradereport._atomic_write(self.out / "results" / f"{sid}.json", json.dumps(gradescope, indent=2))
        gradereport.write_feedback(self.out / "feedback" / f"{sid}.html", row, *feedback)
        with self.lock:
            self.rows[sid] = row
            gradereport.write_rows(self.out / "grades.csv", self.rows)


def _row(sub, assignment, status, reason, seconds=0.0, questions=None):
    row = {"id": sub.id, "assignment": assignment or "", "status": status, "reason": reason,
           "seconds": f"{seconds:.1f}", "total": 0, "maximum": ""}
    if questions is not None:
        row.update({q: f"{s:g}" for q, (s, _) in questions.items()})
        row["total"] = f"{sum(s for s, _ in questions.values()):g}"
        row["maximum"] = f"{sum(p for _, p in questions.values()):g}"
    return row


def _where(cellmap, info):
    if not info:
        return "an unknown cell"
    number = cellmap.get(info.get("id"))
    first = next((ln for ln in info.get("source", "").splitlines()
                  if ln.strip() and not ln.startswith(("SEED =", "import numpy as np_", "np_"))), "")
    return f"cell {number} (`{first.strip()[:60]}`)" if number else f"a grader cell (`{first[:60]}`)"


def _is_check_only(source):
    lines = [ln.strip() for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return bool(lines) and all(ln.startswith(("grader.check", "grader.export")) for ln in lines)


def _judge(sub, outcome, cellmap, secrets, findings):
    """(status, reason, questions or None) from what the sandbox reported."""
    limits_txt = f"{outcome.seconds:.0f} s"
    if outcome.modified:
        return "invalid", (f"tampering with the grader: modified support file(s) on disk: "
                           f"{', '.join(outcome.modified)}; not graded"), None
    if outcome.kind == "timeout":
        return "timeout", f"stopped after {limits_txt} (time limit) while running {_where(cellmap, outcome.progress)}; infinite loop?", None
    if outcome.kind == "no-result":
        last = outcome.log_tail.strip().splitlines()[-1:] or ["no output"]
        return "crashed", f"grading process ended without a result (exit {outcome.returncode}) while running {_where(cellmap, outcome.progress)}: {last[0][:150]}", None
    d = outcome.driver
    if not d.get("ok"):
        err = d.get("error", "")
        if "Received submission for assignment" in err:
            return "wrong-assignment", err.split(":", 1)[-1].strip(), None
        if "DeadKernel" in err or "Kernel died" in err or "kernel died" in err.lower():
            return "crashed", f"the Python kernel died while running {_where(cellmap, outcome.progress)} (os._exit, a fatal signal or the memory limit)", None
        return "crashed", f"otter could not grade it: {err[:200]}", None
    if d.get("catastrophic"):
        return "crashed", f"otter could not read results: {d['catastrophic'][:200]}", None
    questions = {q: (v["score"], v["possible"]) for q, v in d["questions"].items()}
    student = {c["id"]: c for c in d.get("cells", []) if c.get("id") in cellmap}
    sources = {cid: src for _, cid, src in submissions.code_cells(sub.notebook)}
    leaked = [f"cell {cellmap[cid]} printed hidden test content" for cid, c in student.items()
              if not _is_check_only(sources.get(cid, "")) and gradereport.leaks(
                  c.get("text", "") + json.dumps(c.get("error")), secrets)]
    tamper = findings + leaked
    if tamper:
        total = sum(s for s, _ in questions.values())
        possible = sum(p for _, p in questions.values())
        return "invalid", (f"tampering with the grader: {'; '.join(tamper)[:300]}; score withheld "
                           f"(otter gave {total:g}/{possible:g}, see results/{sub.id}.json)"), None
    errors = [(cellmap[cid], c["error"]) for cid, c in student.items() if c.get("error")]
    memory = [(n, e) for n, e in errors if any(h in e["ename"] + e["evalue"] for h in MEMORY_HINTS)]
    if memory:
        n, e = memory[0]
        return "memory", f"cell {n} ran out of memory (limit per process): {e['ename']}: {e['evalue'][:100]}", questions
    if errors:
        listed = "; ".join(f"cell {n} raised {e['ename']}: {e['evalue'][:80]}" for n, e in sorted(errors)[:3])
        return "graded", f"{len(errors)} cell(s) raised errors: {listed}", questions
    return "graded", "", questions


def grade_one(batch, sub_id, path):
    """Grade one submission end to end and commit its row."""
    sub = submissions.load(sub_id, path)
    name = batch.assignment or sub.assignment
    if sub.problem:
        return batch.finish(_row(sub, name, "invalid", sub.problem), feedback=({}, "", [], set()))
    if name is None:
        return batch.finish(_row(sub, "", "invalid", "cannot detect the assignment: the notebook has no "
                                 "metadata.otter.assignment_name; pass --assignment NAME"), feedback=({}, "", [], set()))
    if batch.assignment and sub.assignment != batch.assignment:
        why = (f"notebook is for assignment '{sub.assignment}', not '{batch.assignment}'" if sub.assignment
               else f"notebook has no otter assignment metadata, so it cannot be checked against '{name}'")
        return batch.finish(_row(sub, name, "wrong-assignment", why), feedback=({}, "", [], set()))
    template = batch.template(name)
    if template is None:
        return batch.finish(_row(sub, name, "invalid", f"no autograder for assignment '{name}': "
                                 f"{batch.dist / (name + '.zip')} is missing (run python -m autograder build)"),
                            feedback=({}, "", [], set()))
    tpl, secrets = template
    support = [p.name for p in (tpl / "source" / "files").glob("*")] + ["tests"]
    findings = submissions.audit(sub.notebook, support)
    workdir = batch.work / "runs" / sub.id
    outcome = sandbox.run(workdir, tpl, sub.nb_name, sub.nb_bytes, batch.limits, batch.use_bwrap)
    cellmap = {cid: n for n, cid, _ in submissions.code_cells(sub.notebook) if cid}
    status, reason, questions = _judge(sub, outcome, cellmap, secrets, findings)
    row = _row(sub, name, status, reason, outcome.seconds, questions)
    gs = (outcome.driver or {}).get("gradescope")
    public = next((t.get("output", "") for t in (gs or {}).get("tests", []) if t.get("name") == "Public Tests"), "")
    errors = [f"{_where(cellmap, c)} raised {c['error']['ename']}: {c['error']['evalue'][:300]}"
              for c in (outcome.driver or {}).get("cells", []) if c.get("error") and c.get("id") in cellmap]
    batch.finish(row, gs, (questions or {}, public, errors, secrets))
    shutil.rmtree(workdir, ignore_errors=True)


def grade(paths, out, assignment=None, jobs=2, limits=None, dist=DIST, use_bwrap=None, quiet=False):
    """Grade every submission under ``paths`` into ``out``; returns the rows by id."""
    batch = Batch(out, dist, assignment, limits, use_bwrap)
    notes = [] if batch.use_bwrap else [sandbox.bwrap_status()[1] or "bubblewrap not used (--no-sandbox): process isolation and limits only"]
    for n in notes:
        print(f"warning: {n}", file=sys.stderr)
    todo = [(sid, p) for sid, p in submissions.collect(paths) if sid not in batch.rows]
    if not quiet:
        print(f"grading {len(todo)} submission(s) ({len(batch.rows)} already done) with {jobs} job(s)")
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(grade_one, batch, sid, p): sid for sid, p in todo}
        for fut in as_completed(futures):
            fut.result()
            r = batch.rows[futures[fut]]
            if not quiet:
                print(f"  {r['id']}: {r['status']} {r['total']}/{r['maximum']} {r['reason'][:100]}")
    gradereport._atomic_write(batch.out / "warnings.txt", "".join(n + "\n" for n in notes))
    gradereport.write_report(batch.out, batch.rows, _maxima(batch), notes)
    shutil.rmtree(batch.work, ignore_errors=True)
    return batch.rows


def _maxima(batch):
    """Points possible per question and assignment, from otter's results files."""
    maxima = {}
    for r in batch.rows.values():
        f = batch.out / "results" / f"{r['id']}.json"
        if r["assignment"] not in maxima and f.exists():
            tests = json.loads(f.read_text()).get("tests", [])
            found = {t["name"]: t["max_score"] for t in tests if "max_score" in t}
            if found:
                maxima[r["assignment"]] = found
    return maxima


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m autograder grade", description=__doc__.split("\n")[0])
    p.add_argument("submissions", nargs="+", help=".ipynb files, grader.export zips, or folders")
    p.add_argument("--out", required=True, help="output folder (grades.csv, results/, feedback/, report.html)")
    p.add_argument("--assignment", help="grade everything against this assignment (default: from metadata)")
    p.add_argument("--dist", default=str(DIST), help="folder with <assignment>.zip autograders")
    p.add_argument("--jobs", type=int, default=2, help="submissions graded at once (default 2)")
    p.add_argument("--timeout", type=float, default=600, help="wall-clock seconds per submission (default 600)")
    p.add_argument("--memory", type=float, default=4, help="GB of memory per process (default 4)")
    p.add_argument("--no-sandbox", action="store_true", help="skip bubblewrap even where it works")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    limits = sandbox.Limits(timeout=args.timeout, memory_gb=args.memory)
    start = time.monotonic()
    rows = grade(args.submissions, Path(args.out), args.assignment, args.jobs, limits, Path(args.dist),
                 False if args.no_sandbox else None)
    print(f"{len(rows)} rows in {Path(args.out) / 'grades.csv'} ({time.monotonic() - start:.0f} s); "
          f"report: {Path(args.out) / 'report.html'}")
    return 0


def bench_batch_vs_serial(n=40, jobs=2):
    """``n`` notebook-01 samples graded by ``grade --jobs`` vs one plain ``otter run`` after another.

    Returns wall times, submissions per minute, their ratio (goal <= 0.6) and
    whether both ways gave the same totals. Ours is faster because submissions
    run in parallel, the zip is unpacked once (each sandbox bind-mounts the
    tree), and the driver kills the kernel and exits as soon as otter's results
    are in, instead of waiting for graceful shutdowns and otter's log thread.
    """
    import subprocess
    from . import samples
    stem = "01_ols_raw_pixels"
    kinds = sorted(samples.SAMPLES.glob(f"{stem}-*.ipynb"))
    work = Path(tempfile.mkdtemp(prefix="ptm-bench-"))
    subs = work / "subs"
    subs.mkdir()
    for i in range(n):
        shutil.copy(kinds[i % len(kinds)], subs / f"s{i:03d}-{kinds[i % len(kinds)].stem}.ipynb")
    start = time.monotonic()
    rows = grade([str(subs)], work / "batch", stem, jobs, quiet=True)
    batch_s = time.monotonic() - start
    serial, start = {}, time.monotonic()
    for sub in sorted(subs.iterdir()):
        out = work / "serial" / sub.stem
        out.mkdir(parents=True)
        subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(DIST / f"{stem}.zip"), "-o", str(out),
                        str(sub)], cwd=out, capture_output=True)
        tests = json.loads((out / "results.json").read_text())["tests"]
        serial[sub.stem] = sum(t.get("score", 0) for t in tests)
    serial_s = time.monotonic() - start
    same = all(float(rows[k]["total"]) == v for k, v in serial.items())
    shutil.rmtree(work, ignore_errors=True)
    return {"n": n, "jobs": jobs, "batch_s": round(batch_s, 1), "serial_s": round(serial_s, 1),
            "ratio": round(batch_s / serial_s, 3), "batch_per_min": round(60 * n / batch_s, 2),
            "serial_per_min": round(60 * n / serial_s, 2), "same_scores": same,
            "sandbox": "bwrap" if sandbox.bwrap_status()[0] else "none", "cpus": os.cpu_count()}
