"""``programs/worker.py`` spoken to directly, as the judge speaks to it: the graded definitions,
executed once, answer requests as data.

Here the worker runs as this test's user, outside any sandbox, with pipes the test holds; the
judge's side (``RemoteFunction``, the sync rules, the attacks) is tested in ``test_judge.py`` and
the format in ``test_wire.py``."""

import os
import subprocess
import sys

import numpy as np
import pytest

from autograder.grading.stages import PROGRAMS

sys.path.insert(0, str(PROGRAMS))
import wire  # noqa: E402

DEFINITIONS = [
    (1, "import numpy as np"),
    (2, "def double(x):\n    return 2 * x"),
    (3, "def scale_in_place(a, k):\n    a *= k\n    return None"),
    (4, "LIMIT = 7"),
    (5, "def broken(:\n    pass"),
    (6, "def fails():\n    raise ValueError('the student says no')"),
    (7, "def uses_inv(a):\n    return np.linalg.inv(a)"),
    (8, "def apply(f, x):\n    return f(x) + 1"),
]


class Worker:
    def __init__(self, definitions=DEFINITIONS):
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(PROGRAMS / "worker.py"), str(to_r), str(from_w)],
            pass_fds=(to_r, from_w),
            stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.close(to_r)
        os.close(from_w)
        self.w = os.fdopen(self._to_w, "wb")
        self.r = os.fdopen(self._from_r, "rb")
        self.send({"op": "init", "definitions": [list(d) for d in definitions]})
        self.ready = self.receive()[0]

    def send(self, tree, buffers=()):
        wire.write_message(self.w, tree, buffers)
        self.w.flush()

    def receive(self):
        return wire.read_message(self.r, max_bytes=wire.MAX_BYTES)

    def ask(self, tree):
        """Send ``tree`` (its args, kwargs and value encoded as the judge encodes them: every node
        tagged with ``$src`` so that the reply can name it); (reply, decoded value, {src: decoded
        new state})."""
        enc = wire.Encoder()
        encode = enc.encode

        def tagging(obj, depth=0):
            node = encode(obj, depth)
            if isinstance(node, dict) and "$id" in node:
                node["$src"] = node["$id"]
            return node

        enc.encode = tagging
        encoded = {
            k: tagging(v) if k in ("args", "kwargs", "value") else v for k, v in tree.items()
        }
        self.send(encoded, enc.buffers)
        reply, buffers = self.receive()
        if reply.get("op") != "result":
            return reply, None, {}
        dec = wire.Decoder(buffers, lambda node: node)
        sync = {src: dec.decode(node) for src, node in reply.get("sync") or []}
        return reply, dec.decode(reply.get("value")), sync

    def close(self):
        self.w.close()
        self.proc.wait(timeout=30)
        self.r.close()


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


def test_definitions_run_once_and_a_broken_one_is_reported_by_cell(worker):
    assert worker.ready["op"] == "ready"
    assert worker.ready["definition_errors"] == [{"cell": 5, "ename": "SyntaxError"}]


def test_get_answers_values_as_data_and_functions_as_names(worker):
    assert worker.ask({"op": "get", "name": "LIMIT"})[1] == 7
    assert worker.ask({"op": "get", "name": "double"})[0] == {"op": "function", "name": "double"}
    assert worker.ask({"op": "get", "name": "nowhere"})[0] == {"op": "missing"}


def test_a_call_returns_its_value_and_the_new_state_of_its_arguments(worker):
    reply, value, _ = worker.ask(
        {"op": "call", "target": "double", "args": [np.arange(3.0)], "kwargs": {}}
    )
    assert np.array_equal(value, [0.0, 2.0, 4.0])
    reply, value, sync = worker.ask(
        {"op": "call", "target": "scale_in_place", "args": [np.ones(3), 5], "kwargs": {}}
    )
    assert reply["op"] == "result" and value is None
    states = [v for v in sync.values() if isinstance(v, np.ndarray)]
    # what it changed in place comes back
    assert len(states) == 1 and np.array_equal(states[0], [5.0, 5.0, 5.0])


def test_the_students_exceptions_come_back_as_their_type_and_message(worker):
    reply, _, _ = worker.ask({"op": "call", "target": "fails", "args": [], "kwargs": {}})
    assert reply == {
        "op": "raised",
        "type": "builtins.ValueError",
        "message": "the student says no",
    }
    reply, _, _ = worker.ask({"op": "call", "target": "broken", "args": [], "kwargs": {}})
    assert reply["op"] == "raised" and reply["type"] == "builtins.NameError"
    singular = np.zeros((2, 2))
    reply, _, _ = worker.ask({"op": "call", "target": "uses_inv", "args": [singular], "kwargs": {}})
    assert reply["type"] == "numpy.linalg.LinAlgError"


def test_an_unknown_request_is_refused_and_the_worker_goes_on(worker):
    reply, _, _ = worker.ask({"op": "exec", "source": "import os; os.system('true')"})
    assert reply["op"] == "raised" and "unknown request exec" in reply["message"]
    assert worker.ask({"op": "get", "name": "LIMIT"})[1] == 7


def test_counting_and_replacing_restore_what_they_changed(worker):
    assert (
        worker.ask({"op": "count", "module": "numpy.linalg", "names": ["inv"]})[0]["op"] == "result"
    )
    worker.ask({"op": "call", "target": "uses_inv", "args": [np.eye(2)], "kwargs": {}})
    _, counts, _ = worker.ask({"op": "uncount"})
    assert counts == {"inv": 1}
    worker.ask({"op": "call", "target": "uses_inv", "args": [np.eye(2)], "kwargs": {}})
    _, counts, _ = worker.ask({"op": "uncount"})
    assert counts == {}  # counting ended with uncount
    assert worker.ask({"op": "replace", "name": "LIMIT", "value": 3})[0]["op"] == "result"
    assert worker.ask({"op": "get", "name": "LIMIT"})[1] == 3
    worker.ask({"op": "restore", "name": "LIMIT"})
    assert worker.ask({"op": "get", "name": "LIMIT"})[1] == 7


def test_the_worker_ends_when_the_judge_closes_the_channel():
    w = Worker([(1, "x = 1")])
    w.w.close()
    assert w.proc.wait(timeout=30) == 0
    w.r.close()
