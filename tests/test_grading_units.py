"""Fast tests of autograder/grading (no notebook is executed): CSV, lock, refusal, sweep, argv, audit."""
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.grading import batch, sandbox, store, tamper

@pytest.mark.parametrize("value, escaped", [("=1+2", "'=1+2"), ("+cmd", "'+cmd"), ("-3", "-3"), ("@x", "'@x"),
                                            ("ok", "ok"), ("-nan", "'-nan")])
def test_csv_formulas_are_escaped(value, escaped):
    assert store.escape_cell(value) == escaped


def test_a_second_grader_on_the_same_out_refuses(tmp_path):
    with store.OutLock(tmp_path):
        assert batch.main([str(tmp_path), "--out", str(tmp_path), "--trusted"]) == 2


def test_no_sandbox_refuses_unless_trusted(tmp_path):
    with pytest.raises(SystemExit, match="--trusted"):
        batch.grade([str(tmp_path)], tmp_path / "out", use_bwrap=False)
    rows = batch.grade([str(tmp_path)], tmp_path / "out", use_bwrap=False, trusted=True, quiet=True)
    assert rows == {} and "--trusted" in (tmp_path / "out" / "warnings.txt").read_text()
    assert "--trusted" in (tmp_path / "out" / "report.html").read_text()


def test_stale_work_folders_are_swept(tmp_path):
    stale = Path(tempfile.gettempdir()) / f"{batch.WORK_PREFIX}stale-test"
    (stale / "templates").mkdir(parents=True, exist_ok=True)
    (stale / "owner").write_text("999999999")
    batch.sweep_stale()
    assert not stale.exists()


def test_any_virtualenv_location_is_bound_after_the_private_tmp(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "prefix", "/tmp/some-venv")
    argv = sandbox.bwrap_argv(tmp_path, [], {}, ["python"], sandbox.Limits())
    tmpfs = max(i for i, a in enumerate(argv) if a == "/tmp" and argv[i - 1] == "--tmpfs")
    bind = next(i for i, a in enumerate(argv) if a == "/tmp/some-venv" and argv[i - 2] == "--ro-bind")
    assert tmpfs < bind
    assert argv[argv.index("setpriv") + 1] == f"--reuid={sandbox.NOBODY}"


@pytest.mark.parametrize("source, flagged", [
    ("grader.check = lambda q: None", True),
    ("import otter\notter.Notebook.check = print", True),
    ("import base64\nexec(base64.b64decode('eA=='))", True),
    ("x = eval('1 + 1')", True),
    ("from otter.test_files import abstract_test", True),
    ("import otter.check.notebook", True),
    ("%%bash\necho '{}' > /autograder/results/results.json", True),
    ("open('/autograder/results/results.json', 'w')", True),
    # what honest answers do: never flagged (issue 18: m.eval(), setattr, requires_grad, helpers, imports)
    ("phi = copy.deepcopy(model)\nsetattr(phi, head_name, nn.Identity())\nphi.eval()", False),
    ("for p in phi.parameters():\n    p.requires_grad = False\nmodel.train(False)", False),
    ("import importlib, inspect, gc, sys\nsys.setprofile(None)\ngetattr(m, 'fc')", False),
    ("print(grader.check('q1'))", False),
    ("grader.check('q1')", False),
    ("from utils import results\nprint(results.__file__, 'results.json')", False),
    ("def f(:\n  pass", False),
    ("import os, subprocess, sys\nif 'google.colab' in sys.modules:\n    subprocess.run(['pip'])", False),
    ("import otter\ngrader = otter.Notebook(tests_dir='tests')", False),
])
def test_audit(source, flagged):
    assert bool(tamper.audit([(1, [], source)])) == flagged


def test_graded_definitions_are_linear_in_a_huge_chained_assignment():
    """A 600 KB cell of chained assignments made the closure quadratic (issue 18 §5)."""
    import time
    chain = " = ".join(f"v{i}" for i in range(60000)) + " = 1\n"
    cells = [(1, [], chain), (2, [], "def fit(a):\n    return a + v59999\n")]
    start = time.process_time()
    got = tamper.graded_definitions(cells, {"fit"})
    assert [n for n, _ in got] == [1, 2]
    assert time.process_time() - start < 30     # quadratic took minutes; a bound, not a speed goal


def test_more_code_than_the_limit_is_refused_with_its_reason():
    from autograder.grading import inputs
    nb = {"nbformat": 4, "cells": [{"cell_type": "code", "source": "x = 1\n" + "#" * ((1 << 20) - 100)}
                                   for _ in range(6)]}
    with pytest.raises(ValueError, match="MB of code in all"):
        inputs.rebuild(nb)


def test_graded_definitions_leave_top_level_code_out():
    cells = [(1, [], "import numpy as np\nexec('x')\nfor i in range(3):\n    print(i)"),
             (2, [], "def helper(x):\n    return np.sum(x)\ndef fit(a):\n    return helper(a)\nfit.x = 1"),
             (3, ["otter_ignore"], "def fit(a):\n    return 0"), (4, [], "unused = 3\nanswer = 'A'")]
    got = "\n".join(src for _, src in tamper.graded_definitions(cells, {"fit", "answer"}))
    assert "exec" not in got and "print" not in got and "unused" not in got and "return 0" not in got
    assert "import numpy as np" in got and "def helper" in got and "answer = 'A'" in got


def test_graded_definitions_keep_what_changes_an_answer():
    """Honest answers build values with loops, item assignments and method calls (tests/honest_answers.py)."""
    cells = [(1, [], "import numpy as np\nadvice = {}\nadvice['a'] = 1\nadvice.update(b=2)\nnp.random.seed(0)"),
             (2, ["otter_ignore"], "table = sorted(zoo)\nnp.save('x', 1)"),
             (3, [], "best = None\nfor m in table:\n    if best is None:\n        best = m\nprint(best)"),
             (4, [], "zoo = [3, 1, 2]")]
    got = "\n".join(src for _, src in tamper.graded_definitions(cells, {"advice", "best"}))
    assert "advice['a'] = 1" in got and "advice.update(b=2)" in got and "for m in table" in got
    assert "table = sorted(zoo)" in got and "zoo = [3, 1, 2]" in got
    assert "np.random.seed" not in got and "np.save" not in got and "print(best)" not in got




def test_interrupted_batch_resumes_without_losing_or_duplicating(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("a", "b", "c"):
        (subs / f"{name}.ipynb").write_text("{")            # invalid: graded on the host, no sandbox
    rows = batch.grade([str(subs)], tmp_path / "out", use_bwrap=False, trusted=True, quiet=True)
    kept = {k: v for k, v in rows.items() if k != "b"}
    store.write_rows(tmp_path / "out" / "grades.csv", kept)   # as if killed before b finished
    again = batch.grade([str(subs)], tmp_path / "out", use_bwrap=False, trusted=True, quiet=True)
    assert set(again) == {"a", "b", "c"} and again["a"] == rows["a"]
    ids = [line.split(",")[0] for line in (tmp_path / "out" / "grades.csv").read_text().splitlines()[1:]]
    assert sorted(ids) == ["a", "b", "c"]


def test_resume_reuses_a_row_only_for_the_same_path_and_content(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "alice.ipynb").write_text("{")
    first = batch.grade([str(subs)], tmp_path / "out", use_bwrap=False, trusted=True, quiet=True)
    (subs / "alice.zip").write_bytes(b"not a zip")           # a second file of alice's: a row of its own
    (subs / "alice.ipynb").write_text("")                    # and her notebook changed
    again = batch.grade([str(subs)], tmp_path / "out", use_bwrap=False, trusted=True, quiet=True)
    assert set(again) == {"alice", "alice.zip"}
    assert "empty" in again["alice"]["reason"] and "invalid JSON" in first["alice"]["reason"]
    assert again["alice"]["sha256"] != first["alice"]["sha256"]


def test_ids_are_stable_wherever_the_folder_lies(tmp_path):
    from autograder.grading import inputs
    found = []
    for where in ("one", "two/deeper"):
        root = tmp_path / where
        (root / "a").mkdir(parents=True)
        for name in ("名前", "名字", "a_b", "a/b", "=1+2"):
            (root / f"{name}.ipynb").write_text("")
        found.append([(sid, shown) for sid, _, shown in inputs.collect([root])])
    assert found[0] == found[1]
    ids = [sid for sid, _ in found[0]]
    assert len(set(ids)) == 5 and all(inputs.SAFE.sub("", i) == i for i in ids)


def test_an_id_depends_on_its_own_path_alone(tmp_path):
    """Adding files never changes another's id, and a file named like a hashed id cannot take it."""
    from autograder.grading import inputs
    (tmp_path / "a b.ipynb").write_text("")
    alone = dict((shown, sid) for sid, _, shown in inputs.collect([tmp_path]))
    hashed = alone["a b.ipynb"]
    (tmp_path / f"{hashed}.ipynb").write_text("")
    (tmp_path / "a_b.ipynb").write_text("")
    both = dict((shown, sid) for sid, _, shown in inputs.collect([tmp_path]))
    assert both["a b.ipynb"] == hashed
    assert len(set(both.values())) == 3


def test_pipes_folders_and_links_named_like_submissions_get_their_own_invalid_row(tmp_path):
    import os
    subs = tmp_path / "subs"
    subs.mkdir()
    os.mkfifo(subs / "fifo.ipynb")
    (subs / "folder.ipynb").mkdir()
    (subs / "folder.ipynb" / "inside.ipynb").write_text("{}")
    (subs / "zero.ipynb").symlink_to("/dev/zero")
    rows = batch.grade([str(subs)], tmp_path / "out", use_bwrap=False, trusted=True, quiet=True)
    assert set(rows) == {"fifo", "folder", "zero"}
    assert all(r["status"] == "invalid" for r in rows.values())
    assert "folder named like a notebook" in rows["folder"]["reason"]
    assert "not a regular file" in rows["fifo"]["reason"] and "not a regular file" in rows["zero"]["reason"]


def test_a_cancelled_stage_is_stopped_at_once(tmp_path):
    """The judge runs alongside the run stage; when the run stage decides the status, the judge is stopped."""
    import threading
    import time
    script = tmp_path / "sleeper.py"
    script.write_text("import time\ntime.sleep(60)\n")
    (tmp_path / "submission").mkdir()
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    start = time.monotonic()
    outcome = sandbox.run_stage("judge", tmp_path, [], [str(script)], sandbox.Limits(), 60, use_bwrap=False,
                                use_cgroup=False, cancel=cancel)
    assert outcome.kind == "cancelled" and time.monotonic() - start < 30
    assert outcome.returncode is not None          # the process is dead when run_stage returns


def test_parsing_in_grading_threads_at_once_never_crashes():
    """CPython 3.11's AST constructor keeps its recursion depth per interpreter: two threads parsing at once
    (a garbage collection in one hands the GIL to the other) raised SystemError, and make demo's batch
    marked a student's submission as a grader crash. Here collections run often and run Python code."""
    import gc
    import threading

    source = "def f(x):\n    return [[[[x + 1 for _ in range(3)]]]]\n" * 300
    errors = []

    def parse_many():
        for _ in range(20):
            try:
                tamper.parse(source)
            except SystemError as e:
                errors.append(str(e))
                return

    interval, thresholds, callback = sys.getswitchinterval(), gc.get_threshold(), lambda *_: sum(range(50))
    sys.setswitchinterval(1e-6)
    gc.set_threshold(10, 1, 1)
    gc.callbacks.append(callback)
    try:
        threads = [threading.Thread(target=parse_many) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        gc.callbacks.remove(callback)
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(interval)
    assert not errors, errors[0]


@pytest.mark.skipif(not sandbox.cgroup_status()[0], reason="needs per-stage cgroups (root)")
def test_time_limits_count_the_stages_own_cpu_time(tmp_path):
    """A stage that waits (a loaded machine, I/O) is not timed out by the wall clock; one that computes is."""
    (tmp_path / "submission").mkdir()
    waits, spins = tmp_path / "waits.py", tmp_path / "spins.py"
    waits.write_text("import time\ntime.sleep(4)\n")
    spins.write_text("while True:\n    pass\n")
    calm = sandbox.run_stage("run", tmp_path, [], [str(waits)], sandbox.Limits(), 2, use_bwrap=False)
    busy = sandbox.run_stage("run", tmp_path, [], [str(spins)], sandbox.Limits(), 2, use_bwrap=False)
    assert calm.kind == "finished" and calm.seconds > 2, calm
    assert busy.kind == "timeout" and busy.cpu_seconds >= 2 and busy.seconds < sandbox.backstop(2), busy
