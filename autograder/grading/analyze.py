"""Runs in a killable, time- and memory-limited subprocess: everything the host reads out of one
notebook.

Usage: ``python -I analyze.py RESULT_FD``; stdin holds one JSON line (``templates``: {assignment:
{params, given}}, ``assignment``: the one forced by ``--assignment`` or null) and then the
notebook's bytes. It parses the JSON, checks its shape, rebuilds the clean notebook, picks the
graded definitions and runs the audit (``inputs``, ``static``), and writes one JSON object to
RESULT_FD. A notebook built to make any of this slow or huge (deep JSON, megabytes of code, a
quadratic closure) overruns this process's limits, and becomes that submission's own row; the batch
and the other rows never notice.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the folder holding autograder/


def main(fd):
    fd = int(fd)
    os.set_inheritable(fd, False)
    from autograder.grading import inputs, static

    head = sys.stdin.buffer.readline()
    request = json.loads(head)
    data = sys.stdin.buffer.read()
    sub = inputs.parse(inputs.Submission("", Path("submission.ipynb")), data)
    out = {"problem": sub.problem}
    if not sub.problem:
        name = request.get("assignment") or sub.assignment
        tpl = request["templates"].get(name) if isinstance(name, str) else None
        out.update(
            assignment=sub.assignment,
            nb_name=sub.nb_name,
            nb=sub.nb_bytes.decode(),
            cells=sub.cells,
        )
        if tpl is not None:
            given = set(tpl["given"])
            out["definitions"] = static.graded_definitions(sub.cells, set(tpl["params"]))
            out["flags"] = static.audit([c for c in sub.cells if c[2].strip() not in given])
            if tpl.get("manual"):  # the written answers, from the notebook's own saved outputs
                from autograder.grading import manual

                out["manual"] = manual.extract(json.loads(data.decode("utf-8")), tpl["manual"])
    with open(fd, "wb") as f:
        f.write(json.dumps(out).encode())
    os._exit(0)


if __name__ == "__main__":
    main(*sys.argv[1:])
