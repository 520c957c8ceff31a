"""The three stages of one submission, each a process tree of its own (``sandbox``).

- ``analyze``: a limited subprocess (``analyze.py``) reads the notebook's JSON, picks the graded
  definitions and runs the audit; an overrun is the submission's own problem;
- ``run``: the student's cells, as the student would run them, with the public tests only
  (``programs/driver.py``); it decides the limit statuses and the errors shown, never the score;
- ``judge``: the trusted judge (``programs/judge.py``) receives otter's tests through stdin
  (``judge_payload``) and calls the graded definitions in workers (``worker_spec``) sandboxed as
  nobody; its result is the score, clamped by the host.

``layout`` is the work folder every stage gets. ``batch`` runs ``run`` and ``judge`` at once.
"""

import json
import os
import shutil
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


def layout(root, nobody):
    """The work folder of a stage: submission/, home/, tmp/ and the kernel's startup file."""
    for d in ("submission", "home", "tmp"):
        (root / d).mkdir(exist_ok=True)
        if nobody:
            os.chown(root / d, sandbox.NOBODY, sandbox.NOBODY)
    startup = root / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-grader.py").write_text(KERNEL_STARTUP)  # root-owned: read-only for the student


def worker_spec(tpl, root, use_bwrap, limits=None, cgroup=None, program=None):
    """How the judge starts a worker: command line (as nobody where bwrap works), env, folder."""
    limits = limits or sandbox.Limits()
    (root / "submission").mkdir(parents=True, exist_ok=True)
    for d in ("home", "tmp"):
        (root / d).mkdir(exist_ok=True)
    env = sandbox.stage_env("/autograder/home")
    cgroups = cgroup.cpu_dirs() if cgroup else []
    if use_bwrap is True:
        for d in ("submission", "home", "tmp"):
            os.chown(root / d, sandbox.NOBODY, sandbox.NOBODY)
        binds = [(host, f"/autograder/submission/{n}") for host, n in tpl.support]
        binds += [(PROGRAMS / f, f"/grader/{f}") for f in WORKER_FILES]
        command = [sandbox._python(), "-I", "/grader/worker.py"]
        argv = sandbox.bwrap_argv(root, binds, env, command, limits)
        return {"argv": argv, "env": {"PATH": "/usr/bin:/bin"}, "cwd": "/", "cgroups": cgroups}
    for host, name in tpl.support:
        target = root / "submission" / name
        if not target.exists():
            target.symlink_to(host)
    if use_bwrap == "nobody":
        for d in ("submission", "home", "tmp"):
            os.chown(root / d, sandbox.NOBODY, sandbox.NOBODY)
    env.update(
        HOME=str(root / "home"),
        PTM_CACHE=str(root / "tmp" / "cache"),
        MPLCONFIGDIR=str(root / "tmp" / "mpl"),
        PTM_RESULTS=str(root / "tmp" / "results.json"),
    )
    argv = [sandbox._python(), "-I", str(program or PROGRAMS / "worker.py")]
    return {
        "argv": sandbox.setpriv_argv(argv) if use_bwrap == "nobody" else argv,
        "env": env,
        "cwd": str(root / "submission"),
        "cgroups": cgroups,
    }


def judge_payload(
    tpl, definitions, root, use_bwrap, limits=None, cgroup=None, seed=None, program=None
):
    """What the judge reads on stdin: the tests, the graded definitions, how to start workers."""
    limits = limits or sandbox.Limits()
    worker = worker_spec(tpl, Path(root) / "worker", use_bwrap, limits, cgroup, program)
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


def judge(batch, sub, tpl, definitions, cancel=None):
    """The judge stage: the trusted judge on the host (limited), its workers sandboxed as nobody."""
    root = batch.run_dir(sub.id, "judge")
    mounted = sandbox.mount_workdir(root, batch.limits)
    cgroup = None
    if sandbox.cgroup_status()[0]:
        cgroup = sandbox.Cgroup(f"worker-{os.getpid()}-{time.monotonic_ns()}", batch.limits)
    try:
        layout(root, False)
        payload = judge_payload(
            tpl, definitions, root, batch.use_bwrap, batch.limits, cgroup,
            program=batch.program("worker.py"),
        )  # fmt: skip

        def watch():
            return sandbox.disk_full(root, mounted) or (cgroup is not None and cgroup.breaches())

        outcome = sandbox.run_stage(
            "judge", root, [], [str(PROGRAMS / "judge.py")], batch.limits,
            batch.limits.judge_timeout, False, json.dumps(payload).encode(),
            cancel=cancel, watch=watch,
            extra_cpu=cgroup.cpu_seconds if cgroup is not None else None,
        )  # fmt: skip
        if cgroup is not None:
            outcome.breaches.update(cgroup.breaches())
            worker_cpu = cgroup.cpu_seconds()
            if worker_cpu is not None and outcome.cpu_seconds is not None:
                outcome.cpu_seconds += worker_cpu
        _add_disk_breach(outcome, root, mounted)
        return outcome
    finally:
        if cgroup is not None:
            cgroup.kill_all()
            cgroup.remove()
        sandbox.unmount_workdir(root, mounted)


def run(batch, sub, tpl, cancel=None):
    """The run stage: the student's notebook, cell by cell, with the public tests only."""
    root = batch.run_dir(sub.id, "run")
    mounted = sandbox.mount_workdir(root, batch.limits)
    try:
        layout(root, bool(batch.use_bwrap))
        binds = [(host, f"/autograder/submission/{n}") for host, n in tpl.support]
        nb = root / "submission" / sub.nb_name
        nb.write_bytes(sub.nb_bytes)
        tests = root / "submission" / "tests"
        # where the setup cell's grader looks: tests/<notebook>/
        shutil.copytree(tpl.public, tests / tpl.name)
        if batch.use_bwrap:
            for p in [nb, tests, tests / tpl.name] + list((tests / tpl.name).iterdir()):
                os.chown(p, sandbox.NOBODY, sandbox.NOBODY)
        if batch.use_bwrap is True:
            binds.append((PROGRAMS / "driver.py", "/grader/driver.py"))
            argv = ["/grader/driver.py", f"/autograder/submission/{sub.nb_name}"]
        else:
            argv = [str(batch.program("driver.py")), str(nb)]
        argv.append(str(int(batch.limits.output_mb * (1 << 20))))
        outcome = sandbox.run_stage(
            "run", root, binds, argv, batch.limits, batch.limits.timeout, batch.use_bwrap,
            cancel=cancel, watch=lambda: sandbox.disk_full(root, mounted),
        )  # fmt: skip
        _add_disk_breach(outcome, root, mounted)
        return outcome
    finally:
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
        layout(root, False)
        stdin = json.dumps(request).encode() + b"\n" + data
        outcome = sandbox.run_stage(
            "analyze", root, [], [str(HERE / "analyze.py")], ANALYSIS, ANALYSIS.timeout,
            False, stdin, channel_limit=64 << 20,
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
