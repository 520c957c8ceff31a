"""The wire format (autograder/grading/programs/wire.py): what crosses between the judge and the
student's worker.

The worker is student code: everything the judge decodes is hostile. These tests take the format
apart: round trips of every kind of value, the limits, malformed and hostile messages and every
refusal, the sync that brings an argument's new state back (values only, into objects the test
declared writable), and, through a real worker process, that no call the judge makes on what came
back (forward, parameters(), hooks, repr) reaches the worker.
"""

import io
import json
import math
import struct
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

PROGRAMS = Path(__file__).resolve().parents[2] / "autograder" / "grading" / "programs"
sys.path.insert(0, str(PROGRAMS))
# the programs import each other by their file names, as they do when run
import judge  # noqa: E402
import wire  # noqa: E402

WireError = wire.WireError
RELU = "torch.nn.modules.activation.ReLU"  # a module class crosses by the path of its definition


def roundtrip(value, **decoder):
    enc = wire.Encoder()
    tree = enc.encode(value)
    blob = wire.pack(tree, enc.buffers)
    tree, buffers = wire.read_message(io.BytesIO(blob))
    return wire.Decoder(buffers, **decoder).decode(tree)


def decode(tree, buffers=(), **kw):
    return wire.Decoder(list(buffers), **kw).decode(tree)


def encoded(value):
    enc = wire.Encoder()
    return enc.encode(value), enc.buffers


# ------------------------------------------------------------------------------------------- round


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -7,
        2**60,
        -(2**80),
        1.5,
        -0.0,
        "text",
        "ü ∑ 🐱",
        b"\x00\xffbytes",
        ...,
        slice(1, None, -2),
        range(3, 30, 4),
        3 + 4j,
        [1, [2, [3]]],
        (1, "a", None),
        {"a": 1, 2: [3], (4, 5): "t"},
        {1, 2, 3},
        frozenset({"x"}),
        {},
        [],
        (),
    ],
)
def test_plain_values_round_trip(value):
    got = roundtrip(value)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_round_trip(value):
    got = roundtrip(value)
    assert isinstance(got, float) and (math.isnan(got) if math.isnan(value) else got == value)


@pytest.mark.parametrize("dtype", sorted(wire.DTYPES))
def test_numpy_arrays_and_scalars_of_every_dtype(dtype):
    a = (np.arange(24) % 5).astype(dtype).reshape(2, 3, 4)
    got = roundtrip(a)
    assert got.dtype == a.dtype and got.shape == a.shape and np.array_equal(got, a)
    assert got.flags.writeable and got.flags.c_contiguous
    s = roundtrip(a.reshape(-1)[3])
    assert s == a.reshape(-1)[3] and (
        type(s) is float if dtype == "float64" else s.dtype == a.dtype
    )


def test_arrays_empty_zero_d_and_strided():
    for a in (np.zeros((0, 5)), np.array(3.5), np.arange(20.0).reshape(4, 5)[:, ::2].T):
        got = roundtrip(a)
        assert got.shape == a.shape and np.array_equal(got, a)


@pytest.mark.parametrize("name", sorted(wire.TORCH_DTYPES))
def test_tensors_of_every_dtype(name):
    dtype = getattr(torch, name)
    t = torch.arange(6).reshape(2, 3).to(dtype)
    got = roundtrip(t)
    assert got.dtype == dtype and got.shape == t.shape and torch.equal(got, t)


def test_tensor_flags_grad_parameters_dtypes_devices():
    t = torch.randn(3, requires_grad=True)
    t.grad = torch.ones(3)
    p = nn.Parameter(torch.randn(2, 2), requires_grad=False)
    got_t, got_p, dt, dev = roundtrip([t, p, torch.float16, torch.device("cpu")])
    assert (
        got_t.requires_grad
        and torch.equal(got_t.detach(), t.detach())
        and torch.equal(got_t.grad, t.grad)
    )
    assert isinstance(got_p, nn.Parameter) and not got_p.requires_grad and torch.equal(got_p, p)
    assert dt is torch.float16 and dev == torch.device("cpu")


def test_modules_cross_as_architecture_and_state():
    torch.manual_seed(0)
    model = nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"),
            bn=nn.BatchNorm2d(4),
            act=nn.ReLU(inplace=True),
            pool=nn.AdaptiveAvgPool2d(1),
            flat=nn.Flatten(),
            head=nn.Linear(4, 2),
        )
    )
    model.bn.running_mean += 1.0
    model.conv.weight.requires_grad_(False)
    model.eval()
    model.head.train()
    got = roundtrip(model)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(got(x), model(x))
    assert type(got.conv) is nn.Conv2d and got.conv.padding_mode == "reflect"
    assert not got.conv.weight.requires_grad and got.head.weight.requires_grad
    assert not got.training and got.head.training and not got.bn.training
    assert torch.equal(got.bn.running_mean, model.bn.running_mean)


def test_shared_objects_keep_their_identity():
    t = torch.randn(2)
    layer = nn.Linear(2, 2)
    a, b, c, d = roundtrip([t, t, layer, layer])
    assert a is b and c is d


def test_activation_functions_cross_and_nothing_else_of_functional():
    assert roundtrip(F.relu) is F.relu and roundtrip([F.gelu, F.silu]) == [F.gelu, F.silu]
    for fn in (F.conv2d, F.linear, F.dropout, print, len, lambda x: x):
        with pytest.raises(WireError):
            encoded(fn)
    with pytest.raises(WireError):
        decode({"$function": "torch.nn.functional.conv2d"})
    with pytest.raises(WireError):
        decode({"$function": "torch.nn.functional.__setattr__"})
    with pytest.raises(WireError):
        decode({"$function": "os.system"})


# ------------------------------------------------------------------------------------------- encodi


@pytest.mark.parametrize(
    "value",
    [
        np.array([1, "a"], dtype=object),
        np.array(["a", "b"]),
        object(),
        Path("/"),
        np.datetime64("2026-01-01"),
        type("X", (), {}),
    ],
)
def test_values_that_do_not_cross(value):
    with pytest.raises(WireError):
        encoded(value)


def test_a_module_of_a_notebook_class_does_not_cross():
    class Mine(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(WireError, match="build it from"):
        encoded(Mine())
    with pytest.raises(WireError):
        encoded(nn.Sequential(Mine()))


def test_encoding_depth_is_bounded():
    deep = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(WireError, match="deeply"):
        encoded(deep)


# ------------------------------------------------------------------------------------------- framin


def test_framing_round_trip_and_many_buffers():
    enc = wire.Encoder()
    tree = enc.encode([np.arange(5), b"abc", torch.ones(2)])
    f = io.BytesIO()
    wire.write_message(f, tree, enc.buffers)
    wire.write_message(f, {"op": "second"})
    f.seek(0)
    assert wire.read_message(f)[0] == json.loads(json.dumps(tree))
    assert wire.read_message(f) == ({"op": "second"}, [])


def test_framing_limits():
    blob = wire.pack({"x": "y" * 1000}, [])
    with pytest.raises(WireError, match="size limit"):
        wire.read_message(io.BytesIO(blob), max_bytes=100)
    blob = wire.pack({"x": 1}, [b"z" * 1000])
    with pytest.raises(WireError, match="size limit"):
        wire.read_message(io.BytesIO(blob), max_bytes=500)
    header = wire.HEADER.pack(10, 2_000_000)  # more buffers than a message may hold
    with pytest.raises(WireError, match="size limit"):
        wire.read_message(io.BytesIO(header + b"{}" * 5))
    header = wire.HEADER.pack(1 << 40, 0)  # a claimed size that is never allocated
    with pytest.raises(WireError, match="size limit"):
        wire.read_message(io.BytesIO(header))


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\x01\x02",
        wire.HEADER.pack(10, 0) + b"{}",
        wire.HEADER.pack(2, 1) + b"{}" + struct.pack("<Q", 50) + b"short",
    ],
)
def test_truncated_messages_end_the_channel(blob):
    with pytest.raises(EOFError):
        wire.read_message(io.BytesIO(blob))


@pytest.mark.parametrize("text", [b"{not json", b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe"])
def test_malformed_json_is_refused(text):
    with pytest.raises(WireError, match="malformed"):
        wire.read_message(io.BytesIO(wire.HEADER.pack(len(text), 0) + text))


# ------------------------------------------------------------------------------------------- hostil


def deep_list(n):
    node = 1
    for _ in range(n):
        node = {"$list": [node]}
    return node


@pytest.mark.parametrize(
    "tree, buffers, why",
    [
        (deep_list(wire.MAX_DEPTH + 2), [], "deeply"),
        ({"$what": 1}, [], "unknown value kind"),
        ([1, 2], [], "malformed"),
        ({}, [], "malformed"),
        ({"$ref": 5}, [], "reference to nothing"),
        ({"$ref": [1]}, [], "reference to nothing"),
        ({"$bytes": 3}, [b"x"], "buffer that is not there"),
        ({"$bytes": -1}, [b"x"], "buffer that is not there"),
        ({"$ndarray": "<f8", "shape": [3], "buf": 0}, [b"\x00" * 16], "disagree"),
        ({"$ndarray": "<f8", "shape": [-1], "buf": 0}, [b""], "malformed shape"),
        ({"$ndarray": "<f8", "shape": [1] * 40, "buf": 0}, [b"\x00" * 8], "malformed shape"),
        ({"$ndarray": "<f8", "shape": "3", "buf": 0}, [b"\x00" * 24], "malformed shape"),
        ({"$ndarray": "|O", "shape": [1], "buf": 0}, [b"\x00" * 8], "does not cross"),
        ({"$ndarray": "<U4", "shape": [1], "buf": 0}, [b"\x00" * 16], "does not cross"),
        ({"$npscalar": "|O", "buf": 0}, [b"\x00" * 8], "does not cross"),
        ({"$tensor": "qint8", "shape": [1], "buf": 0}, [b"\x00"], "dtype"),
        (
            {"$tensor": "int64", "shape": [1], "buf": 0, "requires_grad": True},
            [b"\x00" * 8],
            "integer tensor",
        ),
        ({"$float": "1e400"}, [], "malformed float"),
        ({"$int": "9" * 5000}, [], "too large"),
        ({"$dtype": "object"}, [], "unknown dtype"),
        ({"$set": [{"$list": []}]}, [], "unhashable"),
        ({"$dict": [[{"$list": []}, 1]]}, [], "unhashable"),
        ({"$dict": [[1]]}, [], "malformed dict"),
        ({"$dict": "x"}, [], "malformed dict"),
        ({"$list": "abc"}, [], "malformed sequence"),
        ({"$class": "builtins.object"}, [], "only torch"),
        ({"$class": "torch.nn.functional.relu"}, [], "not a module class"),
        ({"$class": "torch.nn.NoSuchLayer"}, [], "unknown module class"),
        ({"$module": "os.system", "attrs": {}}, [], "only torch"),
        ({"$module": "torch.nn.Module<locals>.X"}, [], "only torch"),
        ({"$module": RELU, "attrs": []}, [], "malformed module"),
        ({"$module": RELU, "attrs": {"__class__": 1}}, [], "malformed module attribute"),
        ({"$unchanged": 0}, [], "never sent"),
        ({"$callback": 0}, [], "handle where none may be"),
    ],
)
def test_hostile_trees_are_refused_with_a_reason(tree, buffers, why):
    with pytest.raises(WireError, match=why):
        decode(tree, buffers)


def test_node_count_is_bounded():
    tree = {"$list": [1] * 1000}
    assert len(decode(tree)) == 1000
    with pytest.raises(WireError, match="too large"):
        wire.Decoder([], limit_nodes=500).decode(tree)


def relu_node(**attrs):
    return {
        "$module": RELU,
        "training": True,
        "attrs": attrs,
        "params": {},
        "buffers": {},
        "children": {},
    }


@pytest.mark.parametrize(
    "name",
    [
        "forward",
        "parameters",
        "extra_repr",
        "__call__",
        "_call_impl",
        "train",
        "state_dict",
        "register_forward_hook",
        "__repr__",
        "half",
    ],
)
def test_no_module_attribute_shadows_a_method(name):
    with pytest.raises(WireError):
        decode(relu_node(**{name: 1}))


@pytest.mark.parametrize(
    "value",
    [
        {"$class": RELU},
        {"$function": "torch.nn.functional.conv2d"},
        {"$list": [{"$class": "torch.nn.modules.linear.Linear"}]},
    ],
)
def test_no_module_attribute_holds_a_callable(value):
    with pytest.raises(WireError):
        decode(relu_node(helper=value))


@pytest.mark.parametrize("handle", [{"$remote": 0}, {"$callback": 0}, {"$global": "fit_ols"}])
def test_no_handle_to_a_callable_decodes_inside_a_module(handle):
    resolved = []
    resolve = lambda node: resolved.append(node) or (lambda *a: None)  # noqa: E731
    with pytest.raises(WireError, match="inside a module"):
        decode(relu_node(helper=handle), resolve=resolve)
    child = {
        "$module": "torch.nn.modules.container.Sequential",
        "training": True,
        "attrs": {},
        "params": {},
        "buffers": {},
        "children": {"0": relu_node(deep={"$list": [handle]})},
    }
    with pytest.raises(WireError, match="inside a module"):
        decode(child, resolve=resolve)
    assert not resolved
    assert decode(
        {"$list": [handle]}, resolve=resolve
    )  # outside a module (a returned function): a handle


def test_nn_module_internals_in_a_reply_are_ignored():
    m = decode(
        relu_node(
            _forward_hooks={"$dict": [[0, 1]]},
            _forward_pre_hooks={"$dict": []},
            _backward_hooks=None,
            _parameters=None,
            inplace=True,
            _note="data",
        )
    )
    assert isinstance(m, nn.ReLU) and m.inplace and m._note == "data"
    assert not m._forward_hooks and m(torch.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]


def test_activation_attributes_are_allowed():
    m = decode(relu_node(act={"$function": "torch.nn.functional.gelu"}))
    assert m.act is F.gelu


@pytest.mark.parametrize(
    "section, value, why",
    [
        ("params", {"w": {"$tensor": "float32", "shape": [1], "buf": 0}}, "not a parameter"),
        ("buffers", {"b": 3}, "not a tensor"),
        ("children", {"c": {"$list": []}}, "not a module"),
    ],
)
def test_module_parts_of_the_wrong_kind(section, value, why):
    node = relu_node()
    node[section] = value
    with pytest.raises(WireError, match=why):
        decode(node, [b"\x00" * 4])


# ------------------------------------------------------------------------------------------- the sy


def reply_for(sent_objects, changed, value=None):
    """The tree and buffers a worker would send: ``changed`` holds the new states of
    ``sent_objects``."""
    enc = wire.Encoder()
    sync = []
    for k, obj in enumerate(changed):
        node = enc.encode(obj)
        node["$src"] = k
        sync.append([k, node])
    return {"value": enc.encode(value), "sync": sync}, enc.buffers


def test_sync_writes_values_into_declared_objects_only():
    a, b = np.zeros(3), torch.zeros(2)
    tree, buffers = reply_for([a, b], [np.ones(3), torch.ones(2, requires_grad=True)])
    dec = wire.Decoder(buffers, targets={0: a}, sent={0: a, 1: b})
    for k, node in tree["sync"]:
        if k in dec.targets:
            assert dec.sync_root(k, node) is a
    assert a.tolist() == [1, 1, 1] and b.tolist() == [0, 0] and not b.requires_grad
    with pytest.raises(WireError, match="may not change"):
        dec.sync_root(1, tree["sync"][1][1])


def test_sync_refuses_another_shape_dtype_or_kind():
    a = np.zeros(3)
    for new in (np.zeros(4), np.zeros(3, dtype=np.float32), [0.0, 0.0, 0.0]):
        tree, buffers = reply_for([a], [new])
        with pytest.raises(WireError):
            wire.Decoder(buffers, targets={0: a}).sync_root(0, tree["sync"][0][1])
    assert a.tolist() == [0, 0, 0]
    tree, buffers = reply_for([a], [np.ones(3)])
    with pytest.raises(WireError, match="does not match"):
        wire.Decoder(buffers, targets={0: a, 1: np.zeros(3)}).sync_root(1, tree["sync"][0][1])


def module_reply(original, mutate):
    """The worker's side: decode the judge's module, let ``mutate`` change it, encode its new
    state."""
    enc = wire.Encoder()
    tree = enc.encode(original)
    copy = wire.Decoder(enc.buffers).decode(json.loads(json.dumps(tree)))
    copy_objects = [
        *copy.modules(),
        *copy.parameters(),
        *copy.buffers(),
    ]  # what the judge sent, before the call
    mutate(copy)
    remotes = []

    def handle(obj):  # the worker keeps its functions and sends handles, as worker.py does
        if callable(obj) and not isinstance(obj, (type, nn.Module)) and not wire.is_activation(obj):
            remotes.append(obj)
            return {"$remote": len(remotes) - 1}
        return None

    back = wire.Encoder(handle=handle)
    seen = {}

    def tag(
        obj, depth=0, _encode=back.encode
    ):  # what the worker does: "$src" on what the judge sent
        node = _encode(obj, depth)
        if isinstance(node, dict) and "$id" in node and id(obj) in seen:
            node["$src"] = seen[id(obj)]
        return node

    back.encode = tag
    judge_objects = [
        *original.modules(),
        *original.parameters(),
        *original.buffers(),
    ]  # modules(): self first
    for k, obj in enumerate(copy_objects):
        seen[id(obj)] = k
    node = back.encode(copy)
    targets = {k: obj for k, obj in enumerate(judge_objects)}
    return wire.Decoder(back.buffers, resolve=lambda n: remotes[0], targets=targets), node


def fresh_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))


def test_a_module_sync_carries_requires_grad_training_and_weights():
    model = fresh_model()

    def freeze(m):
        m[0].requires_grad_(False)
        m[1].eval()
        with torch.no_grad():
            m[2].weight.fill_(0.5)
            m[1].running_mean += 2.0

    dec, node = module_reply(model, freeze)
    assert dec.sync_root(0, node) is model
    assert not model[0].weight.requires_grad and model[2].weight.requires_grad
    assert not model[1].training and model[0].training
    assert torch.all(model[2].weight == 0.5) and torch.all(model[1].running_mean == 2.0)


@pytest.mark.parametrize(
    "change",
    [
        lambda m: setattr(m, "forward", lambda x: x),
        lambda m: setattr(m[0], "parameters", lambda: iter(())),
        lambda m: setattr(m[0], "extra_repr", lambda: "forged"),
        lambda m: setattr(m, "new_attribute", 1),
        lambda m: m.register_forward_hook(lambda *a: None),
        lambda m: m[0].register_forward_pre_hook(lambda *a: None),
    ],
)
def test_a_module_sync_never_writes_attributes_or_hooks(change):
    model = fresh_model()
    before = set(vars(model)), set(vars(model[0]))
    dec, node = module_reply(model, change)
    try:
        dec.sync_root(0, node)
    except WireError:
        pass  # a callable attribute makes the reply undecodable: refused is as good as ignored
    assert (set(vars(model)), set(vars(model[0]))) == before
    assert not model._forward_hooks and not model[0]._forward_pre_hooks
    assert type(model).forward is nn.Sequential.forward and "forward" not in vars(model)


@pytest.mark.parametrize(
    "change, why",
    [
        (lambda m: m.__setitem__(0, nn.Identity()), "replaced"),
        (lambda m: m.append(nn.ReLU()), "added or removed"),
        (lambda m: setattr(m[0], "weight", nn.Parameter(torch.zeros(3, 3))), "replaced"),
        (
            lambda m: m[0].register_parameter("extra", nn.Parameter(torch.zeros(1))),
            "added or removed",
        ),
        (lambda m: setattr(m[0], "bias", None), "replaced"),
    ],
)
def test_a_module_sync_refuses_a_change_of_structure(change, why):
    model = fresh_model()
    dec, node = module_reply(model, change)
    with pytest.raises(WireError, match=why):
        dec.sync_root(0, node)
    assert isinstance(model[0], nn.Linear) and len(model) == 3 and model[0].bias is not None


def test_an_undeclared_argument_comes_back_as_a_copy_or_as_itself_when_unchanged():
    records = [{"s": 8, "val_acc": 0.6}, {"s": 4, "val_acc": 0.7}]
    arr = np.arange(3.0)
    enc = wire.Encoder()
    sent = {}
    for k, obj in enumerate([records, records[0], records[1], arr]):
        sent[k] = obj
    # the worker returns records[1] unchanged and arr changed
    changed = arr + 1
    tree = {
        "$list": [
            {"$dict": [["s", 4], ["val_acc", 0.7]], "$src": 2},
            dict(enc.encode(changed), **{"$src": 3}),
        ]
    }
    got = wire.Decoder(enc.buffers, targets={}, sent=sent).decode(tree)
    assert got[0] is records[1]  # identity survives; nothing was written
    assert got[1] is not arr and got[1].tolist() == [1, 2, 3] and arr.tolist() == [0, 1, 2]


# ------------------------------------------------------------------------------------------- a real

STUDENT = r"""
import torch
from torch import nn
import torch.nn.functional as F
REACHED = []

def _reach(*args, **kwargs):
    REACHED.append(1)
    raise RuntimeError("REACHED the worker")

def attack_argument(model):
    model.forward = _reach
    model.parameters = _reach
    model.extra_repr = _reach
    model.register_forward_hook(_reach)
    model[0].register_forward_pre_hook(_reach)
    model.__dict__["__repr__"] = _reach
    return 1

def attack_return(model):
    import copy
    out = copy.deepcopy(model)
    out.forward = _reach
    return out

def attack_hook_on_return(model):
    import copy
    out = copy.deepcopy(model)
    out.register_forward_hook(_reach)
    out.act = F.relu
    return out

def attack_helper(model):
    import copy
    out = copy.deepcopy(model)
    out.helper = F.conv2d
    return out

def attack_returns_function(model):
    return _reach

def set_train_mode(model):
    model.train()
    model[0].requires_grad_(False)
    model.forward = _reach
    return model

def reached():
    return len(REACHED)
"""


@pytest.fixture(scope="module")
def session():
    spec = {"argv": [sys.executable, "-I", str(PROGRAMS / "worker.py")], "env": None, "cwd": None}
    s = judge.Session(spec, [[1, STUDENT]], 60.0)
    yield s
    s.close()


def judge_side_calls(model):
    """Everything a test might do with a model: forward, parameters(), hooks, repr."""
    x = torch.randn(2, 3)
    with torch.no_grad():
        out = model(x)
    list(model.parameters())
    repr(model)
    model.train()
    model(x).sum().backward()
    return out


@pytest.mark.parametrize("attack", ["attack_argument", "set_train_mode"])
def test_no_judge_side_call_reaches_the_worker_through_an_argument(session, attack):
    env = judge.ProxyEnv(session, 0)
    model = fresh_model()
    if attack == "set_train_mode":
        env.mutable(model)
        model.eval()
    result = env[attack](model)
    judge_side_calls(model)
    assert env["reached"]() == 0
    assert (
        "forward" not in vars(model)
        and not model._forward_hooks
        and not model[0]._forward_pre_hooks
    )
    if attack == "set_train_mode":  # declared: its values came back
        assert result is model and model.training and not model[0].weight.requires_grad
    session.writable.clear()


def test_no_callable_crosses_inside_a_returned_module(session):
    env = judge.ProxyEnv(session, 0)
    with pytest.raises(WireError, match="shadows"):
        env["attack_return"](fresh_model())
    with pytest.raises(WireError):
        env["attack_helper"](fresh_model())
    got = env["attack_hook_on_return"](
        fresh_model()
    )  # the hook stays behind; an activation may cross
    assert got.act is F.relu and not got._forward_hooks
    judge_side_calls(got)
    assert env["reached"]() == 0


def test_a_returned_function_is_a_handle_the_test_must_call_itself(session):
    env = judge.ProxyEnv(session, 0)
    fn = env["attack_returns_function"](fresh_model())
    assert isinstance(fn, judge.RemoteHandle) and env["reached"]() == 0
