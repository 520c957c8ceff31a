"""The data-only format in which values cross between the judge (trusted) and the worker (student code).

Standalone (standard library, numpy; torch only when a tensor or a module is met): both programs load this
one file, the worker inside its sandbox. A message is a JSON tree plus raw buffers; it carries no code and no
pickle. What crosses:

* ``None``, bools, ints, floats, complex numbers, strings, bytes, ``...``, slices and ranges;
* lists, tuples, dicts (any decodable hashable keys), sets and frozensets;
* numpy arrays and scalars of numeric or bool dtypes (never ``object``);
* torch tensors (dtype, shape, values, ``requires_grad``, ``grad``, parameter or not), dtypes, devices;
* ``nn.Module``s as their architecture: the class, by name, which must be a module class of ``torch``,
  ``torchvision`` or ``timm`` (``ALLOWED``); its plain attributes; its parameters, buffers and children;
  its ``training`` flag. A class of any other origin (a notebook's own) does not cross;
* references: ``{"$ref": k}`` to an object met earlier in the same message (shared submodules and tensors);
  ``"$src": k`` on a value that is the new state of object ``k`` the judge sent, which the judge updates in
  place and keeps (identity: ``set_train_mode(model) is model``), and ``{"$unchanged": k}`` for a tensor the
  call left as it was; handles to callables that stay on their side (``{"$callback": k}``, ``{"$remote": k}``,
  ``{"$global": name}``), called by message.

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
FUNCTIONS = ("torch.nn.functional",)       # functions a module may hold as an attribute (activation choices)
DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"}
TORCH_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "float16", "bfloat16", "float32", "float64",
                "complex64", "complex128"}
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
    """``import torchvision`` without loading ``torch._dynamo`` (seconds of CPU per process, unused here).

    torchvision's ``ops.roi_align`` imports one helper, ``torch._dynamo.utils.is_compile_supported``, at import
    time, and that loads the whole compiler. During the import a stand-in answers it (compilation is never
    supported here, which only makes ``roi_align`` take its eager path); afterwards the stand-in is removed,
    so a later ``import torch._dynamo`` loads the real one.
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
    """The ``nn.Module`` class named ``path`` if it belongs to an allowed library, else ``WireError``."""
    if not isinstance(path, str) or not path.startswith(ALLOWED) or "<" in path:
        raise WireError(f"a module of class {str(path)[:80]} (only torch, torchvision and timm modules cross)")
    module, _, name = path.rpartition(".")
    try:
        if module.startswith("torchvision"):
            light_torchvision()
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise WireError(f"unknown module class {path[:80]}") from None
    torch = _torch()
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module) and _class_path(cls) == path):
        raise WireError(f"{path[:80]} is not a module class")
    return cls


def _allowed_function(path):
    module, _, name = str(path).rpartition(".")
    if module not in FUNCTIONS:
        raise WireError(f"a function {str(path)[:80]} (only torch.nn.functional's cross)")
    fn = getattr(importlib.import_module(module), name, None)
    if not callable(fn) or isinstance(fn, type):
        raise WireError(f"unknown function {str(path)[:80]}")
    return fn


class Encoder:
    """Turns one value into (tree, buffers). ``handles(obj)`` may return a reference for an object."""

    def __init__(self, handle=None):
        self.buffers, self.memo, self.handle = [], {}, handle
        self.keep = []      # objects referenced by id() must stay alive until the message is sent

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
        if isinstance(obj, (list, tuple, set, frozenset, dict, np.ndarray)) or _is_tensor(obj) or _is_module(obj):
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
        enc = lambda v: self.encode(v, depth + 1)   # noqa: E731
        if isinstance(obj, complex):
            return {"$complex": [repr(obj.real), repr(obj.imag)]}
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
        if callable(obj) and getattr(obj, "__module__", None) in FUNCTIONS:
            return {"$function": f"{obj.__module__}.{obj.__name__}"}
        raise WireError(f"a value of type {type(obj).__name__[:60]}")

    def _array(self, a):
        if a.dtype.name not in DTYPES:
            raise WireError(f"a numpy array of dtype {a.dtype}")
        a = np.ascontiguousarray(a)
        return {"$ndarray": a.dtype.str, "shape": list(a.shape), "buf": self._buffer(a.tobytes())}

    def _tensor(self, t, depth):
        torch = _torch()
        data = t.detach().cpu().contiguous()
        name = str(data.dtype).removeprefix("torch.")
        if name not in TORCH_DTYPES:
            raise WireError(f"a tensor of dtype {name}")
        raw = data.view(torch.int16) if name == "bfloat16" else data
        node = {"$tensor": name, "shape": list(data.shape), "buf": self._buffer(raw.numpy().tobytes()),
                "requires_grad": bool(t.requires_grad), "parameter": isinstance(t, torch.nn.Parameter)}
        if t.grad is not None:
            node["grad"] = self.encode(t.grad, depth + 1)
        return node

    def _module(self, m, depth):
        enc = lambda v: self.encode(v, depth + 1)   # noqa: E731
        path = _class_path(type(m))
        allowed_class(path) if path.startswith(ALLOWED) else _refuse_class(path)
        attrs = {}
        for k, v in vars(m).items():
            if k in MODULE_SKIP or k.startswith("_") and k.endswith("hooks") or k.endswith("_hooks"):
                continue
            if k.startswith("_") and callable(v) and not isinstance(v, type):
                continue        # bound methods torch keeps (e.g. _compiled_call_impl = None is data)
            attrs[k] = enc(v)
        return {"$module": path, "training": bool(m.training), "attrs": attrs,
                "params": {k: enc(v) for k, v in m._parameters.items()},
                "buffers": {k: enc(v) for k, v in m._buffers.items()},
                "transient": sorted(m._non_persistent_buffers_set),
                "children": {k: enc(v) for k, v in m._modules.items()}}


def _is_module_class(cls):
    torch = sys.modules.get("torch")
    return torch is not None and issubclass(cls, torch.nn.Module)


def _refuse_class(path):
    raise WireError(f"a module of class {path[:80]}, defined outside torch, torchvision and timm: build it from "
                    f"their layers (nn.Sequential, nn.Identity, ...)")


class Decoder:
    """Turns (tree, buffers) back into values. ``resolve(node)`` answers the reference nodes it knows."""

    def __init__(self, buffers, resolve=None, limit_nodes=MAX_NODES, targets=None):
        self.buffers, self.resolve, self.memo, self.nodes, self.limit = buffers, resolve, {}, 0, limit_nodes
        self.targets = targets      # {k: object}: a node tagged "$src": k is the new state of that object

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
        if self.resolve is not None and any(k in node for k in ("$callback", "$remote", "$global")):
            return self.resolve(node)
        if "$unchanged" in node:      # a tensor the judge sent, returned as it was
            target = (self.targets or {}).get(node["$unchanged"]) if isinstance(node["$unchanged"], int) else None
            if not _is_tensor(target):
                raise WireError("an unchanged value that was never sent")
            return target
        target = self.targets.get(node.get("$src")) if self.targets and isinstance(node.get("$src"), int) else None
        value = self._update(target, node, depth) if target is not None else None
        if value is None:
            value = self._decode(node, depth)
        if "$id" in node and isinstance(node["$id"], int):
            self.memo[node["$id"]] = value
        return value

    def _update(self, target, node, depth):
        """``target`` (the judge's own object) changed in place to the state ``node`` describes, or None."""
        if "$ndarray" in node and isinstance(target, np.ndarray):
            new = self._array(node)
            if new.shape == target.shape and new.dtype == target.dtype and target.flags.writeable:
                target[...] = new
                return target
            return new
        if "$tensor" in node and _is_tensor(target):
            return self._update_tensor(target, self._tensor(node, depth))
        if "$list" in node and isinstance(target, list):
            self._remember(node, target)
            target[:] = self._seq(node, "$list", depth)
            return target
        if "$dict" in node and isinstance(target, dict):
            self._remember(node, target)
            new = self._decode({"$dict": node["$dict"]}, depth)
            target.clear()
            target.update(new)
            return target
        if "$set" in node and isinstance(target, set):
            new = set(self._hashable(self._seq(node, "$set", depth)))
            target.clear()
            target.update(new)
            return target
        if "$module" in node and _is_module(target) and _class_path(type(target)) == node["$module"]:
            return self._update_module(target, node, depth)
        return None

    @staticmethod
    def _update_tensor(target, new):
        torch = _torch()
        if new.shape != target.shape or new.dtype != target.dtype:
            return new
        with torch.no_grad():
            target.copy_(new)
        if target.is_leaf and target.requires_grad != new.requires_grad:
            target.requires_grad_(new.requires_grad)
        if target.is_leaf:
            target.grad = new.grad
        return target

    def _update_module(self, m, node, depth):
        self._remember(node, m)
        fresh = self._module_parts(node, depth)
        m.training = fresh["training"]
        for k, v in fresh["attrs"].items():
            object.__setattr__(m, k, v)
        for section in ("_parameters", "_buffers", "_modules"):
            table = getattr(m, section)
            table.clear()
            table.update(fresh[section])
        m._non_persistent_buffers_set = fresh["transient"]
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
        dec = lambda v: self.decode(v, depth + 1)   # noqa: E731
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
        if not isinstance(shape, list) or len(shape) > 32 or not all(isinstance(s, int) and s >= 0 for s in shape):
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

    def _tensor(self, node, depth):
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
        return self._update_module(m, node, depth)

    def _module_parts(self, node, depth):
        """The decoded parts of a module node: training, attrs, _parameters, _buffers, _modules, transient."""
        torch = _torch()
        allowed_class(node["$module"])
        for section in ("attrs", "params", "buffers", "children"):
            if not isinstance(node.get(section, {}), dict):
                raise WireError("malformed module")
        parts = {"training": bool(node.get("training")), "attrs": {}, "_parameters": {}, "_buffers": {},
                 "_modules": {}}
        for k, v in node.get("attrs", {}).items():
            if not isinstance(k, str) or k in MODULE_SKIP or k.startswith("__"):
                raise WireError("malformed module attribute")
            parts["attrs"][k] = self.decode(v, depth + 1)
        for k, v in node.get("params", {}).items():
            p = self.decode(v, depth + 1)
            if p is not None and not isinstance(p, torch.nn.Parameter):
                raise WireError("a module parameter that is not a parameter")
            parts["_parameters"][str(k)] = p
        for k, v in node.get("buffers", {}).items():
            b = self.decode(v, depth + 1)
            if b is not None and not _is_tensor(b):
                raise WireError("a module buffer that is not a tensor")
            parts["_buffers"][str(k)] = b
        transient = node.get("transient", [])
        parts["transient"] = {str(k) for k in transient} if isinstance(transient, list) else set()
        for k, v in node.get("children", {}).items():
            child = self.decode(v, depth + 1)
            if child is not None and not _is_module(child):
                raise WireError("a child module that is not a module")
            parts["_modules"][str(k)] = child
        return parts


# ------------------------------------------------------------------------------------------- framing

HEADER = struct.Struct("<QI")     # JSON length, buffer count


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
