"""autograder/grading/stages.py and the sandbox calls it makes: argv, cancellation, CPU time."""

import sys

import pytest

from autograder.grading import sandbox


def test_any_virtualenv_location_is_bound_after_the_private_tmp(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "prefix", "/tmp/some-venv")
    argv = sandbox.bwrap_argv(tmp_path, [], {}, ["python"], sandbox.Limits())
    tmpfs = max(i for i, a in enumerate(argv) if a == "/tmp" and argv[i - 1] == "--tmpfs")
    bind = next(
        i for i, a in enumerate(argv) if a == "/tmp/some-venv" and argv[i - 2] == "--ro-bind"
    )
    assert tmpfs < bind
    assert argv[argv.index("setpriv") + 1] == f"--reuid={sandbox.NOBODY}"


def test_a_cancelled_stage_is_stopped_at_once(tmp_path):
    """The judge runs alongside the run stage; when the run stage decides the status, the judge
    is stopped."""
    import threading
    import time

    script = tmp_path / "sleeper.py"
    script.write_text("import time\ntime.sleep(60)\n")
    (tmp_path / "submission").mkdir()
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    start = time.monotonic()
    outcome = sandbox.run_stage(
        "judge",
        tmp_path,
        [],
        [str(script)],
        sandbox.Limits(),
        60,
        use_bwrap=False,
        use_cgroup=False,
        cancel=cancel,
    )
    assert outcome.kind == "cancelled" and time.monotonic() - start < 30
    assert outcome.returncode is not None  # the process is dead when run_stage returns


@pytest.mark.skipif(not sandbox.cgroup_status()[0], reason="needs per-stage cgroups (root)")
def test_time_limits_count_the_stages_own_cpu_time(tmp_path):
    """A stage that waits (a loaded machine, I/O) is not timed out by the wall clock; one that
    computes is."""
    (tmp_path / "submission").mkdir()
    waits, spins = tmp_path / "waits.py", tmp_path / "spins.py"
    waits.write_text("import time\ntime.sleep(4)\n")
    spins.write_text("while True:\n    pass\n")
    calm = sandbox.run_stage(
        "run", tmp_path, [], [str(waits)], sandbox.Limits(), 2, use_bwrap=False
    )
    busy = sandbox.run_stage(
        "run", tmp_path, [], [str(spins)], sandbox.Limits(), 2, use_bwrap=False
    )
    assert calm.kind == "finished" and calm.seconds > 2, calm
    assert (
        busy.kind == "timeout" and busy.cpu_seconds >= 2 and busy.seconds < sandbox.backstop(2)
    ), busy
