"""Figures for the notebooks and the report; every function returns a matplotlib Figure.

Images of the Oxford-IIIT Pet dataset (Parkhi et al., CVPR 2012, CC BY-SA 4.0)
are credited in every figure that shows them.
"""

from __future__ import annotations

import math

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

CREDIT = "Images: Oxford-IIIT Pet (Parkhi et al., CVPR 2012), CC BY-SA 4.0"
STAGE_LABELS = {
    "ols": "01 OLS\nraw pixels",
    "edges": "02 logistic\nedge features",
    "frozen": "03 frozen\npre-trained",
    "finetune": "04 fine-\ntuned",
}


# --- one convention for every signed image --------------------------------------------

SIGNED_CMAP = (
    "RdBu_r"  # every signed image of the module: red > 0, blue < 0, white = 0, limits ±max|value|
)


def signed_image(ax, values, label, lim=None, colorbar=True):
    """Show a signed 2-D array with the module's one colour convention; returns the AxesImage.

    Red is positive, blue negative, white zero (``SIGNED_CMAP``, diverging), on symmetric limits
    ``±lim`` (default: the largest |value|), so equal colours mean equal magnitudes. ``label``
    names what the colour bar measures and which sign means what ("red > 0: towards cat").
    ``colorbar=False`` leaves the bar to the caller (one shared bar: :func:`signed_colorbar`).
    Used by notebooks 01-03 (OLS weights, filters, filter responses) and ``utils.widgets``.
    """
    values = np.asarray(values, dtype=float)
    lim = float(np.abs(values).max() if lim is None else lim) or 1.0
    shown = ax.imshow(values, cmap=SIGNED_CMAP, vmin=-lim, vmax=lim, interpolation="nearest")
    if colorbar:
        ax.figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label=label)
    return shown


def signed_colorbar(fig, shown, label):
    """One colour bar at the right of ``fig`` for images drawn with :func:`signed_image` on shared
    limits."""
    width = fig.get_figwidth()
    fig.set_figwidth(width + 1.6)  # room for the bar, the images keep their size
    right = width / (width + 1.6)
    fig.subplots_adjust(left=fig.subplotpars.left * right, right=fig.subplotpars.right * right)
    return fig.colorbar(
        shown,
        cax=fig.add_axes([right + 0.2 / (width + 1.6), 0.15, 0.15 / (width + 1.6), 0.7]),
        label=label,
    )


def _grid(n, ncols, cell=1.6):
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(cell * ncols, cell * nrows + 0.3), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes.flat


def _as_image(img):
    img = np.asarray(img.detach().cpu() if hasattr(img, "detach") else img, dtype=np.float32)
    if img.ndim == 3 and img.shape[0] in (1, 3):  # (c, h, w) tensor layout
        img = np.moveaxis(img, 0, -1)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    lo, hi = img.min(), img.max()
    return (img - lo) / (hi - lo) if (img.ndim == 3 and (lo < 0 or hi > 1) and hi > lo) else img


NOTE_LABELS = {1: "cat", -1: "dog"}  # the note's y for OLS (utils.data.pets_arrays)
TORCH_LABELS = {0: "cat", 1: "dog"}  # torchvision's binary-category (utils.data.pets_dataset)


def image_grid(images, labels=None, ncols=8, titles=None, credit=True, label_names=NOTE_LABELS):
    """Images in a grid (notebook 01). images: (n, s, s) gray or (n, 3, h, w) / (n, h, w, 3).

    ``labels`` are named through ``label_names`` (default: +1 cat, -1 dog; pass
    ``TORCH_LABELS`` for 0/1 labels); ``titles`` (strings) override them.
    """
    fig, axes = _grid(len(images), ncols)
    for i, (ax, img) in enumerate(zip(axes, images)):
        img = _as_image(img)
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
        elif labels is not None:
            ax.set_title(label_names.get(int(labels[i]), str(labels[i])), fontsize=8)
    if credit:
        fig.text(0.5, 0.0, CREDIT, ha="center", va="bottom", fontsize=6, color="gray")
    fig.tight_layout()
    return fig


def filter_grid(weights, ncols=8, max_filters=64, title=None):
    """Convolution filters as small images (note Figures 2 and 3).

    weights: (k, c, h, w) tensor or array (c = 3 shown in colour, each filter
    rescaled to its own range: an RGB picture, not a signed map), else the channel
    mean, or (k, h, w) for single-channel hand-made filters: these are signed, drawn
    with :func:`signed_image` on limits shared by every filter, with one colour bar.
    """
    w = np.asarray(
        weights.detach().cpu() if hasattr(weights, "detach") else weights, dtype=np.float32
    )
    w = w[:max_filters]
    if w.ndim == 4 and w.shape[1] != 3:
        w = w.mean(axis=1)
    fig, axes = _grid(len(w), ncols, cell=1.0)
    lim, shown = float(np.abs(w).max()) or 1.0, None
    for ax, f in zip(axes, w):
        if f.ndim == 3:
            f = np.moveaxis(f, 0, -1)
            f = (f - f.min()) / (f.max() - f.min() + 1e-8)
            ax.imshow(f)
        else:
            shown = signed_image(ax, f, None, lim=lim, colorbar=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if shown is not None:
        signed_colorbar(fig, shown, "filter weight\n(red > 0, blue < 0)")
    return fig


def weight_image(w, s, title=None):
    """OLS or ridge weights w[1:] (the bias w[0] left out) as an s × s image
    (notebook 01, note §1.1).

    w: (s*s + 1,) with y = +1 for cat and -1 for dog, so red pixels push towards cat.
    """
    w = np.asarray(w, dtype=float)
    fig, ax = plt.subplots(figsize=(4.2, 3.4))
    signed_image(ax, w[1:].reshape(s, s), "weight (red > 0: towards cat,\nblue < 0: towards dog)")
    ax.set_title(title or f"weights w[1:] at s = {s}", fontsize=10)
    ax.axis("off")
    fig.tight_layout()
    return fig


def learning_curves(history, title="Learning curves"):
    """Loss and accuracy per epoch from a ``fit`` history (or any dict of lists)."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.2))
    for key in ("train_loss", "val_loss"):
        if history.get(key):
            ax_loss.plot(range(1, len(history[key]) + 1), history[key], marker="o", ms=3, label=key)
    for key in ("train_acc", "val_acc"):
        if history.get(key):
            ax_acc.plot(range(1, len(history[key]) + 1), history[key], marker="o", ms=3, label=key)
    ax_loss.set(xlabel="epoch", ylabel="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def fine_tuning_curves(curves, reference, ax=None, title="Fine-tuning, from its start"):
    """Validation accuracy of fine-tuning runs epoch by epoch, drawn from epoch 0 (the start), with
    the frozen probe as a dashed reference line (notebook 04: a curve that leaves its start is
    fine-tuning that moves).

    curves: {label: [accuracy at epoch 0, 1, ...]} (several runs, e.g. one per seed, share a colour
    when their labels are equal up to a trailing " (seed k)"); reference: (label, accuracy) of the
    frozen probe.
    """
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 3.4))
    colours = {}
    for label, curve in curves.items():
        group = label.split(" (seed")[0]
        first = group not in colours
        colours.setdefault(group, f"C{len(colours)}")
        ax.plot(
            range(len(curve)),
            curve,
            marker="o",
            ms=3,
            lw=1.2,
            alpha=0.8,
            color=colours[group],
            label=group if first else None,
        )
    ax.axhline(reference[1], color="k", ls="--", lw=1, label=reference[0])
    ax.axvline(0, color="grey", lw=0.8)
    ax.set(
        xlabel="epoch (0 = the start: the frozen probe)", ylabel="validation accuracy", title=title
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, labels=("cat", "dog"), values=None):
    """2-D count table of true (rows) against predicted (columns) classes.

    ``values``: the label values in the same order as ``labels``; by default the
    sorted unique values found in ``y_true`` and ``y_pred``.
    """
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    values = list(values) if values is not None else sorted(set(y_true) | set(y_pred))
    counts = np.array([[np.sum((y_true == t) & (y_pred == p)) for p in values] for t in values])
    fig, ax = plt.subplots(figsize=(3.4, 3.0))
    ax.imshow(counts, cmap="Blues")
    for (i, j), c in np.ndenumerate(counts):
        ax.text(
            j,
            i,
            int(c),
            ha="center",
            va="center",
            color="white" if c > counts.max() / 2 else "black",
        )
    ticks = range(len(values))
    ax.set_xticks(ticks, labels[: len(values)])
    ax.set_yticks(ticks, labels[: len(values)])
    ax.set(xlabel="predicted", ylabel="true")
    fig.tight_layout()
    return fig


def accuracy_arc(
    results, baseline=None, n_test=None, title="Cats vs dogs: test accuracy, notebook by notebook"
):
    """Bar chart of test accuracy per stage (ols, edges, frozen, finetune), in the module's order.

    results: ``{stage: {"test_acc": float}}`` as ``utils.results.load()`` returns,
    or ``{name: float}``. Notebook 02's dimension-matched control (``control_test_acc``: as many
    features as the edges, no filter) is drawn hatched beside the edges, so that the edges' gain is
    read against it. ``baseline``: the majority-class accuracy, drawn as a line. ``n_test``: the
    number of test images; each bar then gets whiskers of ± one binomial standard error
    sqrt(p (1 - p) / n), the noise of a test set that size: bars whose whiskers overlap are not told
    apart by it.
    """
    results = {
        s: r for s, r in results.items() if not isinstance(r, dict) or "test_acc" in r
    }  # e.g. 04's "scenarios"
    names = [s for s in STAGE_LABELS if s in results] + [
        s for s in results if s not in STAGE_LABELS
    ]
    bars = []  # (label, accuracy, is a control)
    for s in names:
        r = results[s]
        bars.append(
            (STAGE_LABELS.get(s, s), r["test_acc"] if isinstance(r, dict) else float(r), False)
        )
        if isinstance(r, dict) and r.get("control_test_acc") is not None:
            bars.append(("02 control\nsame size,\nno filter", r["control_test_acc"], True))
    accs = np.array([a for _, a, _ in bars], dtype=float)
    fig, ax = plt.subplots(figsize=(max(4.5, 1.5 * len(bars) + 1.5), 3.6))
    err = np.sqrt(accs * (1 - accs) / n_test) if n_test else None
    drawn = ax.bar(
        [label for label, _, _ in bars],
        accs,
        yerr=err,
        capsize=4 if n_test else 0,
        color=["white" if c else "tab:blue" for _, _, c in bars],
        edgecolor="tab:blue",
        hatch=None,
        error_kw={"elinewidth": 1},
    )
    for patch, (_, _, control) in zip(drawn.patches, bars):
        if control:
            patch.set_hatch("//")
    ax.bar_label(drawn, fmt="%.3f", padding=2, fontsize=8)
    if baseline is not None:
        ax.axhline(baseline, color="gray", ls="--", label=f"majority class {baseline:.2f}")
    if baseline is not None or n_test:
        ax.plot(
            [], [], color="k", lw=1, label=f"± 1 s.e. ({n_test} test images)"
        ) if n_test else None
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.set(ylim=(0, 1.1), ylabel="test accuracy", title=title)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return fig


def model_tradeoff(metas, highlight=None):
    """ImageNet acc@1 against GFLOPs, marker area = parameters (note §2.4, Figure 4).

    metas: list of dicts with ``name``, ``acc1``, ``gflops``, ``params``
    (``utils.models.metadata(name)`` gives them).
    """
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for m in metas:
        color = "tab:red" if m["name"] == highlight else "tab:blue"
        ax.scatter(m["gflops"], m["acc1"], s=m["params"] / 1e5, alpha=0.5, color=color)
        ax.annotate(
            f"{m['name']}\n{m['params'] / 1e6:.1f}M params",
            (m["gflops"], m["acc1"]),
            fontsize=8,
            xytext=(6, -4),
            textcoords="offset points",
        )
    ax.set_xscale("log")
    ax.margins(x=0.35, y=0.15)
    ax.set(
        xlabel="GFLOPs per image (multiply-adds, log scale)",
        ylabel="ImageNet top-1 (%)",
        title="Accuracy against cost (marker area = parameters)",
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# --- notebooks 03/04 ----------------------------------------------------------------

# The families of torchvision's ImageNet classifiers, by name prefix; the note's own first (§2.4:
# ResNet, MobileNet, EfficientNet), each a colour and a marker, so that a family can be found in
# Figure 4 and its members read as a curve.
FAMILIES = (
    ("ResNet / Wide ResNet", ("resnet", "wide_resnet"), "tab:red", "o"),
    ("ResNeXt", ("resnext",), "tab:red", "s"),
    ("MobileNet", ("mobilenet",), "tab:green", "^"),
    ("EfficientNet", ("efficientnet_b",), "tab:blue", "o"),
    ("EfficientNet-Lite", ("efficientnet_lite",), "tab:blue", "D"),
    ("EfficientNetV2", ("efficientnet_v2",), "tab:blue", "s"),
    ("ConvNeXt", ("convnext",), "tab:purple", "o"),
    ("ViT", ("vit_",), "tab:orange", "o"),
    ("Swin", ("swin",), "tab:orange", "s"),
    ("MaxViT", ("maxvit",), "tab:orange", "D"),
    ("RegNet", ("regnet",), "tab:olive", "o"),
    ("VGG", ("vgg",), "tab:brown", "o"),
    ("DenseNet", ("densenet",), "tab:pink", "o"),
    ("Inception / GoogLeNet", ("inception", "googlenet"), "tab:cyan", "o"),
    ("MNASNet", ("mnasnet",), "tab:green", "s"),
    ("ShuffleNet", ("shufflenet",), "tab:green", "D"),
    ("SqueezeNet", ("squeezenet",), "tab:gray", "s"),
    ("AlexNet", ("alexnet",), "tab:gray", "o"),
)


# Named in Figure 4 beside the offline models and the picks: the note's first backbones, one per
# main family.
NAMED_MODELS = (
    "resnet18",
    "resnet50",
    "mobilenet_v2",
    "convnext_tiny",
    "vit_b_16",
    "efficientnet_b7",
)


def model_family(name):
    """The family label of a model name in :data:`FAMILIES` ("resnet18" -> "ResNet / Wide ResNet"),
    or "other"."""
    return next((label for label, prefixes, *_ in FAMILIES if name.startswith(prefixes)), "other")


def model_zoo(metas, highlight=None, measured=None, picks=None):
    """Figure 4 for a whole model zoo: ImageNet top-1 against GMACs, marker area = parameters
    (notebook 03).

    metas: dicts with ``name``, ``acc1``, ``gflops`` (multiply-adds), ``params`` and
    ``offline`` (as ``utils.models.all_metadata()`` gives). Each family of
    :data:`FAMILIES` has its colour and marker, its members joined by a thin line in
    order of compute, named in a legend below the chart. Models whose weights are
    on this machine have a black edge and are named; ``highlight`` (a name) is circled in red.
    picks: optional ``{label: name}`` (e.g. ``{"phone": phone, "server": server}``):
    each is named with an arrow, "label: name"; names not in ``metas`` are skipped.
    measured: optional rows ``{"name", "task", "acc", "se"}`` (as
    ``utils.transfer.probe_backbones`` gives): the measured backbones get a black star
    in the zoo, and a second panel plots their measured pets accuracy (± se) against
    their ImageNet top-1, one series per task.
    """
    if measured:
        fig, (ax, right) = plt.subplots(
            1, 2, figsize=(13, 6.4), gridspec_kw={"width_ratios": [2, 1]}
        )
    else:
        fig, ax = plt.subplots(figsize=(9, 6.4))
    _zoo_families(ax, metas)
    picked = set((picks or {}).values())
    for m in metas:
        if (m.get("offline") or m["name"] == highlight or m["name"] in NAMED_MODELS) and m[
            "name"
        ] not in picked:
            ax.annotate(
                m["name"],
                (m["gflops"], m["acc1"]),
                fontsize=7,
                xytext=(5, 4),
                textcoords="offset points",
            )
        if m["name"] == highlight:
            ax.scatter(
                m["gflops"],
                m["acc1"],
                s=m["params"] / 4e5 + 80,
                facecolor="none",
                edgecolor="red",
                lw=1.5,
                label=f"this notebook's backbone ({m['name']})",
            )
    _zoo_picks(ax, metas, picks or {})
    if measured:
        _measured_points(ax, right, metas, measured)
    ax.set_xscale("log")
    ax.set(
        xlabel="GMACs per image (torchvision's 'GFLOPS': multiply-adds; ×2 for FLOPs), log scale",
        ylabel="ImageNet top-1 (%)",
        title=f"{len(metas)} ImageNet classifiers (marker area = parameters)",
    )
    ax.grid(alpha=0.3)
    legend = ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=4, fontsize=7, frameon=False
    )
    for handle in legend.legend_handles:  # one marker size in the legend: there, size means nothing
        if hasattr(handle, "set_sizes"):
            handle.set_sizes([40])
    fig.tight_layout()
    return fig


def _zoo_families(ax, metas):
    """One scatter (and one line through its members, by compute) per family; offline weights with a
    black edge."""
    groups = {}
    for m in metas:
        groups.setdefault(model_family(m["name"]), []).append(m)
    style = {label: (color, marker) for label, _, color, marker in FAMILIES} | {
        "other": ("black", "P")
    }
    for label in [f[0] for f in FAMILIES] + ["other"]:
        members = sorted(groups.get(label, []), key=lambda m: m["gflops"])
        if not members:
            continue
        color, marker = style[label]
        x, y = [m["gflops"] for m in members], [m["acc1"] for m in members]
        if len(members) > 1:
            ax.plot(x, y, color=color, lw=0.6, alpha=0.4)
        face = matplotlib.colors.to_rgba(color, 0.55)
        ax.scatter(
            x,
            y,
            s=[m["params"] / 4e5 for m in members],
            marker=marker,
            facecolor=face,
            edgecolor=[(0, 0, 0, 1) if m.get("offline") else face for m in members],
            lw=1.0,
            label=f"{label} ({len(members)})",
        )
    if any(m.get("offline") for m in metas):
        ax.scatter(
            [],
            [],
            s=40,
            facecolor="white",
            edgecolor="black",
            label="black edge: weights on this machine",
        )


def _zoo_picks(ax, metas, picks):
    """An arrow and a bold "label: name" at each picked model."""
    zoo = {m["name"]: m for m in metas}
    for i, (label, name) in enumerate(picks.items()):
        if not isinstance(name, str) or name not in zoo:
            continue
        m = zoo[name]
        ax.annotate(
            f"{label}: {name}",
            (m["gflops"], m["acc1"]),
            xytext=(-40 + 90 * (i % 2), 30 - 75 * (i % 2)),
            textcoords="offset points",
            ha="center",
            fontsize=9,
            fontweight="bold",
            arrowprops={"arrowstyle": "->", "color": "black", "lw": 1.2},
            bbox={"boxstyle": "round", "fc": "lightyellow", "ec": "black", "lw": 0.8},
        )


def _measured_points(ax, right, metas, measured):
    """Stars on the zoo for the measured backbones; beside it, their pets accuracy against ImageNet
    top-1."""
    zoo = {m["name"]: m for m in metas}
    names = sorted({r["name"] for r in measured}, key=lambda n: zoo[n]["acc1"])
    ax.scatter(
        [zoo[n]["gflops"] for n in names],
        [zoo[n]["acc1"] for n in names],
        marker="*",
        s=140,
        color="black",
        zorder=3,
        label="measured on the pets (right)",
    )
    for task, marker in zip(dict.fromkeys(r["task"] for r in measured), "os^D"):
        rows = sorted(
            (r for r in measured if r["task"] == task), key=lambda r: zoo[r["name"]]["acc1"]
        )
        right.errorbar(
            [zoo[r["name"]]["acc1"] for r in rows],
            [r["acc"] for r in rows],
            yerr=[r["se"] for r in rows],
            marker=marker,
            ls=":",
            capsize=3,
            label=task,
        )
        for r in rows:
            right.annotate(
                r["name"].replace("efficientnet_", ""),
                (zoo[r["name"]]["acc1"], r["acc"]),
                fontsize=7,
                xytext=(4, -10),
                textcoords="offset points",
            )
    right.set(
        xlabel="ImageNet top-1 (%)",
        ylabel="pets accuracy, linear probe (cross-validated)",
        title="Measured here: frozen features\non the pets (± s.e.)",
    )
    right.margins(x=0.25, y=0.15)
    right.legend(fontsize=8, loc="lower right")
    right.grid(alpha=0.3)


def filter_patches(weights, patches, channels, title=None):
    """First-layer filters (left column) beside the input patches that excite them most
    (notebook 03, Figure 3).

    weights: (k, 3, kh, kw) filters; patches: (len(channels), m, 3, kh, kw) as
    ``utils.models.top_patches`` returns; channels: the filter indices shown.
    """
    w = np.asarray(
        weights.detach().cpu() if hasattr(weights, "detach") else weights, dtype=np.float32
    )
    rows, m = len(channels), patches.shape[1]
    fig, axes = plt.subplots(rows, m + 1, figsize=(1.1 * (m + 1), 1.1 * rows + 0.6), squeeze=False)
    for r, ch in enumerate(channels):
        for c, img in enumerate([w[ch], *patches[r]]):
            axes[r, c].imshow(
                _as_image(img), interpolation="nearest"
            )  # each rescaled to its own range
            axes[r, c].axis("off")
        axes[r, 0].set_title(f"filter {ch}", fontsize=7)
    axes[0, 1].set_title("pets patches that excite it most →", fontsize=7, loc="left")
    fig.text(0.5, 0.0, CREDIT, ha="center", va="bottom", fontsize=6, color="gray")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
