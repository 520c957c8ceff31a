"""``python -m autograder grade SUBMISSION... --out DIR``: sandboxed parallel batch grading.

Each submission (``.ipynb``, a ``grader.export`` zip, or a folder of either)
is graded in two stages, each in its own sandbox (``sandbox.py``), run at the
same time (neither depends on the other):

1. *run*: the student's cells, as the student would run them, with the public
   tests only (``driver.py``); it decides the limit statuses and the errors
   shown in the feedback, never the score;
2. *judge*: a fresh process that receives otter's tests through stdin and
   runs them, with otter's scoring, against the graded definitions only
   (``judge.py``); its result is the score, clamped by the host. It is
   stopped, and its result discarded, when the run stage hits a limit or crashes.

Results land in DIR: ``grades.csv`` (one row per submission, written as each
finishes, atomically; a restarted batch skips finished rows),
``results/<id>.json`` (otter's Gradescope results), ``feedback/<id>.html``,
``report.html``, ``warnings.txt`` and ``timings.json`` (seconds, CPU seconds
and peak memory of each stage, per submission). A lock file stops a second grader from
writing to the same DIR.
"""
import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from .. import DIST, NOTEBOOKS, solution_path
from . import inputs, report, sandbox, shard, store, tamper, verdict

WORK_PREFIX = "ptm-grade-"
HERE = Path(__file__).resolve().parent


@dataclass
class Template:
    """An assignment as the host reads it from its built zip (trusted)."""
    name: str
    tests: dict          # {file name: full source}: only ever sent to the judge through stdin
    public: Path         # folder of public-only test files, copied into each run sandbox
    support: list        # [(host path, name)] support files (utils/)
    possible: dict       # {question: points}
    secrets: set         # hidden-test lines and strings, redacted from anything shown
    params: set          # names the tests take as arguments
    config: dict         # otter_config.json without tokens
    given: frozenset = frozenset()   # code cells the course itself ships (setup cell...): not audited


def _possible(tests):
    from otter.test_files.exception_test import ExceptionTestFile
    out = {}
    for fname, source in sorted(tests.items()):
        tf = ExceptionTestFile.from_string(source, path=fname)
        out[tf.name] = float(tf.possible)
    return out


def _given_cells(stem, dist):
    """Sources of the code cells of the built solution and student notebooks (trusted, not audited)."""
    given = set()
    for nb_path in (solution_path(stem, dist), NOTEBOOKS / f"{stem}.ipynb"):
        try:
            nb = json.loads(nb_path.read_text(encoding="utf-8"))
            given |= {src.strip() for _, _, src in inputs.rebuild(nb)[1]}
        except (OSError, ValueError):
            pass
    return frozenset(given)


def load_template(zip_path, dest):
    """Unpack ``zip_path`` into ``dest`` (a 0700 folder) and read it."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(dest)
    tests, public, secrets, params = {}, dest / "public-tests", set(), set()
    public.mkdir()
    for p in sorted((dest / "tests").glob("*.py")):
        text = p.read_text(encoding="utf-8")
        tests[p.name] = text
        kept, hidden, names = tamper.split_tests(text)
        (public / p.name).write_text(kept, encoding="utf-8")
        secrets |= hidden
        params |= names
    config = json.loads((dest / "otter_config.json").read_text()) if (dest / "otter_config.json").exists() else {}
    config.pop("token", None)
    files = dest / "files"
    support = [(p, p.name) for p in sorted(files.iterdir())] if files.is_dir() else []
    stem = Path(zip_path).stem
    return Template(stem, tests, public, support, _possible(tests), secrets, params - {"env"}, config,
                    _given_cells(stem, Path(zip_path).parent))


class Batch:
    """Shared state of one grading run: templates per assignment, finished rows, the work folder."""

    def __init__(self, out, dist=DIST, assignment=None, limits=None, use_bwrap=None, trusted=False):
        self.out, self.dist, self.assignment = Path(out), Path(dist), assignment
        self.limits = limits or sandbox.Limits()
        ok, why = sandbox.bwrap_status()
        self.use_bwrap = ok if use_bwrap is None else use_bwrap and ok
        self.warnings = []
        if not self.use_bwrap:
            if not trusted:
                raise SystemExit(f"refusing to grade without a sandbox: {why or 'disabled'}. Install "
                                 f"bubblewrap and run as root, or pass --trusted if you trust every "
                                 f"submission (README: which guarantees fall away)")
            self.warnings.append(f"--trusted: no sandbox ({why or 'disabled'}); student code runs as "
                                 f"{os.getenv('USER') or os.geteuid()} with the grader's view of the disk")
        cg_ok, cg_why = sandbox.cgroup_status()
        if not cg_ok:
            self.warnings.append(cg_why)
        # assignment names come only from the built zips, and are never used as paths
        self.known = {p.stem: p for p in sorted(self.dist.glob("*.zip")) if p.is_file()}
        sweep_stale()
        self.work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX))
        (self.work / "owner").write_text(str(os.getpid()))
        for sub in ("results", "feedback"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        self.rows = store.read_rows(self.out / "grades.csv")
        self.lock, self.templates, self.counter = threading.Lock(), {}, 0
        self.timings = _read_json(self.out / "timings.json")

    def isolation(self):
        if self.use_bwrap:
            return "bubblewrap sandbox, student code as nobody, results through a private pipe"
        return "NONE (--trusted): student code runs unsandboxed as the grader's user"

    def limits_text(self):
        lim = self.limits
        cg = "cgroup" if sandbox.cgroup_status()[0] else "per process (no cgroup)"
        return (f"{lim.timeout:g} s to run, {lim.judge_timeout:g} s to judge, {lim.memory_gb:g} GB memory ({cg}), "
                f"{lim.pids} processes, {lim.disk_mb} MB disk, {lim.output_mb:g} MB output")

    def template(self, name):
        with self.lock:
            if name not in self.templates:
                dest = self.work / "templates" / f"t{len(self.templates)}"
                dest.mkdir(parents=True)
                self.templates[name] = load_template(self.known[name], dest)
            return self.templates[name]

    def finish(self, sub, name, v, seconds=0.0, gradescope=None):
        """Write results and feedback, then commit the row (the CSV is the commit point)."""
        row = {"id": sub.id, "file": verdict.clean(sub.file, 300), "assignment": name or "",
               "status": v.status, "reason": v.reason, "flags": verdict.clean("; ".join(v.flags), 300),
               "seconds": f"{seconds:.1f}", "total": "0", "maximum": ""}
        points = v.questions or v.judged
        if points:
            row["maximum"] = f"{sum(p for _, p in points.values()):g}"
        if v.questions is not None:
            for q, (s, _) in v.questions.items():
                row[q if q not in row else f"q_{q}"] = f"{s:g}"
            row["total"] = f"{sum(s for s, _ in v.questions.values()):g}"
        if gradescope is not None:
            store.atomic_write(self.out / "results" / f"{sub.id}.json", json.dumps(gradescope, indent=1)[:4 << 20])
        report.write_feedback(self.out / "feedback" / f"{sub.id}.html", row, v)
        with self.lock:
            self.rows[sub.id] = row
            store.write_rows(self.out / "grades.csv", self.rows)
        return row

    def record_timing(self, sub_id, **stages):
        """Seconds, CPU seconds and peak memory of each stage that counted (``timings.json``)."""
        entry = {name: {"seconds": round(o.seconds, 2),
                        "cpu_seconds": None if o.cpu_seconds is None else round(o.cpu_seconds, 2),
                        "peak_mb": None if o.peak_memory is None else o.peak_memory >> 20}
                 for name, o in stages.items() if o is not None}
        with self.lock:
            self.timings[sub_id] = entry

    def run_dir(self, sub_id, stage):
        with self.lock:
            self.counter += 1
            return self.work / "runs" / f"{self.counter}-{stage}"


KERNEL_STARTUP = """import sys
sys.modules.setdefault("rfc3987_syntax", None)   # grader: skip jsonschema's 5 s IRI grammar (unused)
"""


def _layout(root, nobody):
    for d in ("submission", "home", "tmp"):
        (root / d).mkdir(exist_ok=True)
        if nobody:
            os.chown(root / d, sandbox.NOBODY, sandbox.NOBODY)
    startup = root / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-grader.py").write_text(KERNEL_STARTUP)   # root-owned: read-only for the student
    if nobody:   # IPython needs to write its profile (history); the startup folder stays root's
        for d in (root / "ipython", startup.parent):
            os.chown(d, sandbox.NOBODY, sandbox.NOBODY)


class _Background:
    """``fn(cancel)`` in a thread: the judge stage, started alongside the run stage.

    The two stages are independent (the judge gets the graded definitions from
    the host's own parse, never from the run stage), each in its own sandbox,
    PID, IPC and network namespace and cgroup, so running them at once shares
    nothing between them; it only saves the wall time of the shorter one.
    """

    def __init__(self, fn):
        self.event, self.value, self.error = threading.Event(), None, None
        self.thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.thread.start()

    def _run(self, fn):
        try:
            self.value = fn(self.event)
        except BaseException as e:  # noqa: BLE001 - handed to the caller by result()
            self.error = e

    def cancel(self):
        self.event.set()

    def result(self):
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.value


def _stage(batch, sub, stage, tpl, stdin=b"", cancel=None):
    root = batch.run_dir(sub.id, stage)
    mounted = sandbox.mount_workdir(root, batch.limits)
    try:
        _layout(root, batch.use_bwrap)
        binds = [(host, f"/autograder/submission/{n}") for host, n in tpl.support]
        if stage == "run":
            nb = root / "submission" / sub.nb_name
            nb.write_bytes(sub.nb_bytes)
            tests = root / "submission" / "tests"
            shutil.copytree(tpl.public, tests / tpl.name)   # where the setup cell's grader looks: tests/<notebook>/
            if batch.use_bwrap:
                for p in [nb, tests, tests / tpl.name] + list((tests / tpl.name).iterdir()):
                    os.chown(p, sandbox.NOBODY, sandbox.NOBODY)
            script, args = "driver.py", [f"/autograder/submission/{sub.nb_name}" if batch.use_bwrap else str(nb),
                                         str(int(batch.limits.output_mb * (1 << 20)))]
            timeout = batch.limits.timeout
        else:
            script, args, timeout = "judge.py", [], batch.limits.judge_timeout
        if batch.use_bwrap:
            binds.append((HERE / script, f"/grader/{script}"))
            argv = [f"/grader/{script}"] + args
        else:
            argv = [str(HERE / script)] + args
        outcome = sandbox.run_stage(stage, root, binds, argv, batch.limits, timeout, batch.use_bwrap, stdin,
                                    cancel=cancel, watch=lambda: sandbox.disk_full(root, mounted))
        disk = sandbox.disk_full(root, mounted)
        if disk:
            outcome.breaches.setdefault("disk", disk)
        return outcome
    finally:
        sandbox.unmount_workdir(root, mounted)


def grade_one(batch, sub_id, path, shown=None):
    """Grade one submission end to end and commit its row."""
    sub = inputs.load(sub_id, path, shown)
    name = batch.assignment or sub.assignment
    if sub.problem:
        return batch.finish(sub, name if name in batch.known else "", verdict.Verdict("invalid", sub.problem))
    if name is None:
        return batch.finish(sub, "", verdict.Verdict("invalid", "cannot detect the assignment: the notebook has no "
                                                     "metadata.otter.assignment_name; pass --assignment NAME"))
    if name not in batch.known:
        return batch.finish(sub, "", verdict.Verdict(
            "wrong-assignment", f"assignment {verdict.clean(repr(name), 80)} is not one of the built autograders "
                                f"({', '.join(batch.known) or f'none in {batch.dist}: run python -m autograder build'})"))
    if batch.assignment and sub.assignment != batch.assignment:
        why = (f"notebook is for assignment {verdict.clean(repr(sub.assignment), 80)}, not '{batch.assignment}'"
               if sub.assignment else f"notebook has no otter assignment metadata, so it cannot be checked "
                                      f"against '{name}'")
        return batch.finish(sub, name, verdict.Verdict("wrong-assignment", why))
    tpl = batch.template(name)
    definitions = tamper.graded_definitions(sub.cells, tpl.params)
    own = [c for c in sub.cells if c[2].strip() not in tpl.given]
    flags = tamper.audit(own) + tamper.judge_findings([d for d in definitions if any(
        d[0] == c[0] for c in own)])
    payload = json.dumps({"tests": tpl.tests, "definitions": definitions}).encode()
    start = time.monotonic()
    judging = _Background(lambda cancel: _stage(batch, sub, "judge", tpl, payload, cancel))
    try:
        run = _stage(batch, sub, "run", tpl)
    except BaseException:
        judging.cancel()
        judging.thread.join()
        raise
    early, _, _ = verdict.stage_one(run, sub.cells, tpl.secrets, batch.limits)
    if early is not None:
        judging.cancel()            # a limit or a crash decided the status: the judge's result is not used
    judge = judging.result()
    v = verdict.decide(run, judge if early is None else None, sub.cells, tpl, list(dict.fromkeys(flags)),
                       batch.limits)
    gradescope = None
    if early is None and v.questions is not None:
        gradescope = _gradescope(v, tpl)
    batch.record_timing(sub.id, run=run, judge=judge if early is None else None)
    return batch.finish(sub, name, v, time.monotonic() - start, gradescope)


def _gradescope(v, tpl):
    """Gradescope results built on the host from the clamped scores (visibility as otter sets it)."""
    tests = []
    for q, (score, possible) in v.questions.items():
        lines = [f"{'hidden' if c['hidden'] else c['name']}: {'passed' if c['passed'] else 'failed'}"
                 + (f"\n  {c['hint']}" if not c["passed"] and c["hint"] else "") for c in v.cases.get(q, [])]
        tests.append({"name": q, "score": score, "max_score": possible, "visibility": "visible",
                      "output": "\n".join(lines)})
    return {"tests": tests, "score": sum(s for s, _ in v.questions.values()), "stdout_visibility": "hidden"}


def _read_json(path):
    """Our own earlier output (a resumed batch), or {} when absent or unreadable."""
    data = store.safe_read(path, 16 << 20)
    try:
        value = json.loads(data) if data else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def sweep_stale():
    """Remove work folders of graders that died (kill -9): they may hold hidden tests."""
    for d in Path(tempfile.gettempdir()).glob(f"{WORK_PREFIX}*"):
        try:
            owner = int((d / "owner").read_text())
            os.kill(owner, 0)
            continue            # its grader is alive
        except (OSError, ValueError):
            pass
        _remove_work(d)


def _remove_work(d):
    try:
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        mounts = []
    for m in sorted((m for m in mounts if m.startswith(str(d) + "/")), reverse=True):
        os.system(f"umount -l '{m}' 2>/dev/null") if "'" not in m else None
    shutil.rmtree(d, ignore_errors=True)


def _maxima(batch):
    return {name: tpl.possible for name, tpl in batch.templates.items()}


def grade(paths, out, assignment=None, jobs=2, limits=None, dist=DIST, use_bwrap=None, quiet=False,
          trusted=False, wait=0.0, shard_spec=None):
    """Grade every submission under ``paths`` (or shard ``shard_spec`` = (I, N) of them) into ``out``; rows by id."""
    Path(out).mkdir(parents=True, exist_ok=True)
    with store.OutLock(out, wait):
        batch = Batch(out, dist, assignment, limits, use_bwrap, trusted)
        old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)} \
            if threading.current_thread() is threading.main_thread() else {}
        for s in old:
            signal.signal(s, _interrupted)
        try:
            return _grade(batch, paths, jobs, quiet, shard_spec)
        finally:
            _remove_work(batch.work)
            for s, h in old.items():
                signal.signal(s, h)


def _interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _grade(batch, paths, jobs, quiet, shard_spec=None):
    for w in batch.warnings:
        print(f"warning: {w}", file=sys.stderr)
    found = shard.select(inputs.collect(paths), shard_spec, batch.out, batch.isolation(), batch.limits_text())
    todo = [t for t in found if t[0] not in batch.rows]
    if not quiet:
        print(f"grading {len(todo)} submission(s) ({len(batch.rows)} already done) with {jobs} job(s)")
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = {pool.submit(_guarded, batch, *t): t[0] for t in todo}
        for fut in as_completed(futures):
            r = fut.result()
            if not quiet:
                print(f"  {r['id']}: {r['status']} {r['total']}/{r['maximum']} {r['reason'][:100]}")
    except BaseException:
        sandbox.abort_all()          # an abort kills the running sandboxes at once
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    store.atomic_write(batch.out / "warnings.txt", "".join(w + "\n" for w in batch.warnings))
    store.atomic_write(batch.out / "timings.json", json.dumps(batch.timings, indent=1, sort_keys=True))
    report.write_report(batch.out, batch.rows, _maxima(batch), batch.warnings, batch.isolation(),
                        batch.limits_text())
    return batch.rows


def _guarded(batch, sid, path, shown):
    """grade_one, but a bug on the host for one submission becomes its row, not a crashed batch."""
    try:
        return grade_one(batch, sid, path, shown)
    except Exception as e:  # noqa: BLE001
        if sandbox.STOPPING.is_set():
            raise
        sub = inputs.Submission(sid, Path(path), file=shown)
        return batch.finish(sub, "", verdict.Verdict("crashed", f"the grader failed on this submission: "
                                                               f"{type(e).__name__}: {verdict.clean(e, 200)}"))


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m autograder grade", description=__doc__.split("\n")[0])
    p.add_argument("submissions", nargs="+", help=".ipynb files, grader.export zips, or folders")
    p.add_argument("--out", required=True, help="output folder (grades.csv, results/, feedback/, report.html)")
    p.add_argument("--assignment", help="grade everything against this assignment (default: from metadata)")
    p.add_argument("--dist", default=str(DIST), help="folder with <assignment>.zip autograders")
    p.add_argument("--jobs", type=int, default=2, help="submissions graded at once (default 2)")
    p.add_argument("--timeout", type=float, default=600, help="seconds to run one submission's cells (600)")
    p.add_argument("--judge-timeout", type=float, default=120, help="seconds for its tests (120)")
    p.add_argument("--memory", type=float, default=4, help="GB of memory per submission (default 4)")
    p.add_argument("--pids", type=int, default=256, help="processes and threads per submission (256)")
    p.add_argument("--disk", type=int, default=512, help="MB of disk per submission (default 512)")
    p.add_argument("--output", type=float, default=8, help="MB of printed output per submission (8)")
    p.add_argument("--shard", type=shard.parse, metavar="I/N",
                   help="grade only shard I of N (a stable hash of each id) into --out; then `merge` (docs/grading.md)")
    p.add_argument("--wait", type=float, default=0, help="seconds to wait for another grader's lock on --out")
    p.add_argument("--trusted", action="store_true",
                   help="grade without a sandbox where bubblewrap is missing (only for trusted submissions)")
    p.add_argument("--no-sandbox", action="store_true", help="skip bubblewrap even where it works (needs --trusted)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    limits = sandbox.Limits(timeout=args.timeout, judge_timeout=args.judge_timeout, memory_gb=args.memory,
                            pids=args.pids, disk_mb=args.disk, output_mb=args.output)
    start = time.monotonic()
    try:
        rows = grade(args.submissions, Path(args.out), args.assignment, args.jobs, limits, Path(args.dist),
                     False if args.no_sandbox else None, trusted=args.trusted, wait=args.wait,
                     shard_spec=args.shard)
    except store.Busy as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{len(rows)} rows in {Path(args.out) / 'grades.csv'} ({time.monotonic() - start:.0f} s); "
          f"report: {Path(args.out) / 'report.html'}")
    return 0
