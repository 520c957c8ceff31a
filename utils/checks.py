"""What a test uses to look at HOW an answer was computed, the same way at home and in the grader.

At home (``grader.check`` in your kernel) a test's ``env`` is your notebook's globals, and these
helpers patch them directly. When your notebook is graded, your functions run in a separate process
and ``env`` is the grader's handle on it: the same helpers then patch that process
(``env.count_calls``, ``env.replace_global``).
Either way the test reads the same answer.
"""

import contextlib
import importlib

# count_calls' name for torch's operators: counted in torch's dispatcher, not by name
ATEN = "torch.ops.aten"


def _aten_counter(names, counts):
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        """Every Python path to an operator (torch.conv2d, F.conv2d, nn.Conv2d, a name imported
        earlier) ends here."""

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = func.overloadpacket.__name__
            if name in names:
                counts[name] = counts.get(name, 0) + 1
            return func(*args, **(kwargs or {}))

    return Count()


@contextlib.contextmanager
def count_calls(env, module, names):
    """Counts calls of ``module.<name>`` for each of ``names`` inside the block: yields
    {name: count}. With ``module`` :data:`ATEN`, ``names`` are torch operators (``"convolution"``),
    counted however they were reached."""
    if hasattr(env, "count_calls"):
        with env.count_calls(module, names) as counts:
            yield counts
        return
    if module == ATEN:
        counts = {}
        with _aten_counter(set(names), counts):
            yield counts
        return
    mod, counts = importlib.import_module(module), {}
    real = {name: getattr(mod, name) for name in names}

    def counter(name):
        def counted(*args, **kwargs):
            counts[name] = counts.get(name, 0) + 1
            return real[name](*args, **kwargs)

        return counted

    for name in names:
        setattr(mod, name, counter(name))
    try:
        yield counts
    finally:
        for name, fn in real.items():
            setattr(mod, name, fn)


def mutable(env, obj):
    """``obj``, which the test lets your function change in place (a model it sets to training mode,
    stages it freezes). When your notebook is graded, your function works on a copy of every
    argument, and only an object declared here takes back what your function changed in it: its
    values, never new attributes or layers."""
    if hasattr(env, "mutable"):
        return env.mutable(obj)
    return obj


@contextlib.contextmanager
def replace_global(env, name, value):
    """Inside the block, the notebook's global ``name`` (a function your code calls) is
    ``value``."""
    if hasattr(env, "replace_global"):
        with env.replace_global(name, value):
            yield
        return
    missing = object()
    real = env.get(name, missing)
    env[name] = value
    try:
        yield
    finally:
        if real is missing:
            env.pop(name, None)
        else:
            env[name] = real
