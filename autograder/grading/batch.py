"""``python -m autograder grade SUBMISSION... --out DIR``: sandboxed parallel batch grading.

This module is the batch itself: its state (``Batch``: templates, finished rows, the work
folder, the isolation), resume, the pool, signals, ``grade_one`` (one submission's trip) and
the command line. Each submission (``.ipynb``, a ``grader.export`` zip, or a folder of either)
is analysed, then graded in two stages run at the same time (``stages.py``):

1. *run*: the student's cells, as the student would run them, with the public
   tests only (``programs/driver.py``); it decides the limit statuses and the errors
   shown in the feedback, never the score;
2. *judge*: a fresh process that receives otter's tests through stdin and
   runs them, with otter's scoring, against the graded definitions only
   (``programs/judge.py``); its result is the score, clamped by the host. It is
   stopped, and its result discarded, when the run stage hits a limit or crashes.

Results land in DIR: ``grades.csv`` (one row per submission, written as each
finishes, atomically; a restarted batch skips finished rows),
``results/<id>.json`` (otter's Gradescope results), ``feedback/<id>.html``,
``report.html``, ``warnings.txt`` and ``timings.json`` (seconds, CPU seconds
and peak memory of each stage, per submission). A lock file stops a second grader from
writing to the same DIR.
"""

import argparse
import dataclasses
import os
import platform
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from .. import DIST
from . import inputs, manual, report, sandbox, shard, stages, store, verdict
from .assignment import load_template
from .stages import PROGRAMS

WORK_PREFIX = "ptm-grade-"


class Batch:
    """Shared state of one grading run: templates per assignment, finished rows, the work folder."""

    def __init__(
        self,
        out,
        *,
        dist=DIST,
        assignment=None,
        limits=None,
        use_bwrap=None,
        trusted=False,
        nobody=False,
        templates=None,
    ):
        self.out, self.dist, self.assignment = Path(out), Path(dist), assignment
        self.limits = limits or sandbox.Limits()
        ok, why = sandbox.bwrap_status()
        # the isolation is resolved once, here: every stage of the batch is told which
        # (sandbox.Isolation)
        bwrap = ok if use_bwrap is None else use_bwrap and ok
        self.mode = sandbox.Isolation.BUBBLEWRAP if bwrap else sandbox.Isolation.TRUSTED
        self.warnings = []
        if not bwrap and nobody:
            if os.geteuid() != 0 or not shutil.which("setpriv"):
                raise SystemExit(
                    "--no-namespaces needs root and setpriv (util-linux) to run student code "
                    "as users of their own"
                )
            self.mode = sandbox.Isolation.NO_NAMESPACES
            self.warnings.append(
                f"no namespaces ({why or 'disabled'}): student code runs as a user of its own per "
                f"stage, under the seccomp filter, but shares the machine's network, process list, "
                f"/tmp and world-readable files (docs: threat model)"
            )
        elif not bwrap:
            if not trusted:
                raise SystemExit(
                    f"refusing to grade without a sandbox: {why or 'disabled'}. Install "
                    f"bubblewrap and run as root, pass --no-namespaces (root: student code as "
                    f"users of its own, no namespaces), or --trusted if you trust every submission "
                    f"(docs: threat model)"
                )
            self.warnings.append(
                f"--trusted: no sandbox ({why or 'disabled'}); student code runs as "
                f"{os.getenv('USER') or os.geteuid()} with the grader's view of the disk"
            )
        cg_ok, cg_why = sandbox.cgroup_status()
        if not cg_ok:
            self.warnings.append(cg_why)
        if self.mode is not sandbox.Isolation.TRUSTED and sandbox.filter_program() is None:
            self.warnings.append(
                f"no seccomp filter on {platform.machine()} (its system call numbers are "
                f"written for "
                f"x86-64 only): student code may use the kernel keyrings and the other calls "
                f"grading/seccomp.py denies"
            )
        # assignment names come only from the built zips, and are never used as paths
        self.known = {p.stem: p for p in sorted(self.dist.glob("*.zip")) if p.is_file()}
        self.preset = dict(templates or {})
        self.known.update({name: None for name in self.preset})
        sweep_stale()
        # the owner is in the name, so no other grader's sweep ever sees this folder without one
        self.work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-"))
        self.public = None
        if self.mode is sandbox.Isolation.NO_NAMESPACES:  # stage users reach their folders, never
            # the templates (tests)
            os.chmod(self.work, 0o711)
            for d, mode in (("runs", 0o711), ("templates", 0o700), ("public", 0o755)):
                (self.work / d).mkdir(mode=mode)
                os.chmod(self.work / d, mode)
            self.public = self.work / "public"
            for name in ("driver.py", "worker.py", "wire.py"):
                shutil.copy2(PROGRAMS / name, self.public / name)
                os.chmod(self.public / name, 0o644)
        store.make_folders(self.out)
        self.rows = store.rows(self.out)
        self.lock, self.templates, self.counter = threading.Lock(), {}, 0
        self.timings = store.timings(self.out)

    def program(self, name):
        """Where a stage's program lies for the user it runs as (a world-readable copy in
        --no-namespaces)."""
        return (self.public or PROGRAMS) / name

    def isolation(self):
        if self.mode is sandbox.Isolation.BUBBLEWRAP:
            return (
                "bubblewrap sandbox, student code as a user of its own per stage under a seccomp "
                "filter, results through a private pipe"
            )
        if self.mode is sandbox.Isolation.NO_NAMESPACES:
            return (
                "student code as a user of its own per stage under a seccomp filter, without "
                "namespaces (no bubblewrap): tests and results "
                "root-only, network, process list and world-readable files shared"
            )
        return "NONE (--trusted): student code runs unsandboxed as the grader's user"

    def limits_text(self):
        lim = self.limits
        cg = "cgroup" if sandbox.cgroup_status()[0] else "per process (no cgroup)"
        return (
            f"{lim.timeout:g} s to run, {lim.judge_timeout:g} s to judge, "
            f"{lim.memory_gb:g} GB memory ({cg}), {lim.pids} processes, {lim.disk_mb} MB disk, "
            f"{lim.output_mb:g} MB output"
        )

    def template_specs(self):
        """{assignment: {params, given, manual}} of every built zip: what the analysis needs to
        pick the graded definitions and read the written answers."""
        return {
            name: {
                "params": sorted(self.template(name).params),
                "given": sorted(self.template(name).given),
                "manual": self.template(name).manual or {},
            }
            for name in self.known
        }

    def template(self, name):
        with self.lock:
            if name not in self.templates:
                if name in self.preset:
                    tpl = self.preset[name]
                else:
                    dest = self.work / "templates" / f"t{len(self.templates)}"
                    dest.mkdir(parents=True)
                    tpl = load_template(self.known[name], dest)
                if self.public is not None:  # the support files, world-readable for stage users
                    copy = self.public / f"support-{len(self.templates)}"
                    shutil.copytree(tpl.files, copy)
                    for d in [copy, *copy.rglob("*")]:
                        os.chmod(d, 0o755 if d.is_dir() else 0o644)
                    tpl = dataclasses.replace(tpl, support=[(copy / n, n) for _, n in tpl.support])
                self.templates[name] = tpl
                store.save_maxima(self.out, name, tpl.maxima())
                if tpl.manual:
                    store.save_manifest(self.out, name, tpl.manual)
            return self.templates[name]

    def finish(self, sub, name, v, seconds=0.0):
        """Save what was decided and render its pages, then commit the row (the CSV is the
        commit point)."""
        row = {
            "id": sub.id,
            "file": verdict.clean(sub.file, 300),
            "assignment": name or "",
            "status": v.status,
            "reason": v.reason,
            "flags": verdict.clean("; ".join(v.flags), 300),
            "seconds": f"{seconds:.1f}",
            "total": "0",
            "maximum": "",
            "sha256": sub.sha256,
            "autograder": self.fingerprint(name),
        }
        points = v.questions
        if points:
            row["maximum"] = f"{sum(p for _, p in points.values()):g}"
        if v.questions is not None:
            for q, (s, _) in v.questions.items():
                row[q if q not in row else f"q_{q}"] = f"{s:g}"
            row["total"] = f"{sum(s for s, _ in v.questions.values()):g}"
        specs = (self.templates.get(name).manual if name in self.templates else None) or {}
        old = self.rows.get(sub.id)
        if specs and v.questions is not None:  # written questions: a person scores them (manual.py)
            answers = manual.sanitize(sub.manual, specs)
            manual.fill_row(row, specs, answers)
            if old and old.get("sha256") == sub.sha256:  # the same file: the TA's scores still hold
                manual.keep_scores(row, old, specs)
            store.save_answers(self.out, sub.id, answers)
        if (
            old and old.get("sha256") != sub.sha256
        ):  # another file at this path: its notes were not on it
            with self.lock:
                notes = store.read_notes(self.out)
                if notes.pop(sub.id, None) is not None:
                    store.write_notes(self.out, notes)
        store.save_verdict(self.out, sub.id, v)
        report.render_submission(self.out, row, specs)
        with self.lock:
            self.rows[sub.id] = row
            store.save_rows(self.out, self.rows)
        return row

    def fingerprint(self, name):
        """The fingerprint of assignment ``name``'s tests and points (``""`` for none, None when its
        zip is gone); ``grades.csv`` keeps it per row."""
        if not name:
            return ""
        if name not in self.known:
            return None
        return self.template(name).fingerprint()

    def reusable(self, sub_id, path):
        """A finished row is reused only for the same file (its id and content hash) graded by the
        same autograder (its tests and points); anything else is graded again."""
        row = self.rows.get(sub_id)
        return bool(
            row
            and row.get("sha256")
            and row["sha256"] == inputs.content_hash(path)
            and row.get("autograder", "") == self.fingerprint(row.get("assignment", ""))
        )

    def record_timing(self, sub_id, **stages):
        """Seconds, CPU seconds and peak memory of each stage that counted (``timings.json``)."""
        entry = {
            name: {
                "seconds": round(o.seconds, 2),
                "cpu_seconds": None if o.cpu_seconds is None else round(o.cpu_seconds, 2),
                "peak_mb": None if o.peak_memory is None else o.peak_memory >> 20,
            }
            for name, o in stages.items()
            if o is not None
        }
        with self.lock:
            self.timings[sub_id] = entry

    def run_dir(self, sub_id, stage):
        with self.lock:
            self.counter += 1
            return self.work / "runs" / f"{self.counter}-{stage}"


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


def _refusal(batch, sub, name):
    """The Verdict of a submission that cannot be graded against ``name``, or None."""
    if sub.problem:
        return verdict.Verdict("invalid", sub.problem)
    if name is None:
        return verdict.Verdict(
            "invalid",
            "cannot detect the assignment: the notebook has no metadata.otter.assignment_name; "
            "pass --assignment NAME",
        )
    if name not in batch.known:
        built = ", ".join(batch.known) or f"none in {batch.dist}: run python -m autograder build"
        return verdict.Verdict(
            "wrong-assignment",
            f"assignment {verdict.clean(repr(name), 80)} is not one of the built autograders "
            f"({built})",
        )
    if batch.assignment and sub.assignment != batch.assignment:
        if sub.assignment:
            mine = verdict.clean(repr(sub.assignment), 80)
            why = f"notebook is for assignment {mine}, not '{batch.assignment}'"
        else:
            why = (
                f"notebook has no otter assignment metadata, so it cannot be checked "
                f"against '{name}'"
            )
        return verdict.Verdict("wrong-assignment", why)
    return None


def grade_one(batch, sub_id, path, shown=None):
    """Grade one submission end to end and commit its row."""
    sub, data = inputs.read(sub_id, path, shown)
    sub.sha256 = inputs.content_hash(path)
    flags, definitions = [], []
    if not sub.problem:
        sub, definitions, flags = stages.analyze(batch, sub, data)
    name = batch.assignment or sub.assignment
    refused = _refusal(batch, sub, name)
    if refused is not None:
        return batch.finish(sub, name if name in batch.known else "", refused)
    tpl = batch.template(name)
    start = time.monotonic()
    ran = threading.Event()  # the judge's hidden cases wait for the run stage to end
    judging = _Background(lambda cancel: stages.judge(batch, sub, tpl, definitions, cancel, ran))
    try:
        run = stages.run(batch, sub, tpl)
    except BaseException:
        judging.cancel()
        judging.thread.join()
        raise
    finally:
        ran.set()
    early, _, _ = verdict.stage_one(run, sub.cells, tpl.secrets, batch.limits)
    if early is not None:
        judging.cancel()  # a limit or a crash decided the status: the judge's result is not used
    judge = judging.result()
    v = verdict.decide(
        run,
        judge if early is None else None,
        sub.cells,
        tpl,
        list(dict.fromkeys(flags)),
        batch.limits,
    )
    batch.record_timing(sub.id, run=run, judge=judge if early is None else None)
    return batch.finish(sub, name, v, time.monotonic() - start)


def work_owner(d):
    """The process id of the grader that made work folder ``d`` (``ptm-grade-<pid>-<random>``), or
    None for a name that carries none."""
    pid = Path(d).name[len(WORK_PREFIX) :].split("-")[0]
    return int(pid) if pid.isdigit() else None


def sweep_stale():
    """Remove work folders of graders that died (kill -9): they may hold hidden tests."""
    for d in Path(tempfile.gettempdir()).glob(f"{WORK_PREFIX}*"):
        owner = work_owner(d)
        if owner is not None:
            try:
                os.kill(owner, 0)
                continue  # its grader is alive
            except PermissionError:
                continue  # alive, and another user's: not ours to remove
            except OSError:
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


def grade(
    paths,
    out,
    *,
    assignment=None,
    jobs=2,
    limits=None,
    dist=DIST,
    use_bwrap=None,
    quiet=False,
    trusted=False,
    wait=0.0,
    nobody=False,
    templates=None,
    shard_spec=None,
    force=False,
):
    """Grade every submission under ``paths`` (or shard ``shard_spec`` = (I, N) of them) into
    ``out``; returns the rows by id."""
    Path(out).mkdir(parents=True, exist_ok=True)
    with store.OutLock(out, wait):
        batch = Batch(
            out,
            dist=dist,
            assignment=assignment,
            limits=limits,
            use_bwrap=use_bwrap,
            trusted=trusted,
            nobody=nobody,
            templates=templates,
        )
        old = (
            {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
            if threading.current_thread() is threading.main_thread()
            else {}
        )
        for s in old:
            signal.signal(s, _interrupted)
        try:
            return _grade(batch, paths, jobs, quiet, shard_spec, force)
        finally:
            _remove_work(batch.work)
            for s, h in old.items():
                signal.signal(s, h)


def _interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _grade(batch, paths, jobs, quiet, shard_spec=None, force=False):
    for w in batch.warnings:
        print(f"warning: {w}", file=sys.stderr)
    try:
        found = inputs.collect(paths)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    found = shard.select(found, shard_spec, batch.out, batch.isolation(), batch.limits_text())
    # a finished row is reused only for the same file graded by the same tests and points
    todo = [t for t in found if force or not batch.reusable(t[0], t[1])]
    if not quiet:
        again = sum(t[0] in batch.rows for t in todo)
        print(
            f"grading {len(todo)} submission(s) ({len(found) - len(todo)} already done"
            + (
                f"; {again} again: {'--force' if force else 'a changed file or autograder'}"
                if again
                else ""
            )
            + f") with {jobs} job(s)"
        )
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = {pool.submit(_guarded, batch, *t): t[0] for t in todo}
        for fut in as_completed(futures):
            r = fut.result()
            if not quiet:
                print(f"  {r['id']}: {r['status']} {r['total']}/{r['maximum']} {r['reason'][:100]}")
    except BaseException:
        sandbox.abort_all()  # an abort kills the running sandboxes at once
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    store.save_warnings(batch.out, batch.warnings)
    store.save_timings(batch.out, batch.timings)
    store.save_context(batch.out, batch.warnings, batch.isolation(), batch.limits_text())
    report.render_report(batch.out)
    return batch.rows


def _guarded(batch, sid, path, shown):
    """grade_one, but a bug on the host for one submission becomes its row, not a crashed batch."""
    try:
        return grade_one(batch, sid, path, shown)
    except Exception as e:  # noqa: BLE001
        if sandbox.STOPPING.is_set():
            raise
        sub = inputs.Submission(sid, Path(path), file=shown, sha256=inputs.content_hash(path))
        return batch.finish(
            sub,
            "",
            verdict.Verdict(
                "crashed",
                f"the grader failed on this submission: "
                f"{type(e).__name__}: {verdict.clean(e, 200)}",
            ),
        )


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python -m autograder grade", description=__doc__.split("\n")[0]
    )
    p.add_argument("submissions", nargs="+", help=".ipynb files, grader.export zips, or folders")
    p.add_argument(
        "--out", required=True, help="output folder (grades.csv, results/, feedback/, report.html)"
    )
    p.add_argument(
        "--assignment", help="grade everything against this assignment (default: from metadata)"
    )
    p.add_argument("--dist", default=str(DIST), help="folder with <assignment>.zip autograders")
    p.add_argument("--jobs", type=int, default=2, help="submissions graded at once (default 2)")
    p.add_argument(
        "--timeout", type=float, default=600, help="seconds to run one submission's cells (600)"
    )
    p.add_argument("--judge-timeout", type=float, default=120, help="seconds for its tests (120)")
    p.add_argument(
        "--memory", type=float, default=4, help="GB of memory per submission (default 4)"
    )
    p.add_argument(
        "--pids", type=int, default=256, help="processes and threads per submission (256)"
    )
    p.add_argument("--disk", type=int, default=512, help="MB of disk per submission (default 512)")
    p.add_argument(
        "--output", type=float, default=8, help="MB of printed output per submission (8)"
    )
    p.add_argument(
        "--shard",
        type=shard.parse,
        metavar="I/N",
        help="grade only shard I of N (a stable hash of each id) into --out; then `merge` "
        "(docs/grading.md)",
    )
    p.add_argument(
        "--wait", type=float, default=0, help="seconds to wait for another grader's lock on --out"
    )
    p.add_argument(
        "--trusted",
        action="store_true",
        help="grade without a sandbox where bubblewrap is missing (only for trusted submissions)",
    )
    p.add_argument(
        "--no-sandbox",
        action="store_true",
        help="skip bubblewrap even where it works (needs --trusted or --no-namespaces)",
    )
    p.add_argument(
        "--no-namespaces",
        action="store_true",
        help="where bubblewrap cannot work (Gradescope): student code as users of its own, "
        "without namespaces",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="grade every submission again, even those already graded with the same file and "
        "autograder "
        "(the TA's scores of unchanged files are kept)",
    )
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    limits = sandbox.Limits(
        timeout=args.timeout,
        judge_timeout=args.judge_timeout,
        memory_gb=args.memory,
        pids=args.pids,
        disk_mb=args.disk,
        output_mb=args.output,
    )
    start = time.monotonic()
    try:
        rows = grade(
            args.submissions,
            Path(args.out),
            assignment=args.assignment,
            jobs=args.jobs,
            limits=limits,
            dist=Path(args.dist),
            use_bwrap=False if args.no_sandbox else None,
            trusted=args.trusted,
            wait=args.wait,
            nobody=args.no_namespaces,
            shard_spec=args.shard,
            force=args.force,
        )
    except store.Busy as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        f"{len(rows)} rows in {Path(args.out) / 'grades.csv'} ({time.monotonic() - start:.0f} s); "
        f"report: {Path(args.out) / 'report.html'}"
    )
    return 0
