"""Runs INSIDE a fresh sandbox, as nobody: otter's tests against the graded definitions only.

Standalone (standard library and otter). Usage: ``python -I judge.py RESULT_FD``,
with a JSON payload on stdin: ``tests`` ({file name: source}), ``definitions``
([[cell number, source]], chosen on the host by ``tamper.graded_definitions``).
The working folder holds only the support files (utils/), read-only.

Order matters: the payload is read and stdin closed, the test files are
compiled into otter's own ``ExceptionTestFile`` objects, and the references
this program needs are bound, all before any student code runs. The tests are
never on disk in this sandbox. Student code that runs here is only what the
tests call: imports, ``def``/``class`` statements and plain assignments; the
cells' loops, prints, magics and tampering at the top level never run.
Scores are otter's (``TestFile.score``/``possible``; the host builds the
Gradescope results from them after clamping); what the student sees of
a hidden test is only its failure message (the hint), never its code, and
only when the test's own ``assert`` failed.
"""
import ctypes
import json
import os
import sys

MAX_HINT = 300


def _private(fd):
    try:
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)   # PR_SET_DUMPABLE 0
    except Exception:  # noqa: BLE001
        pass
    os.set_inheritable(fd, False)


def _hint(exc, test_path, hidden):
    """(hint, kind): the test's own assertion message, or the exception's type (and, public, message)."""
    tb, last = exc.__traceback__, None
    while tb is not None:
        last, tb = tb, tb.tb_next
    own = last is not None and last.tb_frame.f_code.co_filename == test_path
    name = "".join(ch for ch in type(exc).__name__ if ch.isalnum() or ch == "_")[:40] or "Exception"
    if own and isinstance(exc, AssertionError):
        return str(exc)[:MAX_HINT], "assert"
    if hidden:
        return f"your code raised {name}", "raised"
    return f"your code raised {name}: {str(exc)[:MAX_HINT]}", "raised"


def _light_imports():
    """Import otter's test classes without otter/__init__ (its API, export, PDF code: ~10 s)."""
    import importlib.util
    import types
    spec = importlib.util.find_spec("otter")
    package = types.ModuleType("otter")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["otter"] = package
    sys.modules["rfc3987_syntax"] = None   # jsonschema's optional IRI grammar: 5 s to build, unused


def main(fd):
    fd = int(fd)
    _private(fd)
    payload = json.loads(sys.stdin.read())
    sys.stdin.close()
    _light_imports()
    from otter.test_files.abstract_test import TestCaseResult
    from otter.test_files.exception_test import ExceptionTestFile

    write, dumps, exit_ = os.write, json.dumps, os._exit
    files = []
    for fname, source in sorted(payload["tests"].items()):
        path = f"<test {fname}>"
        tf = ExceptionTestFile.from_string(source, path=path)
        tf.source = ""      # the source is not needed to run it; keep it out of messages
        files.append((tf, path))
    sys.path.insert(0, os.getcwd())   # the support files (utils/), read-only
    env, def_errors = {"__name__": "__main__"}, []
    for number, source in payload["definitions"]:
        try:
            exec(compile(source, f"<cell {number}>", "exec"), env)
        except BaseException as e:  # noqa: BLE001 - a broken definition fails its tests, nothing else
            def_errors.append({"cell": number, "ename": type(e).__name__[:40]})
    questions = {}
    for tf, path in files:
        results, cases = [], []
        for tc in tf.test_cases:
            try:
                tc.body.call_func(env)
                passed, hint, kind = True, "", "passed"
            except BaseException as e:  # noqa: BLE001
                passed, (hint, kind) = False, _hint(e, path, tc.hidden)
            results.append(TestCaseResult(test_case=tc, message="✅ Test case passed" if passed
                                          else f"❌ Test case failed\n{hint}", passed=passed))
            cases.append({"name": tc.name, "hidden": bool(tc.hidden), "passed": passed, "hint": hint,
                          "kind": kind})
        tf.test_case_results = results
        questions[tf.name] = {"score": tf.score, "possible": tf.possible, "cases": cases}
    write(fd, dumps({"questions": questions, "definition_errors": def_errors[:50]}, default=str).encode())
    exit_(0)


if __name__ == "__main__":
    main(*sys.argv[1:])
