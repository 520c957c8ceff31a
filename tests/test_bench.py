"""`make bench` finishes every time: a failed notebook run is recorded in words, and the next one
still runs.

Issue 12 §3: twice on a busy machine the kernel running notebook 04 died (a ZMQ
"Socket operation on non-socket" error) and the whole bench stopped. Here a real
kernel dies (``os._exit`` inside a cell), and the client's side of the same ZMQ
error is raised where nbclient would raise it.
"""

import errno
import json
import time

import nbformat
import pytest

from benchmarks import bench


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(path))
    return path


def test_a_kernel_that_dies_is_recorded_and_the_bench_goes_on(tmp_path):
    dies = _notebook(tmp_path / "dies-solution.ipynb", "x = 1", "import os\nos._exit(9)", "y = 2")
    fine = _notebook(tmp_path / "fine-solution.ipynb", "print(6 * 7)")
    figures = bench.bench_notebooks([dies, fine], runs=1)["notebook_seconds"]
    assert figures["dies"]["error"].startswith("kernel died in cell 2"), figures
    assert figures["fine"]["error"] is None and figures["fine"]["cold"] > 0, figures


def test_a_lost_zmq_socket_in_the_client_is_recorded(tmp_path, monkeypatch):
    import zmq
    from nbclient import NotebookClient

    def lost_socket(self, **kwargs):
        raise zmq.ZMQError(errno.ENOTSOCK)

    monkeypatch.setattr(NotebookClient, "execute", lost_socket)
    nb = _notebook(tmp_path / "any-solution.ipynb", "x = 1")
    figures = bench.bench_notebooks([nb, nb], runs=2)["notebook_seconds"]
    assert "ZMQError: Socket operation on non-socket" in figures["any"]["error"], figures


@pytest.fixture(autouse=True)
def _keep_env(monkeypatch):
    """bench_notebooks points PTM_CACHE/PTM_RESULTS at a temp folder while it runs, then restores
    them."""
    monkeypatch.setenv("PTM_CACHE", "/nonexistent-cache-before")
    yield
    import os

    assert os.environ["PTM_CACHE"] == "/nonexistent-cache-before"


def test_a_group_that_now_succeeds_loses_its_old_failure(tmp_path):
    path = tmp_path / "bench.json"
    bench.write(
        {"failed": {"utils": "RuntimeError: old", "gpu": "no CUDA"}}, path, groups=("utils", "gpu")
    )
    bench.write({"extract_ratio": 1.2}, path, groups=("utils",))  # utils ran again and succeeded
    figures = json.loads(path.read_text())
    assert figures["extract_ratio"] == 1.2 and figures["failed"] == {"gpu": "no CUDA"}
    bench.write({}, path, groups=("gpu",))
    assert "failed" not in json.loads(path.read_text())


def test_a_cell_over_its_time_limit_and_a_cell_error_are_told_in_words(tmp_path):
    slow = _notebook(
        tmp_path / "slow-solution.ipynb", "x = 1", "import time\ntime.sleep(60)", "y = 2"
    )
    bad = _notebook(
        tmp_path / "bad-solution.ipynb", "x = 1", "raise ValueError('the data is gone')"
    )
    figures = bench.bench_notebooks([slow, bad], runs=1, timeout=2)["notebook_seconds"]
    assert figures["slow"]["error"] == "timed out after 2 s in cell 2", figures
    assert figures["slow"]["cold"] < 30
    assert figures["bad"]["error"] == "cell 2 raised ValueError: the data is gone", figures


def test_an_error_of_the_client_after_a_cell_overran_is_a_time_out():
    """nbclient's kernel-alive check can fail with a bare AssertionError once a cell outlived its
    limit."""
    import time

    from autograder import nbrun

    tracker = nbrun._CellTracker(600, None)
    tracker.start(None, 36)
    tracker.limit_for(None)
    tracker.started -= 601  # the cell has run for 601 s
    assert (
        nbrun.describe(AssertionError(), tracker)
        == "timed out after 600 s in cell 37 (then the notebook client raised AssertionError)"
    )
    tracker.started = time.monotonic()  # a fresh cell: the same error is what it is
    assert nbrun.describe(AssertionError(), tracker) == "AssertionError in cell 37 (no message)"


def test_a_spent_budget_skips_runs_and_says_so(tmp_path):
    fine = _notebook(tmp_path / "fine-solution.ipynb", "print(1)")
    budget = bench.Budget(0)
    assert bench.bench_notebooks([fine], runs=2, budget=budget)["notebook_seconds"] == {}
    assert set(budget.skipped) == {"notebook_seconds.fine.cold", "notebook_seconds.fine.warm"}
    assert "of the 0 s budget left" in budget.skipped["notebook_seconds.fine.cold"]


def test_the_mode_that_ran_is_in_bench_json(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "BUILD", tmp_path)
    monkeypatch.setattr(bench, "bench_gpu", lambda: {"available": False})
    assert bench.main(["--only", "gpu"]) == 0
    quick = json.loads((tmp_path / "bench.json").read_text())
    assert (
        quick["mode"] == "quick"
        and quick["budget_s"] == bench.QUICK["budget"]
        and quick["skipped"] == {}
    )
    assert bench.main(["--only", "gpu", "--full"]) == 0
    full = json.loads((tmp_path / "bench.json").read_text())
    assert full["mode"] == "full" and full["budget_s"] is None
    assert bench.main(["--only", "gpu", "--budget", "0"]) == 0
    assert "gpu" in json.loads((tmp_path / "bench.json").read_text())["skipped"]


def test_a_repeated_warning_is_printed_once(tmp_path):
    """Kernels and grading stages inherit stderr: each would print ipykernel's transport warning
    again."""
    import subprocess
    import sys

    from autograder import REPO

    script = (
        "import subprocess, sys\n"
        "from autograder.nbrun import warnings_once\n"
        "with warnings_once():\n"
        "    for i in range(3):\n"
        "        subprocess.run(['sh', '-c', 'echo \"[IPKernelApp] WARNING | "
        "Kernel is running over TCP\" >&2; echo step >&2'])\n"
        "    print('WARNING: once from here', file=sys.stderr)\n"
        "    print('WARNING: once from here', file=sys.stderr)\n"
        "print('after', file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    lines = done.stderr.splitlines()
    assert lines.count("[IPKernelApp] WARNING | Kernel is running over TCP") == 1, lines
    assert (
        lines.count("step") == 3
        and lines.count("WARNING: once from here") == 1
        and lines[-1] == "after"
    ), lines


def test_the_notebooks_own_kernels_use_ipc_not_tcp(tmp_path):
    from autograder import nbrun

    km = nbrun._kernel_manager(tmp_path)
    assert km.transport == "ipc" and km.ip.startswith(str(tmp_path))


def test_a_notebook_run_leaves_no_kernel_behind(tmp_path):
    """run_notebook shuts its kernel down, also after a cell overran its limit: a timed-out cell
    must not go on computing beside the next notebook (nbclient keeps alive a kernel it did not
    create)."""
    import psutil

    from autograder import nbrun

    slow = _notebook(tmp_path / "slow.ipynb", "x = 1", "while True:\n    pass", "y = 2")
    done = nbrun.run_notebook(slow, tmp_path / "out", timeout=3)
    assert done["error"].startswith("timed out after 3 s in cell 2"), done
    me = psutil.Process()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        kernels = [p for p in me.children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]
        if not kernels:
            break
        time.sleep(0.2)
    assert not kernels, "the kernel outlived its run"


def test_a_long_cell_says_it_is_still_running(tmp_path, monkeypatch):
    """make demo's progress lines go on while one cell runs for minutes (Figure 5's grid, cold)."""
    from autograder import nbrun

    monkeypatch.setattr(nbrun, "HEARTBEAT", 1.0)
    lines = []
    slow = _notebook(tmp_path / "slow.ipynb", "import time", "time.sleep(4)", "x = 1")
    done = nbrun.run_notebook(slow, tmp_path / "out", timeout=60, progress=lines.append)
    assert done["error"] is None, done
    still = [line for line in lines if "still running" in line]
    assert still and all(line.startswith("cell 2 of 3 still running") for line in still), lines
    count = len(lines)
    time.sleep(1.5)
    assert len(lines) == count, "the heartbeat outlived its run"
