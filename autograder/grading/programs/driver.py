"""Runs INSIDE the sandbox, as the stage's user: execute the student's cells, report through a
private pipe.

Standalone on purpose (the standard library here, IPython in the shell): the sandbox mounts this one
file, never the repository. Two processes:

- the **driver**, ``python -I driver.py NOTEBOOK.ipynb MAX_OUTPUT_BYTES RESULT_FD``, reads the
  notebook and hands its code cells, one at a time, to
- the **shell**, ``python -I driver.py --shell CMD_FD REPLY_FD``: an IPython ``InteractiveShell`` in
  a process of its own, where the student's code runs. A cell means what it means in Jupyter
  (magics, the value of its last expression, ``display``), without a kernel: no ZMQ, no client, no
  message protocol. Its standard output and error are one pipe that the driver reads and counts, so
  the output limit holds for every byte the student's processes write, ``print`` or not.

No hidden test exists in this sandbox: ``tests/`` holds the public cases only, so ``grader.check``
shows what a student sees at home. Nothing written here decides a score; the judge does. The pipe
``RESULT_FD`` is made non-inheritable (the shell never gets it) and this process non-dumpable (the
shell, running as the same user, cannot open it through /proc). What the shell replies is bounded
and read as data. Events, one JSON object a line: ``start`` (cell number), ``cell`` (bounded text
and error), ``limit`` (output), ``died``, ``failed``, ``done``.

Why not a Jupyter kernel (ipykernel, driven by nbclient) as before: starting one cost about 1.3
CPU-s of a run stage's 3 (ZMQ, tornado, the kernel and its client), more than the student's cells of
notebook 01 (docs/performance.md, issue 29 §8). The shell runs the same IPython.
"""

import ctypes
import json
import os
import select
import subprocess
import sys
import time

T0 = time.monotonic()

MAX_TEXT = 2000  # characters of one cell's output kept for the report
MAX_REPLY = 64 << 10  # bytes of one reply line from the shell: a value and an error of MAX_TEXT
# characters each, every character escaped by JSON as a surrogate pair (12 bytes), fit


def _private(fd):
    try:
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
    except Exception:  # noqa: BLE001 - not Linux
        pass
    os.set_inheritable(fd, False)


def _send(fd, **event):
    os.write(fd, (json.dumps(event, default=str)[:65000] + "\n").encode())


def _code_cells(nb_path):
    """(number, source) of every code cell to run: 1-based positions among all cells, as Jupyter
    counts."""
    with open(nb_path, encoding="utf-8") as f:
        nb = json.load(f)
    for index, cell in enumerate(nb.get("cells", [])):
        tags = (cell.get("metadata") or {}).get("tags") or []
        if cell.get("cell_type") != "code" or "otter_ignore" in tags:
            continue
        source = cell.get("source", "")
        yield index + 1, "".join(source) if isinstance(source, list) else str(source)


class Shell:
    """The driver's side of the shell process: send a cell, read its output and its reply."""

    def __init__(self, max_output, fd):
        self.max_output, self.fd, self.printed = max_output, fd, 0
        cmd_r, self.cmd = os.pipe()
        self.reply, reply_w = os.pipe()
        self.out, out_w = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-I", os.path.abspath(__file__), "--shell", str(cmd_r), str(reply_w)],
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=out_w,
            pass_fds=(cmd_r, reply_w),
            close_fds=True,
        )
        for end in (cmd_r, reply_w, out_w):
            os.close(end)
        self.pending = b""

    def count(self, size, cell):
        """Count ``size`` bytes of output; over the limit, report it and end the stage."""
        self.printed += size
        if self.printed > self.max_output:
            _send(self.fd, event="limit", what="output", cell=cell)
            os._exit(3)  # the host kills the rest of the sandbox

    def _take(self, chunk, texts, cell):
        self.count(len(chunk), cell)
        if sum(map(len, texts)) < 4 * MAX_TEXT:
            texts.append(chunk)

    def _drain(self, texts, cell):
        """Whatever the shell's processes wrote and the pipe holds now."""
        while select.select([self.out], [], [], 0)[0]:
            chunk = os.read(self.out, 65536)
            if not chunk:
                return
            self._take(chunk, texts, cell)

    def reply_to(self, cell, source=None):
        """Send ``source`` (None: wait for the shell's greeting); (reply dict or None if it died,
        text)."""
        texts = []
        if source is not None:
            try:
                os.write(self.cmd, (json.dumps({"code": source}) + "\n").encode())
            except OSError:  # the shell is gone
                return None, ""
        watched = [self.reply, self.out]
        while True:
            ready = select.select(watched, [], [], 0.5)[0]
            if not ready and self.proc.poll() is not None:
                # the shell is gone, though a process it started may still hold its pipes open
                self._drain(texts, cell)
                return None, _text(texts)
            if self.out in ready:
                chunk = os.read(self.out, 65536)
                if chunk:
                    self._take(chunk, texts, cell)
                else:
                    watched.remove(self.out)
            if self.reply in ready:
                chunk = os.read(self.reply, 65536)
                if not chunk:  # the shell died
                    if self.out in watched:
                        self._drain(texts, cell)
                    return None, _text(texts)
                self.pending += chunk
                if b"\n" in self.pending:
                    line, self.pending = self.pending.split(b"\n", 1)
                    if self.out in watched:
                        self._drain(texts, cell)
                    try:
                        got = json.loads(line[:MAX_REPLY])
                    except (ValueError, RecursionError):
                        got = None
                    return (got if isinstance(got, dict) else {}), _text(texts)
                if len(self.pending) > MAX_REPLY:
                    self.pending = self.pending[-MAX_REPLY:]  # only a line's end can matter now


def _text(texts):
    return b"".join(texts).decode("utf-8", "replace")


def _error(reply):
    err = reply.get("error")
    if not isinstance(err, dict):
        return None
    return {
        "ename": str(err.get("ename", ""))[:200],
        "evalue": str(err.get("evalue", ""))[:MAX_TEXT],
    }


def main(nb_path, max_output, fd):
    fd, max_output = int(fd), int(max_output)
    _private(fd)
    try:
        cells = list(_code_cells(nb_path))
        shell = Shell(max_output, fd)
        greeting, text = shell.reply_to(0)
        if greeting is None:
            last = (text.strip().splitlines() or ["no output"])[-1]
            _send(
                fd,
                event="failed",
                error=f"the notebook's Python process did not start: {last}"[:500],
            )
            os._exit(0)
        for number, source in cells:
            _send(fd, event="start", cell=number, t=round(time.monotonic() - T0, 2))
            reply, text = shell.reply_to(number, source)
            if reply is None:
                if text:
                    _send(fd, event="cell", cell=number, text=text[:MAX_TEXT], error=None)
                _send(fd, event="died")
                os._exit(0)
            result = reply.get("result")
            if isinstance(result, str):  # the value, as Jupyter shows it: output at its full size
                size = reply.get("size")
                shell.count(max(len(result), size if isinstance(size, int) else 0), number)
                text += result
            error = _error(reply)
            if text or error:
                _send(fd, event="cell", cell=number, text=text[:MAX_TEXT], error=error)
    except BaseException as e:  # noqa: BLE001 - anything else the host must hear about
        _send(fd, event="failed", error=f"{type(e).__name__}: {e}"[:500])
        os._exit(0)
    _send(fd, event="done", t=round(time.monotonic() - T0, 2))
    os._exit(0)  # the host tears the sandbox down, the shell with it


# ---------------------------------------------------------------- the shell (the student's process)

# Imported by the setup cell (through otter and utils.plots) but used by few graded cells: each is
# loaded when its first attribute is read, not when it is imported (about 1 CPU-s of a run stage of
# notebook 01).
LAZY = ("matplotlib.pyplot", "nbconvert", "pandas", "ipylab")


def _lazy_imports(names=LAZY):
    """Import ``names`` lazily (importlib's LazyLoader). Python 3.11's lazy module loads itself when
    the import system reads its ``__spec__`` (any second ``import``); this one answers that from its
    own dictionary. A module that turns out not to be lazy-loadable is imported as usual."""
    import importlib.abc
    import importlib.util

    base = getattr(importlib.util, "_LazyModule", None)
    if base is None:  # another Python's internals: import as usual
        return

    class Module(base):
        def __getattribute__(self, attr):
            if attr in ("__spec__", "__name__"):
                return object.__getattribute__(self, attr)
            return base.__getattribute__(self, attr)

    class Loader(importlib.util.LazyLoader):
        def exec_module(self, module):
            super().exec_module(module)
            module.__class__ = Module

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name not in names:
                return None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(name, path, target)
                if spec is not None:
                    if hasattr(spec.loader, "exec_module"):
                        spec.loader = Loader(spec.loader)
                    return spec
            return None

    sys.meta_path.insert(0, Finder())


def shell(cmd_fd, reply_fd):
    """Run the cells the driver sends, as Jupyter's kernel would; reply with each one's error and
    value."""
    cmd = os.fdopen(int(cmd_fd), "rb", buffering=0)
    reply_fd = int(reply_fd)
    sys.path.insert(0, "")  # the notebook's folder, as in Jupyter's kernel
    _lazy_imports()
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False  # no SQLite file in the sandbox
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.xmode = "plain"
    sh = InteractiveShell.instance(config=config)
    sh.showtraceback = lambda *args, **kwargs: None  # errors travel in the reply, as a kernel's do
    sh.showsyntaxerror = lambda *args, **kwargs: None
    sh.displayhook.write_output_prompt = lambda: None  # the value travels in the reply
    sh.displayhook.write_format_data = lambda *args, **kwargs: None

    def answer(**reply):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - the student may have replaced or closed it
                pass
        os.write(reply_fd, (json.dumps(reply, default=str) + "\n").encode())

    answer(ready=True)
    for line in cmd:
        source = json.loads(line)["code"]
        got = sh.run_cell(source, store_history=True)
        error = got.error_before_exec or got.error_in_exec
        result = None
        if got.result is not None:
            try:
                result = sh.display_formatter.format(got.result)[0].get("text/plain")
            except Exception:  # noqa: BLE001 - a broken __repr__ is the student's, not the run's
                result = None
        answer(
            error=None
            if error is None
            else {"ename": type(error).__name__, "evalue": str(error)[:MAX_TEXT]},
            result=None if result is None else str(result)[:MAX_TEXT],
            size=None if result is None else len(str(result)),
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--shell"]:
        shell(*sys.argv[2:4])
    else:
        main(*sys.argv[1:])
