"""The trusted half of a grading: otter's tests, run here, against the student's functions, run
elsewhere.

Usage: ``python -I judge.py RESULT_FD`` with a JSON payload on stdin: ``tests`` ({file name:
source}), ``definitions`` ([[cell number, source]], chosen by the host), ``worker`` (how to start a
worker: ``argv``, ``env``, ``cwd``, ``cgroups``), ``support`` (the folder holding utils/), ``seed``
(the grading seed) and ``call_timeout`` (seconds one call may take).

No student code ever runs in this process. The graded definitions run in a *worker* (``worker.py``,
in a sandbox of its own, as another user); each test gets, for every name it takes, either a value
fetched from the worker as data (``wire.py``: arrays, tensors, modules as their architecture and
state; never code) or a ``RemoteFunction`` that calls the student's function across the process
boundary and brings back its return value and every argument's new state. The assertions, the scores
and the results all stay here.

Public cases run first, then hidden ones: a hidden case's inputs reach the worker only after every
public case is done, so nothing a hidden case showed the worker can come back in a public case's
message. What a student sees of a failed hidden case is the test author's own message, with every
value the student's code produced left out. A worker that dies, hangs or sends what cannot be
decoded fails the case that was calling it, and a fresh worker serves the next case.
"""

import ast
import base64
import builtins
import contextlib
import ctypes
import itertools
import json
import os
import select
import signal
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire  # noqa: E402

MAX_HINT = 300
MAX_RESPAWNS = 4
STUDENT_EXCEPTIONS = {"numpy.linalg.LinAlgError"}


class WorkerLost(Exception):
    """The worker died, hung or broke the protocol during a call."""


class StudentError(Exception):
    """Marks an exception the student's code raised in the worker (its class is rebuilt when it is a
    builtin)."""


def _student_exception(type_path, message):
    """An exception the test can catch (builtins, numpy's LinAlgError), marked as the student's."""
    module, _, name = str(type_path).rpartition(".")
    cls = None
    if module in ("", "builtins"):
        cls = getattr(builtins, name, None)
    elif type_path in STUDENT_EXCEPTIONS:
        import numpy.linalg

        cls = numpy.linalg.LinAlgError
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = StudentError
    try:
        err = type("StudentRaised", (cls, StudentError), {})(str(message)[:2000])
    except TypeError:
        err = StudentError(str(message)[:2000])
    err.student_type = name[:60] or "Exception"
    return err


# -------------------------------------------------------------------------------------- the worker


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_filter(bpf):
    """The host's seccomp filter (``autograder/grading/seccomp.py``) on this process: no_new_privs,
    then the filter (a worker's preexec, where no bubblewrap installs it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(len(bpf) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "the seccomp filter could not be installed")


def wait_gate(fd):
    """Block until the host says the run stage has ended (a byte, or the pipe closing)."""
    try:
        select.select([fd], [], [])
        os.read(fd, 1)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


class _Reader:
    """Exact reads from a pipe, each bounded by a deadline (``TimeoutError``)."""

    def __init__(self, fd):
        self.fd, self.deadline = fd, None

    def read(self, n):
        chunks, left = [], n
        while left:
            if self.deadline is not None:
                wait = self.deadline - time.monotonic()
                if wait <= 0 or not select.select([self.fd], [], [], wait)[0]:
                    raise TimeoutError
            chunk = os.read(self.fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)


class Worker:
    """One worker process and its channel."""

    def __init__(self, spec, definitions, timeout):
        self.spec, self.timeout = spec, timeout
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        cgroups = list(spec.get("cgroups") or [])
        bpf = base64.b64decode(spec["seccomp"]) if spec.get("seccomp") else None
        argv, fds, filter_fd = list(spec["argv"]), [to_r, from_w], None
        if bpf is not None and "{seccomp_fd}" in argv:  # bubblewrap installs it (--seccomp FD)
            filter_fd = os.memfd_create("ptm-seccomp", 0)
            os.write(filter_fd, bpf)
            os.lseek(filter_fd, 0, os.SEEK_SET)
            argv = [str(filter_fd) if a == "{seccomp_fd}" else a for a in argv]
            fds.append(filter_fd)
            bpf = None

        def setup():
            os.setsid()
            try:
                ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
            except Exception:  # noqa: BLE001 - not Linux
                pass
            for d in cgroups:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))
            if (
                bpf is not None
            ):  # no bubblewrap: the filter goes on here, before setpriv and the worker
                install_filter(bpf)

        argv += [str(to_r), str(from_w)]
        try:
            self.proc = subprocess.Popen(
                argv,
                env=spec.get("env"),
                cwd=spec.get("cwd") or None,
                pass_fds=fds,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=setup,
            )
        finally:
            for fd in [to_r, from_w] + ([filter_fd] if filter_fd is not None else []):
                os.close(fd)
        self.out = os.fdopen(to_w, "wb")
        self.reader = _Reader(from_r)
        self.definition_errors, self.ready = [], False
        self.send(
            {"op": "init", "definitions": definitions}
        )  # the worker starts while the judge goes on

    def wait_ready(self):
        if self.ready:
            return
        try:
            reply, _ = self.receive(deadline=time.monotonic() + self.timeout)
        except (WorkerLost, wire.WireError) as e:
            self.kill()
            raise WorkerLost(f"the process running your code did not start ({e})") from None
        self.ready = True
        errors = reply.get("definition_errors", [])
        self.definition_errors = errors if isinstance(errors, list) else []

    def send(self, tree, buffers=()):
        try:
            wire.write_message(self.out, tree, buffers)
        except (BrokenPipeError, OSError):
            raise WorkerLost("the process running your code stopped") from None

    def receive(self, deadline):
        self.reader.deadline = deadline
        try:
            tree, buffers = wire.read_message(self.reader)
        except TimeoutError:
            raise WorkerLost("your code ran over the time limit of one call") from None
        except (EOFError, OSError):
            raise WorkerLost(
                "the process running your code stopped (an exit, a crash or a limit)"
            ) from None
        except wire.WireError:
            raise WorkerLost(
                "the process running your code broke its channel to the grader"
            ) from None
        if not isinstance(tree, dict):
            raise WorkerLost("the process running your code sent a malformed reply")
        return tree, buffers

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.kill()
        self.proc.wait()
        for f in (self.out,):
            with contextlib.suppress(OSError):
                f.close()
        with contextlib.suppress(OSError):
            os.close(self.reader.fd)


class Session:
    """The judge's side of every call: starts workers, encodes, runs callbacks, decodes."""

    def __init__(self, spec, definitions, timeout):
        self.spec, self.definitions, self.timeout = spec, definitions, timeout
        self.worker, self.respawns, self.callbacks, self.lost = None, 0, {}, None
        self.writable = {}  # id -> object a test declared the function may change (checks.mutable)

    def live(self):
        if self.worker is None:
            if self.respawns > MAX_RESPAWNS:
                raise WorkerLost(self.lost or "the process running your code kept stopping")
            self.respawns += 1
            self.worker = Worker(self.spec, self.definitions, self.timeout)
        try:
            self.worker.wait_ready()
        except WorkerLost as e:
            self.worker, self.lost = None, str(e)
            raise
        return self.worker

    def start(self):
        """Start the first worker now: its imports overlap with the judge's own."""
        if self.worker is None:
            self.respawns += 1
            self.worker = Worker(self.spec, self.definitions, self.timeout)

    def drop(self, why):
        if self.worker is not None:
            self.worker.kill()
        self.worker, self.lost = None, why

    def close(self):
        self.drop(None)

    def _handle(self, obj):
        if isinstance(obj, RemoteFunction):
            return {"$global": obj.name}
        if isinstance(obj, RemoteHandle):
            return {"$remote": obj.key}
        if (
            callable(obj)
            and not isinstance(obj, type)
            and not wire._is_module(obj)
            and not wire.is_activation(obj)
        ):
            key = next(k for k in itertools.count(len(self.callbacks)) if k not in self.callbacks)
            self.callbacks[key] = obj
            return {"$callback": key}
        return None

    def _resolve(self, node):
        if "$callback" in node:
            try:
                return self.callbacks[node["$callback"]]
            except (KeyError, TypeError):
                raise wire.WireError("a reference to nothing") from None
        if "$remote" in node and isinstance(node["$remote"], int):
            return RemoteHandle(self, node["$remote"])
        raise wire.WireError("unknown reference")

    def request(self, tree, values=()):
        """Send ``tree`` (with ``values`` {key: value} encoded into it); the worker's final reply,
        decoded."""
        worker = self.live()
        enc = wire.Encoder(handle=self._handle)
        sent = {}
        encode = enc.encode

        def tagging(obj, depth=0):
            node = encode(obj, depth)
            if isinstance(node, dict) and "$id" in node:
                node["$src"] = node["$id"]
                sent[node["$id"]] = obj
            return node

        enc.encode = tagging
        for key, value in values:
            tree[key] = tagging(value)
        reach = _reachable(self.writable.values())
        targets = {k: obj for k, obj in sent.items() if id(obj) in reach}
        deadline = time.monotonic() + self.timeout
        try:
            worker.send(tree, enc.buffers)
            while True:
                reply, buffers = worker.receive(deadline)
                if reply.get("op") != "callback":
                    break
                self._run_callback(worker, reply, buffers)
        except WorkerLost as e:
            self.drop(str(e))
            raise
        op = reply.get("op")
        if op == "raised":
            raise _student_exception(reply.get("type", ""), reply.get("message", ""))
        if op not in ("result", "missing", "function"):
            self.drop("malformed reply")
            raise WorkerLost("the process running your code sent a malformed reply")
        if op != "result":
            return op, None
        dec = wire.Decoder(buffers, self._resolve, targets=targets, sent=sent)
        value = dec.decode(reply.get("value"))
        sync = reply.get("sync") or []
        for entry in sync[:100] if isinstance(sync, list) else ():
            if isinstance(entry, list) and len(entry) == 2 and entry[0] in targets:
                dec.sync_root(
                    *entry
                )  # only what the test declared writable; every other state is ignored
        return op, value

    def _run_callback(self, worker, reply, buffers):
        fn = self.callbacks.get(reply.get("id"))
        try:
            dec = wire.Decoder(buffers, self._resolve)
            args, kwargs = dec.decode(reply.get("args")), dec.decode(reply.get("kwargs"))
            if fn is None or not isinstance(args, list) or not isinstance(kwargs, dict):
                raise wire.WireError("a callback that does not exist")
            value = fn(*args, **kwargs)
            enc = wire.Encoder(handle=self._handle)
            worker.send({"op": "reply", "value": enc.encode(value)}, enc.buffers)
        except WorkerLost:
            raise
        except Exception as e:  # noqa: BLE001 - the callback's failure is the worker's to handle
            worker.send({"op": "callback_error", "message": f"{type(e).__name__}: {e}"[:500]})


def _reachable(roots, depth=0):
    """ids of the objects inside the writable ``roots``: a module's submodules, parameters and
    buffers, what a list, tuple or dict holds."""
    seen = set()
    stack = [(r, 0) for r in roots]
    while stack:
        obj, d = stack.pop()
        if id(obj) in seen or d > 8:
            continue
        seen.add(id(obj))
        if wire._is_module(obj):
            stack += [
                (x, d + 1)
                for x in [*obj.modules(), *obj.parameters(), *obj.buffers()]
                if x is not obj
            ]
        elif isinstance(obj, (list, tuple)):
            stack += [(x, d + 1) for x in obj]
        elif isinstance(obj, dict):
            stack += [(x, d + 1) for x in obj.values()]
    return seen


def _filters():
    """The judge's warning filters the worker can apply too: [(action, builtin category name)]."""
    out = []
    for action, message, category, module, lineno in warnings.filters[:20]:
        if (
            message is None
            and module is None
            and not lineno
            and getattr(builtins, category.__name__, None) is category
        ):
            out.append([action, category.__name__])
    return out


class RemoteFunction:
    """A student's global function, called in the worker."""

    def __init__(self, session, name):
        self.session, self.name = session, name
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        _, value = self.session.request(
            {"op": "call", "target": self.name, "warnings": _filters()},
            [("args", list(args)), ("kwargs", dict(kwargs))],
        )
        return value

    def __repr__(self):
        return f"<function {self.name}>"


class RemoteHandle(RemoteFunction):
    """A callable the student's code returned (it stays in the worker)."""

    def __init__(self, session, key):
        super().__init__(session, f"returned function {key}")
        self.key = key

    def __call__(self, *args, **kwargs):
        _, value = self.session.request(
            {"op": "call", "target": {"$remote": self.key}, "warnings": _filters()},
            [("args", list(args)), ("kwargs", dict(kwargs))],
        )
        return value


class ProxyEnv(dict):
    """What otter's ``call_func`` reads a test's arguments from: the worker's globals, fetched on
    demand."""

    def __init__(self, session, seed):
        super().__init__()
        self.session, self.seed = session, seed

    def get(self, name, default=None):
        if name == "grading_seed":
            return self.seed
        op, value = self.session.request({"op": "get", "name": name})
        if op == "missing":
            return default
        if op == "function":
            return RemoteFunction(self.session, name)
        return value

    def __getitem__(self, name):
        missing = object()
        value = self.get(name, missing)
        if value is missing:
            raise KeyError(name)
        return value

    def __contains__(self, name):
        return self.session.request({"op": "get", "name": name})[0] != "missing"

    def mutable(self, obj):
        """The test lets the function change ``obj`` in place (``utils.checks.mutable``): only such
        objects take the state the worker sends back, and only its values
        (``wire.Decoder.sync_root``)."""
        self.session.writable[id(obj)] = obj
        return obj

    @contextlib.contextmanager
    def count_calls(self, module, names):
        self.session.request(
            {"op": "count", "module": str(module), "names": [str(n) for n in names]}
        )
        counts = {}
        try:
            yield counts
        finally:
            _, got = self.session.request({"op": "uncount"})
            if isinstance(got, dict):
                counts.update({str(k): int(v) for k, v in got.items() if isinstance(v, int)})

    @contextlib.contextmanager
    def replace_global(self, name, value):
        self.session.request({"op": "replace", "name": str(name)}, [("value", value)])
        try:
            yield
        finally:
            with contextlib.suppress(WorkerLost):
                self.session.request({"op": "restore", "name": str(name)})


# -------------------------------------------------------------------------------------- feedback


def _static(node):
    """The text of an assert's message with every computed value left out ("…")."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "…" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _static(node.left) + _static(node.right)
    return "…"


def hidden_messages(source):
    """{line number: static message} of every ``assert`` (and ``raise AssertionError(...)``) in a
    test file."""
    out = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assert) and node.msg is not None:
            text = _static(node.msg)
        elif (
            isinstance(node, ast.Raise)
            and isinstance(node.exc, ast.Call)
            and node.exc.args
            and getattr(node.exc.func, "id", "") == "AssertionError"
        ):
            text = _static(node.exc.args[0])
        else:
            continue
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
            out.setdefault(line, text)
    return out


def _test_line(exc, path):
    """The line of the test file where ``exc`` surfaced, or None."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _own_assertion(exc, path):
    """True when ``exc`` is the test's own failed ``assert`` (raised in the test file, not by
    student code)."""
    if not isinstance(exc, AssertionError) or isinstance(exc, StudentError):
        return False
    tb, last = exc.__traceback__, None
    while tb is not None:
        last, tb = tb, tb.tb_next
    return last is not None and last.tb_frame.f_code.co_filename == path


def hint(exc, path, hidden, messages):
    """(hint, kind) for a failed case. Hidden: only the author's static text, never a value or a
    type name."""
    if _own_assertion(exc, path):
        if hidden:
            return (messages.get(_test_line(exc, path)) or "a hidden test of this question failed")[
                :MAX_HINT
            ], "assert"
        return str(exc)[:MAX_HINT], "assert"
    if isinstance(exc, WorkerLost):
        return f"{exc}"[:MAX_HINT], "lost"
    if isinstance(exc, wire.WireError):
        return (
            f"your function returned a value the grader cannot check: {exc}"
            if not hidden
            else "your function returned a value the grader cannot check"
        )[:MAX_HINT], "wire"
    if hidden:
        return "your code raised an exception on a hidden test case", "raised"
    if isinstance(exc, StudentError):
        return f"your code raised {exc.student_type}: {str(exc)[:MAX_HINT]}", "raised"
    return f"the test could not use your answer ({type(exc).__name__}: {str(exc)[:200]})"[
        :MAX_HINT
    ], "raised"


# -------------------------------------------------------------------------------------- main


def _light_imports():
    """Import otter's test classes without otter/__init__ (its API, export, PDF code: slow)."""
    import importlib.util
    import types

    spec = importlib.util.find_spec("otter")
    package = types.ModuleType("otter")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["otter"] = package
    sys.modules["rfc3987_syntax"] = None


def main(fd):
    fd = int(fd)
    os.set_inheritable(fd, False)
    payload = json.loads(sys.stdin.read())
    sys.stdin.close()
    session = Session(
        payload["worker"], payload["definitions"], float(payload.get("call_timeout", 60))
    )
    session.start()
    _light_imports()
    if payload.get("support"):
        sys.path.insert(0, payload["support"])
    from otter.test_files.abstract_test import TestCaseResult
    from otter.test_files.exception_test import ExceptionTestFile

    files = []
    for fname, source in sorted(payload["tests"].items()):
        path = f"<test {fname}>"
        tf = ExceptionTestFile.from_string(source, path=path)
        tf.source = ""
        files.append((tf, path, hidden_messages(source)))
    if any("torchvision" in source for source in payload["tests"].values()):
        wire.light_torchvision()  # the tests' own import, done while the worker starts
    seed = int(payload.get("seed", 0))
    outcomes, seconds = {}, {}
    gate = payload.get("gate_fd")
    if isinstance(gate, int):
        os.set_inheritable(gate, False)
    try:
        for phase in (False, True):  # every public case first, then the hidden ones
            if phase and isinstance(gate, int):
                wait_gate(gate)  # ... once the run stage has ended: nothing it prints can hold them
            for tf, path, messages in files:
                for index, tc in enumerate(tf.test_cases):
                    if bool(tc.hidden) != phase:
                        continue
                    began = time.monotonic()
                    session.writable.clear()
                    try:
                        tc.body.call_func(ProxyEnv(session, seed))
                        outcomes[(tf.name, index)] = (True, "", "passed")
                    except BaseException as e:  # noqa: BLE001 - a failed case, whatever raised
                        if isinstance(e, (KeyboardInterrupt, SystemExit)):
                            raise
                        outcomes[(tf.name, index)] = (False, *hint(e, path, tc.hidden, messages))
                    seconds[(tf.name, index)] = round(time.monotonic() - began, 3)
    finally:
        errors = session.worker.definition_errors if session.worker else []
        session.close()
    questions = {}
    for tf, _, _ in files:
        results, cases = [], []
        for index, tc in enumerate(tf.test_cases):
            passed, text, kind = outcomes.get((tf.name, index), (False, "not run", "lost"))
            results.append(
                TestCaseResult(
                    test_case=tc,
                    message="✅ Test case passed" if passed else f"❌ Test case failed\n{text}",
                    passed=passed,
                )
            )
            cases.append(
                {
                    "name": tc.name,
                    "hidden": bool(tc.hidden),
                    "passed": passed,
                    "hint": text,
                    "kind": kind,
                    "points": float(tc.points or 0),
                    "seconds": seconds.get((tf.name, index)),
                }
            )
        tf.test_case_results = results
        questions[tf.name] = {"score": tf.score, "possible": tf.possible, "cases": cases}
    with open(fd, "wb") as f:
        f.write(
            json.dumps(
                {
                    "questions": questions,
                    "definition_errors": errors[:50],
                    "respawns": max(0, session.respawns - 1),
                },
                default=str,
            ).encode()
        )
    os._exit(0)


if __name__ == "__main__":
    main(*sys.argv[1:])
