"""GPU-aware feature extraction and training loops (notebooks 03 and 04).

Device logic lives in :func:`get_device` and :func:`autocast`; loops take a
``device`` and only the batch-moving code calls ``.to(device)``. On CUDA the
loops use mixed precision (bf16 where supported, else fp16 with a gradient
scaler), channels_last, pinned memory and non-blocking copies; on the CPU they
run in fp32 and are deterministic for a given ``seed``.
"""
from __future__ import annotations

import copy
import time
import warnings
from contextlib import contextmanager, nullcontext

import numpy as np
import torch
from torch import nn
from threadpoolctl import threadpool_limits
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from . import cache, data


def get_device(prefer: str | None = None) -> torch.device:
    """The best device here: cuda, then mps, then cpu (or ``prefer`` when given)."""
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def amp_dtype(device: torch.device):
    """bf16 on CUDA cards that support it, else fp16 on CUDA; None (fp32) elsewhere."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device):
    """Mixed precision on CUDA, a no-op context on the CPU and MPS."""
    dtype = amp_dtype(device)
    return torch.autocast("cuda", dtype=dtype) if dtype is not None else nullcontext()


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move a batch: non-blocking, and channels_last for images on CUDA."""
    if device.type == "cuda" and x.dim() == 4:
        return x.to(device, non_blocking=True, memory_format=torch.channels_last)
    return x.to(device, non_blocking=device.type == "cuda")


def prepare_model(model: nn.Module, device: torch.device) -> nn.Module:
    """Put a model on ``device`` (channels_last on CUDA)."""
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if device.type == "cuda" else model


def make_loader(dataset, batch_size=64, shuffle=False, device=None, seed=0, num_workers=0) -> DataLoader:
    """A DataLoader with pinned memory on CUDA and a seeded shuffle."""
    device = device or get_device()
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      num_workers=num_workers, pin_memory=device.type == "cuda",
                      persistent_workers=num_workers > 0)


def feature_loaders(X, y, batch_size=64, shuffle=True, seed=0, device=None) -> DataLoader:
    """A loader over cached features ``X`` (n, d) and labels ``y`` (n,)."""
    return make_loader(TensorDataset(torch.as_tensor(X), torch.as_tensor(y)), batch_size, shuffle, device, seed)


# ------------------------------------------------------------ feature extraction

@torch.inference_mode()
def compute_features(backbone, loader, stage="pooled", device=None, progress=True):
    """Φ(x) for every batch of ``loader`` -> (X float32 (n, d), y int64 (n,)) on the CPU."""
    device = device or get_device()
    prepare_model(backbone.model.eval(), device)  # moves the stage modules it shares, in place
    feats, labels = [], []
    for x, y in tqdm(loader, desc=f"features {backbone.name}:{stage}", disable=not progress, leave=False):
        with autocast(device):
            f = backbone.features(to_device(x, device), stage)
        feats.append(f.float().cpu())
        labels.append(y)
    return torch.cat(feats), torch.cat(labels).long()


def extract_features(backbone, split="trainval", stage="pooled", root=None, batch_size=64,
                     device=None, use_cache=True, progress=True, num_workers=0):
    """Features of a pets split through ``backbone``, cached on disk (notebook 03).

    Returns ``X``: float32 tensor (n, d) and ``y``: int64 tensor (n,), 0 = cat, 1 = dog.
    The cache key covers the backbone, its weights, the stage, the transform
    and the content of the images, so a changed input is never served stale.
    """
    ds = data.pets_dataset(split, transform=backbone.transform, root=root, draft=DRAFT)
    key = cache.key("features-v1", backbone.name, backbone.meta["weights"], stage,
                    repr(backbone.transform), ds.draft, data.content_hash(ds))

    def compute():
        loader = make_loader(ds, batch_size, device=device, num_workers=num_workers)
        X, y = compute_features(backbone, loader, stage, device, progress)
        return {"X": X, "y": y}

    out = cache.load_or_compute("features", key, compute) if use_cache else compute()
    return out["X"], out["y"]


# Big JPEGs are decoded at a reduced scale that stays at least twice the 224-pixel
# crop in both sides, so the resize that follows sees the same detail.
DRAFT = 448


# ----------------------------------------------------------------- training

def _freeze_bn_of_frozen(model: nn.Module):
    """Batch-norm layers whose parameters are frozen keep their ImageNet statistics."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            params = list(m.parameters())
            if params and not any(p.requires_grad for p in params):
                m.eval()


def train_one_epoch(model, loader, loss_fn, optimizer, device, scaler=None, progress=True):
    """One pass over ``loader``; returns (mean loss, accuracy)."""
    model.train()
    _freeze_bn_of_frozen(model)
    total_loss, correct, n = 0.0, 0, 0
    for x, y in tqdm(loader, desc="train", disable=not progress, leave=False):
        x, y = to_device(x, device), to_device(y, device)
        with autocast(device):
            logits = model(x)
            loss = loss_fn(logits, y)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        total_loss += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        n += len(y)
    return total_loss / n, correct / n


@torch.inference_mode()
def evaluate(model, loader, loss_fn=None, device=None):
    """(mean loss, accuracy) of ``model`` on ``loader``, without gradients."""
    device = device or next(model.parameters()).device
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    model.eval()
    total_loss, correct, n = 0.0, 0, 0
    for x, y in loader:
        x, y = to_device(x, device), to_device(y, device)
        with autocast(device):
            logits = model(x)
        total_loss += loss_fn(logits.float(), y).item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        n += len(y)
    return total_loss / n, correct / n


@torch.inference_mode()
def predict(model, loader, device=None):
    """Class probabilities (n, classes) and labels (n,) on the CPU."""
    device = device or next(model.parameters()).device
    model.eval()
    probs, labels = [], []
    for x, y in loader:
        with autocast(device):
            probs.append(model(to_device(x, device)).float().softmax(1).cpu())
        labels.append(y)
    return torch.cat(probs), torch.cat(labels)


def fit(model, train_loader, val_loader=None, num_epochs=10, lr=1e-3, optimizer=None, device=None,
        patience=None, weight_decay=0.0, seed=0, checkpoint=None, progress=True, loss_fn=None,
        select="val_acc"):
    """Train ``model`` (a linear head on features, or a backbone to fine-tune).

    Keeps a ``history`` dict of per-epoch train/val loss and accuracy, restores
    the best epoch's weights (by validation accuracy, or by the lowest validation loss with
    ``select="val_loss"``: small validation sets saturate at accuracy 1.0) at the end, saves them to
    ``checkpoint`` if a path is given, and stops early after ``patience`` epochs
    without improvement. Only parameters with ``requires_grad`` are trained.
    """
    torch.manual_seed(seed)
    device = device or get_device()
    model = prepare_model(model, device)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = optimizer or torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype(device) == torch.float16 else None
    history = {k: [] for k in ("train_loss", "train_acc", "val_loss", "val_acc", "seconds")}
    if select not in ("val_acc", "val_loss"):
        raise ValueError(f"select must be 'val_acc' or 'val_loss', got {select!r}")
    best, best_state, since_best = -float("inf"), None, 0
    bar = tqdm(range(num_epochs), desc="epochs", disable=not progress)
    for epoch in bar:
        start = time.perf_counter()
        train_loss, train_acc = train_one_epoch(model, train_loader, loss_fn, optimizer, device, scaler, progress)
        val_loss, val_acc = evaluate(model, val_loader, loss_fn, device) if val_loader else (train_loss, train_acc)
        for k, v in zip(history, (train_loss, train_acc, val_loss, val_acc, time.perf_counter() - start)):
            history[k].append(v)
        bar.set_postfix(loss=f"{train_loss:.3f}", val_acc=f"{val_acc:.3f}")
        score = val_acc if select == "val_acc" else -val_loss
        if score > best:
            best, since_best = score, 0
            history["best_val_acc"] = val_acc
            best_state = copy.deepcopy(model.state_dict())
            history["best_epoch"] = epoch
        else:
            since_best += 1
            if patience is not None and since_best >= patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
        if checkpoint:
            torch.save(best_state, checkpoint)
    return history


# ------------------------------------------- stages, probes and the transfer grid (notebook 04)

@torch.inference_mode()
def stage_outputs(backbone, batches, cut, key, device=None):
    """One pass through the backbone: the pooled output of every stage and the map after stage ``cut``.

    batches: an iterable of (x, y) with x float (b, 3, H, W), e.g. a DataLoader.
    Cached on disk under ``key`` (a string naming everything that determines the
    input). Returns ``{"pooled": {stage: (n, c)}, "map": (n, c, h, w), "y": (n,)}``;
    ``pooled["pooled"]`` is the final Φ(x), the last stage's pooled map.
    """
    device = device or get_device()

    def compute():
        prepare_model(backbone.model.eval(), device)
        pooled, maps, labels = {s: [] for s in backbone.stages}, [], []
        for x, y in batches:
            x = to_device(x, device)
            for name, module in backbone.stage_modules.items():
                x = module(x)
                pooled[name].append(x.mean((2, 3)).float().cpu())
                if name == cut:
                    maps.append(x.float().cpu())
            pooled["pooled"].append(pooled[name][-1])
            labels.append(torch.as_tensor(y))
        return {"pooled": {s: torch.cat(v) for s, v in pooled.items()}, "map": torch.cat(maps),
                "y": torch.cat(labels).long()}

    return cache.load_or_compute("features", cache.key("stage_outputs-v2", backbone.name,
                                                       backbone.meta["weights"], cut, key), compute)


def fit_probe(F_train, y_train, C=1.0):
    """A logistic-regression probe on standardized features: returns a function F -> predicted labels."""
    from sklearn.linear_model import LogisticRegression

    F_train = np.asarray(F_train, dtype=np.float64)
    mean, std = F_train.mean(0), F_train.std(0)
    std[std == 0] = 1
    # one example per class makes sklearn wonder whether y is a regression target; one BLAS thread is many times
    # faster than several fighting over a busy CPU for problems this small
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
        model = LogisticRegression(C=C, max_iter=1000).fit((F_train - mean) / std, np.asarray(y_train))
    predict = lambda F: model.predict((np.asarray(F, dtype=np.float64) - mean) / std)  # noqa: E731
    predict.model, predict.mean, predict.std = model, mean, std
    return predict


def linear_probe(F_train, y_train, F_eval, y_eval, C=1.0) -> float:
    """Accuracy on (F_eval, y_eval) of a logistic-regression probe fitted on (F_train, y_train) (notebook 04)."""
    return float(np.mean(fit_probe(F_train, y_train, C)(F_eval) == np.asarray(y_eval)))


def small_images(split="trainval", size=64, root=None):
    """Pets images of one split shrunk to size × size RGB, cached: (float32 (n, 3, size, size) in [0, 1], y 0/1) (notebook 04)."""
    from torchvision import transforms as T

    ds = data.pets_dataset(split, transform=T.Compose([T.Resize(size), T.CenterCrop(size), T.ToTensor()]),
                           root=root, draft=2 * size)

    def compute():
        X, y = next(iter(make_loader(ds, len(ds), device=torch.device("cpu"))))
        return {"X": X, "y": y}

    out = cache.load_or_compute("arrays", cache.key("small_images-v1", size, data.content_hash(ds)), compute)
    return out["X"], out["y"]


def per_class_split(y, sizes, seed=0):
    """Disjoint index arrays taking ``sizes[j]`` examples of every class, in one seeded order per class.

    y: (n,) integer labels; sizes: e.g. (1, 4) -> (first_idx, second_idx). Raises
    ValueError naming the class when one has too few examples.
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    parts = [[] for _ in sizes]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) < sum(sizes):
            raise ValueError(f"class {c} has {len(idx)} examples, fewer than the {sum(sizes)} asked for {sizes}")
        for j, start in enumerate(np.cumsum((0, *sizes[:-1]))):
            parts[j].append(idx[start:start + sizes[j]])
    return tuple(np.sort(np.concatenate(p)) for p in parts)


def small_cnn(in_channels, num_classes, width=16):
    """A small CNN sized for a few hundred images, the fair "from scratch" baseline (notebook 04)."""
    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*block(in_channels, width), *block(width, 2 * width), *block(2 * width, 4 * width),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * width, num_classes))


def _accuracy(model, X, y):
    return evaluate(model, feature_loaders(X, y, shuffle=False, batch_size=256))[1]


def train_scratch(images, y, train_idx, val_idx, test_idx, num_classes, num_epochs=40, lr=3e-3, seed=0):
    """Train :func:`small_cnn` from random weights (up to ``num_epochs``, stopping 10 epochs after the best validation
    accuracy), keep the best validation epoch, and return the test accuracy."""
    torch.manual_seed(seed)
    model = small_cnn(images.shape[1], num_classes)
    fit(model, feature_loaders(images[train_idx], y[train_idx], batch_size=32, seed=seed),
        feature_loaders(images[val_idx], y[val_idx], shuffle=False), num_epochs=num_epochs, lr=lr,
        weight_decay=5e-4, seed=seed, progress=False, patience=10)
    return _accuracy(model, images[test_idx], y[test_idx])


def fine_tune_tail(tail_stages, maps, y, train_idx, val_idx, test_idx, num_classes, num_epochs=5, lr=3e-3,
                   body_factor=0.1, seed=0):
    """Fine-tune copies of the last stages and a new head on cached maps (notebook 04); returns test accuracy.

    The head starts from a logistic-regression probe on the pooled maps (folded
    standardization), the stages learn ``body_factor`` times more slowly, and the
    epoch with the lowest validation loss is kept.
    """
    stages = copy.deepcopy(list(tail_stages))
    with torch.inference_mode():
        pooled = nn.Sequential(*stages)(maps[train_idx]).mean((2, 3))
    probe = fit_probe(pooled, y[train_idx])
    head = nn.Linear(pooled.shape[1], num_classes)
    coef = torch.as_tensor(probe.model.coef_ / probe.std, dtype=torch.float32)
    with torch.no_grad():
        head.weight.copy_(coef)
        head.bias.copy_(torch.as_tensor(probe.model.intercept_, dtype=torch.float32)
                        - coef @ torch.as_tensor(probe.mean, dtype=torch.float32))
    for p in [q for s in stages for q in s.parameters()] + list(head.parameters()):
        p.requires_grad_(True)
    tail = nn.Sequential(*stages, nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)
    groups = [{"params": [p for s in stages for p in s.parameters()], "lr": lr * body_factor},
              {"params": list(head.parameters()), "lr": lr}]
    fit(tail, feature_loaders(maps[train_idx], y[train_idx], batch_size=32, seed=seed),
        feature_loaders(maps[val_idx], y[val_idx], shuffle=False), num_epochs=num_epochs,
        optimizer=torch.optim.AdamW(groups, weight_decay=1e-2), select="val_loss", seed=seed, progress=False)
    return _accuracy(tail, maps[test_idx], y[test_idx])


@contextmanager
def one_thread():
    """Run small problems on one torch and one BLAS thread: on a busy 2-core CPU many times faster than several."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(before)


STRATEGIES = ("raw pixels, linear", "final features, linear", "best earlier stage, linear",
              "fine-tune last stages", "from scratch (small CNN)")


def transfer_grid(task, tail_stages, sizes, val_per_class, seed=0):
    """Figure 5 measured: test accuracy of every strategy for every training-set size (notebook 04).

    task: dict with ``name``, ``y`` (n,), ``pool_idx`` (indices to draw train and
    validation from), ``test_idx``, ``pooled`` ({stage: (n, c)}, as
    :func:`stage_outputs` gives), ``map`` (n, c, h, w) after the last frozen stage,
    ``pixels`` (n, p) and ``images`` (n, channels, s, s) for the small CNN.
    Returns a list of ``{"task", "train_per_class", "strategy", "test_acc", "seconds"}``
    rows; the earlier-stage row also names the ``stage`` chosen on validation.
    """
    with one_thread():
        return [row for n in sizes for row in _grid_rows(task, tail_stages, n, val_per_class, seed)]


def _grid_rows(task, tail_stages, n, val_per_class, seed):
    """The rows of :func:`transfer_grid` for one training-set size ``n`` (examples per class)."""
    y, test_idx, pool = torch.as_tensor(task["y"]), np.asarray(task["test_idx"]), np.asarray(task["pool_idx"])
    num_classes = int(y.max()) + 1
    val_idx, train_idx = (pool[i] for i in per_class_split(y[pool], (val_per_class, n), seed))
    earlier = [s for s in task["pooled"] if s != "pooled"][:-1]   # the last stage's pooled map IS the final Φ
    val_accs = {s: linear_probe(task["pooled"][s][train_idx], y[train_idx], task["pooled"][s][val_idx], y[val_idx])
                for s in earlier}
    best = max(val_accs, key=val_accs.get)
    feats = lambda F: (F[train_idx], y[train_idx], F[test_idx], y[test_idx])  # noqa: E731
    runs = {STRATEGIES[0]: lambda: linear_probe(*feats(task["pixels"])),
            STRATEGIES[1]: lambda: linear_probe(*feats(task["pooled"]["pooled"])),
            STRATEGIES[2]: lambda: linear_probe(*feats(task["pooled"][best])),
            STRATEGIES[3]: lambda: fine_tune_tail(tail_stages, task["map"], y, train_idx, val_idx, test_idx,
                                                  num_classes, seed=seed),
            STRATEGIES[4]: lambda: train_scratch(task["images"], y, train_idx, val_idx, test_idx, num_classes,
                                                 seed=seed)}
    rows = []
    for strategy, run in runs.items():
        start = time.perf_counter()
        rows.append({"task": task["name"], "train_per_class": int(n), "strategy": strategy,
                     "test_acc": round(run(), 4), "seconds": round(time.perf_counter() - start, 2)})
        if strategy == STRATEGIES[2]:
            rows[-1]["stage"] = best
    return rows
