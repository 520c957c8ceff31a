"""The note's Figure 5 measured: every transfer strategy on every training-set size
(notebook 04, note §3.4).

:func:`transfer_grid` runs, for each task and number of training examples per
class, a linear probe on raw pixels, on the final features Φ(x) and on the best
earlier stage (chosen on validation), fine-tuning of the last stages on cached
maps (:func:`utils.finetune.fine_tune_tail`; how many stages is the caller's
choice, per task), and a small CNN trained from scratch (:func:`train_scratch`).
The features and maps come from :func:`utils.train.stage_outputs`, cached, and so
are the grid's rows: a second run costs seconds. :func:`transfer_grids` computes
many (task, size, seed) runs, and :func:`stage_sweep` its k, in one process per CPU.

:func:`probe_backbones` measures the other side of Figure 4 (notebook 03): how well
each backbone's frozen features transfer to the pets, by cross-validation on trainval.
"""

from __future__ import annotations

import copy
import os
import time
from contextlib import contextmanager

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from . import cache, data, models
from .train import evaluate, extract_features, feature_loaders, fit, linear_probe, make_loader


def small_images(split="trainval", size=64, root=None):
    """Pets images of one split shrunk to size × size RGB, cached: (float32 (n, 3, size, size) in
    [0, 1], y 0/1) (notebook 04)."""
    from torchvision import transforms as T

    ds = data.pets_dataset(
        split,
        transform=T.Compose([T.Resize(size), T.CenterCrop(size), T.ToTensor()]),
        root=root,
        draft=2 * size,
    )

    def compute():
        X, y = next(iter(make_loader(ds, len(ds), device=torch.device("cpu"))))
        return {"X": X, "y": y}

    out = cache.load_or_compute(
        "arrays", cache.key("small_images-v1", size, data.content_hash(ds)), compute
    )
    return out["X"], out["y"]


def per_class_split(y, sizes, seed=0):
    """Disjoint index arrays taking ``sizes[j]`` examples of every class, in one seeded order per
    class.

    y: (n,) integer labels; sizes: e.g. (1, 4) -> (first_idx, second_idx). Raises
    ValueError naming the class when one has too few examples.
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    parts = [[] for _ in sizes]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) < sum(sizes):
            raise ValueError(
                f"class {c} has {len(idx)} examples, fewer than the {sum(sizes)} asked for {sizes}"
            )
        for j, start in enumerate(np.cumsum((0, *sizes[:-1]))):
            parts[j].append(idx[start : start + sizes[j]])
    return tuple(np.sort(np.concatenate(p)) for p in parts)


def small_cnn(in_channels, num_classes, width=16):
    """A small CNN sized for a few hundred images, the fair "from scratch" baseline
    (notebook 04)."""

    def block(c_in, c_out):
        return [
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ]

    return nn.Sequential(
        *block(in_channels, width),
        *block(width, 2 * width),
        *block(2 * width, 4 * width),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(4 * width, num_classes),
    )


def _accuracy(model, X, y):
    return evaluate(model, feature_loaders(X, y, shuffle=False, batch_size=256))[1]


def train_scratch(
    images, y, train_idx, val_idx, test_idx, num_classes, num_epochs=40, lr=3e-3, seed=0
):
    """Train :func:`small_cnn` from random weights (up to ``num_epochs``, stopping 10 epochs after
    the best validation accuracy), keep the best validation epoch, and return the test accuracy."""
    torch.manual_seed(seed)
    model = small_cnn(images.shape[1], num_classes)
    fit(
        model,
        feature_loaders(images[train_idx], y[train_idx], batch_size=32, seed=seed),
        feature_loaders(images[val_idx], y[val_idx], shuffle=False),
        num_epochs=num_epochs,
        lr=lr,
        weight_decay=5e-4,
        seed=seed,
        progress=False,
        patience=10,
    )
    return _accuracy(model, images[test_idx], y[test_idx])


@contextmanager
def one_thread():
    """Run small problems on one torch and one BLAS thread: on a busy 2-core CPU many times faster
    than several, and on an idle one not much slower. (Fine-tuning runs too: with two threads, an
    epoch took many times longer whenever another process kept a core busy.)"""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(before)


STRATEGIES = (
    "raw pixels, linear",
    "final features, linear",
    "best earlier stage, linear",
    "fine-tune last stages",
    "from scratch (small CNN)",
)
FINE_TUNED = STRATEGIES[
    3:4
]  # the rows that also record their accuracies before and after, and their curve

TAIL_EPOCHS, TAIL_LR = (
    15,
    0.1,
)  # fine-tuning the last stages: the head's rate; the stages' is a tenth of it


def _digest(*values) -> str:
    """SHA-256 of tensors and arrays (their bytes, shapes and dtypes) and of plain values
    (their repr)."""
    import hashlib

    h = hashlib.sha256()
    for v in values:
        if isinstance(v, dict):
            h.update(_digest(*sorted(v.items(), key=lambda kv: str(kv[0]))).encode())
        elif isinstance(v, (tuple, list)):
            h.update(_digest(*v).encode())
        elif isinstance(v, bytes):
            h.update(v)
        elif isinstance(v, (torch.Tensor, np.ndarray)):
            a = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v
            h.update(repr((a.shape, str(a.dtype))).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        else:
            h.update(repr(v).encode())
    return h.hexdigest()


def _weights(modules) -> str:
    return _digest([m.state_dict() for m in modules])


def _code(path) -> str:
    """The code of a module as Python reads it: its syntax tree without docstrings (comments are
    not in it), so that rewording or re-wrapping the prose is not a new recipe. Written out the
    same way by every Python (empty fields left out: later versions add some, e.g. ``type_params``),
    so that a notebook on Colab's Python finds the rows another Python computed."""
    import ast
    from pathlib import Path

    def dump(node):
        if isinstance(node, list):
            return "[" + ",".join(dump(n) for n in node) + "]"
        if not isinstance(node, ast.AST):
            return repr(node)
        fields = ((f, getattr(node, f, None)) for f in node._fields)
        return (
            f"{type(node).__name__}("
            + ",".join(f"{f}={dump(v)}" for f, v in fields if v is not None and v != [])
            + ")"
        )

    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return dump(tree)


def _recipe() -> str:
    """SHA-256 of the code that computes a grid row (this module, :mod:`utils.finetune`,
    :mod:`utils.train`): a change of the recipe is a new measurement, never a cached old one."""
    from . import finetune, train

    return _digest(*(_code(m.__file__) for m in (finetune, train)), _code(__file__))


def transfer_grid(task, tail_stages, sizes, val_per_class, seed=0, cached=True):
    """Figure 5 measured: test accuracy of every strategy for every training-set size (notebook 04).

    task: dict with ``name``, ``y`` (n,), ``pool_idx`` (indices to draw train and
    validation from), ``test_idx``, ``pooled`` ({stage: (n, c)}, as
    :func:`stage_outputs` gives), ``map`` (n, c, h, w) after the last frozen stage,
    ``pixels`` (n, p), ``images`` (n, channels, s, s) for the small CNN; optional ``flip``
    (default True): whether a mirrored image keeps its label (False for digits), for fine-tuning's
    augmentation; optional ``tail_epochs`` (default :data:`TAIL_EPOCHS`). ``tail_stages``: the
    stages after ``map``'s, the ones fine-tuning trains (at :data:`TAIL_LR`, the stages at a tenth
    of it).
    Returns a list of ``{"task", "train_per_class", "strategy", "seed", "test_acc", "seconds"}``
    rows; the earlier-stage row also names the ``stage`` chosen on validation, the fine-tuning row
    (:data:`FINE_TUNED`) adds ``val_before``, ``val_after``, ``test_before``, ``kept_epoch``,
    ``epochs`` and ``val_curve`` (validation accuracy of every epoch, the start first).
    With ``cached`` the rows of one size and seed are kept on disk (:mod:`utils.cache`), under a key
    of every input (the task's arrays and indices, the pre-trained weights, the seed, the code of
    the recipe): a second run of the notebook reuses them. :func:`transfer_grids` runs many at once.
    """
    if not cached:
        return [row for n in sizes for row in _grid_rows(task, tail_stages, n, val_per_class, seed)]
    run = (task, tail_stages, sizes, val_per_class, seed)
    return transfer_grids([run], workers=1, progress=False)  # cached: one entry per size


def _grid_keys(task, tail_stages) -> tuple:
    """Digests of what every grid entry of ``task`` depends on besides size and seed: its arrays,
    the pre-trained weights and the recipe's code (computed once per task, not once per entry)."""
    task_key = _digest(
        task["name"],
        task["y"],
        task["pool_idx"],
        task["test_idx"],
        task["pooled"],
        task["map"],
        task["pixels"],
        task["images"],
        task.get("flip", True),
        task.get("tail_epochs", TAIL_EPOCHS),
    )
    return task_key, (_weights(tail_stages), _recipe())


def _grid_entry(keys, n, val_per_class, seed) -> str:
    """The cache entry of the rows of one size and seed (``keys``: :func:`_grid_keys`)."""
    task_key, weights = keys
    return cache.key("transfer-grid-v3", task_key, weights, int(n), int(val_per_class), int(seed))


def transfer_grids(runs, sweeps=(), workers=None, progress=True) -> list[dict]:
    """:func:`transfer_grid` for every ``(task, tail_stages, sizes, val_per_class, seed)`` of
    ``runs``: their rows, in that order, cached.

    The runs are independent and each computes on one thread, so those not cached yet are computed
    in up to ``workers`` processes at once (default :func:`workers`: one per CPU). Every run seeds
    itself, so its numbers are the same in any process and order (tested). ``sweeps``: arguments
    ``(task, tail_stages, n, val_per_class, ks, seed)`` of :func:`stage_sweep` calls to come,
    computed and cached in the same processes (the sweep's call then loads them), so that no
    process waits while another finishes the grid's last run.
    """
    tasks, units = [], []
    for task, tails, sizes, val, seed in runs:
        i = _index(tasks, task, tails)
        units += [("grid", i, int(n), int(val), int(seed)) for n in sizes]
    grid_units = len(units)
    for task, tails, n, val, ks, seed in sweeps:
        i = _index(tasks, task, tails)
        units += [("sweep", i, int(n), int(val), k, int(seed)) for k in _checked(ks, tails)]
    results = _compute(tasks, units, workers, progress)
    return [row for rows in results[:grid_units] for row in rows]


def _index(tasks, task, tails) -> int:
    """The place of (task, tails) in ``tasks``, added if new: each pair is sent to a worker once."""
    for i, (t, s) in enumerate(tasks):
        if t is task and s is tails:
            return i
    tasks.append((task, tails))
    return len(tasks) - 1


def workers() -> int:
    """How many processes the notebook's independent fine-tuning runs may use: one per CPU this
    process may use (at most 4: each holds a copy of torch), and 1 on a GPU (the runs share it)."""
    from .train import get_device

    if get_device().type != "cpu":
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4))


def _unit(tasks, unit, name):
    """One unit of work, ("grid", task, n, val, seed) or ("sweep", task, n, val, k, seed): its rows,
    loaded from or computed into the cache entry ``name``."""
    kind, i, *args = unit
    task, tails = tasks[i]
    if kind == "grid":
        compute = lambda: {"rows": _grid_rows(task, tails, *args)}  # noqa: E731
    else:
        compute = lambda: {"rows": [_sweep_row(task, list(tails), *args)]}  # noqa: E731
    return cache.load_or_compute("arrays", name, compute)["rows"]


def _entries(tasks, units) -> list[str]:
    """Each unit's cache entry, the digests of each task computed once."""
    keys = {}
    for kind, i, *_ in units:
        task, tails = tasks[i]
        if (kind, i) not in keys:
            keys[kind, i] = _grid_keys(task, tails) if kind == "grid" else _sweep_keys(task, tails)
    return [
        _grid_entry(keys[kind, i], *args) if kind == "grid" else _sweep_entry(keys[kind, i], *args)
        for kind, i, *args in units
    ]


def _cost(tasks, unit) -> float:
    """A rough relative cost of a unit (training images × epochs × map size), to start the dearest
    first."""
    kind, i, n, *rest = unit
    task, tails = tasks[i]
    classes = int(torch.as_tensor(task["y"]).max()) + 1
    share = rest[1] / len(tails) if kind == "sweep" else 1  # the sweep trains k of the stages
    return share * n * classes * task.get("tail_epochs", TAIL_EPOCHS) * task["map"][0].numel()


_WORKER_TASKS = None


def _worker_start(tasks):
    import signal

    global _WORKER_TASKS
    _WORKER_TASKS = tasks
    torch.set_num_threads(1)
    # Jupyter's interrupt signals the kernel's whole process group: the kernel, not each worker,
    # decides what an interrupt stops (all of them: see _compute)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_unit(unit, name):
    return _unit(_WORKER_TASKS, unit, name)


def _compute(tasks, units, workers_=None, progress=True) -> list:
    """Each unit's result, in order: cached ones loaded here, the others computed in up to
    ``workers_`` processes (the dearest first), or here when one process is all there is."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    from tqdm.auto import tqdm

    names = _entries(tasks, units)
    missing = [j for j, name in enumerate(names) if not cache.has("arrays", name)]
    processes = min(workers() if workers_ is None else int(workers_), len(missing))
    results = [None] * len(units)
    bar = tqdm(total=len(missing), desc="runs", disable=not progress or not missing)
    if processes > 1:
        pool = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("spawn"),  # never fork a process holding threads
            initializer=_worker_start,
            initargs=(list(tasks),),
        )
        try:
            order = sorted(missing, key=lambda j: -_cost(tasks, units[j]))
            futures = {pool.submit(_worker_unit, units[j], names[j]): j for j in order}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update()
        except BrokenProcessPool:  # a worker died (memory?): what is left is computed here
            print("a worker process died; computing the remaining runs in this process")
        except BaseException:  # an interrupted cell leaves no run behind
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    for j, unit in enumerate(units):
        if results[j] is None:
            results[j] = _unit(tasks, unit, names[j])
            if j in missing:
                bar.update()
    bar.close()
    return results


def _grid_rows(task, tail_stages, n, val_per_class, seed):
    """The rows of :func:`transfer_grid` for one training-set size ``n`` (examples per class)."""
    from . import finetune

    y, test_idx, pool = (
        torch.as_tensor(task["y"]),
        np.asarray(task["test_idx"]),
        np.asarray(task["pool_idx"]),
    )
    num_classes = int(y.max()) + 1
    val_idx, train_idx = (pool[i] for i in per_class_split(y[pool], (val_per_class, n), seed))
    idx, flip = (train_idx, val_idx, test_idx), task.get("flip", True)
    feats = lambda F: (F[train_idx], y[train_idx], F[test_idx], y[test_idx])  # noqa: E731
    chosen = {}

    def earlier_stage():
        earlier = [s for s in task["pooled"] if s != "pooled"][
            :-1
        ]  # the last stage's pooled map IS the final Φ
        val_accs = {
            s: linear_probe(
                task["pooled"][s][train_idx], y[train_idx], task["pooled"][s][val_idx], y[val_idx]
            )
            for s in earlier
        }
        chosen["stage"] = max(val_accs, key=val_accs.get)
        return linear_probe(*feats(task["pooled"][chosen["stage"]]))

    def tail():
        epochs = task.get("tail_epochs", TAIL_EPOCHS)
        out = finetune.fine_tune_tail(
            tail_stages,
            task["map"],
            y,
            idx,
            num_classes,
            epochs,
            TAIL_LR,
            seed=seed,
            verbose=False,
            flip=flip,
        )
        return {**out, "epochs": epochs}

    runs = {
        STRATEGIES[0]: lambda: linear_probe(*feats(task["pixels"])),
        STRATEGIES[1]: lambda: linear_probe(*feats(task["pooled"]["pooled"])),
        STRATEGIES[2]: earlier_stage,
        STRATEGIES[3]: tail,
        STRATEGIES[4]: lambda: train_scratch(
            task["images"], y, train_idx, val_idx, test_idx, num_classes, seed=seed
        ),
    }
    rows = []
    for strategy, run in runs.items():
        start = time.perf_counter()
        with one_thread():
            out = run()
        row = {
            "task": task["name"],
            "train_per_class": int(n),
            "strategy": strategy,
            "seed": int(seed),
        }
        if isinstance(out, dict):  # a fine-tuning run: its start and end
            row.update(
                test_acc=round(out["test_after"], 4),
                test_before=round(out["test_before"], 4),
                val_before=round(out["val_before"], 4),
                val_after=round(out["val_after"], 4),
                kept_epoch=int(out["kept_epoch"]),
                epochs=int(out["epochs"]),
                val_curve=[round(float(a), 4) for a in out["val_curve"]],
            )
        else:
            row["test_acc"] = round(out, 4)
        row["seconds"] = round(time.perf_counter() - start, 2)
        rows.append({**row, **chosen} if strategy == STRATEGIES[2] else row)
    return rows


def stage_sweep(
    task, tail_stages, n, val_per_class, ks, seed=0, cached=True, workers=None, progress=True
) -> list[dict]:
    """How many stages to fine-tune, measured (notebook 04): fine-tuning the last ``k`` of
    ``tail_stages`` for each ``k`` in ``ks``, on one training set of ``n`` examples per class and
    the split of :func:`transfer_grid` with the same ``seed`` (so its fine-tuning row is the sweep's
    ``k = len(tail_stages)``).

    ``task`` as in :func:`transfer_grid`; ``task["map"]`` is the map before ``tail_stages``. For
    ``k`` below ``len(tail_stages)`` the first stages stay frozen: they run once per image (the maps
    are cached, as everywhere in the notebook) and the last ``k`` train with the grid's recipe.
    Returns one row per ``k``: ``{"k", "val_before", "val_after", "test_before", "test_acc",
    "kept_epoch", "epochs", "seconds"}`` (the start, ``val_before``, is the probe on the final
    features: the sweep's ``k = 0``). Cached like the grid's rows, one entry per ``k``, computed in
    up to ``workers`` processes as in :func:`transfer_grids`.
    """
    ks = _checked(ks, tail_stages)
    if not cached:
        return [_sweep_row(task, list(tail_stages), n, val_per_class, k, seed) for k in ks]
    tasks = [(task, tail_stages)]
    units = [("sweep", 0, int(n), int(val_per_class), k, int(seed)) for k in ks]
    return [row for rows in _compute(tasks, units, workers, progress) for row in rows]


def _checked(ks, tail_stages) -> list[int]:
    ks = [int(k) for k in ks]
    if not all(1 <= k <= len(tail_stages) for k in ks):
        raise ValueError(
            f"every k must be between 1 and {len(tail_stages)} (the tail's stages), got {ks}"
        )
    return ks


def _sweep_keys(task, tail_stages) -> tuple:
    """Digests of what every sweep entry of ``task`` depends on besides n, k and seed."""
    return (
        _digest(task["name"], task["y"], task["pool_idx"], task["test_idx"], task["map"]),
        _weights(tail_stages),
        _recipe(),
        task.get("flip", True),
        task.get("tail_epochs", TAIL_EPOCHS),
    )


def _sweep_entry(keys, n, val_per_class, k, seed) -> str:
    return cache.key(
        "stage-sweep-v2",
        *keys,
        int(n),
        int(val_per_class),
        int(seed),
        int(k),
    )


def _sweep_row(task, tail_stages, n, val_per_class, k, seed) -> dict:
    from . import finetune

    y, pool = torch.as_tensor(task["y"]), np.asarray(task["pool_idx"])
    val_idx, train_idx = (pool[i] for i in per_class_split(y[pool], (val_per_class, n), seed))
    idx, epochs = (
        (train_idx, val_idx, np.asarray(task["test_idx"])),
        task.get("tail_epochs", TAIL_EPOCHS),
    )
    start = time.perf_counter()
    with one_thread():
        frozen = nn.Sequential(*copy.deepcopy(tail_stages[: len(tail_stages) - k])).eval()
        with torch.inference_mode():
            maps = torch.cat([frozen(m) for m in task["map"].split(256)])
        out = finetune.fine_tune_tail(
            tail_stages[len(tail_stages) - k :],
            maps,
            y,
            idx,
            int(y.max()) + 1,
            epochs,
            TAIL_LR,
            seed=seed,
            verbose=False,
            flip=task.get("flip", True),
        )
    return {
        "k": k,
        "val_before": round(out["val_before"], 4),
        "val_after": round(out["val_after"], 4),
        "test_before": round(out["test_before"], 4),
        "test_acc": round(out["test_after"], 4),
        "kept_epoch": int(out["kept_epoch"]),
        "epochs": int(epochs),
        "seconds": round(time.perf_counter() - start, 2),
    }


def summarize(grid) -> list[dict]:
    """Mean and standard error over seeds of every (task, train_per_class, strategy) of a multi-seed
    grid (notebook 04): rows ``{"task", "train_per_class", "strategy", "mean", "se", "seeds"}``."""
    cells = {}
    for row in grid:
        cells.setdefault((row["task"], row["train_per_class"], row["strategy"]), []).append(
            row["test_acc"]
        )
    return [
        {
            "task": t,
            "train_per_class": n,
            "strategy": s,
            "mean": float(np.mean(a)),
            "seeds": len(a),
            "se": float(np.std(a, ddof=1) / np.sqrt(len(a))) if len(a) > 1 else float("nan"),
        }
        for (t, n, s), a in cells.items()
    ]


def verdicts(grid, z=2.0) -> dict:
    """Which strategy wins each (task, train_per_class) cell of a multi-seed grid
    (notebook 04, Figure 5).

    The strategy with the best mean wins only when it beats every other by more than ``z`` standard
    errors of the paired (same seed, same split) difference; otherwise the cell is a tie between the
    best and every strategy within that margin. Returns
    ``{(task, n): {"winner": strategy or None, "tied": [strategies, best first]}}``.
    """
    accs = {}
    for row in grid:
        accs.setdefault((row["task"], row["train_per_class"]), {}).setdefault(row["strategy"], {})[
            row["seed"]
        ] = row["test_acc"]
    return {cell: _verdict(by_strategy, z) for cell, by_strategy in accs.items()}


def _verdict(by_strategy, z):
    """The verdict of :func:`verdicts` for one cell: ``{strategy: {seed: acc}}``."""
    means = {s: np.mean(list(a.values())) for s, a in by_strategy.items()}
    order = sorted(means, key=means.get, reverse=True)
    top = by_strategy[order[0]]

    def within(s):
        d = np.array([top[k] - by_strategy[s][k] for k in top])
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("inf")
        return d.mean() <= z * se

    tied = [order[0]] + [s for s in order[1:] if within(s)]
    return {"winner": order[0] if len(tied) == 1 else None, "tied": tied}


def paired_difference(grid, task, n, a, b) -> tuple[float, float, int]:
    """Mean and standard error over seeds of strategy ``a``'s test accuracy minus ``b``'s, seed by
    seed (the same split), in the cell (``task``, ``n`` per class) of a multi-seed grid
    (notebook 04). Returns (mean, se, seeds)."""
    acc = {
        (r["strategy"], r["seed"]): r["test_acc"]
        for r in grid
        if r["task"] == task and r["train_per_class"] == n
    }
    d = np.array(
        [acc[(a, s)] - acc[(b, s)] for (strategy, s) in acc if strategy == a and (b, s) in acc]
    )
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    return float(d.mean()), se, len(d)


def prediction_matches(predicted, verdict) -> bool:
    """A prediction agrees with a cell's verdict when it names the winner, or one of the strategies
    tied at the top."""
    return predicted in verdict["tied"]


# ----------------------------------------------- Figure 4's measured points (notebook 03)

TASKS = ("cats vs dogs", "37 breeds")


def breed_labels(names) -> np.ndarray:
    """Breed indices 0..36 (alphabetical) from pets image names such as ``Abyssinian_12``."""
    return np.unique([name.rsplit("_", 1)[0] for name in names], return_inverse=True)[1]


def cv_probe(X, y, folds) -> tuple[float, float]:
    """Mean and standard error over ``folds`` (pairs of index arrays) of
    :func:`utils.train.linear_probe`'s accuracy."""
    accs = np.array([linear_probe(X[tr], y[tr], X[va], y[va]) for tr, va in folds])
    return float(accs.mean()), float(accs.std(ddof=1) / np.sqrt(len(accs)))


def probe_backbones(names, num_folds=5, seed=0, root=None, progress=True) -> list[dict]:
    """How well each backbone's frozen features transfer to the pets (notebook 03, Figure 4's
    measured points).

    For every name, the pooled features Φ(x) of the trainval split (cached by
    :func:`utils.train.extract_features`, at the backbone's own resolution) feed the same
    linear probe (logistic regression on standardized features, no tuning), scored by
    ``num_folds``-fold cross-validation: a comparison that chooses a backbone is made on
    validation data, never on the test split. The folds are stratified by breed and shared
    by every backbone and both tasks, so the differences are paired.
    Returns rows ``{"name", "task", "acc", "se", "acc1", "seconds"}``: task in :data:`TASKS`,
    acc the mean validation accuracy, se its standard error over the folds, acc1 the ImageNet top-1.
    """
    from sklearn.model_selection import StratifiedKFold

    breeds = breed_labels(data.pets_dataset("trainval", root=root).names)
    folds = list(
        StratifiedKFold(num_folds, shuffle=True, random_state=seed).split(
            np.zeros(len(breeds)), breeds
        )
    )
    rows = []
    for name in names:
        start = time.perf_counter()
        backbone = models.load_backbone(name)
        X, y = extract_features(backbone, "trainval", root=root, progress=progress)
        with one_thread():
            for task, labels in zip(TASKS, (np.asarray(y), breeds)):
                acc, se = cv_probe(X.numpy(), labels, folds)
                rows.append(
                    {
                        "name": name,
                        "task": task,
                        "acc": round(acc, 4),
                        "se": round(se, 4),
                        "acc1": backbone.meta["acc1"],
                    }
                )
        for row in rows[-len(TASKS) :]:
            row["seconds"] = round(time.perf_counter() - start, 1)
    return rows
