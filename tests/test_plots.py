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
    fig = plots.accuracy_arc({"frozen": {"test_acc": 0.98}, "ols": {"test_acc": 0.55}}, baseline=0.53)
    bars = fig.axes[0].patches
    assert [round(b.get_height(), 2) for b in bars] == [0.55, 0.98]  # ordered along the story
    fig = plots.learning_curves({"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "train_acc": [0.5, 0.8]})
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1
    metas = [models.metadata(n) for n in models.NAMES]
    fig = plots.model_tradeoff(metas)
    sizes = np.concatenate([c.get_sizes() for c in fig.axes[0].collections])
    assert len(sizes) == len(metas) and sizes.argmax() == [m["name"] for m in metas].index("resnet50")


# --- notebooks 03/04 ----------------------------------------------------------------

def test_accuracy_arc_skips_records_without_a_test_accuracy():
    """Notebook 04 records its Figure 5 grid under "scenarios": the arc must still draw the four stages."""
    fig = plots.accuracy_arc({"frozen": {"test_acc": 0.98}, "scenarios": {"grid": [], "seconds": 3.0}})
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [plots.STAGE_LABELS["frozen"]]


def test_model_zoo_names_offline_models_and_explains_macs():
    metas = [{"name": "a", "acc1": 70.0, "gflops": 1.0, "params": 5e6, "offline": True},
             {"name": "b", "acc1": 80.0, "gflops": 4.0, "params": 25e6, "offline": False}]
    fig = plots.model_zoo(metas, highlight="b")
    ax = fig.axes[0]
    assert {t.get_text() for t in ax.texts} == {"a", "b"}
    assert "multiply-adds" in ax.get_xlabel() and ax.get_title().startswith("2 ImageNet classifiers")


def test_model_zoo_marks_measured_points():
    """Figure 4 with measured points: a star on the zoo for each measured backbone, and beside it each task's
    measured accuracy (error bar = standard error) against that backbone's ImageNet top-1."""
    metas = [{"name": "a", "acc1": 70.0, "gflops": 1.0, "params": 5e6, "offline": True},
             {"name": "b", "acc1": 80.0, "gflops": 4.0, "params": 25e6, "offline": False},
             {"name": "c", "acc1": 75.0, "gflops": 0.5, "params": 4e6, "offline": True}]
    measured = [{"name": "c", "task": "breeds", "acc": 0.9, "se": 0.02},
                {"name": "a", "task": "breeds", "acc": 0.8, "se": 0.01},
                {"name": "a", "task": "cats vs dogs", "acc": 0.99, "se": 0.005},
                {"name": "c", "task": "cats vs dogs", "acc": 1.0, "se": 0.0}]
    fig = plots.model_zoo(metas, highlight="c", measured=measured)
    zoo_ax, right = fig.axes
    stars = [c for c in zoo_ax.collections if c.get_label().startswith("measured")]
    assert len(stars) == 1 and sorted(map(tuple, stars[0].get_offsets().tolist())) == [(0.5, 75.0), (1.0, 70.0)]
    series = {c.get_label(): c for c in right.containers}
    assert set(series) == {"breeds", "cats vs dogs"}
    line, _, (bars,) = series["breeds"]
    assert line.get_xydata().tolist() == [[70.0, 0.8], [75.0, 0.9]]             # x: ImageNet top-1, y: measured
    heights = [seg[1][1] - seg[0][1] for seg in bars.get_segments()]
    assert np.allclose(heights, [0.02, 0.04])                                    # ± se
    assert "top-1" in right.get_xlabel() and "pets" in right.get_ylabel()
    assert len(plots.model_zoo(metas).axes) == 1                                 # without measurements: the zoo only


def test_filter_patches_one_row_per_channel():
    import torch
    fig = plots.filter_patches(torch.randn(8, 3, 3, 3), torch.randn(2, 4, 3, 3, 3), [1, 6])
    assert len(fig.axes) == 2 * 5 and fig.axes[0].get_title() == "filter 1" and fig.axes[5].get_title() == "filter 6"


def test_accuracy_arc_shows_the_control_and_the_test_sets_noise():
    """Issue 19 §4: notebook 02's dimension-matched control beside the edges, whiskers of one binomial standard
    error, and no "best" where the test set cannot tell two models apart."""
    recorded = {"ols": {"test_acc": 0.55}, "edges": {"test_acc": 0.62, "control_test_acc": 0.60},
                "frozen": {"test_acc": 0.98}, "scenarios": {"grid": []}}
    fig = plots.accuracy_arc(recorded, baseline=0.53, n_test=400)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[:2] == [plots.STAGE_LABELS["ols"], plots.STAGE_LABELS["edges"]] and "control" in labels[2], labels
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
