"""utils.plots: each figure draws what it claims, from real inputs."""

import numpy as np
import torch

from utils import models, plots


def test_image_grid_labels_and_credit():
    X = np.random.default_rng(0).random((5, 8, 8)).astype(np.float32)
    fig = plots.image_grid(X, np.array([1, -1, 1, -1, 1]), ncols=3)
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == ["cat", "dog", "cat", "dog", "cat"]
    assert any("Oxford-IIIT Pet" in t.get_text() for t in fig.texts)
    fig = plots.image_grid(torch.rand(2, 3, 8, 8), [0, 1], label_names=plots.TORCH_LABELS)
    assert [ax.get_title() for ax in fig.axes if ax.images] == ["cat", "dog"]


def test_filter_grid_shows_first_layer_filters():
    backbone = models.load_backbone("efficientnet_lite0")
    weights = backbone.model.conv_stem.weight
    fig = plots.filter_grid(weights)
    shown = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(shown) == weights.shape[0] and shown[0].shape == (3, 3, 3)
    fig = plots.filter_grid(np.array([[[1, 0, -1]] * 3, [[1, 1, 1], [0, 0, 0], [-1, -1, -1]]]))
    assert len([ax for ax in fig.axes if ax.images]) == 2


def test_confusion_matrix_counts():
    fig = plots.confusion_matrix([0, 0, 1, 1, 1], [0, 1, 1, 1, 0])
    counts = [t.get_text() for t in fig.axes[0].texts]
    assert counts == ["1", "1", "1", "2"]


def test_arc_curves_and_tradeoff():
    fig = plots.accuracy_arc(
        {"frozen": {"test_acc": 0.98}, "ols": {"test_acc": 0.55}}, baseline=0.53
    )
    bars = fig.axes[0].patches
    assert [round(b.get_height(), 2) for b in bars] == [0.55, 0.98]  # ordered along the story
    fig = plots.learning_curves(
        {"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "train_acc": [0.5, 0.8]}
    )
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1
    metas = [models.metadata(n) for n in models.NAMES]
    fig = plots.model_tradeoff(metas)
    sizes = np.concatenate([c.get_sizes() for c in fig.axes[0].collections])
    assert len(sizes) == len(metas) and sizes.argmax() == [m["name"] for m in metas].index(
        "resnet50"
    )


# --- notebooks 03/04 ----------------------------------------------------------------


def test_accuracy_arc_skips_records_without_a_test_accuracy():
    """Notebook 04 records its Figure 5 grid under "scenarios": the arc must still draw the four
    stages."""
    fig = plots.accuracy_arc(
        {"frozen": {"test_acc": 0.98}, "scenarios": {"grid": [], "seconds": 3.0}}
    )
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [plots.STAGE_LABELS["frozen"]]


def test_model_zoo_names_offline_models_and_explains_macs():
    metas = [
        {"name": "a", "acc1": 70.0, "gflops": 1.0, "params": 5e6, "offline": True},
        {"name": "b", "acc1": 80.0, "gflops": 4.0, "params": 25e6, "offline": False},
    ]
    fig = plots.model_zoo(metas, highlight="b")
    ax = fig.axes[0]
    assert {t.get_text() for t in ax.texts} == {"a", "b"}
    assert "multiply-adds" in ax.get_xlabel() and ax.get_title().startswith(
        "2 ImageNet classifiers"
    )


def test_model_zoo_marks_measured_points():
    """Figure 4 with measured points: a star on the zoo for each measured backbone, and beside it
    each task's measured accuracy (error bar = standard error) against that backbone's ImageNet
    top-1."""
    metas = [
        {"name": "a", "acc1": 70.0, "gflops": 1.0, "params": 5e6, "offline": True},
        {"name": "b", "acc1": 80.0, "gflops": 4.0, "params": 25e6, "offline": False},
        {"name": "c", "acc1": 75.0, "gflops": 0.5, "params": 4e6, "offline": True},
    ]
    measured = [
        {"name": "c", "task": "breeds", "acc": 0.9, "se": 0.02},
        {"name": "a", "task": "breeds", "acc": 0.8, "se": 0.01},
        {"name": "a", "task": "cats vs dogs", "acc": 0.99, "se": 0.005},
        {"name": "c", "task": "cats vs dogs", "acc": 1.0, "se": 0.0},
    ]
    fig = plots.model_zoo(metas, highlight="c", measured=measured)
    zoo_ax, right = fig.axes
    stars = [c for c in zoo_ax.collections if c.get_label().startswith("measured")]
    assert len(stars) == 1 and sorted(map(tuple, stars[0].get_offsets().tolist())) == [
        (0.5, 75.0),
        (1.0, 70.0),
    ]
    series = {c.get_label(): c for c in right.containers}
    assert set(series) == {"breeds", "cats vs dogs"}
    line, _, (bars,) = series["breeds"]
    assert line.get_xydata().tolist() == [
        [70.0, 0.8],
        [75.0, 0.9],
    ]  # x: ImageNet top-1, y: measured
    heights = [seg[1][1] - seg[0][1] for seg in bars.get_segments()]
    assert np.allclose(heights, [0.02, 0.04])  # ± se
    assert "top-1" in right.get_xlabel() and "pets" in right.get_ylabel()
    assert len(plots.model_zoo(metas).axes) == 1  # without measurements: the zoo only


def test_filter_patches_one_row_per_channel():
    import torch

    fig = plots.filter_patches(torch.randn(8, 3, 3, 3), torch.randn(2, 4, 3, 3, 3), [1, 6])
    assert (
        len(fig.axes) == 2 * 5
        and fig.axes[0].get_title() == "filter 1"
        and fig.axes[5].get_title() == "filter 6"
    )


# --- one signed colour convention -----------------------------------------------------

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _master_cell(stem, start):
    """The source of the cell of ``solutions/<stem>.ipynb`` that starts with ``start``."""
    nb = json.loads((REPO / "solutions" / f"{stem}.ipynb").read_text())
    return next("".join(c["source"]) for c in nb["cells"] if "".join(c["source"]).startswith(start))


def _assert_signed_convention(fig, expected):
    """Every 2-D image of ``fig`` showing negative values (``expected`` of them) uses SIGNED_CMAP on
    symmetric limits, with a colour bar."""
    images = [im for ax in fig.axes for im in ax.images]
    signed = [
        im
        for im in images
        if np.ndim(im.get_array()) == 2
        and (np.min(im.get_array()) < 0 or im.cmap.name == plots.SIGNED_CMAP)
    ]
    assert len(signed) == expected, (len(signed), expected)
    bars = [im.colorbar for im in images if im.colorbar is not None]
    for im in signed:
        lo, hi = im.get_clim()
        assert (
            im.cmap.name == plots.SIGNED_CMAP and lo == -hi and hi >= np.abs(im.get_array()).max()
        )
        assert any(
            b.mappable.cmap.name == im.cmap.name and b.mappable.get_clim() == (lo, hi) for b in bars
        ), "a signed image without a colour bar for its limits"
        red, blue = im.cmap(im.norm(hi)), im.cmap(im.norm(lo))
        assert red[0] > red[2] and blue[2] > blue[0], "red must mean positive, blue negative"


def test_signed_images_follow_one_convention(pets_root):
    """The module's signed figures, drawn from the masters' own inputs: notebook 02's filter bank
    (and 03's copy of it), ridge weights on real pixels (notebook 01's Step 8) and both widgets'
    figures."""
    from utils import data, widgets

    scope = {"np": np}
    exec(_master_cell("02_logistic_regression_edges", "bank = {"), scope)
    _assert_signed_convention(plots.filter_grid(np.stack(list(scope["bank"].values())), ncols=5), 5)
    X, Y = data.pets_arrays("trainval", size=8)
    Phi = np.hstack([np.ones((len(X), 1)), X.reshape(len(X), -1)])
    w = np.linalg.solve(Phi.T @ Phi + np.eye(Phi.shape[1]), Phi.T @ Y)
    _assert_signed_convention(plots.weight_image(w, 8), 1)
    ridge = lambda P, y, lam: np.linalg.solve(  # noqa: E731
        np.c_[np.ones(len(P)), P].T @ np.c_[np.ones(len(P)), P] + lam * np.eye(P.shape[1] + 1),
        np.c_[np.ones(len(P)), P].T @ y,
    )
    predict = lambda P, w: np.where(np.c_[np.ones(len(P)), P] @ w >= 0, 1, -1)  # noqa: E731
    idx = np.arange(len(Y))
    explorer = widgets.OlsExplorer(
        lambda V: np.asarray(V).reshape(len(V), -1),
        ridge,
        predict,
        lambda a, b: float(np.mean(a == b)),
        idx[100:],
        idx[:100],
        sizes=(8,),
        s=8,
    )
    _assert_signed_convention(explorer.figure(), 1)
    _assert_signed_convention(widgets.KernelEditor(X[:2], preset="Laplacian").figure(), 1)


def test_no_other_diverging_colour_map_is_named():
    """Signed images go through plots.signed_image: no master and no utils module names a colour map
    of its own for them (the old two conventions: bwr with red > 0, RdBu with blue > 0)."""
    diverging = re.compile(
        r"""cmap\s*=\s*["'](bwr|seismic|coolwarm|RdBu|RdBu_r|PiYG|PRGn|BrBG|PuOr|RdGy|RdYlBu)["']"""
    )
    sources = {p.name: p.read_text() for p in (REPO / "utils").glob("*.py")}
    sources |= {
        p.name: "\n".join("".join(c["source"]) for c in json.loads(p.read_text())["cells"])
        for p in (REPO / "solutions").glob("*.ipynb")
    }
    found = {
        name: diverging.findall(text) for name, text in sources.items() if diverging.search(text)
    }
    assert found == {}, found


# --- Figure 4: families and picks -----------------------------------------------------


def test_model_zoo_names_every_family_and_marks_the_picks():
    """On torchvision's real metadata: every model belongs to a named family, ResNet and MobileNet
    can be found in the legend (outside the data), and the two picks of Question 8 are named with an
    arrow."""
    import matplotlib

    matplotlib.use("Agg")
    zoo = models.all_metadata()
    assert [m["name"] for m in zoo if plots.model_family(m["name"]) == "other"] == []
    fits = lambda g, p: max(
        (m for m in zoo if m["gflops"] <= g and m["params"] <= p), key=lambda m: m["acc1"]
    )  # noqa: E731
    phone, server = fits(0.5, 5e6)["name"], fits(20, float("inf"))["name"]
    fig = plots.model_zoo(zoo, picks={"phone": phone, "server": server})
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("ResNet") for t in labels) and any(
        t.startswith("MobileNet") for t in labels
    )
    families = {plots.model_family(m["name"]) for m in zoo}
    assert sum(
        int(re.search(r"\((\d+)\)$", t).group(1)) for t in labels if re.search(r"\(\d+\)$", t)
    ) == len(zoo)
    assert len([t for t in labels if re.search(r"\(\d+\)$", t)]) == len(families)
    fig.canvas.draw()
    assert ax.get_legend().get_window_extent().y1 < ax.get_window_extent().y0, (
        "the legend must sit below the data"
    )
    arrows = {t.get_text(): t.xy for t in ax.texts if t.arrow_patch is not None}
    zoo_at = {m["name"]: (m["gflops"], m["acc1"]) for m in zoo}
    assert arrows == {f"phone: {phone}": zoo_at[phone], f"server: {server}": zoo_at[server]}
    unanswered = plots.model_zoo(
        zoo, picks={"phone": ..., "server": "no such model"}
    )  # the student's stub
    assert not [t for t in unanswered.axes[0].texts if t.arrow_patch is not None]


def test_accuracy_arc_shows_the_control_and_the_test_sets_noise():
    """Issue 19 §4: notebook 02's dimension-matched control beside the edges, whiskers of one
    binomial standard error, and no "best" where the test set cannot tell two models apart."""
    recorded = {
        "ols": {"test_acc": 0.55},
        "edges": {"test_acc": 0.62, "control_test_acc": 0.60},
        "frozen": {"test_acc": 0.98},
        "scenarios": {"grid": []},
    }
    fig = plots.accuracy_arc(recorded, baseline=0.53, n_test=400)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert (
        labels[:2] == [plots.STAGE_LABELS["ols"], plots.STAGE_LABELS["edges"]]
        and "control" in labels[2]
    ), labels
    from matplotlib.container import BarContainer

    bars = next(c for c in ax.containers if isinstance(c, BarContainer))
    assert [round(p.get_height(), 2) for p in bars.patches] == [0.55, 0.62, 0.60, 0.98]
    assert bars.patches[2].get_hatch() == "//" and not bars.patches[1].get_hatch()
    segments = bars.errorbar.lines[2][0].get_segments()
    for (lo, hi), p in zip(((s[0][1], s[1][1]) for s in segments), (0.55, 0.62, 0.60, 0.98)):
        assert abs((hi - lo) / 2 - np.sqrt(p * (1 - p) / 400)) < 1e-9
    texts = [ax.get_title(), *labels, *(t.get_text() for t in ax.get_legend().get_texts())]
    assert not any("best" in t.lower() for t in texts), texts
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_fine_tuning_curves_start_at_epoch_zero_beside_the_probe(tmp_path):
    """Notebook 04 (issue 27): every fine-tuning curve is drawn from its start, the frozen probe a
    reference line; the seeds of one run share a colour and one legend entry."""
    curves = {
        "digits 100/class (seed 0)": [0.94, 0.9, 0.97],
        "digits 100/class (seed 1)": [0.93, 0.95, 0.98],
        "digits 5/class (seed 0)": [0.7, 0.72, 0.71],
    }
    fig = plots.fine_tuning_curves(curves, ("frozen probe", 0.935))
    ax = fig.axes[0]
    runs = [line for line in ax.lines if len(line.get_xdata()) == 3]
    assert [list(line.get_xdata()) for line in runs] == [[0, 1, 2]] * 3, "epoch 0 is drawn"
    assert runs[0].get_color() == runs[1].get_color() != runs[2].get_color()
    assert any(
        list(line.get_ydata()) == [0.935, 0.935] and line.get_linestyle() == "--"
        for line in ax.lines
    )
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["digits 100/class", "digits 5/class", "frozen probe"], labels
    fig.savefig(tmp_path / "curves.png")
