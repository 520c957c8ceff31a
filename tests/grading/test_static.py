"""autograder/grading/static.py: the audit (advice, never a verdict) and the graded definitions."""

import sys

import pytest

from autograder.grading import static


@pytest.mark.parametrize(
    "source, flagged",
    [
        ("grader.check = lambda q: None", True),
        ("import otter\notter.Notebook.check = print", True),
        ("import base64\nexec(base64.b64decode('eA=='))", True),
        ("x = eval('1 + 1')", True),
        ("from otter.test_files import abstract_test", True),
        ("import otter.check.notebook", True),
        ("%%bash\necho '{}' > /autograder/results/results.json", True),
        ("open('/autograder/results/results.json', 'w')", True),
        # what honest answers do: never flagged (issue 18: m.eval(), setattr, requires_grad,
        # helpers, imports)
        ("phi = copy.deepcopy(model)\nsetattr(phi, head_name, nn.Identity())\nphi.eval()", False),
        ("for p in phi.parameters():\n    p.requires_grad = False\nmodel.train(False)", False),
        ("import importlib, inspect, gc, sys\nsys.setprofile(None)\ngetattr(m, 'fc')", False),
        ("print(grader.check('q1'))", False),
        ("grader.check('q1')", False),
        ("from utils import results\nprint(results.__file__, 'results.json')", False),
        ("def f(:\n  pass", False),
        (
            "import os, subprocess, sys\n"
            "if 'google.colab' in sys.modules:\n    subprocess.run(['pip'])",
            False,
        ),
        ("import otter\ngrader = otter.Notebook(tests_dir='tests')", False),
    ],
)
def test_audit(source, flagged):
    assert bool(static.audit([(1, [], source)])) == flagged


def test_graded_definitions_are_linear_in_a_huge_chained_assignment():
    """A 600 KB cell of chained assignments made the closure quadratic (issue 18 §5)."""
    import time

    chain = " = ".join(f"v{i}" for i in range(60000)) + " = 1\n"
    cells = [(1, [], chain), (2, [], "def fit(a):\n    return a + v59999\n")]
    start = time.process_time()
    got = static.graded_definitions(cells, {"fit"})
    assert [n for n, _ in got] == [1, 2]
    assert time.process_time() - start < 30  # quadratic took minutes; a bound, not a speed goal


def test_graded_definitions_leave_top_level_code_out():
    cells = [
        (1, [], "import numpy as np\nexec('x')\nfor i in range(3):\n    print(i)"),
        (
            2,
            [],
            "def helper(x):\n    return np.sum(x)\ndef fit(a):\n    return helper(a)\nfit.x = 1",
        ),
        (3, ["otter_ignore"], "def fit(a):\n    return 0"),
        (4, [], "unused = 3\nanswer = 'A'"),
    ]
    got = "\n".join(src for _, src in static.graded_definitions(cells, {"fit", "answer"}))
    assert (
        "exec" not in got and "print" not in got and "unused" not in got and "return 0" not in got
    )
    assert "import numpy as np" in got and "def helper" in got and "answer = 'A'" in got


def test_graded_definitions_keep_what_changes_an_answer():
    """Honest answers build values with loops, item assignments and method calls
    (tests/honest_answers.py)."""
    cells = [
        (
            1,
            [],
            "import numpy as np\nadvice = {}\nadvice['a'] = 1\n"
            "advice.update(b=2)\nnp.random.seed(0)",
        ),
        (2, ["otter_ignore"], "table = sorted(zoo)\nnp.save('x', 1)"),
        (
            3,
            [],
            "best = None\nfor m in table:\n    if best is None:\n        best = m\nprint(best)",
        ),
        (4, [], "zoo = [3, 1, 2]"),
    ]
    got = "\n".join(src for _, src in static.graded_definitions(cells, {"advice", "best"}))
    assert "advice['a'] = 1" in got and "advice.update(b=2)" in got and "for m in table" in got
    assert "table = sorted(zoo)" in got and "zoo = [3, 1, 2]" in got
    assert "np.random.seed" not in got and "np.save" not in got and "print(best)" not in got


def test_parsing_in_grading_threads_at_once_never_crashes():
    """CPython 3.11's AST constructor keeps its recursion depth per interpreter: two threads parsing
    at once (a garbage collection in one hands the GIL to the other) raised SystemError, and make
    demo's batch marked a student's submission as a grader crash. Here collections run often and run
    Python code."""
    import gc
    import threading

    source = "def f(x):\n    return [[[[x + 1 for _ in range(3)]]]]\n" * 300
    errors = []

    def parse_many():
        for _ in range(20):
            try:
                static.parse(source)
            except SystemError as e:
                errors.append(str(e))
                return

    interval, thresholds, callback = (
        sys.getswitchinterval(),
        gc.get_threshold(),
        lambda *_: sum(range(50)),
    )
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
