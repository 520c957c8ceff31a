"""Run a notebook with nbclient for ``make demo`` and ``make bench``, and say in words why a run
failed.

- ``run_notebook(src, out_dir, timeout, deadline)``: executes ``src`` in ``notebooks/`` (where its
  relative paths point), saves the executed copy, and returns ``{"seconds", "error", "cell"}``.
  ``error`` is None or a sentence: "timed out after 600 s in cell 37", "kernel died in cell 12",
  "cell 5 raised ValueError: ...". Each cell's time limit is the smaller of ``timeout`` and what is
  left before ``deadline``, so a caller with a time budget (the bench) is never held past it by one
  long notebook.
- The kernel talks to the client over IPC sockets in a private folder, not TCP on localhost: nothing
  goes over the network, and ipykernel has no reason to print its "running over TCP without
  encryption" warning.
- ``progress``: a callable given one line whenever the run enters a new section (a markdown heading)
  or ten seconds have passed since the last line, and every ``HEARTBEAT`` seconds while one cell
  runs (Figure 5's grid takes minutes on an empty cache), so ``make demo`` is never silent for
  minutes in one notebook.
- ``warnings_once()``: the process's stderr (file descriptor 2, which kernels and other children
  inherit) passes through a filter that prints a repeated warning line once.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import NOTEBOOKS

HEARTBEAT = 30.0  # seconds of one running cell between two "still running" lines


class _CellTracker:
    """Which cell is running and under which time limit (nbclient's ``on_cell_start`` hook and
    ``timeout_func``)."""

    def __init__(self, timeout, deadline, nb=None, progress=None):
        self.timeout, self.deadline, self.cell, self.limit, self.started = (
            timeout,
            deadline,
            None,
            None,
            None,
        )
        self.progress, self.sections, self.said, self.section = progress, _sections(nb), 0.0, None
        self.begun = time.monotonic()
        self.done = threading.Event()

    def heartbeat(self):
        """Until ``done``: a line every HEARTBEAT seconds while the same cell runs (a daemon
        thread)."""
        while not self.done.wait(HEARTBEAT / 3):
            now, started = time.monotonic(), self.started
            if started is not None and now - started >= HEARTBEAT and now - self.said >= HEARTBEAT:
                self.said = now
                self.progress(
                    f"cell {self.cell} of {len(self.sections)} still running, "
                    f"{now - started:.0f} s in it, {now - self.begun:.0f} s in all"
                )

    def start(self, cell, cell_index):
        self.cell, self.started = cell_index + 1, time.monotonic()
        if self.progress is None:
            return
        section = self.sections[cell_index] if cell_index < len(self.sections) else None
        if section != self.section or self.started - self.said >= 10:
            self.section, self.said = section, self.started
            where = f" ({section})" if section else ""
            self.progress(
                f"cell {self.cell} of {len(self.sections)}{where}, "
                f"{self.started - self.begun:.0f} s"
            )

    def limit_for(self, cell):
        limit = self.timeout
        if self.deadline is not None:
            limit = max(1, min(limit, int(self.deadline - time.monotonic())))
        self.limit = limit
        return limit

    def overran(self):
        return (
            self.started is not None
            and self.limit is not None
            and time.monotonic() - self.started >= self.limit
        )


def _sections(nb) -> list:
    """The heading each cell of ``nb`` sits under (its latest markdown heading), or None."""
    sections, current = [], None
    for cell in nb.cells if nb is not None else []:
        if cell.cell_type == "markdown":
            heading = next(
                (
                    line.lstrip("#").strip()
                    for line in cell.source.splitlines()
                    if line.startswith("#")
                ),
                None,
            )
            current = heading[:60] if heading else current
        sections.append(current)
    return sections


def describe(err, tracker):
    """One sentence for a failed run: what happened, in which cell (1-based, counting every
    cell)."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    where = f"in cell {tracker.cell}" if tracker.cell else "before the first cell"
    if isinstance(err, CellTimeoutError) or (
        not isinstance(err, (CellExecutionError, DeadKernelError)) and tracker.overran()
    ):
        # nbclient sometimes fails its own kernel-alive check (an AssertionError) once a cell
        # outlived its limit
        cause = (
            ""
            if isinstance(err, CellTimeoutError)
            else f" (then the notebook client raised {type(err).__name__})"
        )
        return f"timed out after {tracker.limit} s {where}{cause}"
    if isinstance(err, DeadKernelError):
        return f"kernel died {where} (killed from outside, out of memory, or crashed)"
    if isinstance(err, CellExecutionError):
        name = getattr(err, "ename", "") or "an error"
        value = " ".join(str(getattr(err, "evalue", "")).split())[:200]
        return f"{where.removeprefix('in ')} raised {name}" + (f": {value}" if value else "")
    text = " ".join(str(err).split())[:200]
    kind = f"{type(err).__module__}.{type(err).__name__}".removeprefix("builtins.")
    if type(err).__module__.startswith("zmq"):
        return f"lost the connection to the kernel {where} ({kind}: {text})"
    return f"{kind} {where}" + (f": {text}" if text else " (no message)")


def _kernel_manager(folder):
    from jupyter_client.manager import (
        AsyncKernelManager,
    )  # what nbclient awaits: a blocking manager ignores timeouts

    return AsyncKernelManager(
        kernel_name="python3",
        transport="ipc",
        ip=str(Path(folder) / "k"),
        connection_file=str(Path(folder) / "kernel.json"),
    )


def run_notebook(
    src: Path, out_dir: Path, timeout=900, deadline=None, progress=None, allow_errors=False
) -> dict:
    """Execute ``src`` in notebooks/ with nbclient; save it with outputs; return seconds and what
    failed.

    ``progress``: called with a line of where the run is (see the module's docstring);
    ``allow_errors``: a cell that raises is recorded in its outputs and the run goes on (a sample
    submission's syntax error)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(src), as_version=4)
    tracker = _CellTracker(timeout, deadline, nb, progress)
    if progress is not None:
        threading.Thread(target=tracker.heartbeat, daemon=True).start()
    start, error = time.perf_counter(), None
    log = NOTEBOOKS / ".OTTER_LOG"
    with tempfile.TemporaryDirectory(prefix="ptm-kernel-") as sockets:
        try:
            NotebookClient(
                nb,
                km=_kernel_manager(sockets),
                timeout_func=tracker.limit_for,
                on_cell_start=tracker.start,
                kernel_name="python3",
                allow_errors=allow_errors,
                resources={"metadata": {"path": str(NOTEBOOKS)}},
            ).execute(cleanup_kc=True)  # nbclient keeps a kernel it did not create alive: not ours
        except Exception as err:  # noqa: BLE001 - every failure is recorded in words and the caller goes on
            error = describe(err, tracker)
        finally:
            tracker.done.set()
            log.unlink(missing_ok=True)
    seconds = time.perf_counter() - start
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(out_dir / src.name.replace("-solution", "")))
    return {"seconds": round(seconds, 1), "error": error, "cell": tracker.cell if error else None}


WARNING = re.compile(r"warn", re.IGNORECASE)


def _pump(read_fd, write_fd, seen):
    with os.fdopen(read_fd, "rb", buffering=0) as src:
        pending = b""
        while chunk := src.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                key = re.sub(
                    rb"^\[[^\]]*\]\s*", b"", line
                ).strip()  # a log prefix ([W 12:00:01 ...]) differs
                if WARNING.search(key.decode("utf-8", "replace")):
                    if key in seen:
                        continue
                    seen.add(key)
                os.write(write_fd, line + b"\n")
        if pending:
            os.write(write_fd, pending)


@contextlib.contextmanager
def warnings_once():
    """Within the block, a warning line printed to stderr again (by this process or a child) is
    dropped."""
    sys.stderr.flush()
    saved = os.dup(2)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    pump = threading.Thread(target=_pump, args=(read_fd, saved, set()), daemon=True)
    pump.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # the pipe's last writer closes in this process; children have exited
        pump.join(timeout=5)
        if (
            not pump.is_alive()
        ):  # a child still holding the pipe keeps the pump (and its fd) until it exits
            os.close(saved)
