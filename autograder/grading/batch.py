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
import base64
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
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from .. import DIST, NOTEBOOKS, solution_path
from . import inputs, manual, report, sandbox, shard, store, tamper, verdict

WORK_PREFIX = "ptm-grade-"
HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"  # run in processes of their own (programs/__init__.py)


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
    files: Path = None   # the zip's files/ folder (utils/): on the judge's path, bound into every sandbox
    manual: dict = None  # {question: spec} of the written questions read by a person (manual.json; manual.py)


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
    return load_folder(dest, dest / "public-tests", _given_cells(Path(zip_path).stem, Path(zip_path).parent))


def load_folder(dest, public, given=None):
    """The assignment in an unpacked autograder zip ``dest`` (Gradescope's ``/autograder/source``)."""
    tests, secrets, params = {}, set(), set()
    public.mkdir(parents=True, exist_ok=True)
    for p in sorted((dest / "tests").glob("*.py")):
        text = p.read_text(encoding="utf-8")
        tests[p.name] = text
        kept, hidden, names = tamper.split_tests(text)
        (public / p.name).write_text(kept, encoding="utf-8")
        secrets |= hidden
        params |= names
    config = json.loads((dest / "otter_config.json").read_text()) if (dest / "otter_config.json").exists() else {}
    config.pop("token", None)
    stem = config.get("assignment_name") or dest.name
    if given is None and (dest / "given_cells.json").is_file():
        given = frozenset(json.loads((dest / "given_cells.json").read_text(encoding="utf-8")))
    specs = json.loads((dest / manual.MANIFEST).read_text(encoding="utf-8")) \
        if (dest / manual.MANIFEST).is_file() else {}
    files = dest / "files"
    support = [(p, p.name) for p in sorted(files.iterdir())] if files.is_dir() else []
    return Template(stem, tests, public, support, _possible(tests), secrets, params - {"env", "grading_seed"},
                    config, given or frozenset(), files, specs)


class Batch:
    """Shared state of one grading run: templates per assignment, finished rows, the work folder."""

    def __init__(self, out, dist=DIST, assignment=None, limits=None, use_bwrap=None, trusted=False, nobody=False,
                 templates=None):
        self.out, self.dist, self.assignment = Path(out), Path(dist), assignment
        self.limits = limits or sandbox.Limits()
        ok, why = sandbox.bwrap_status()
        self.use_bwrap = ok if use_bwrap is None else use_bwrap and ok
        self.warnings = []
        if not self.use_bwrap and nobody:
            if os.geteuid() != 0 or not shutil.which("setpriv"):
                raise SystemExit("--no-namespaces needs root and setpriv (util-linux) to run student code as nobody")
            self.use_bwrap = "nobody"
            self.warnings.append(f"no namespaces ({why or 'disabled'}): student code runs as nobody, but shares the "
                                 f"machine's network, process list, /tmp and world-readable files (docs: threat model)")
        elif not self.use_bwrap:
            if not trusted:
                raise SystemExit(f"refusing to grade without a sandbox: {why or 'disabled'}. Install "
                                 f"bubblewrap and run as root, pass --no-namespaces (root: student code as nobody, "
                                 f"no namespaces), or --trusted if you trust every submission (docs: threat model)")
            self.warnings.append(f"--trusted: no sandbox ({why or 'disabled'}); student code runs as "
                                 f"{os.getenv('USER') or os.geteuid()} with the grader's view of the disk")
        cg_ok, cg_why = sandbox.cgroup_status()
        if not cg_ok:
            self.warnings.append(cg_why)
        # assignment names come only from the built zips, and are never used as paths
        self.known = {p.stem: p for p in sorted(self.dist.glob("*.zip")) if p.is_file()}
        self.preset = dict(templates or {})
        self.known.update({name: None for name in self.preset})
        sweep_stale()
        self.work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX))
        (self.work / "owner").write_text(str(os.getpid()))
        self.public = None
        if self.use_bwrap == "nobody":      # nobody must reach its folders, never the templates (tests)
            os.chmod(self.work, 0o711)
            for d, mode in (("runs", 0o711), ("templates", 0o700), ("public", 0o755)):
                (self.work / d).mkdir(mode=mode)
                os.chmod(self.work / d, mode)
            self.public = self.work / "public"
            for name in ("driver.py", "worker.py", "wire.py"):
                shutil.copy2(PROGRAMS / name, self.public / name)
                os.chmod(self.public / name, 0o644)
        for sub in ("results", "feedback"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        self.rows = store.read_rows(self.out / "grades.csv")
        self.lock, self.templates, self.counter = threading.Lock(), {}, 0
        self.timings = _read_json(self.out / "timings.json")

    def program(self, name):
        """Where a stage's program lies for the user it runs as (a world-readable copy in --no-namespaces)."""
        return (self.public or PROGRAMS) / name

    def isolation(self):
        if self.use_bwrap is True:
            return "bubblewrap sandbox, student code as nobody, results through a private pipe"
        if self.use_bwrap == "nobody":
            return ("student code as nobody without namespaces (no bubblewrap): tests and results root-only, "
                    "network, process list and world-readable files shared")
        return "NONE (--trusted): student code runs unsandboxed as the grader's user"

    def limits_text(self):
        lim = self.limits
        cg = "cgroup" if sandbox.cgroup_status()[0] else "per process (no cgroup)"
        return (f"{lim.timeout:g} s to run, {lim.judge_timeout:g} s to judge, {lim.memory_gb:g} GB memory ({cg}), "
                f"{lim.pids} processes, {lim.disk_mb} MB disk, {lim.output_mb:g} MB output")

    def template_specs(self):
        """{assignment: {params, given}} of every built zip: what the analysis needs to pick definitions."""
        return {name: {"params": sorted(self.template(name).params), "given": sorted(self.template(name).given),
                       "manual": self.template(name).manual or {}}
                for name in self.known}

    def template(self, name):
        with self.lock:
            if name not in self.templates:
                if name in self.preset:
                    tpl = self.preset[name]
                else:
                    dest = self.work / "templates" / f"t{len(self.templates)}"
                    dest.mkdir(parents=True)
                    tpl = load_template(self.known[name], dest)
                if self.public is not None:     # the support files, world-readable for nobody
                    copy = self.public / f"support-{len(self.templates)}"
                    shutil.copytree(tpl.files, copy)
                    for d in [copy, *copy.rglob("*")]:
                        os.chmod(d, 0o755 if d.is_dir() else 0o644)
                    tpl = dataclasses.replace(tpl, support=[(copy / n, n) for _, n in tpl.support])
                self.templates[name] = tpl
                if tpl.manual:
                    manual.save_manifest(self.out, name, tpl.manual)
            return self.templates[name]

    def finish(self, sub, name, v, seconds=0.0, gradescope=None):
        """Write results and feedback, then commit the row (the CSV is the commit point)."""
        row = {"id": sub.id, "file": verdict.clean(sub.file, 300), "assignment": name or "",
               "status": v.status, "reason": v.reason, "flags": verdict.clean("; ".join(v.flags), 300),
               "seconds": f"{seconds:.1f}", "total": "0", "maximum": "", "sha256": sub.sha256}
        points = v.questions
        if points:
            row["maximum"] = f"{sum(p for _, p in points.values()):g}"
        if v.questions is not None:
            for q, (s, _) in v.questions.items():
                row[q if q not in row else f"q_{q}"] = f"{s:g}"
            row["total"] = f"{sum(s for s, _ in v.questions.values()):g}"
        specs = (self.templates.get(name).manual if name in self.templates else None) or {}
        if specs and v.questions is not None:     # written questions: a person scores them (manual.py)
            answers = manual.sanitize(sub.manual, specs)
            manual.fill_row(row, specs, answers)
            (self.out / "answers").mkdir(exist_ok=True)
            store.atomic_write(self.out / "answers" / f"{sub.id}.json", json.dumps(answers, indent=1))
        if gradescope is not None:
            store.atomic_write(self.out / "results" / f"{sub.id}.json", json.dumps(gradescope, indent=1)[:4 << 20])
        report.write_feedback(self.out / "feedback" / f"{sub.id}.html", row, v, specs)
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
sys.modules.setdefault("rfc3987_syntax", None)   # grader: skip jsonschema's IRI grammar (slow to build, unused)
"""


def _layout(root, uid=None):
    """The stage's folders. Root writes everything first; ``_hand_over`` gives them to the stage's user last."""
    for d in ("submission", "home", "tmp"):
        (root / d).mkdir(mode=0o700, exist_ok=True)
    startup = root / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-grader.py").write_text(KERNEL_STARTUP)   # root-owned: read-only for the student
    if uid:
        _hand_over(root, ["submission", "home", "tmp"], uid)


def _hand_over(root, names, uid):
    """chown the stage's own folders (and what root laid out in them) to ``uid``, never following a link:
    called when root is done writing there, so root never writes inside a folder another user owns."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for name in names:
            top = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            try:
                _chown_tree(top, uid)
            finally:
                os.close(top)
    finally:
        os.close(fd)


def _chown_tree(dirfd, uid):
    os.fchown(dirfd, uid, uid)
    os.fchmod(dirfd, 0o700)
    for entry in os.scandir(dirfd):
        if entry.is_symlink():
            continue
        if entry.is_dir(follow_symlinks=False):
            sub = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dirfd)
            try:
                _chown_tree(sub, uid)
            finally:
                os.close(sub)
        else:
            os.chown(entry.name, uid, uid, dir_fd=dirfd, follow_symlinks=False)


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


WORKER_FILES = ("worker.py", "wire.py")


def worker_spec(tpl, root, use_bwrap, limits=None, cgroup=None, program=None, user=None):
    """How the judge starts a worker: the command line (sandboxed as the stage's ``user`` where a sandbox is
    used, under the seccomp filter), env, folder."""
    limits = limits or sandbox.Limits()
    for d in ("submission", "home", "tmp"):
        (root / d).mkdir(mode=0o700, parents=True, exist_ok=True)
    env = sandbox.stage_env("/autograder/home")
    cgroups = cgroup.cpu_dirs() if cgroup else []
    uid = user.uid if user is not None else sandbox.NOBODY
    bpf = sandbox.filter_program() if use_bwrap in (True, "nobody") else None
    seal = {"seccomp": base64.b64encode(bpf).decode()} if bpf else {}
    if use_bwrap is True:
        _hand_over(root, ["submission", "home", "tmp"], uid)
        binds = [(host, f"/autograder/submission/{n}") for host, n in tpl.support]
        binds += [(PROGRAMS / f, f"/grader/{f}") for f in WORKER_FILES]
        argv = sandbox.bwrap_argv(root, binds, env, [sandbox._python(), "-I", "/grader/worker.py"], limits, uid,
                                  "{seccomp_fd}" if bpf else None)
        return {"argv": argv, "env": {"PATH": "/usr/bin:/bin"}, "cwd": "/", "cgroups": cgroups, **seal}
    for host, name in tpl.support:      # root lays out first ...
        target = root / "submission" / name
        if not target.exists():
            target.symlink_to(host)
    if use_bwrap == "nobody":           # ... and hands over last
        _hand_over(root, ["submission", "home", "tmp"], uid)
    env.update(HOME=str(root / "home"), PTM_CACHE=str(root / "tmp" / "cache"), MPLCONFIGDIR=str(root / "tmp" / "mpl"),
               PTM_RESULTS=str(root / "tmp" / "results.json"))
    argv = [sandbox._python(), "-I", str(program or PROGRAMS / "worker.py")]
    return {"argv": sandbox.setpriv_argv(argv, uid) if use_bwrap == "nobody" else argv, "env": env,
            "cwd": str(root / "submission"), "cgroups": cgroups, **seal}


def judge_payload(tpl, definitions, root, use_bwrap, limits=None, cgroup=None, seed=None, program=None, user=None):
    """What the judge reads on stdin: the tests, the graded definitions, how to start workers."""
    limits = limits or sandbox.Limits()
    return {"tests": tpl.tests, "definitions": definitions, "support": str(tpl.files) if tpl.files else "",
            "worker": worker_spec(tpl, Path(root) / "worker", use_bwrap, limits, cgroup, program, user),
            "seed": int.from_bytes(os.urandom(4), "little") if seed is None else seed,
            "call_timeout": limits.judge_timeout}


def _judge(batch, sub, tpl, definitions, cancel=None, ran=None):
    """The judge stage: the trusted judge on the host (limited), its workers sandboxed as a user of their own.

    ``ran`` (an Event, set when the run stage has ended) opens the judge's gate: its hidden cases start only
    then, so nothing the workers are shown there can reach the student's run stage."""
    root = batch.run_dir(sub.id, "judge")
    mounted = sandbox.mount_workdir(root, batch.limits)
    cgroup = sandbox.Cgroup(f"worker-{os.getpid()}-{time.monotonic_ns()}", batch.limits) \
        if sandbox.cgroup_status()[0] else None
    user = sandbox.StageUser() if batch.use_bwrap else None
    gate_r = gate_w = None
    try:
        _layout(root)
        payload = judge_payload(tpl, definitions, root, batch.use_bwrap, batch.limits, cgroup,
                                program=batch.program("worker.py"), user=user)
        fds, wall = (), None
        if ran is not None:
            gate_r, gate_w = os.pipe()
            payload["gate_fd"], fds = gate_r, (gate_r,)
            wall = _stage_wall(batch.limits.judge_timeout) + _stage_wall(batch.limits.timeout)
            threading.Thread(target=_open_gate, args=(ran, cancel, gate_w), daemon=True).start()
            gate_w = None       # the thread owns it now
        outcome = sandbox.run_stage("judge", root, [], [str(PROGRAMS / "judge.py")], batch.limits,
                                    batch.limits.judge_timeout, False, json.dumps(payload).encode(),
                                    cancel=cancel, watch=lambda: sandbox.disk_full(root, mounted) or (
                                        cgroup is not None and cgroup.breaches()),
                                    extra_cpu=cgroup.cpu_seconds if cgroup is not None else None,
                                    pass_fds=fds, wall=wall)
        if cgroup is not None:
            outcome.breaches.update(cgroup.breaches())
            worker_cpu = cgroup.cpu_seconds()
            if worker_cpu is not None and outcome.cpu_seconds is not None:
                outcome.cpu_seconds += worker_cpu
        disk = sandbox.disk_full(root, mounted)
        if disk:
            outcome.breaches.setdefault("disk", disk)
        return outcome
    finally:
        for fd in (gate_r, gate_w):
            if fd is not None:
                os.close(fd)
        if cgroup is not None:
            cgroup.kill_all()
            cgroup.remove()
        if user is not None:
            user.release()
        sandbox.unmount_workdir(root, mounted)


def _stage_wall(timeout):
    return sandbox.backstop(timeout) if sandbox.cgroup_status()[0] else timeout


def _open_gate(ran, cancel, fd):
    """Tell the judge the run stage has ended (or the judge is being cancelled): its hidden cases may start."""
    try:
        while not ran.wait(0.2):
            if cancel is not None and cancel.is_set():
                break
        os.write(fd, b"1")
    except OSError:
        pass        # the judge has ended already
    finally:
        os.close(fd)


def _stage(batch, sub, tpl, cancel=None):
    """The run stage: the student's notebook, cell by cell, with the public tests only (``driver.py``)."""
    root = batch.run_dir(sub.id, "run")
    mounted = sandbox.mount_workdir(root, batch.limits)
    user = sandbox.StageUser() if batch.use_bwrap else None
    try:
        _layout(root)          # root lays out everything first ...
        binds = [(host, f"/autograder/submission/{n}") for host, n in tpl.support]
        nb = root / "submission" / sub.nb_name
        nb.write_bytes(sub.nb_bytes)
        tests = root / "submission" / "tests"
        shutil.copytree(tpl.public, tests / tpl.name)   # where the setup cell's grader looks: tests/<notebook>/
        if batch.use_bwrap is not True:     # no bind mounts: the support files in place as links
            for host, name in tpl.support:
                (root / "submission" / name).symlink_to(host)
        if user is not None:   # ... and hands the stage's folders to its user last, following no link
            _hand_over(root, ["submission", "home", "tmp"], user.uid)
            for d in (root / "ipython", root / "ipython" / "profile_default"):   # IPython writes its history
                os.chown(d, user.uid, user.uid, follow_symlinks=False)
        if batch.use_bwrap is True:
            binds.append((PROGRAMS / "driver.py", "/grader/driver.py"))
            argv = ["/grader/driver.py", f"/autograder/submission/{sub.nb_name}"]
        else:
            argv = [str(batch.program("driver.py")), str(nb)]
        argv.append(str(int(batch.limits.output_mb * (1 << 20))))
        outcome = sandbox.run_stage("run", root, binds, argv, batch.limits, batch.limits.timeout, batch.use_bwrap,
                                    cancel=cancel, watch=lambda: sandbox.disk_full(root, mounted), user=user)
        disk = sandbox.disk_full(root, mounted)
        if disk:
            outcome.breaches.setdefault("disk", disk)
        return outcome
    finally:
        if user is not None:
            user.release()
        sandbox.unmount_workdir(root, mounted)


ANALYSIS = sandbox.Limits(timeout=60, memory_gb=1.5, pids=8, disk_mb=16, output_mb=1)


def _analyze(batch, sub, data):
    """(sub, graded definitions, flags) from the analysis subprocess; an overrun is the submission's problem."""
    request = {"assignment": batch.assignment, "templates": batch.template_specs()}
    root = batch.run_dir(sub.id, "analyze")
    try:
        root.mkdir(parents=True)
        _layout(root)
        outcome = sandbox.run_stage("analyze", root, [], [str(HERE / "analyze.py")], ANALYSIS, ANALYSIS.timeout,
                                    False, json.dumps(request).encode() + b"\n" + data,
                                    channel_limit=64 << 20)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    try:
        got = json.loads(outcome.channel) if outcome.channel else None
    except (ValueError, RecursionError):
        got = None
    if outcome.kind == "timeout" or not isinstance(got, dict):
        what = (f"ran over {ANALYSIS.timeout:g} s" if outcome.kind == "timeout" else
                "went over its memory limit" if "memory" in outcome.breaches or outcome.returncode else "failed")
        sub.problem = (f"the notebook could not be read within the grader's limits (reading its JSON and code "
                       f"{what}, limit {ANALYSIS.memory_gb:g} GB); is it unusually large?")
        return sub, [], []
    if got.get("problem"):
        sub.problem = verdict.clean(got["problem"], 300)
        return sub, [], []
    sub.assignment = got.get("assignment") if isinstance(got.get("assignment"), str) else None
    sub.nb_name = str(got.get("nb_name") or "submission.ipynb")
    sub.nb_bytes = str(got.get("nb", "")).encode()
    sub.cells = [(int(n), list(tags), str(src)) for n, tags, src in got.get("cells", [])]
    sub.manual = got.get("manual") if isinstance(got.get("manual"), dict) else {}
    definitions = [(int(n), str(src)) for n, src in got.get("definitions", [])]
    return sub, definitions, [str(f) for f in got.get("flags", [])]


def grade_one(batch, sub_id, path, shown=None):
    """Grade one submission end to end and commit its row."""
    sub, data = inputs.read(sub_id, path, shown)
    sub.sha256 = inputs.content_hash(path)
    flags, definitions = [], []
    if not sub.problem:
        sub, definitions, flags = _analyze(batch, sub, data)
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
    start = time.monotonic()
    ran = threading.Event()     # the judge's hidden cases wait for the run stage to end
    judging = _Background(lambda cancel: _judge(batch, sub, tpl, definitions, cancel, ran))
    try:
        run = _stage(batch, sub, tpl)
    except BaseException:
        judging.cancel()
        judging.thread.join()
        raise
    finally:
        ran.set()
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
    """Gradescope's results.json from the clamped scores: per question a visible test for its public cases and
    one for its hidden cases, ``after_published`` (students see it once the instructor publishes grades).
    A written question claims nothing: one 0-point line says it is graded by hand (Gradescope's manually graded
    question of the same name, docs/instructors.md)."""
    tests = []
    specs = tpl.manual or {}
    for q, spec in specs.items():
        tests.append({"name": f"{q} (written answer, graded by hand)", "score": 0, "max_score": 0,
                      "visibility": "visible",
                      "output": f"Worth {spec['points']:g} point(s), scored by a person with the rubric under the "
                                f"question, not by the autograder."})
    for q, (score, possible) in v.questions.items():
        if q in specs:
            continue
        cases = v.cases.get(q, [])
        for hidden in (False, True):
            mine = [c for c in cases if c["hidden"] == hidden]
            if not mine:
                continue
            worth = sum(c["points"] for c in mine)
            got = sum(c["points"] for c in mine if c["passed"])
            lines = [f"{'hidden test' if hidden else c['name']}: {'passed' if c['passed'] else 'failed'}"
                     + (f"\n  {c['hint']}" if not c["passed"] and c["hint"] else "") for c in mine]
            tests.append({"name": f"{q} ({'hidden' if hidden else 'public'} tests)",
                          "score": round(min(got, possible), 6), "max_score": round(min(worth, possible), 6),
                          "visibility": "after_published" if hidden else "visible", "output": "\n".join(lines)})
    return {"tests": tests, "score": round(sum(s for q, (s, _) in v.questions.items() if q not in specs), 6),
            "stdout_visibility": "hidden"}


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
    return {name: {**tpl.possible, **{q: s["points"] for q, s in (tpl.manual or {}).items()}}
            for name, tpl in batch.templates.items()}


def grade(paths, out, assignment=None, jobs=2, limits=None, dist=DIST, use_bwrap=None, quiet=False,
          trusted=False, wait=0.0, nobody=False, templates=None, shard_spec=None):
    """Grade every submission under ``paths`` (or shard ``shard_spec`` = (I, N) of them) into ``out``; rows by id."""
    Path(out).mkdir(parents=True, exist_ok=True)
    with store.OutLock(out, wait):
        batch = Batch(out, dist, assignment, limits, use_bwrap, trusted, nobody, templates)
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
    try:
        found = inputs.collect(paths)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    found = shard.select(found, shard_spec, batch.out, batch.isolation(), batch.limits_text())
    # a finished row is reused only for the same file: same path (its id) and same content (its hash)
    todo = [t for t in found if t[0] not in batch.rows
            or batch.rows[t[0]].get("sha256", "") != inputs.content_hash(t[1])
            or not batch.rows[t[0]].get("sha256")]
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
        sub = inputs.Submission(sid, Path(path), file=shown, sha256=inputs.content_hash(path))
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
    p.add_argument("--no-sandbox", action="store_true", help="skip bubblewrap even where it works (needs --trusted "
                   "or --no-namespaces)")
    p.add_argument("--no-namespaces", action="store_true",
                   help="where bubblewrap cannot work (Gradescope): student code as nobody, without namespaces")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    limits = sandbox.Limits(timeout=args.timeout, judge_timeout=args.judge_timeout, memory_gb=args.memory,
                            pids=args.pids, disk_mb=args.disk, output_mb=args.output)
    start = time.monotonic()
    try:
        rows = grade(args.submissions, Path(args.out), args.assignment, args.jobs, limits, Path(args.dist),
                     False if args.no_sandbox else None, trusted=args.trusted, wait=args.wait,
                     nobody=args.no_namespaces, shard_spec=args.shard)
    except store.Busy as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{len(rows)} rows in {Path(args.out) / 'grades.csv'} ({time.monotonic() - start:.0f} s); "
          f"report: {Path(args.out) / 'report.html'}")
    return 0
