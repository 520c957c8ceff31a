"""The data-only format in which values cross between the judge (trusted) and the worker (student
code).

Standalone (standard library, numpy; torch only when a tensor or a module is met): both programs
load this one file, the worker inside its sandbox. A message is a JSON tree plus raw buffers; it
carries no code and no pickle. What crosses:

* ``None``, bools, ints, floats, complex numbers, strings, bytes, ``...``, slices and ranges;
* lists, tuples, dicts (any decodable hashable keys), sets and frozensets;
* numpy arrays and scalars of numeric or bool dtypes (never ``object``);
* torch tensors (dtype, shape, values, ``requires_grad``, ``grad``, parameter or not), dtypes,
  devices;
* ``nn.Module``s as their architecture: the class, by name, which must be a module class of
  ``torch``, ``torchvision`` or ``timm`` (``ALLOWED``); its plain attributes (data, never a
  callable: the only functions that cross are the public activation functions of ``ACTIVATIONS``; no
  attribute that shadows a method or property of the class, none of ``nn.Module``'s own internals
  such as its hooks); its parameters, buffers and children; its ``training`` flag. A class of any
  other origin (a notebook's own) does not cross;
* references: ``{"$ref": k}`` to an object met earlier in the same message (shared submodules and
  tensors); ``"$src": k`` on a value that is the new state of object ``k`` the judge sent, and
  ``{"$unchanged": k}`` for a tensor the call left as it was; handles to callables that stay on
  their side (``{"$callback": k}``, ``{"$remote": k}``, ``{"$global": name}``), called by message,
  never inside a module or a state.

The judge applies a ``"$src"`` node to its own object only where the test declared that object
writable (``targets``); a *sync* then writes values only (``Decoder.sync``): array and tensor data
of the shapes and dtypes the judge sent, ``requires_grad``, ``grad``, a module's ``training`` flag,
parameters and buffers, recursively through the children it already had. A new attribute, a replaced
child, a parameter of another shape, a callable: refused. Every other ``"$src"`` node decodes as a
fresh value.

Decoding hostile data is bounded: depth, node count and bytes (``Limits``); anything else raises
``WireError`` with a short reason.
"""

import importlib
import json
import math
import struct
import sys

import numpy as np

ALLOWED = ("torch.nn.", "torchvision.models.", "timm.layers.", "timm.models.", "torchvision.ops.")
FUNCTIONS = ("torch.nn.functional",)  # where the functions that may cross live
ACTIVATIONS = frozenset(
    (  # ... and which: public activation functions, nothing else
        "celu",
        "elu",
        "gelu",
        "glu",
        "hardshrink",
        "hardsigmoid",
        "hardswish",
        "hardtanh",
        "leaky_relu",
        "log_softmax",
        "logsigmoid",
        "mish",
        "prelu",
        "relu",
        "relu6",
        "rrelu",
        "selu",
        "sigmoid",
        "silu",
        "softmax",
        "softmin",
        "softplus",
        "softshrink",
        "softsign",
        "tanh",
        "tanhshrink",
        "threshold",
    )
)
DTYPES = {
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
}
TORCH_DTYPES = {
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "complex64",
    "complex128",
}
MODULE_SKIP = {"_parameters", "_buffers", "_modules", "_non_persistent_buffers_set", "training"}
MAX_DEPTH, MAX_NODES, MAX_BYTES = 64, 2_000_000, 1 << 30


class WireError(ValueError):
    """A value that cannot cross (or a message that breaks the format), with a short reason."""


def _torch():
    return sys.modules.get("torch") or importlib.import_module("torch")


def _is_tensor(obj):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def _is_module(obj):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _class_path(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def light_torchvision():
    """``import torchvision`` without loading ``torch._dynamo`` (seconds of CPU per process, unused
    here).

    torchvision's ``ops.roi_align`` imports one helper,
    ``torch._dynamo.utils.is_compile_supported``, at import time, and that loads the whole compiler.
    During the import a stand-in answers it (compilation is never supported here, which only makes
    ``roi_align`` take its eager path); afterwards the stand-in is removed, so a later
    ``import torch._dynamo`` loads the real one.
    """
    if "torchvision" in sys.modules or "torch._dynamo" in sys.modules:
        importlib.import_module("torchvision")
        return
    import types

    _torch()
    package, utils = types.ModuleType("torch._dynamo"), types.ModuleType("torch._dynamo.utils")
    package.__path__, utils.is_compile_supported = [], lambda device_type: False
    package.utils = utils
    sys.modules.update({"torch._dynamo": package, "torch._dynamo.utils": utils})
    try:
        importlib.import_module("torchvision")
    finally:
        for name, stub in (("torch._dynamo.utils", utils), ("torch._dynamo", package)):
            if sys.modules.get(name) is stub:
                del sys.modules[name]


def allowed_class(path):
    """The ``nn.Module`` class named ``path`` if it belongs to an allowed library, else
    ``WireError``."""
    if not isinstance(path, str) or not path.startswith(ALLOWED) or "<" in path:
        raise WireError(
            f"a module of class {str(path)[:80]} (only torch, torchvision and timm modules cross)"
        )
    module, _, name = path.rpartition(".")
    try:
        if module.startswith("torchvision"):
            light_torchvision()
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise WireError(f"unknown module class {path[:80]}") from None
    torch = _torch()
    if not (
        isinstance(cls, type) and issubclass(cls, torch.nn.Module) and _class_path(cls) == path
    ):
        raise WireError(f"{path[:80]} is not a module class")
    return cls


def is_activation(obj):
    """True for one of the public activation functions of ``torch.nn.functional`` that may cross
    (the very object the module holds under that name: some are Python functions, some torch's
    builtins)."""
    name = getattr(obj, "__name__", None)
    module = sys.modules.get(FUNCTIONS[0])
    return (
        isinstance(name, str)
        and name in ACTIVATIONS
        and module is not None
        and getattr(module, name, None) is obj
    )


def _allowed_function(path):
    module, _, name = str(path).rpartition(".")
    if module not in FUNCTIONS or name not in ACTIVATIONS:
        raise WireError(
            f"a function {str(path)[:80]} (only torch.nn.functional's activation functions cross)"
        )
    fn = getattr(importlib.import_module(module), name, None)
    if not callable(fn) or isinstance(fn, type):
        raise WireError(f"unknown function {str(path)[:80]}")
    return fn


class Encoder:
    """Turns one value into (tree, buffers). ``handles(obj)`` may return a reference for an
    object."""

    def __init__(self, handle=None):
        self.buffers, self.memo, self.handle = [], {}, handle
        self.keep = []  # objects referenced by id() must stay alive until the message is sent

    def encode(self, obj, depth=0):
        if depth > MAX_DEPTH:
            raise WireError("a value nested too deeply")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj if -(1 << 53) < obj < (1 << 53) else {"$int": str(obj)}
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"$float": repr(obj)}
        if self.handle is not None:
            ref = self.handle(obj)
            if ref is not None:
                return ref
        key = id(obj)
        if key in self.memo:
            return {"$ref": self.memo[key]}
        if (
            isinstance(obj, (list, tuple, set, frozenset, dict, np.ndarray))
            or _is_tensor(obj)
            or _is_module(obj)
        ):
            self.memo[key] = len(self.memo)
            self.keep.append(obj)
            tag = self.memo[key]
        else:
            tag = None
        node = self._encode(obj, depth)
        if tag is not None:
            node["$id"] = tag
        return node

    def _buffer(self, data):
        self.buffers.append(bytes(data))
        return len(self.buffers) - 1

    def _encode(self, obj, depth):
        enc = lambda v: self.encode(v, depth + 1)  # noqa: E731
        if isinstance(obj, complex) and not isinstance(obj, np.generic):
            return {"$complex": [repr(float(obj.real)), repr(float(obj.imag))]}
        if isinstance(obj, bytes):
            return {"$bytes": self._buffer(obj)}
        if obj is Ellipsis:
            return {"$ellipsis": True}
        if isinstance(obj, slice):
            return {"$slice": [enc(obj.start), enc(obj.stop), enc(obj.step)]}
        if isinstance(obj, range):
            return {"$range": [obj.start, obj.stop, obj.step]}
        if isinstance(obj, list):
            return {"$list": [enc(v) for v in obj]}
        if isinstance(obj, tuple):
            return {"$tuple": [enc(v) for v in obj]}
        if isinstance(obj, (set, frozenset)):
            return {"$set" if isinstance(obj, set) else "$frozenset": [enc(v) for v in obj]}
        if isinstance(obj, dict):
            return {"$dict": [[enc(k), enc(v)] for k, v in obj.items()]}
        if isinstance(obj, np.ndarray):
            return self._array(obj)
        if isinstance(obj, np.generic):
            if obj.dtype.name not in DTYPES:
                raise WireError(f"a numpy scalar of dtype {obj.dtype}")
            return {"$npscalar": obj.dtype.str, "buf": self._buffer(np.asarray(obj).tobytes())}
        if _is_tensor(obj):
            return self._tensor(obj, depth)
        if _is_module(obj):
            return self._module(obj, depth)
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(obj, torch.dtype):
            return {"$dtype": str(obj).removeprefix("torch.")}
        if torch is not None and isinstance(obj, torch.device):
            return {"$device": str(obj)}
        if isinstance(obj, type) and _is_module_class(obj):
            return {"$class": _class_path(obj)}
        if is_activation(obj):
            return {"$function": f"{FUNCTIONS[0]}.{obj.__name__}"}
        raise WireError(f"a value of type {type(obj).__name__[:60]}")

    def _array(self, a):
        if a.dtype.name not in DTYPES:
            raise WireError(f"a numpy array of dtype {a.dtype}")
        return {
            "$ndarray": a.dtype.str,
            "shape": list(a.shape),
            "buf": self._buffer(a.tobytes(order="C")),
        }

    def _tensor(self, t, depth):
        torch = _torch()
        data = t.detach().cpu().contiguous()
        name = str(data.dtype).removeprefix("torch.")
        if name not in TORCH_DTYPES:
            raise WireError(f"a tensor of dtype {name}")
        raw = data.view(torch.int16) if name == "bfloat16" else data
        node = {
            "$tensor": name,
            "shape": list(data.shape),
            "buf": self._buffer(raw.numpy().tobytes()),
            "requires_grad": bool(t.requires_grad),
            "parameter": isinstance(t, torch.nn.Parameter),
        }
        if t.grad is not None:
            node["grad"] = self.encode(t.grad, depth + 1)
        return node

    def _module(self, m, depth):
        enc = lambda v: self.encode(v, depth + 1)  # noqa: E731
        path = _class_path(type(m))
        allowed_class(path) if path.startswith(ALLOWED) else _refuse_class(path)
        attrs = {}
        for k, v in vars(m).items():
            if (
                k in MODULE_SKIP
                or k.startswith("_")
                and k.endswith("hooks")
                or k.endswith("_hooks")
            ):
                continue
            if k.startswith("_") and callable(v) or isinstance(v, type):
                continue  # bound methods torch keeps, classes (ResNet's _norm_layer): never code
            attrs[k] = enc(v)
        return {
            "$module": path,
            "training": bool(m.training),
            "attrs": attrs,
            "params": {k: enc(v) for k, v in m._parameters.items()},
            "buffers": {k: enc(v) for k, v in m._buffers.items()},
            "transient": sorted(m._non_persistent_buffers_set),
            "children": {k: enc(v) for k, v in m._modules.items()},
        }


def _is_module_class(cls):
    torch = sys.modules.get("torch")
    return torch is not None and issubclass(cls, torch.nn.Module)


def _key(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _refuse_class(path):
    raise WireError(
        f"a module of class {path[:80]}, defined outside torch, torchvision and timm: build it "
        f"from their layers (nn.Sequential, nn.Identity, ...)"
    )


class Decoder:
    """Turns (tree, buffers) back into values. ``resolve(node)`` answers the reference nodes it
    knows.

    ``targets`` ({k: object}) are the objects a ``"$src": k`` node may write into (the judge's
    writable ones); ``sent`` ({k: object}, default ``targets``) every object the judge sent, which
    ``{"$unchanged": k}`` names.
    """

    def __init__(self, buffers, resolve=None, limit_nodes=MAX_NODES, targets=None, sent=None):
        self.buffers, self.resolve, self.memo, self.nodes, self.limit = (
            buffers,
            resolve,
            {},
            0,
            limit_nodes,
        )
        self.targets = targets or {}
        self.sent = self.targets if sent is None else sent
        self.sealed = (
            0  # > 0 inside a module or a synced state: no handle to a callable decodes there
        )

    def decode(self, node, depth=0):
        self.nodes += 1
        if self.nodes > self.limit or depth > MAX_DEPTH:
            raise WireError("a value too large or nested too deeply")
        if node is None or isinstance(node, (bool, str, int)):
            return node
        if isinstance(node, float):
            return node
        if not isinstance(node, dict) or not node:
            raise WireError("malformed message")
        if "$ref" in node:
            try:
                return self.memo[node["$ref"]]
            except (KeyError, TypeError):
                raise WireError("a reference to nothing") from None
        if any(k in node for k in ("$callback", "$remote", "$global")):
            if self.sealed:
                raise WireError("a function inside a module or inside an argument's new state")
            if self.resolve is None:
                raise WireError("a function handle where none may be")
            return self.resolve(node)
        if "$unchanged" in node:  # a tensor the judge sent, returned as it was
            key = node["$unchanged"]
            target = self.sent.get(key) if _key(key) else None
            if not _is_tensor(target):
                raise WireError("an unchanged value that was never sent")
            return target
        key = node.get("$src")
        target = self.targets.get(key) if _key(key) else None
        if target is not None:
            self.sealed += 1
            try:
                value = self._sync(target, node, depth)
            finally:
                self.sealed -= 1
        else:
            try:
                value = self._decode(node, depth)
            except WireError:
                raise
            except (TypeError, ValueError, KeyError, IndexError, OverflowError, AttributeError):
                raise WireError("malformed message") from None  # only WireError leaves a decode
            original = self.sent.get(key) if _key(key) else None
            if original is not None and same(value, original):
                # an object the judge sent, unchanged: its identity survives, nothing written
                value = original
        if "$id" in node and isinstance(node["$id"], int):
            self.memo[node["$id"]] = value
        return value

    def sync_root(self, key, node):
        """Apply ``node``, the new state of the judge's writable object ``key`` (an argument of the
        call)."""
        if not _key(key) or key not in self.targets:
            raise WireError("the new state of an argument that may not change")
        if isinstance(node, dict) and (node.get("$unchanged") == key or "$ref" in node):
            ref = node.get("$ref")
            if (
                node.get("$unchanged") == key
                or _key(ref)
                and self.memo.get(ref) is self.targets[key]
            ):
                return self.targets[
                    key
                ]  # returned as it was, or synced already as the return value
            raise WireError("an argument's new state that does not match the argument")
        if not isinstance(node, dict) or node.get("$src") != key:
            raise WireError("an argument's new state that does not match the argument")
        return self.decode(node)

    # -------------------------------------------------------------- sync: values only
    def _sync(self, target, node, depth):
        """``target`` (the judge's own object) given the values of ``node``; its structure must not
        change."""
        if isinstance(target, np.ndarray) and "$ndarray" in node:
            new = self._array(node)
            if new.shape != target.shape or new.dtype != target.dtype:
                raise WireError("your function changed the shape or dtype of an array argument")
            if target.flags.writeable:
                target[...] = new
            self._remember(node, target)
            return target
        if _is_tensor(target) and "$tensor" in node:
            return self._sync_tensor(target, node, depth)
        if _is_module(target) and "$module" in node:
            return self._sync_module(target, node, depth)
        for kind, types in (("$list", list), ("$tuple", tuple), ("$dict", dict), ("$set", set)):
            if kind in node and isinstance(target, types):
                self._remember(node, target)  # the container stays; what it holds syncs in place
                if kind == "$dict":
                    pairs = node["$dict"]
                    if not isinstance(pairs, list) or not all(
                        isinstance(p, list) and len(p) == 2 for p in pairs
                    ):
                        raise WireError("malformed dict")
                    for k, v in pairs:
                        self.decode(k, depth + 1)
                        self.decode(v, depth + 1)
                else:
                    self._seq(node, kind, depth)
                return target
        raise WireError(
            f"your function replaced an argument of type {type(target).__name__[:40]} "
            f"by another value"
        )

    def _sync_tensor(self, target, node, depth):
        torch = _torch()
        new = self._tensor(node, depth, fresh=False)
        if new.shape != target.shape or new.dtype != target.dtype:
            raise WireError("your function changed the shape or dtype of a tensor argument")
        with torch.no_grad():
            target.copy_(new)
        if target.is_leaf:
            if target.requires_grad != new.requires_grad:
                target.requires_grad_(new.requires_grad)
            grad = new.grad
            ok = _is_tensor(grad) and grad.shape == target.shape and grad.dtype == target.dtype
            target.grad = grad if ok else None
        self._remember(node, target)
        return target

    def _sync_module(self, m, node, depth):
        if node["$module"] != _class_path(type(m)):
            raise WireError(
                f"your function replaced a module of class {type(m).__name__} by another"
            )
        self._remember(node, m)
        for section, table in (
            ("params", m._parameters),
            ("buffers", m._buffers),
            ("children", m._modules),
        ):
            given = node.get(section, {})
            if not isinstance(given, dict) or set(given) != set(table):
                raise WireError(
                    f"your function added or removed {section} of the {type(m).__name__} it was "
                    f"given; it may change their values only (requires_grad, training, weights): "
                    f"to change the layers, change a copy (copy.deepcopy)"
                )
            for name, value in given.items():
                got = self.decode(value, depth + 1)
                if got is not table[name]:
                    raise WireError(
                        f"your function replaced {name!s:.40} of the {type(m).__name__} it was "
                        f"given; it may change its values only (requires_grad, training, weights): "
                        f"to change the layers, change a copy (copy.deepcopy)"
                    )
        m.training = bool(node.get("training"))
        return m

    # -------------------------------------------------------------- fresh modules
    def _fill_module(self, m, node, depth):
        """A module built by ``_module``: plain attributes, parameters, buffers and children from
        ``node``."""
        torch = _torch()
        cls = type(m)
        for section in ("attrs", "params", "buffers", "children"):
            if not isinstance(node.get(section, {}), dict):
                raise WireError("malformed module")
        self._remember(node, m)
        self.sealed += 1
        try:
            internals = set(vars(m))
            for k, v in node.get("attrs", {}).items():
                if not isinstance(k, str) or k.startswith("__"):
                    raise WireError("malformed module attribute")
                if k in MODULE_SKIP or k in internals or k.endswith("hooks"):
                    # nn.Module's own state (hooks, call paths): the fresh module keeps its own
                    continue
                if _shadows(cls, k):
                    raise WireError(
                        f"a module attribute {k[:40]} that shadows a method of {cls.__name__}"
                    )
                value = self.decode(v, depth + 1)
                _plain(value)
                object.__setattr__(m, k, value)
            for k, v in node.get("params", {}).items():
                p = self.decode(v, depth + 1)
                if p is not None and not isinstance(p, torch.nn.Parameter):
                    raise WireError("a module parameter that is not a parameter")
                m._parameters[str(k)] = p
            for k, v in node.get("buffers", {}).items():
                b = self.decode(v, depth + 1)
                if b is not None and not _is_tensor(b):
                    raise WireError("a module buffer that is not a tensor")
                m._buffers[str(k)] = b
            transient = node.get("transient", [])
            m._non_persistent_buffers_set = (
                {str(k) for k in transient} if isinstance(transient, list) else set()
            )
            for k, v in node.get("children", {}).items():
                child = self.decode(v, depth + 1)
                if child is not None and not _is_module(child):
                    raise WireError("a child module that is not a module")
                m._modules[str(k)] = child
        finally:
            self.sealed -= 1
        m.training = bool(node.get("training"))
        return m

    def _buf(self, i):
        if not isinstance(i, int) or not 0 <= i < len(self.buffers):
            raise WireError("a buffer that is not there")
        return self.buffers[i]

    def _seq(self, node, key, depth):
        items = node[key]
        if not isinstance(items, list):
            raise WireError("malformed sequence")
        return [self.decode(v, depth + 1) for v in items]

    def _decode(self, node, depth):
        dec = lambda v: self.decode(v, depth + 1)  # noqa: E731
        if "$int" in node:
            text = str(node["$int"])
            if len(text) > 4000:
                raise WireError("an integer too large")
            return int(text)
        if "$float" in node:
            if node["$float"] not in ("nan", "inf", "-inf"):
                raise WireError("malformed float")
            return float(node["$float"])
        if "$complex" in node:
            re_, im = node["$complex"]
            return complex(float(re_), float(im))
        if "$bytes" in node:
            return bytes(self._buf(node["$bytes"]))
        if "$ellipsis" in node:
            return Ellipsis
        if "$slice" in node:
            return slice(*[dec(v) for v in node["$slice"][:3]])
        if "$range" in node:
            a, b, c = (int(x) for x in node["$range"][:3])
            return range(a, b, c)
        if "$list" in node:
            out = []
            self._remember(node, out)
            out.extend(self._seq(node, "$list", depth))
            return out
        if "$tuple" in node:
            return tuple(self._seq(node, "$tuple", depth))
        if "$set" in node:
            return set(self._hashable(self._seq(node, "$set", depth)))
        if "$frozenset" in node:
            return frozenset(self._hashable(self._seq(node, "$frozenset", depth)))
        if "$dict" in node:
            out = {}
            self._remember(node, out)
            pairs = node["$dict"]
            if not isinstance(pairs, list):
                raise WireError("malformed dict")
            for pair in pairs:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise WireError("malformed dict")
                k = dec(pair[0])
                self._hashable([k])
                out[k] = dec(pair[1])
            return out
        if "$ndarray" in node:
            return self._array(node)
        if "$npscalar" in node:
            dtype = self._dtype(node["$npscalar"])
            return np.frombuffer(self._buf(node["buf"]), dtype=dtype, count=1)[0]
        if "$tensor" in node:
            return self._tensor(node, depth)
        if "$module" in node:
            return self._module(node, depth)
        if "$dtype" in node:
            name = str(node["$dtype"])
            if name not in TORCH_DTYPES:
                raise WireError(f"unknown dtype {name[:40]}")
            return getattr(_torch(), name)
        if "$device" in node:
            return _torch().device(str(node["$device"])[:40])
        if "$class" in node:
            return allowed_class(node["$class"])
        if "$function" in node:
            return _allowed_function(node["$function"])
        raise WireError("unknown value kind")

    def _remember(self, node, value):
        if "$id" in node and isinstance(node["$id"], int):
            self.memo[node["$id"]] = value

    @staticmethod
    def _hashable(values):
        for v in values:
            try:
                hash(v)
            except TypeError:
                raise WireError("an unhashable key") from None
        return values

    @staticmethod
    def _dtype(text):
        try:
            dtype = np.dtype(str(text)[:8])
        except TypeError:
            raise WireError("unknown dtype") from None
        if dtype.name not in DTYPES:
            raise WireError(f"dtype {dtype} does not cross")
        return dtype

    def _shape(self, node, itemsize):
        shape = node.get("shape")
        if (
            not isinstance(shape, list)
            or len(shape) > 32
            or not all(isinstance(s, int) and s >= 0 for s in shape)
        ):
            raise WireError("malformed shape")
        count = math.prod(shape)
        data = self._buf(node["buf"])
        if count * itemsize != len(data):
            raise WireError("an array whose shape and data disagree")
        return tuple(shape), data

    def _array(self, node):
        dtype = self._dtype(node["$ndarray"])
        shape, data = self._shape(node, dtype.itemsize)
        out = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
        self._remember(node, out)
        return out

    def _tensor(self, node, depth, fresh=True):
        torch = _torch()
        name = str(node["$tensor"])
        if name not in TORCH_DTYPES:
            raise WireError(f"a tensor of dtype {name[:40]}")
        dtype = getattr(torch, name)
        np_dtype = np.int16 if name == "bfloat16" else torch.empty(0, dtype=dtype).numpy().dtype
        shape, data = self._shape(node, np.dtype(np_dtype).itemsize)
        t = torch.from_numpy(np.frombuffer(data, dtype=np_dtype).reshape(shape).copy())
        if name == "bfloat16":
            t = t.view(torch.bfloat16)
        if node.get("parameter") is True:
            t = torch.nn.Parameter(t, requires_grad=bool(node.get("requires_grad")))
        elif node.get("requires_grad") is True:
            if not (t.is_floating_point() or t.is_complex()):
                raise WireError("requires_grad on an integer tensor")
            t.requires_grad_(True)
        if fresh:
            self._remember(node, t)
        if "grad" in node:
            grad = self.decode(node["grad"], depth + 1)
            if _is_tensor(grad) and grad.shape == t.shape and grad.dtype == t.dtype:
                t.grad = grad
        return t

    def _module(self, node, depth):
        torch = _torch()
        cls = allowed_class(node["$module"])
        m = cls.__new__(cls)
        torch.nn.Module.__init__(m)
        return self._fill_module(m, node, depth)


def same(a, b, depth=0):
    """True when ``a`` (decoded) holds exactly what ``b`` (the judge's own object) holds: same
    types, shapes, values, flags and structure."""
    if a is b:
        return True
    if type(a) is not type(b) or depth > MAX_DEPTH:
        return False
    if isinstance(b, np.ndarray):
        return (
            a.shape == b.shape
            and a.dtype == b.dtype
            and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        )
    if _is_tensor(b):
        torch = _torch()
        return (
            a.shape == b.shape
            and a.dtype == b.dtype
            and a.requires_grad == b.requires_grad
            and a.grad is None
            and b.grad is None
            and bool(torch.equal(a.detach(), b.detach()))
        )
    if _is_module(b):
        return a.training == b.training and all(
            set(ta) == set(tb) and all(same(ta[k], tb[k], depth + 1) for k in tb)
            for ta, tb in (
                (a._parameters, b._parameters),
                (a._buffers, b._buffers),
                (a._modules, b._modules),
            )
        )
    if isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y, depth + 1) for x, y in zip(a, b))
    if isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k], depth + 1) for k in b)
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - a comparison that fails is a difference
        return False


def _shadows(cls, name):
    """True when ``name`` is a method, property or other descriptor of ``cls`` (an instance value
    would hide it)."""
    import inspect

    missing = object()
    attr = inspect.getattr_static(cls, name, missing)
    return attr is not missing and (callable(attr) or hasattr(type(attr), "__get__"))


def _plain(value, depth=0):
    """Refuses a module attribute that holds code: any callable but an activation function, at any
    depth."""
    if depth > MAX_DEPTH:
        raise WireError("a value nested too deeply")
    if isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _plain(v, depth + 1)
    elif isinstance(value, dict):
        for k, v in value.items():
            _plain(k, depth + 1)
            _plain(v, depth + 1)
    elif callable(value) and not is_activation(value):
        raise WireError(
            f"a module attribute holding a callable ({type(value).__name__[:40]}): only data and "
            f"torch.nn.functional's activation functions cross"
        )


# -------------------------------------------------------------------------------------- framing

HEADER = struct.Struct("<QI")  # JSON length, buffer count


def pack(tree, buffers):
    """One message as bytes: header, JSON, then each buffer with its length."""
    text = json.dumps(tree, separators=(",", ":"), allow_nan=True).encode()
    parts = [HEADER.pack(len(text), len(buffers)), text]
    for b in buffers:
        parts += [struct.pack("<Q", len(b)), b]
    return b"".join(parts)


def _read_exactly(f, n):
    chunks, left = [], n
    while left:
        chunk = f.read(min(left, 1 << 24))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_message(f, max_bytes=MAX_BYTES):
    """(tree, buffers) of the next message on the binary file ``f``; bounded by ``max_bytes``."""
    size, count = HEADER.unpack(_read_exactly(f, HEADER.size))
    if size > max_bytes or count > 1_000_000:
        raise WireError("a message over the size limit")
    total, buffers = size, []
    try:
        tree = json.loads(_read_exactly(f, size))
    except (ValueError, RecursionError):
        raise WireError("malformed message") from None
    for _ in range(count):
        (n,) = struct.unpack("<Q", _read_exactly(f, 8))
        total += n
        if total > max_bytes:
            raise WireError("a message over the size limit")
        buffers.append(_read_exactly(f, n))
    return tree, buffers


def write_message(f, tree, buffers=()):
    f.write(pack(tree, list(buffers)))
    f.flush()
