"""Fine-tuning from pre-trained weights that keeps what works (notebook 04, note §3.3).

The recipe, shared by both strategies:

* the head starts as a logistic-regression probe on the pooled features, so before any step the
  model IS the linear probe; the starting point is evaluated ("epoch 0") and selection on validation
  may keep it, so fine-tuning never ends below its start on validation (:func:`utils.train.fit` with
  ``eval_start=True``);
* every batch-norm layer keeps its ImageNet running statistics (eval mode; its affine weight and
  bias still train). With batches of 32 and maps of 7 × 7 or smaller, a batch's mean and variance
  are noisy estimates from a few hundred values, unlike ImageNet's, and training would overwrite
  the averages the pre-trained layers expect (the first-epoch collapse itself came from a few huge
  gradients, which the clipping below stops);
* the pre-trained layers learn ``body_factor`` times more slowly than the head, after a linear
  warm-up of one epoch (a third of the run when it is shorter than three epochs) and then a cosine
  decay (:func:`warmup_cosine`), so the first, largest gradients do not wreck them;
* SGD with momentum (Adam's first steps have the same size whatever the gradient, which from a probe
  that already fits the training set is noise) and the gradient's norm clipped at 1: a few batches
  of a few images give gradients ten times larger than the rest, and one such step wrecked the
  pre-trained stages;
* horizontal flips of the cached maps where a mirrored image keeps its label (pets yes, digits no).

The last stages of a network see small maps (4 × 4 and 2 × 2 for 64-px digits), where the CPU's
convolution routines spend most of a training step in the backward pass of the depthwise filters.
:func:`small_maps_as_matrices` computes those filters as matrix products instead: the same function
of the same weights, about half the time per training step on such maps (docs/performance.md).

:func:`fine_tune_tail` trains the last stages on the cached maps of the frozen first stages,
computed once: a crop of a 4 × 4 map is not a crop of the image, so flips are the only augmentation
there. How many stages train is the caller's choice (notebook 04: more of them on a task unlike
ImageNet). Training from scratch is :func:`utils.transfer.train_scratch`.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from . import train


def augmentation(size=None, flip=True, scale=(0.6, 1.0)):
    """Random resized crop to ``size`` (skipped when None) and a horizontal flip (only where a
    mirrored image keeps its label: pets yes, digits no), for one (c, h, w) tensor; the identity
    when neither is asked for."""
    from torchvision.transforms import v2 as T

    steps = [T.RandomResizedCrop(size, scale=scale, antialias=True)] if size else []
    return (
        T.Compose([*steps, *([T.RandomHorizontalFlip()] if flip else [])])
        if steps or flip
        else nn.Identity()
    )


class DepthwiseAsMatrix(nn.Module):
    """A depthwise convolution (one k × k filter per channel, no bias) that computes, on maps with
    no more pixels than its filter has taps, the same function as a matrix product per channel.

    A map of h × w pixels is a vector of length hw; the convolution sends it to
    ``sum_t weight[c, t] S_t`` applied to that vector, where the 0/1 matrix ``S_t`` (h'w' × hw)
    moves each pixel to the output pixels whose tap ``t`` reads it. The ``S_t`` are read off the
    convolution itself (its padding and stride included), once per map size. ``weight`` is the
    convolution's own parameter, so training one trains the other and the state dict's keys are
    unchanged. Larger maps go through the convolution as before.
    """

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.weight = conv.weight
        self._conv = [conv]  # a list: not a submodule, so the keys stay "weight"
        self._taps = {}

    def taps(self, h, w):
        """(S of shape (k*k, h'*w', h*w), h', w') for maps of h × w."""
        if (h, w) not in self._taps:
            conv, (kh, kw) = self._conv[0], self.weight.shape[-2:]
            channels = self.weight.shape[0]
            with torch.inference_mode(False), torch.no_grad():  # read by training too
                pixels = torch.eye(h * w).view(h * w, 1, h, w).expand(-1, channels, -1, -1)
                S = torch.stack(
                    [
                        torch.func.functional_call(
                            conv,
                            {
                                "weight": torch.eye(kh * kw)[t]
                                .view(1, 1, kh, kw)
                                .expand(channels, 1, kh, kw)
                            },
                            (pixels,),
                        )[:, 0]
                        for t in range(kh * kw)
                    ]
                )  # (taps, input pixel, h', w')
                self._taps[h, w] = (S.flatten(2).transpose(1, 2).contiguous(), *S.shape[2:])
        return self._taps[h, w]

    def forward(self, x):
        n, c, h, w = x.shape
        if h * w > self.weight[0].numel():
            return self._conv[0](x)
        S, h2, w2 = self.taps(h, w)
        M = (self.weight.view(c, -1) @ S.flatten(1)).view(c, h2 * w2, h * w)
        out = torch.bmm(M, x.reshape(n, c, h * w).permute(1, 2, 0))  # (c, h'w', n)
        return out.permute(2, 0, 1).reshape(n, c, h2, w2)


def small_maps_as_matrices(module: nn.Module) -> nn.Module:
    """Replace, in place, every depthwise convolution of ``module`` by a
    :class:`DepthwiseAsMatrix` of the same weight; returns ``module``."""
    for name, child in module.named_children():
        if (
            isinstance(child, nn.Conv2d)
            and child.groups == child.in_channels == child.out_channels > 1
            and child.bias is None
        ):
            setattr(module, name, DepthwiseAsMatrix(child))
        else:
            small_maps_as_matrices(child)
    return module


class Augmented(Dataset):
    """(transform(X[i]), y[i]) for tensors X (n, c, h, w) and y (n,): a fresh random view every
    epoch."""

    def __init__(self, X, y, transform):
        self.X, self.y, self.transform = torch.as_tensor(X), torch.as_tensor(y), transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.transform(self.X[i]), self.y[i]


def warmup_cosine(optimizer, warmup_steps, total_steps):
    """Per-batch schedule: the rate rises linearly to its value over ``warmup_steps``, then decays
    as a cosine."""

    def factor(step):
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        t = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class Standardize(nn.Module):
    """(f - mean) / std with fixed buffers: the probe's standardization, kept outside the head's
    weights (folding it in divides by near-zero stds and turns tiny changes of the body into huge
    logits)."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, f):
        return (f - self.mean) / self.std


def probe_head(pooled, y, num_classes):
    """Standardize + nn.Linear equal to a logistic-regression probe fitted on ``pooled`` (n, d)
    (notebook 04).
    Stds below a quarter of the median std are raised to it, so a nearly constant feature cannot
    dominate the logits."""
    pooled = np.asarray(pooled, dtype=np.float64)
    mean, std = pooled.mean(0), pooled.std(0)
    std = np.maximum(std, 0.25 * np.median(std) + 1e-12)
    probe = train.fit_probe((pooled - mean) / std, y)
    linear = nn.Linear(pooled.shape[1], num_classes)
    coef = torch.as_tensor(probe.model.coef_ / probe.std, dtype=torch.float32)
    bias = torch.as_tensor(
        probe.model.intercept_ - probe.model.coef_ @ (probe.mean / probe.std), dtype=torch.float32
    )
    if num_classes == 2 and coef.shape[0] == 1:  # sklearn's binary form: one row for class 1
        coef, bias = torch.cat([-coef / 2, coef / 2]), torch.cat([-bias / 2, bias / 2])
    with torch.no_grad():
        linear.weight.copy_(coef)
        linear.bias.copy_(bias)
    return nn.Sequential(Standardize(mean, std), linear)


def fine_tune(
    model, body, head, train_loader, val_loader, num_epochs=15, lr=0.1, body_factor=0.1, seed=0
):
    """Train ``model`` (SGD: body params at lr * body_factor, head at lr, warm-up + cosine, frozen
    BN statistics, gradient norm clipped at 1),
    keeping the best validation epoch, the start included. Returns :func:`utils.train.fit`'s
    history."""
    for p in model.parameters():
        p.requires_grad_(True)
    groups = [
        {"params": list(body.parameters()), "lr": lr * body_factor},
        {"params": list(head.parameters()), "lr": lr},
    ]
    optimizer = torch.optim.SGD(groups, momentum=0.9, weight_decay=1e-4)
    steps = len(train_loader)
    warmup = min(
        steps, max(1, num_epochs * steps // 3)
    )  # one epoch, or a third of a run shorter than 3 epochs
    return train.fit(
        model,
        train_loader,
        val_loader,
        num_epochs,
        optimizer=optimizer,
        seed=seed,
        progress=False,
        scheduler=warmup_cosine(optimizer, warmup, num_epochs * steps),
        eval_start=True,
        bn_eval=True,
        clip_grad=1.0,
        select="val_acc+loss",
    )


def _run(model, body, head, X, y, idx, transform, name, num_epochs, lr, body_factor, seed, verbose):
    """fine_tune on X[train], selected on X[val]; prints and returns validation and test accuracy
    before and after, and the validation accuracy of every epoch, the start (epoch 0) first
    (``val_curve``)."""
    train_idx, val_idx, test_idx = idx
    loader = lambda i: train.feature_loaders(X[i], y[i], shuffle=False, batch_size=256)  # noqa: E731
    test_before = train.evaluate(model, loader(test_idx))[1]
    history = fine_tune(
        model,
        body,
        head,
        train.make_loader(
            Augmented(X[train_idx], y[train_idx], transform), 32, shuffle=True, seed=seed
        ),
        loader(val_idx),
        num_epochs,
        lr,
        body_factor,
        seed=seed,
    )
    out = {
        "val_before": history["start_val_acc"],
        "val_after": history["best_val_acc"],
        "test_before": test_before,
        "test_after": train.evaluate(model, loader(test_idx))[1],
        "kept_epoch": history["best_epoch"] + 1,
        "val_curve": [history["start_val_acc"], *history["val_acc"]],
    }
    if verbose:
        print(
            f"{name}: validation {out['val_before']:.3f} -> {out['val_after']:.3f} "
            f"(kept epoch {out['kept_epoch']} of {num_epochs}; 0 = the start), "
            f"test {out['test_before']:.3f} -> {out['test_after']:.3f}"
        )
    return out


def fine_tune_tail(
    tail_stages,
    maps,
    y,
    idx,
    num_classes,
    num_epochs=15,
    lr=0.1,
    seed=0,
    verbose=True,
    flip=True,
    body_factor=0.1,
):
    """Fine-tune copies of the last stages and a probe-initialized head on cached maps (n, c, h, w)
    (notebook 04).

    idx: (train_idx, val_idx, test_idx); the head learns at ``lr``, the stages at
    ``lr * body_factor``. Returns the dict of :func:`_run` (accuracies before and after, the
    validation curve from epoch 0).
    """
    torch.manual_seed(seed)
    body = small_maps_as_matrices(nn.Sequential(*copy.deepcopy(list(tail_stages))).eval())
    y = torch.as_tensor(y)
    with torch.inference_mode():
        pooled = torch.cat([body(m).mean((2, 3)) for m in maps[idx[0]].split(256)])
    head = probe_head(pooled, y[idx[0]], num_classes)
    model = nn.Sequential(body, nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)
    return _run(
        model,
        body,
        head,
        maps,
        y,
        idx,
        augmentation(flip=flip),
        "fine-tune last stages",
        num_epochs,
        lr,
        body_factor,
        seed,
        verbose,
    )


def augmented_probe(images, y, train_idx, val_idx, transform=None, copies=8, seed=0) -> float:
    """Validation accuracy of a linear probe on the pixels of ``images[train_idx]`` and, when
    ``transform`` is given, ``copies`` random views of each training image (notebook 04: an
    augmentation chosen and measured).

    images: float tensor (n, c, h, w); y: (n,) labels; the probe is
    :func:`utils.train.linear_probe`. The same ``seed`` draws the same views, so a run with and a
    run without the augmentation differ only by it.
    """
    torch.manual_seed(seed)
    X, y = torch.as_tensor(images), np.asarray(y)
    views = [X[train_idx]]
    if transform is not None:
        views += [torch.stack([transform(x) for x in X[train_idx]]) for _ in range(copies)]
    F_train = torch.cat(views).flatten(1).numpy()
    return train.linear_probe(
        F_train, np.tile(y[train_idx], len(views)), X[val_idx].flatten(1).numpy(), y[val_idx]
    )
