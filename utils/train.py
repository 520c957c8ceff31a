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
from contextlib import nullcontext

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn
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


# Convolutions run fastest in the channels-last (NHWC) layout on the CPU (oneDNN) and on CUDA, and
# on the CPU also on small batches, whose activations stay in the caches; the features agree with
# NCHW's to rounding. The CPU's piece size is the fastest one measured (smaller pieces were slower
# again): the figures are `make bench`'s extract_images_per_s and docs/performance.md, "Feature
# extraction".
CHANNELS_LAST = ("cpu", "cuda")
CPU_CHUNK = 4


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move a batch: non-blocking on CUDA, and images (4-D) in the channels-last layout on the CPU
    and CUDA."""
    if device.type in CHANNELS_LAST and x.dim() == 4:
        return x.to(device, non_blocking=device.type == "cuda", memory_format=torch.channels_last)
    return x.to(device, non_blocking=device.type == "cuda")


def prepare_model(model: nn.Module, device: torch.device) -> nn.Module:
    """Put a model on ``device`` (channels-last on the CPU and CUDA), in place.

    Always outside inference mode, even when called from inside it (feature extraction): parameters
    converted there would become inference tensors, and the same model could never be trained
    afterwards.
    """
    with torch.inference_mode(False):
        model = model.to(device)
        return (
            model.to(memory_format=torch.channels_last) if device.type in CHANNELS_LAST else model
        )


def chunks(x: torch.Tensor, device: torch.device):
    """A batch for inference in pieces of :data:`CPU_CHUNK` on the CPU (whole elsewhere)."""
    return x.split(CPU_CHUNK) if device.type == "cpu" else (x,)


def make_loader(
    dataset, batch_size=64, shuffle=False, device=None, seed=0, num_workers=0
) -> DataLoader:
    """A DataLoader with pinned memory on CUDA and a seeded shuffle."""
    device = device or get_device()
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=num_workers > 0,
    )


def feature_loaders(X, y, batch_size=64, shuffle=True, seed=0, device=None) -> DataLoader:
    """A loader over cached features ``X`` (n, d) and labels ``y`` (n,)."""
    return make_loader(
        TensorDataset(torch.as_tensor(X), torch.as_tensor(y)), batch_size, shuffle, device, seed
    )


# ------------------------------------------------------------ feature extraction


@torch.inference_mode()
def compute_features(backbone, loader, stage="pooled", device=None, progress=True):
    """Φ(x) for every batch of ``loader`` -> (X float32 (n, d), y int64 (n,)) on the CPU."""
    device = device or get_device()
    prepare_model(backbone.model.eval(), device)  # moves the stage modules it shares, in place
    feats, labels = [], []
    for x, y in tqdm(
        loader, desc=f"features {backbone.name}:{stage}", disable=not progress, leave=False
    ):
        for piece in chunks(x, device):
            with autocast(device):
                f = backbone.features(to_device(piece, device), stage)
            feats.append(f.float().cpu())
        labels.append(y)
    return torch.cat(feats), torch.cat(labels).long()


def extract_features(
    backbone,
    split="trainval",
    stage="pooled",
    root=None,
    batch_size=64,
    device=None,
    use_cache=True,
    progress=True,
    num_workers=0,
):
    """Features of a pets split through ``backbone``, cached on disk (notebook 03).

    Returns ``X``: float32 tensor (n, d) and ``y``: int64 tensor (n,), 0 = cat, 1 = dog.
    The cache key covers the backbone, its weights, the stage, the transform
    and the content of the images, so a changed input is never served stale.
    """
    ds = data.pets_dataset(split, transform=backbone.transform, root=root, draft=DRAFT)
    key = cache.key(
        "features-v1",
        backbone.name,
        backbone.meta["weights"],
        stage,
        repr(backbone.transform),
        ds.draft,
        data.content_hash(ds),
    )

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


def _freeze_bn_of_frozen(model: nn.Module, all_bn: bool = False):
    """Batch-norm layers keep their running (ImageNet) statistics: those whose parameters are
    frozen, or, with ``all_bn``, every one (its affine weight and bias still train: frozen
    statistics, as fine-tuning recipes do on small batches, notebook 04)."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            params = list(m.parameters())
            if all_bn or (params and not any(p.requires_grad for p in params)):
                m.eval()


def train_one_epoch(
    model,
    loader,
    loss_fn,
    optimizer,
    device,
    scaler=None,
    progress=True,
    scheduler=None,
    bn_eval=False,
    clip_grad=None,
):
    """One pass over ``loader``; returns (mean loss, accuracy). ``scheduler`` (if any) steps after
    every batch; ``bn_eval`` keeps every batch-norm layer's statistics frozen (see
    :func:`_freeze_bn_of_frozen`); ``clip_grad`` caps the gradient's norm (fine-tuning,
    notebook 04)."""
    model.train()
    _freeze_bn_of_frozen(model, bn_eval)
    total_loss, correct, n = 0.0, 0, 0
    for x, y in tqdm(loader, desc="train", disable=not progress, leave=False):
        x, y = to_device(x, device), to_device(y, device)
        with autocast(device):
            logits = model(x)
            loss = loss_fn(logits, y)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            if clip_grad is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            if clip_grad is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
            optimizer.step()
        if scheduler is not None:
            scheduler.step()
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


SELECT = ("val_acc", "val_loss", "val_acc+loss")


def _score(select, val_loss, val_acc):
    """What :func:`fit` maximizes: accuracy, minus the loss, or accuracy first and the lower loss on
    ties."""
    return {"val_acc": val_acc, "val_loss": -val_loss, "val_acc+loss": (val_acc, -val_loss)}[select]


def fit(
    model,
    train_loader,
    val_loader=None,
    num_epochs=10,
    lr=1e-3,
    optimizer=None,
    device=None,
    patience=None,
    weight_decay=0.0,
    seed=0,
    checkpoint=None,
    progress=True,
    loss_fn=None,
    select="val_acc",
    eval_start=False,
    scheduler=None,
    bn_eval=False,
    clip_grad=None,
):
    """Train ``model`` (a linear head on features, or a backbone to fine-tune).

    Keeps a ``history`` dict of per-epoch train/val loss and accuracy, restores
    the best epoch's weights (by validation accuracy, or by the lowest validation loss with
    ``select="val_loss"``: small validation sets saturate at accuracy 1.0; ``"val_acc+loss"``:
    accuracy, ties broken by the loss) at the end, saves them to ``checkpoint`` if a path is given,
    and stops early after ``patience`` epochs without improvement. Only parameters with
    ``requires_grad`` are trained.
    With ``eval_start`` (fine-tuning, notebook 04) the starting weights are evaluated first
    ("epoch 0": ``history["start_val_loss"]``, ``["start_val_acc"]``) and selection may keep them
    (``best_epoch == -1``), so the kept model is never worse on validation than the start.
    ``scheduler`` steps once per batch; ``bn_eval`` and ``clip_grad`` are :func:`train_one_epoch`'s.
    """
    torch.manual_seed(seed)
    device = device or get_device()
    model = prepare_model(model, device)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = optimizer or torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype(device) == torch.float16 else None
    history = {k: [] for k in ("train_loss", "train_acc", "val_loss", "val_acc", "seconds")}
    if select not in SELECT:
        raise ValueError(f"select must be one of {SELECT}, got {select!r}")
    best, best_state, since_best = None, None, 0
    if eval_start and val_loader is not None:
        history["start_val_loss"], history["start_val_acc"] = evaluate(
            model, val_loader, loss_fn, device
        )
        best = _score(select, history["start_val_loss"], history["start_val_acc"])
        best_state, history["best_epoch"], history["best_val_acc"] = (
            copy.deepcopy(model.state_dict()),
            -1,
            history["start_val_acc"],
        )
    bar = tqdm(range(num_epochs), desc="epochs", disable=not progress)
    for epoch in bar:
        start = time.perf_counter()
        train_loss, train_acc = train_one_epoch(
            model,
            train_loader,
            loss_fn,
            optimizer,
            device,
            scaler,
            progress,
            scheduler,
            bn_eval,
            clip_grad,
        )
        val_loss, val_acc = (
            evaluate(model, val_loader, loss_fn, device) if val_loader else (train_loss, train_acc)
        )
        for k, v in zip(
            history, (train_loss, train_acc, val_loss, val_acc, time.perf_counter() - start)
        ):
            history[k].append(v)
        bar.set_postfix(loss=f"{train_loss:.3f}", val_acc=f"{val_acc:.3f}")
        score = _score(select, val_loss, val_acc)
        if best is None or score > best:
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


# ------------------------------------------- stages and linear probes (notebooks 03 and 04)


@torch.inference_mode()
def stage_outputs(backbone, batches, cut, key, device=None):
    """One pass through the backbone: the pooled output of every stage and the map after stage
    ``cut``.

    batches: an iterable of (x, y) with x float (b, 3, H, W), e.g. a DataLoader.
    Cached on disk under ``key`` (a string naming everything that determines the
    input). Returns ``{"pooled": {stage: (n, c)}, "map": (n, c, h, w), "y": (n,)}``;
    ``pooled["pooled"]`` is the final Φ(x), the last stage's pooled map.
    """
    device = device or get_device()

    def compute():
        prepare_model(backbone.model.eval(), device)
        pooled, maps, labels = {s: [] for s in backbone.stages}, [], []
        for batch, y in batches:
            for x in chunks(batch, device):
                x = to_device(x, device)
                for name, module in backbone.stage_modules.items():
                    x = module(x)
                    pooled[name].append(x.mean((2, 3)).float().cpu())
                    if name == cut:
                        maps.append(x.float().cpu().contiguous())
                pooled["pooled"].append(pooled[name][-1])
            labels.append(torch.as_tensor(y))
        return {
            "pooled": {s: torch.cat(v) for s, v in pooled.items()},
            "map": torch.cat(maps),
            "y": torch.cat(labels).long(),
        }

    return cache.load_or_compute(
        "features",
        cache.key("stage_outputs-v2", backbone.name, backbone.meta["weights"], cut, key),
        compute,
    )


def fit_probe(F_train, y_train, C=1.0):
    """A logistic-regression probe on standardized features: returns a function F -> predicted
    labels."""
    from sklearn.linear_model import LogisticRegression

    F_train = np.asarray(F_train, dtype=np.float64)
    mean, std = F_train.mean(0), F_train.std(0)
    std[std == 0] = 1
    # one example per class makes sklearn wonder whether y is a regression target; one BLAS thread
    # is many times faster than several fighting over a busy CPU for problems this small
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.filterwarnings(
            "ignore", message="The number of unique classes is greater than 50%"
        )
        model = LogisticRegression(C=C, max_iter=1000).fit(
            (F_train - mean) / std, np.asarray(y_train)
        )
    predict = lambda F: model.predict((np.asarray(F, dtype=np.float64) - mean) / std)  # noqa: E731
    predict.model, predict.mean, predict.std = model, mean, std
    return predict


def linear_probe(F_train, y_train, F_eval, y_eval, C=1.0) -> float:
    """Accuracy on (F_eval, y_eval) of a logistic-regression probe fitted on (F_train, y_train)
    (notebook 04)."""
    return float(np.mean(fit_probe(F_train, y_train, C)(F_eval) == np.asarray(y_eval)))
