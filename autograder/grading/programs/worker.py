"""Runs INSIDE a sandbox, as nobody: the student's graded definitions, called by the judge, one call
at a time.

Standalone (standard library, numpy, ``wire.py`` beside it; torch when a value needs it). Usage:
``python -I worker.py READ_FD WRITE_FD``. The first message is ``init`` with the graded definitions
([[cell number, source]]); they are executed once, then the worker answers, until the channel
closes:

* ``get NAME``: the value of a global, or a handle to it when it is a function;
* ``call TARGET ARGS KWARGS``: calls a global function (or a handle the worker gave out); the reply
  is the return value and the state of every argument afterwards (``sync``), so that the judge sees
  what the call changed in place; while it runs, the worker may ask the judge to run a callback it
  was given;
* ``count MODULE NAMES`` / ``uncount``: counts calls of module functions (for tests of how an answer
  is computed), and ``replace NAME VALUE`` / ``restore NAME``: a global swapped for a judge's
  callback.

Nothing this program does is trusted: whatever it sends is data, decoded by the judge with limits,
and its answers can only be right or wrong. It never sees the tests, only the values a test passes
to a function.
"""

import builtins
import importlib
import os
import sys
import types
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire  # noqa: E402

MAX_TEXT = 2000


class Channel:
    def __init__(self, read_fd, write_fd):
        self.r = os.fdopen(int(read_fd), "rb", buffering=1 << 16)
        self.w = os.fdopen(int(write_fd), "wb", buffering=1 << 16)

    def send(self, tree, buffers=()):
        wire.write_message(self.w, tree, buffers)

    def receive(self):
        return wire.read_message(self.r, max_bytes=wire.MAX_BYTES)


class Worker:
    def __init__(self, channel):
        self.ch, self.env = channel, {"__name__": "__main__"}
        self.remotes, self.replaced, self.counts, self.saved = {}, {}, None, []

    # -------------------------------------------------------------- values
    def callback(self, k):
        def call(*args, **kwargs):
            enc = wire.Encoder(handle=self._handle)
            tree = {
                "op": "callback",
                "id": k,
                "args": enc.encode(list(args)),
                "kwargs": enc.encode(kwargs),
            }
            self.ch.send(tree, enc.buffers)
            while True:  # the judge may call back into this worker while it runs the callback
                reply, buffers = self.ch.receive()
                if reply.get("op") == "callback_error":
                    raise RuntimeError(str(reply.get("message", ""))[:MAX_TEXT])
                if reply.get("op") == "reply":
                    return wire.Decoder(buffers, self._resolve).decode(reply.get("value"))
                self.dispatch(reply, buffers)

        call.__name__ = call.__qualname__ = f"callback_{k}"
        call._ptm_callback = k
        return call

    def _resolve(self, node):
        if "$callback" in node:
            return self.callback(node["$callback"])
        if "$remote" in node:
            return self.remotes[node["$remote"]]
        if "$global" in node:
            return self.env.get(str(node["$global"]))
        raise wire.WireError("unknown reference")

    def _handle(self, obj):
        k = getattr(obj, "_ptm_callback", None) if isinstance(obj, types.FunctionType) else None
        if k is not None:
            return {"$callback": k}
        if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)) or (
            type(obj).__name__ == "partial" and callable(obj)
        ):
            if wire.is_activation(obj):
                return None
            k = len(self.remotes)
            self.remotes[k] = obj
            return {"$remote": k}
        return None

    def _origins(self, tree, buffers):
        """Decode the judge's arguments, remembering which judge object each value stands for."""
        origin, self.versions = {}, {}
        versions = self.versions

        class Tagging(wire.Decoder):
            def decode(inner, node, depth=0):
                value = wire.Decoder.decode(inner, node, depth)
                if isinstance(node, dict) and isinstance(node.get("$src"), int):
                    origin[id(value)] = node["$src"]
                    if wire._is_tensor(
                        value
                    ):  # torch counts in-place changes: unchanged ones need not return
                        versions[id(value)] = (value._version, value.requires_grad)
                return value

        return Tagging(buffers, self._resolve), origin

    # -------------------------------------------------------------- requests
    def run(self):
        tree, _ = self.ch.receive()
        errors = []
        for number, source in tree.get("definitions", []):
            try:
                exec(compile(source, f"<cell {number}>", "exec"), self.env)
            except BaseException as e:  # noqa: BLE001 - a broken definition fails its own tests
                errors.append({"cell": number, "ename": type(e).__name__[:40]})
        self.ch.send({"op": "ready", "definition_errors": errors[:50]})
        while True:
            try:
                tree, buffers = self.ch.receive()
            except EOFError:
                return
            self.dispatch(tree, buffers)

    def dispatch(self, tree, buffers):
        handler = getattr(self, f"op_{tree.get('op')}", None)
        try:
            if handler is None:
                raise ValueError(f"unknown request {str(tree.get('op'))[:40]}")
            handler(tree, buffers)
        except BaseException as e:  # noqa: BLE001 - the judge hears of every failure
            self._raised(e)

    def _raised(self, e):
        kind = f"{type(e).__module__}.{type(e).__qualname__}"
        try:
            message = str(e)[:MAX_TEXT]
        except BaseException:  # noqa: BLE001 - a __str__ that raises
            message = ""
        self.ch.send({"op": "raised", "type": kind[:120], "message": message})

    def _reply(self, value):
        enc = wire.Encoder(handle=self._handle)
        self.ch.send({"op": "result", "value": enc.encode(value)}, enc.buffers)

    def op_get(self, tree, _):
        name = str(tree.get("name"))
        if name not in self.env:
            return self.ch.send({"op": "missing"})
        value = self.env[name]
        if isinstance(value, types.FunctionType):
            return self.ch.send({"op": "function", "name": name})
        self._reply(value)

    def op_call(self, tree, buffers):
        dec, origin = self._origins(tree, buffers)
        args, kwargs = list(dec.decode(tree.get("args"))), dict(dec.decode(tree.get("kwargs")))
        target = tree.get("target")
        fn = (
            self.remotes.get(target["$remote"])
            if isinstance(target, dict)
            else self.env.get(str(target))
        )
        if not callable(fn):
            raise NameError(f"{str(target)[:60]} is not defined")
        with warnings.catch_warnings():
            for action, category in reversed(tree.get("warnings") or []):
                cls = getattr(builtins, str(category), None)
                if isinstance(cls, type) and issubclass(cls, Warning):
                    warnings.simplefilter(str(action), cls)
            value = fn(*args, **kwargs)
        roots = args + list(kwargs.values())
        self._reply_tagged(value, [(origin[id(v)], v) for v in roots if id(v) in origin], origin)

    def _reply_tagged(self, value, sync, origin):
        enc = wire.Encoder(handle=self._handle)
        tag = enc.encode

        def encode(obj, depth=0):
            if (
                wire._is_tensor(obj)
                and id(obj) in origin
                and obj.grad is None
                and self.versions.get(id(obj)) == (obj._version, obj.requires_grad)
            ):
                return {"$unchanged": origin[id(obj)]}
            node = tag(obj, depth)
            if isinstance(node, dict) and "$id" in node and id(obj) in origin:
                node["$src"] = origin[id(obj)]
            return node

        enc.encode = encode
        tree = {"op": "result", "value": encode(value), "sync": [[k, encode(v)] for k, v in sync]}
        self.ch.send(tree, enc.buffers)

    def op_count(self, tree, _):
        self.counts = {}
        from utils import (
            checks,
        )  # the tests' own helper (support files): torch's operators, counted in its dispatcher

        if str(tree.get("module")) == checks.ATEN:
            block = checks.count_calls({}, checks.ATEN, [str(n) for n in tree.get("names", [])])
            self.counts = block.__enter__()
            self.saved.append((block, None, None))
            self.ch.send({"op": "result", "value": None})
            return
        module = importlib.import_module(str(tree.get("module")))
        for name in tree.get("names", []):
            real = getattr(module, name)

            def counted(*a, _real=real, _name=name, **kw):
                self.counts[_name] = self.counts.get(_name, 0) + 1
                return _real(*a, **kw)

            self.saved.append((module, name, real))
            setattr(module, name, counted)
        self.ch.send({"op": "result", "value": None})

    def op_uncount(self, tree, _):
        for module, name, real in reversed(self.saved):
            if name is None:
                module.__exit__(None, None, None)
            else:
                setattr(module, name, real)
        self.saved, counts, self.counts = [], dict(self.counts or {}), None
        self._reply(counts)

    def op_replace(self, tree, buffers):
        name = str(tree.get("name"))
        self.replaced.setdefault(name, self.env.get(name))
        self.env[name] = wire.Decoder(buffers, self._resolve).decode(tree.get("value"))
        self.ch.send({"op": "result", "value": None})

    def op_restore(self, tree, _):
        name = str(tree.get("name"))
        if name in self.replaced:
            self.env[name] = self.replaced.pop(name)
        self.ch.send({"op": "result", "value": None})


def main(read_fd, write_fd):
    sys.modules["rfc3987_syntax"] = None  # jsonschema's optional IRI grammar: slow to build, unused
    sys.path.insert(0, os.getcwd())  # the support files (utils/), read-only
    Worker(Channel(read_fd, write_fd)).run()
    os._exit(0)


if __name__ == "__main__":
    main(*sys.argv[1:3])
