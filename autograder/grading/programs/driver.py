"""Runs INSIDE the sandbox, as nobody: execute the student's cells, report through a private pipe.

Standalone on purpose (standard library, nbformat and nbclient): the sandbox
mounts this one file, never the repository. Usage:
``python -I driver.py NOTEBOOK.ipynb MAX_OUTPUT_BYTES RESULT_FD``.

No hidden test exists in this sandbox: ``tests/`` holds the public cases only,
so ``grader.check`` shows what a student sees at home. Nothing written here
decides a score; the judge does. The pipe ``RESULT_FD`` is made
non-inheritable (the kernel never gets it) and this process non-dumpable (the
kernel, running as the same user, cannot open it through /proc). Events, one
JSON object a line: ``start`` (cell number), ``cell`` (bounded text and
error), ``limit`` (output), ``died``, ``done``.
"""

import ctypes
import json
import os
import sys
import time

T0 = time.monotonic()

MAX_TEXT = 2000


def _private(fd):
    try:
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
    except Exception:  # noqa: BLE001 - not Linux
        pass
    os.set_inheritable(fd, False)


def _send(fd, **event):
    os.write(fd, (json.dumps(event, default=str)[:65000] + "\n").encode())


def _cell_report(cell):
    texts, error = [], None
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            texts.append(str(out.get("text", ""))[:MAX_TEXT])
        elif kind in ("execute_result", "display_data"):
            texts.append(str(out.get("data", {}).get("text/plain", ""))[:MAX_TEXT])
        elif kind == "error":
            error = {
                "ename": str(out.get("ename", ""))[:200],
                "evalue": str(out.get("evalue", ""))[:MAX_TEXT],
            }
    return "".join(texts)[:MAX_TEXT], error


def main(nb_path, max_output, fd):
    fd, max_output = int(fd), int(max_output)
    _private(fd)
    sys.modules["rfc3987_syntax"] = None  # jsonschema's optional IRI grammar: slow to build, unused
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    class Client(NotebookClient):
        printed = 0

        def output(self, outs, msg, display_id, cell_index):
            self.printed += len(json.dumps(msg.get("content", {}), default=str))
            if self.printed > max_output:
                _send(fd, event="limit", what="output", cell=cell_index)
                os._exit(3)
            return super().output(outs, msg, display_id, cell_index)

    nb = nbformat.read(nb_path, as_version=4)
    client = Client(
        nb,
        kernel_name="python3",
        allow_errors=True,
        timeout=None,
        resources={"metadata": {"path": os.getcwd()}},
    )
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or "otter_ignore" in cell.metadata.get("tags", []):
                    continue
                number = index + 1
                _send(fd, event="start", cell=number, t=round(time.monotonic() - T0, 2))
                client.execute_cell(cell, index)
                text, error = _cell_report(cell)
                if text or error:
                    _send(fd, event="cell", cell=number, text=text, error=error)
            _send(fd, event="done", t=round(time.monotonic() - T0, 2))
            os._exit(0)  # no graceful kernel shutdown: the host kills the whole sandbox
    except DeadKernelError:
        _send(fd, event="died")
        os._exit(0)
    except BaseException as e:  # noqa: BLE001 - anything else the host must hear about
        _send(fd, event="failed", error=f"{type(e).__name__}: {e}"[:500])
        os._exit(0)
    _send(fd, event="done", t=round(time.monotonic() - T0, 2))
    os._exit(0)  # the sandbox is torn down; skip kernel shutdown waits


if __name__ == "__main__":
    main(*sys.argv[1:])
