"""`make bench` finishes every time: a notebook whose kernel dies is recorded, and the next one still runs.

Issue 12 §3: twice on a busy machine the kernel running notebook 04 died (a ZMQ
"Socket operation on non-socket" error) and the whole bench stopped. Here a real
kernel dies (``os._exit`` inside a cell), and the client's side of the same ZMQ
error is raised where nbclient would raise it.
"""
import errno
import json

import nbformat
import pytest

from benchmarks import bench


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def test_a_kernel_that_dies_is_recorded_and_the_bench_goes_on(tmp_path):
    dies = _notebook(tmp_path / "dies-solution.ipynb", "x = 1", "import os\nos._exit(9)", "y = 2")
    fine = _notebook(tmp_path / "fine-solution.ipynb", "print(6 * 7)")
    figures = bench.bench_notebooks([dies, fine], runs=1)["notebook_seconds"]
    assert figures["dies"]["error"].startswith("DeadKernelError"), figures
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
    """bench_notebooks points PTM_CACHE/PTM_RESULTS at a temp folder while it runs, then restores them."""
    monkeypatch.setenv("PTM_CACHE", "/nonexistent-cache-before")
    yield
    import os
    assert os.environ["PTM_CACHE"] == "/nonexistent-cache-before"


def test_a_group_that_now_succeeds_loses_its_old_failure(tmp_path):
    path = tmp_path / "bench.json"
    bench.write({"failed": {"utils": "RuntimeError: old", "gpu": "no CUDA"}}, path, groups=("utils", "gpu"))
    bench.write({"extract_ratio": 1.2}, path, groups=("utils",))   # utils ran again and succeeded
    figures = json.loads(path.read_text())
    assert figures["extract_ratio"] == 1.2 and figures["failed"] == {"gpu": "no CUDA"}
    bench.write({}, path, groups=("gpu",))
    assert "failed" not in json.loads(path.read_text())
