"""Forgeries from inside graded functions, for tests/test_judge_attacks.py (notebook 01).

Each attack is code that runs where the student's functions run (the worker) and tries what the judge-stage
forgeries of issue 18 did against the old design: walk frames (``sys._getframe``, ``traceback.walk_stack``),
scan the heap (``gc.get_objects``) for otter's results, swap ``json.dumps.__code__`` and
``JSONEncoder.encode``, patch otter's ``TestFile.score``, ``TestCaseResult.__init__`` and ``call_func``, write
a forged result to every file descriptor (the result descriptor named in ``sys.argv`` among them), replace
``sys.modules`` entries, register an ``atexit`` writer, raise an exception whose ``__str__`` raises
``SystemExit``, and ``os._exit``. ``PLACES`` puts the attack where code runs at definition time (a default
argument, a decorator, a class body, an annotation) or at call time (the function's body).
"""

FORGE = r'''
def _forge(kind="all"):
    import atexit, gc, json, os, sys, traceback
    forged = json.dumps({"questions": {q: {"score": 99, "possible": 1, "cases": []} for q in
                         ("ols_phi", "ols_split", "ols_fit", "ols_predict", "ols_fix", "ols_choose", "ols_mc")},
                         "op": "result", "value": 99}).encode()
    frame, seen = sys._getframe(0), 0
    while frame is not None:
        seen += 1
        for name, value in list(frame.f_globals.items()):
            if name in ("outcomes", "questions", "files"):
                try:
                    value.clear()
                except Exception:
                    pass
        frame = frame.f_back
    for _frame, _ in traceback.walk_stack(None):
        pass
    for obj in gc.get_objects():
        kind_ = type(obj).__name__
        if kind_ in ("TestCaseResult", "ExceptionTestFile", "TestFile", "test_case"):
            for attr, value in (("passed", True), ("score", 99), ("test_func", lambda *a, **k: None)):
                try:
                    setattr(obj, attr, value)
                except Exception:
                    pass
    try:
        json.dumps.__code__ = (lambda *a, **k: forged.decode()).__code__
        json.JSONEncoder.encode = lambda self, o: forged.decode()
    except Exception:
        pass
    try:
        import otter.test_files.abstract_test as at, otter.test_files.exception_test as et
        at.TestFile.score = property(lambda self: 99)
        at.TestCaseResult.__init__ = lambda self, *a, **k: None
        et.test_case.call_func = lambda self, env: None
    except Exception:
        pass
    for fd in [int(a) for a in sys.argv[1:] if a.isdigit()] + list(range(3, 40)):
        try:
            os.write(fd, forged)
        except OSError:
            pass
    sys.modules["json"] = None
    atexit.register(lambda: [os.write(fd, forged) for fd in range(3, 40)] if True else None)
    if kind == "exit":
        os._exit(0)
    if kind == "strange":
        class Strange(Exception):
            def __str__(self):
                raise SystemExit(0)
        raise Strange()
    return 99
'''

BODY = "def predict(Phi, w):\n"

# (name, code placed before `def predict`, the `def predict` line it becomes, code at the top of its body)
PLACES = {
    "body": ("", BODY, "    _forge()\n"),
    "body_exit": ("", BODY, "    _forge('exit')\n"),
    "body_strange": ("", BODY, "    _forge('strange')\n"),
    "default_argument": ("", "def predict(Phi, w, _forged=_forge()):\n", ""),
    "decorator": ("", "@(lambda f: (_forge(), f)[1])\ndef predict(Phi, w):\n", ""),
    "class_body": ("class _Attack:\n    forged = _forge()\n\n\n", BODY, ""),
    "annotation": ("", "def predict(Phi, w) -> _forge():\n", ""),
}
# call-time attacks leave the other questions of a full solution untouched; definition-time ones run whenever
# a worker starts, so they are graded on the untouched notebook, where they must earn nothing
AT_CALL = ("body", "body_exit", "body_strange")

LEAK = r'''
_seen = []
def predict(Phi, w):
    import numpy as np
    _seen.append(repr(np.asarray(Phi).tolist())[:200] + repr(np.asarray(w).tolist())[:200])
    raise ValueError("LEAK " + " | ".join(_seen))
'''

# Issue 29 §3: a graded function that rewrites the test's inputs in place (every array and tensor zeroed, every
# module's parameters zeroed, every dict's numbers zeroed) and returns zeros of the right shape: against tests
# that computed their references after the call, from arguments the judge took back, this earned points (1.43 of
# 2 on ols_fix). ``rewriting(names, rewrite)`` is a cell that wraps each graded function so; with ``rewrite``
# False it returns the same zeros and leaves the inputs alone: the rewriting version must earn nothing more.
REWRITE = r'''
def _ptm_zero(value, depth=0):
    import numpy as np
    import torch
    if depth > 4:
        return
    if isinstance(value, np.ndarray):
        if value.flags.writeable:
            value[...] = 0
    elif isinstance(value, torch.Tensor):
        with torch.no_grad():
            value.zero_()
    elif isinstance(value, torch.nn.Module):
        with torch.no_grad():
            for p in value.parameters():
                p.zero_()
    elif isinstance(value, list):
        for item in value:
            _ptm_zero(item, depth + 1)
    elif isinstance(value, dict):
        for key in list(value):
            if isinstance(value[key], (int, float)) and not isinstance(value[key], bool):
                value[key] = 0
            else:
                _ptm_zero(value[key], depth + 1)


def _ptm_zeros_like(value, depth=0):
    import copy
    import numpy as np
    import torch
    if depth > 4:
        return value
    if isinstance(value, np.ndarray):
        return np.zeros_like(value)
    if isinstance(value, torch.Tensor):
        return torch.zeros_like(value)
    if isinstance(value, torch.nn.Module):
        out = copy.deepcopy(value)
        _ptm_zero(out)
        return out
    if isinstance(value, (list, tuple)):
        return type(value)(_ptm_zeros_like(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return {k: _ptm_zeros_like(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return type(value)(0)
    return value


def _ptm_rewriting(fn, rewrite):
    def attacked(*args, **kwargs):
        out = _ptm_zeros_like(fn(*args, **kwargs))
        if rewrite:
            for arg in list(args) + list(kwargs.values()):
                _ptm_zero(arg)
        return out
    return attacked
'''


def rewriting(names, rewrite):
    """A cell that wraps every function of ``names`` (see REWRITE)."""
    return REWRITE + "".join(f"\n{name} = _ptm_rewriting({name}, {rewrite})" for name in sorted(names))
