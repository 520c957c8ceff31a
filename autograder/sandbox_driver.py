"""Runs INSIDE the sandbox: grade one submission with otter's own grading code.

Standalone on purpose (only the standard library and otter): the sandbox mounts
this one file, never the repository. Layout it expects (Gradescope's):
``/autograder/{source, submission/<nb>.ipynb, results}`` with ``source`` (the
unpacked autograder zip) and the support files in ``submission`` already in
place, read-only where the platform allows it.

Writes ``results/driver.json`` (scores, otter's Gradescope dict, errors raised
by the submission's cells) and keeps ``results/progress.json`` pointing at the
cell being run, so the host can say where a timeout or a crash happened.
"""
import json
import os
import sys
import time
import traceback

MAX_TEXT = 4000          # characters kept per cell output / error
MAX_CELLS_REPORTED = 200


def _write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, default=str)
    os.replace(tmp, path)


def _cell_text(cell):
    """Printed text and errors of one executed cell, truncated."""
    texts, error = [], None
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            texts.append(out.get("text", "")[:MAX_TEXT])
        elif out.get("output_type") in ("execute_result", "display_data"):
            texts.append(str(out.get("data", {}).get("text/plain", ""))[:MAX_TEXT])
        elif out.get("output_type") == "error":
            error = {"ename": out.get("ename", ""), "evalue": str(out.get("evalue", ""))[:MAX_TEXT]}
    return "".join(texts)[:MAX_TEXT], error


def _patch_otter(results_dir, captured):
    """Hooks around otter (not its scoring): files are pre-placed, note progress, fast shutdown."""
    from nbconvert.preprocessors import ExecutePreprocessor
    from otter.run.run_autograder.runners.python_runner import PythonRunner

    PythonRunner.prepare_files = lambda self: None   # the host laid the files out (read-only)
    # the host strips any PDF-upload token from the read-only config when unpacking
    PythonRunner.sanitize_tokens = lambda self: setattr(self.ag_config, "token", None)
    original_run = PythonRunner.run

    def run(self):
        scores = original_run(self)
        captured.append((scores, self.ag_config))
        return scores

    PythonRunner.run = run
    original_init = ExecutePreprocessor.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.shutdown_kernel = "immediate"   # results are already pickled when the kernel stops

    ExecutePreprocessor.__init__ = init
    original_cell = ExecutePreprocessor.preprocess_cell
    progress = os.path.join(results_dir, "progress.json")

    def preprocess_cell(self, cell, resources, index):
        if cell.get("cell_type") == "code":
            _write_json(progress, {"index": index, "id": cell.get("id"),
                                   "source": cell.get("source", "")[:300], "t": time.time()})
        return original_cell(self, cell, resources, index)

    ExecutePreprocessor.preprocess_cell = preprocess_cell


def _summarise(scores, ag_config):
    cells = []
    nb = getattr(scores, "notebook", None) or {"cells": []}
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        text, error = _cell_text(cell)
        if text or error:
            cells.append({"index": i, "id": cell.get("id"), "source": cell.get("source", "")[:300],
                          "text": text, "error": error})
    return {
        "ok": True,
        "questions": {name: {"score": tf.score, "possible": tf.possible}
                      for name, tf in scores.results.items()},
        "catastrophic": str(scores._catastrophic_error) if scores.has_catastrophic_failure() else None,
        "gradescope": scores.to_gradescope_dict(ag_config),
        "cells": cells[:MAX_CELLS_REPORTED],
    }


def _reap_setup():
    """Become a subreaper so that processes a submission daemonises stay in our tree."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
    except Exception:  # noqa: BLE001 - not Linux
        pass


def _kill_descendants():
    try:
        import psutil
        for p in psutil.Process().children(recursive=True):
            p.kill()
    except Exception:  # noqa: BLE001
        pass


def main(root="/autograder"):
    _reap_setup()
    results_dir = os.path.join(root, "results")
    out = os.path.join(results_dir, "driver.json")
    captured = []
    try:
        _patch_otter(results_dir, captured)
        from otter.run.run_autograder import capture_run_output
        from otter.run.run_autograder import main as run_autograder
        with capture_run_output() as log:
            run_autograder(root, otter_run=True, logo=False, debug=False)
        result = _summarise(*captured[0])
        result["otter_log"] = log.getvalue()[-MAX_TEXT:]
    except BaseException as e:  # noqa: BLE001 - report anything to the host
        result = {"ok": False, "error": f"{type(e).__name__}: {e}"[:MAX_TEXT],
                  "traceback": traceback.format_exc()[-MAX_TEXT:]}
    _kill_descendants()
    _write_json(out, result)
    sys.stdout.flush()
    os._exit(0)   # skip waiting for otter's logging thread; the sandbox is torn down anyway


if __name__ == "__main__":
    main(*sys.argv[1:])
