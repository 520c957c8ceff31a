"""The three stages of one submission, each a process tree of its own (``sandbox``).

- ``analyze``: a limited subprocess (``analyze.py``) reads the notebook's JSON, picks the graded
  definitions and runs the audit; an overrun is the submission's own problem;
- ``run``: the student's cells, as the student would run them, with the public tests only
  (``programs/driver.py``); it decides the limit statuses and the errors shown, never the score;
- ``judge``: the trusted judge (``programs/judge.py``) receives otter's tests through stdin
  (``judge_payload``) and calls the graded definitions in workers (``worker_spec``) sandboxed as
  a user of their own; its result is the score, clamped by the host. Its hidden cases wait for the
  run stage to end (``ran``).

``layout`` is the work folder every stage gets; root lays it out first and ``hand_over`` gives the
stage's folders to the stage's user last. ``batch`` runs ``run`` and ``judge`` at once.
"""

import base64
import json
import os
import shutil
import threading
import time
from pathlib import Path

from . import sandbox, verdict

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"  # run in processes of their own (programs/__init__.py)
WORKER_FILES = ("worker.py", "wire.py")
ANALYSIS = sandbox.Limits(timeout=60, memory_gb=1.5, pids=8, disk_mb=16, output_mb=1)

KERNEL_STARTUP = """import sys
sys.modules.setdefault("rfc3987_syntax", None)  # grader: jsonschema's IRI grammar is slow, unused
"""


def layout(root):
    """The work folder of a stage: submission/, home/, tmp/ (0700, root's until ``hand_over``) and
    the kernel's startup file (root's for good: read-only for the student)."""
    for d in ("submission", "home", "tmp"):
        (root / d).mkdir(mode=0o700, exist_ok=True)
    startup = root / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-grader.py").write_text(KERNEL_STARTUP)


def hand_over(root, names, uid):
    """chown the stage's folders ``names`` (and what root laid out in them) to ``uid``, never
    following a link, once root is done writing there: root never writes inside a folder another
    user owns."""
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


def worker_spec(tpl, root, isolation, limits=None, cgroup=None, program=None, user=None):
    """How the judge starts a worker: the command line (sandboxed as the stage's ``user`` under the
    seccomp filter, where the isolation has a sandbox), env, folder."""
    mode = sandbox.Isolation.of(isolation)
    limits = limits or sandbox.Limits()
    for d in ("submission", "home", "tmp"):
        (root / d).mkdir(mode=0o700, parents=True, exist_ok=True)
    env = sandbox.stage_env("/autograder/home")
    cgroups = cgroup.cpu_dirs() if cgroup else []
    uid = user.uid if user is not None else sandbox.NOBODY
    bpf = sandbox.filter_program() if mode.sandboxed else None
    seal = {"seccomp": base64.b64encode(bpf).decode()} if bpf else {}
    if mode is sandbox.Isolation.BUBBLEWRAP:
        hand_over(root, ["submission", "home", "tmp"], uid)
        binds = [(host, f"/autograder/submission/{n}") for host, n in tpl.support]
        binds += [(PROGRAMS / f, f"/grader/{f}") for f in WORKER_FILES]
        command = [sandbox._python(), "-I", "/grader/worker.py"]
        fd = "{seccomp_fd}" if bpf else None  # the judge puts the filter's descriptor here
        argv = sandbox.bwrap_argv(root, binds, env, command, limits, uid, fd)
        return {
            "argv": argv,
            "env": {"PATH": "/usr/bin:/bin"},
            "cwd": "/",
            "cgroups": cgroups,
            **seal,
        }
    for host, name in tpl.support:  # root lays out first ...
        target = root / "submission" / name
        if not target.exists():
            target.symlink_to(host)
    if mode is sandbox.Isolation.NO_NAMESPACES:  # ... and hands over last
        hand_over(root, ["submission", "home", "tmp"], uid)
    env.update(
        HOME=str(root / "home"),
        PTM_CACHE=str(root / "tmp" / "cache"),
        MPLCONFIGDIR=str(root / "tmp" / "mpl"),
        PTM_RESULTS=str(root / "tmp" / "results.json"),
    )
    argv = [sandbox._python(), "-I", str(program or PROGRAMS / "worker.py")]
    no_ns = mode is sandbox.Isolation.NO_NAMESPACES
    return {
        "argv": sandbox.setpriv_argv(argv, uid) if no_ns else argv,
        "env": env,
        "cwd": str(root / "submission"),
        "cgroups": cgroups,
        **seal,
    }


def judge_payload(
    tpl, definitions, root, isolation, limits=None, cgroup=None, seed=None, program=None, user=None
):
    """What the judge reads on stdin: the tests, the graded definitions, how to start workers."""
    limits = limits or sandbox.Limits()
    worker = worker_spec(tpl, Path(root) / "worker", isolation, limits, cgroup, program, user)
    return {
        "tests": tpl.tests,
        "definitions": definitions,
        "support": str(tpl.files) if tpl.files else "",
        "worker": worker,
        "seed": int.from_bytes(os.urandom(4), "little") if seed is None else seed,
        "call_timeout": limits.judge_timeout,
    }


def _add_disk_breach(outcome, root, mounted):
    disk = sandbox.disk_full(root, mounted)
    if disk:
        outcome.breaches.setdefault("disk", disk)


def judge(batch, sub, tpl, definitions, cancel=None, ran=None):
    """The judge stage: the trusted judge on the host (limited), its workers sandboxed as a user of
    their own. ``ran`` (an Event the batch sets when the run stage has ended) opens the judge's
    gate: its hidden cases start only then, so nothing they show a worker can reach what the run
    stage prints."""
    root = batch.run_dir(sub.id, "judge")
    mounted = sandbox.mount_workdir(root, batch.limits)
    cgroup = None
    if sandbox.cgroup_status()[0]:
        cgroup = sandbox.Cgroup(f"worker-{os.getpid()}-{time.monotonic_ns()}", batch.limits)
    user = sandbox.StageUser() if batch.mode.sandboxed else None
    gate = None
    try:
        layout(root)
        payload = judge_payload(
            tpl, definitions, root, batch.mode, batch.limits, cgroup,
            program=batch.program("worker.py"), user=user,
        )  # fmt: skip
        fds, wall = (), None
        if ran is not None:
            gate, gate_w = os.pipe()
            payload["gate_fd"], fds = gate, (gate,)
            wall = _wall(batch.limits.judge_timeout) + _wall(batch.limits.timeout)
            threading.Thread(target=_open_gate, args=(ran, cancel, gate_w), daemon=True).start()

        def watch():
            return sandbox.disk_full(root, mounted) or (cgroup is not None and cgroup.breaches())

        outcome = sandbox.run_stage(
            "judge", root, [], [str(PROGRAMS / "judge.py")], batch.limits,
            batch.limits.judge_timeout, sandbox.Isolation.TRUSTED, json.dumps(payload).encode(),
            cancel=cancel, watch=watch,
            extra_cpu=cgroup.cpu_seconds if cgroup is not None else None,
            pass_fds=fds, wall=wall,
        )  # fmt: skip
        if cgroup is not None:
            outcome.breaches.update(cgroup.breaches())
            worker_cpu = cgroup.cpu_seconds()
            if worker_cpu is not None and outcome.cpu_seconds is not None:
                outcome.cpu_seconds += worker_cpu
        _add_disk_breach(outcome, root, mounted)
        return outcome
    finally:
        if gate is not None:
            os.close(gate)
        if cgroup is not None:
            cgroup.kill_all()
            cgroup.remove()
        if user is not None:
            user.release()
        sandbox.unmount_workdir(root, mounted)


def _wall(timeout):
    return sandbox.backstop(timeout) if sandbox.cgroup_status()[0] else timeout


def _open_gate(ran, cancel, fd):
    """Tell the judge the run stage has ended (or it is being cancelled): its hidden cases may
    start."""
    try:
        while not ran.wait(0.2):
            if cancel is not None and cancel.is_set():
                break
        os.write(fd, b"1")
    except OSError:
        pass  # the judge has ended already
    finally:
        os.close(fd)


def run(batch, sub, tpl, cancel=None):
    """The run stage: the student's notebook, cell by cell, with the public tests only."""
    root = batch.run_dir(sub.id, "run")
    mounted = sandbox.mount_workdir(root, batch.limits)
    user = sandbox.StageUser() if batch.mode.sandboxed else None
    try:
        layout(root)  # root lays out everything first ...
        binds = [(host, f"/autograder/submission/{n}") for host, n in tpl.support]
        nb = root / "submission" / sub.nb_name
        nb.write_bytes(sub.nb_bytes)
        tests = root / "submission" / "tests"
        # where the setup cell's grader looks: tests/<notebook>/
        shutil.copytree(tpl.public, tests / tpl.name)
        if batch.mode is not sandbox.Isolation.BUBBLEWRAP:  # no bind mounts: the support as links
            for host, name in tpl.support:
                (root / "submission" / name).symlink_to(host)
        if (
            user is not None
        ):  # ... and hands the stage's folders to its user last, following no link
            hand_over(root, ["submission", "home", "tmp"], user.uid)
            for d in (root / "ipython", root / "ipython" / "profile_default"):  # IPython's history
                os.chown(d, user.uid, user.uid, follow_symlinks=False)
        if batch.mode is sandbox.Isolation.BUBBLEWRAP:
            binds.append((PROGRAMS / "driver.py", "/grader/driver.py"))
            argv = ["/grader/driver.py", f"/autograder/submission/{sub.nb_name}"]
        else:
            argv = [str(batch.program("driver.py")), str(nb)]
        argv.append(str(int(batch.limits.output_mb * (1 << 20))))
        outcome = sandbox.run_stage(
            "run", root, binds, argv, batch.limits, batch.limits.timeout, batch.mode,
            cancel=cancel, watch=lambda: sandbox.disk_full(root, mounted), user=user,
        )  # fmt: skip
        _add_disk_breach(outcome, root, mounted)
        return outcome
    finally:
        if user is not None:
            user.release()
        sandbox.unmount_workdir(root, mounted)


def _analysis_problem(outcome):
    if outcome.kind == "timeout":
        what = f"ran over {ANALYSIS.timeout:g} s"
    elif "memory" in outcome.breaches or outcome.returncode:
        what = "went over its memory limit"
    else:
        what = "failed"
    return (
        f"the notebook could not be read within the grader's limits (reading its JSON and code "
        f"{what}, limit {ANALYSIS.memory_gb:g} GB); is it unusually large?"
    )


def analyze(batch, sub, data):
    """(sub, graded definitions, flags) from the analysis subprocess."""
    request = {"assignment": batch.assignment, "templates": batch.template_specs()}
    root = batch.run_dir(sub.id, "analyze")
    try:
        root.mkdir(parents=True)
        layout(root)
        stdin = json.dumps(request).encode() + b"\n" + data
        outcome = sandbox.run_stage(
            "analyze", root, [], [str(HERE / "analyze.py")], ANALYSIS, ANALYSIS.timeout,
            sandbox.Isolation.TRUSTED, stdin, channel_limit=64 << 20,
        )  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
    try:
        got = json.loads(outcome.channel) if outcome.channel else None
    except (ValueError, RecursionError):
        got = None
    if outcome.kind == "timeout" or not isinstance(got, dict):
        sub.problem = _analysis_problem(outcome)
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
