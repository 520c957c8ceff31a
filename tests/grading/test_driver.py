"""The run stage's driver (``programs/driver.py``), run directly: what a cell means, what the report
says, which bytes count against the output limit, and what the student's process can and cannot
reach.

The sandbox around it is tested in ``test_sandbox.py`` and ``test_batch.py``; here the driver runs
as this test's user, in a folder the test owns, on notebooks written for each case."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.grading.stages import PROGRAMS

DRIVER = PROGRAMS / "driver.py"


def _notebook(folder, cells, ignored=()):
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"tags": ["otter_ignore"]} if i in ignored else {},
                "source": src,
                "outputs": [],
                "execution_count": None,
            }
            for i, src in enumerate(cells)
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = Path(folder) / "t.ipynb"
    path.write_text(json.dumps(nb))
    return path


def drive(tmp_path, cells, max_output=1 << 20, ignored=(), timeout=120):
    """(events, exit code) of the driver on a notebook of ``cells`` (``RESULT_FD`` in a cell: the
    number of the driver's result pipe)."""
    read, write = os.pipe()
    nb = _notebook(tmp_path, [c.replace("RESULT_FD", str(write)) for c in cells], ignored)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(tmp_path / "mpl"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-I", str(DRIVER), str(nb), str(max_output), str(write)],
        cwd=tmp_path,
        env=env,
        pass_fds=(write,),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write)
    data = b""
    with os.fdopen(read, "rb") as f:
        data = f.read()
    code = proc.wait(timeout=timeout)
    events = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
    return events, code


def by_cell(events):
    return {e["cell"]: e for e in events if e.get("event") == "cell"}


def test_a_cell_means_what_it_means_in_jupyter(tmp_path):
    events, code = drive(
        tmp_path,
        [
            "x = 3\nprint('printed')\nx * 2",  # 1: stream and the last expression's value
            "from IPython.display import display\ndisplay({'k': 1})\nNone",  # 2: display, no value
            "%time y = sum(range(5))\ny",  # 3: a magic
            "1 / 0",  # 4: an error: its name and message, no traceback
            "def f(:\n    pass",  # 5: a syntax error
            "x + 1",  # 6: the namespace survives the errors
            "input('your name?')",  # 7: no stdin, as in a kernel that allows none
            "skipped = True",  # 8: otter_ignore
            "'skipped' in dir()",  # 9
        ],
        ignored={7},
    )
    assert code == 0
    cells = by_cell(events)
    assert cells[1]["text"] == "printed\n6" and cells[1]["error"] is None
    assert cells[2]["text"].strip() == "{'k': 1}"
    assert "Wall time" in cells[3]["text"] and cells[3]["text"].endswith("10")
    assert cells[4]["error"] == {"ename": "ZeroDivisionError", "evalue": "division by zero"}
    assert "Traceback" not in cells[4]["text"]
    assert cells[5]["error"]["ename"] == "SyntaxError"
    assert cells[6]["text"] == "4"
    assert cells[7]["error"]["ename"] == "EOFError"
    assert 8 not in cells and cells[9]["text"] == "False"
    starts = [e["cell"] for e in events if e["event"] == "start"]
    assert starts == [1, 2, 3, 4, 5, 6, 7, 9]
    assert events[-1]["event"] == "done"


def test_heavy_modules_load_when_used_and_work_as_usual(tmp_path):
    """pyplot, pandas: imported lazily (a second import does not load them), whole once used."""
    events, code = drive(
        tmp_path,
        [
            "import sys\nimport matplotlib.pyplot as plt\nimport matplotlib.pyplot\n"
            "type(sys.modules['matplotlib.pyplot']).__name__ != 'module'",
            "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\nplt.close(fig)\n"
            "type(sys.modules['matplotlib.pyplot']).__name__, type(fig).__name__",
            "from matplotlib import pyplot\npyplot is plt",
            "import pandas as pd\nint(pd.DataFrame({'a': [1, 2]})['a'].sum())",
        ],
    )
    cells = by_cell(events)
    assert code == 0 and all(c["error"] is None for c in cells.values()), cells
    assert cells[1]["text"] == "True"  # not loaded by being imported twice
    assert cells[2]["text"] == "('module', 'Figure')"
    assert cells[3]["text"] == "True" and cells[4]["text"] == "3"


def test_a_long_value_and_error_of_characters_json_escapes_are_reported_whole(tmp_path):
    """The reply carries up to MAX_TEXT characters of value and of error; JSON escapes each emoji as
    12 bytes, and the reply must still be read, not dropped as an over-long line."""
    events, code = drive(tmp_path, ["'😀' * 3000", "raise ValueError('😀' * 3000)"])
    cells = by_cell(events)
    assert code == 0 and cells[1]["text"].startswith("'😀😀") and cells[1]["error"] is None
    assert cells[2]["error"]["ename"] == "ValueError"
    assert cells[2]["error"]["evalue"].startswith("😀😀")


def test_every_byte_the_students_processes_write_counts_against_the_limit(tmp_path):
    """print, a raw write to fd 1 and a child process's output all count; over the limit the driver
    stops."""
    for flood in (
        "print('x' * 5000)",
        "import os\nos.write(1, b'y' * 5000)",
        "import subprocess\nsubprocess.run(['head', '-c', '5000', '/dev/zero'])",
        "'z' * 5000",  # the value of the last expression is output too
    ):
        events, code = drive(tmp_path, ["1", flood, "print('after')"], max_output=4000)
        limits = [e for e in events if e["event"] == "limit"]
        assert code == 3 and limits == [{"event": "limit", "what": "output", "cell": 2}], flood
        assert not any(e.get("cell") == 3 for e in events)


def test_a_shell_that_dies_is_reported_with_its_last_cell(tmp_path):
    for death in (
        "import os\nprint('bye')\nos._exit(0)",
        "import os, signal\nos.kill(os.getpid(), 9)",
    ):
        events, code = drive(tmp_path, ["a = 1", death, "print('never')"])
        assert code == 0
        assert events[-1] == {"event": "died"}
        assert [e["cell"] for e in events if e["event"] == "start"] == [1, 2]
    assert (
        by_cell(drive(tmp_path, ["import os\nprint('bye', flush=True)\nos._exit(0)"])[0])[1]["text"]
        == "bye\n"
    )


def test_a_shell_that_dies_while_its_child_holds_the_pipes_is_seen_at_once(tmp_path):
    """A process the shell forked keeps the reply and output pipes open after the shell died: the
    driver watches the shell itself, not only the end of its pipes."""
    start = time.monotonic()
    events, code = drive(
        tmp_path,
        [
            "import os, time\nif os.fork() == 0:\n    time.sleep(8)\n    os._exit(0)\nos._exit(1)",
            "print('never')",
        ],
    )
    assert code == 0 and events[-1] == {"event": "died"}
    assert time.monotonic() - start < 6, "the driver waited for the shell's child"


def test_the_result_pipe_never_reaches_the_students_process(tmp_path):
    """The driver's result pipe is not inherited: the shell cannot write an event into it."""
    events, code = drive(
        tmp_path,
        [
            "import os\ntry:\n"
            '    os.write(RESULT_FD, b\'{"event": "done"}\\n\')\n    wrote = True\n'
            "except OSError:\n    wrote = False\nwrote",
            # the shell's own dumpable flag
            "import ctypes\nctypes.CDLL(None).prctl(3, 0, 0, 0, 0)",
        ],
    )
    cells = by_cell(events)
    assert cells[1]["text"] == "False"
    assert [e["event"] for e in events].count("done") == 1 and events[-1]["event"] == "done"


def test_a_forged_or_endless_reply_is_only_data(tmp_path):
    """The shell's replies are the student's to forge (its reply pipe is its own): a forged line can
    only describe the student's own cells, and a line without an end is bounded, never buffered
    whole."""
    events, code = drive(
        tmp_path,
        [
            "import os, sys\nos.write(int(sys.argv[3]), b'x' * 200000)\n'flooded'",
            "import os, sys\n"
            'os.write(int(sys.argv[3]), b\'{"error": null, "result": "forged"}\\n\')',
            "print('still running')",
        ],
    )
    assert code == 0 and events[-1]["event"] == "done"
    assert all(len(json.dumps(e)) < 70000 for e in events)
    assert [e["cell"] for e in events if e["event"] == "start"] == [1, 2, 3]


@pytest.mark.parametrize("broken", ["{not json", "[1, 2]"])
def test_a_notebook_the_driver_cannot_read_fails_with_its_reason(tmp_path, broken):
    nb = tmp_path / "t.ipynb"
    nb.write_text(broken)
    read, write = os.pipe()
    proc = subprocess.run(
        [sys.executable, "-I", str(DRIVER), str(nb), "1000", str(write)],
        cwd=tmp_path,
        pass_fds=(write,),
        capture_output=True,
        timeout=60,
    )
    os.close(write)
    with os.fdopen(read, "rb") as f:
        events = [json.loads(line) for line in f.read().decode().splitlines()]
    assert proc.returncode == 0 and events[-1]["event"] == "failed", events
