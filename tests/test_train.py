"""utils.train: cached features, a linear probe on real data, fit, determinism, device logic."""

import os
from contextlib import nullcontext

import numpy as np
import pytest
import torch
from torch import nn

from utils import data, models, train


@pytest.fixture(scope="module")
def lite0():
    return models.load_backbone("efficientnet_lite0")


@pytest.fixture(scope="module")
def features(lite0, pets_root):
    return {
        split: train.extract_features(lite0, split, progress=False)
        for split in ("trainval", "test")
    }


def test_feature_shape_and_labels(features, lite0):
    X, y = features["trainval"]
    assert X.dtype == torch.float32 and X.shape[1] == lite0.num_features
    assert y.dtype == torch.int64 and set(y.tolist()) == {0, 1} and len(y) == len(X)


def test_feature_cache_hit(lite0, pets_root, tmp_path, monkeypatch):
    monkeypatch.setenv("PTM_CACHE", str(tmp_path))
    calls = []
    real = train.compute_features
    monkeypatch.setattr(train, "compute_features", lambda *a, **k: calls.append(1) or real(*a, **k))
    X1, y1 = train.extract_features(lite0, "test", stage="stem", progress=False)
    X2, y2 = train.extract_features(lite0, "test", stage="stem", progress=False)
    assert len(calls) == 1, "the second call must load from the cache"
    assert torch.equal(X1, X2) and torch.equal(y1, y2)
    assert len(list((tmp_path / "features").glob("*.pt"))) == 1


def _split(X, y, frac=0.8, seed=0):
    idx = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
    cut = int(frac * len(X))
    return (X[idx[:cut]], y[idx[:cut]]), (X[idx[cut:]], y[idx[cut:]])


def test_linear_probe_on_frozen_lite0_reaches_95(features):
    (Xtr, ytr), (Xval, yval) = _split(*features["trainval"])
    head = nn.Linear(Xtr.shape[1], 2)
    history = train.fit(
        head,
        train.feature_loaders(Xtr, ytr),
        train.feature_loaders(Xval, yval, shuffle=False),
        num_epochs=15,
        lr=1e-3,
        device=torch.device("cpu"),
        progress=False,
    )
    _, test_acc = train.evaluate(head, train.feature_loaders(*features["test"], shuffle=False))
    assert test_acc >= 0.95, test_acc
    assert history["train_loss"][-1] < history["train_loss"][0] / 3


def test_fit_is_deterministic_and_stops_early(features, tmp_path):
    X, y = features["test"]
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        head = nn.Linear(X.shape[1], 2)
        runs.append(
            train.fit(
                head,
                train.feature_loaders(X, y, seed=1),
                num_epochs=3,
                progress=False,
                device=torch.device("cpu"),
                checkpoint=tmp_path / "best.pt",
            )
        )
    assert runs[0]["train_loss"] == runs[1]["train_loss"]
    assert (tmp_path / "best.pt").exists()
    # a validation set that never improves (labels are noise) triggers early stopping
    torch.manual_seed(0)
    noise = torch.randint(0, 2, (len(y),), generator=torch.Generator().manual_seed(5))
    head = nn.Linear(X.shape[1], 2)
    history = train.fit(
        head,
        train.feature_loaders(X, y),
        train.feature_loaders(X[:40], noise[:40], shuffle=False),
        num_epochs=30,
        lr=0.05,
        patience=2,
        progress=False,
        device=torch.device("cpu"),
    )
    assert len(history["train_loss"]) < 30
    assert history["val_acc"][history["best_epoch"]] == history["best_val_acc"]


def test_fine_tuning_trains_only_unfrozen_and_keeps_frozen_bn_stats():
    backbone = models.load_backbone("resnet18", pretrained=False)
    model = backbone.classifier(2)
    models.freeze_all_but(model, 1)
    frozen_bn = model.stages[0][1]
    before_stats = frozen_bn.running_mean.clone()
    before_frozen = model.stages[1][0].conv1.weight.clone()
    before_last = model.stages[-1][0].conv1.weight.clone()
    x = torch.randn(8, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1] * 4)
    loader = train.feature_loaders(x, y, batch_size=4)
    train.fit(model, loader, num_epochs=1, lr=1e-2, progress=False, device=torch.device("cpu"))
    assert torch.equal(frozen_bn.running_mean, before_stats), (
        "frozen BN must keep its ImageNet statistics"
    )
    assert torch.equal(model.stages[1][0].conv1.weight, before_frozen)
    assert not torch.equal(model.stages[-1][0].conv1.weight, before_last)


def test_device_logic_cpu_fallback():
    cpu = torch.device("cpu")
    assert train.get_device("cpu") == cpu
    assert train.get_device().type in ("cuda", "mps", "cpu")
    assert train.amp_dtype(cpu) is None and isinstance(train.autocast(cpu), nullcontext)
    x = torch.randn(2, 3, 8, 8)
    assert train.to_device(x, cpu).is_contiguous(
        memory_format=torch.channels_last
    )  # images: NHWC on the CPU too
    assert torch.equal(train.to_device(x, cpu), x)
    assert [len(c) for c in train.chunks(torch.zeros(train.CPU_CHUNK * 2 + 3, 1), cpu)] == [
        train.CPU_CHUNK
    ] * 2 + [3]
    loader = train.make_loader(torch.utils.data.TensorDataset(x, torch.zeros(2)), device=cpu)
    assert loader.pin_memory is False
    if torch.cuda.is_available():  # exercised on GPU machines (see benchmarks/gpu_check.py)
        cuda = torch.device("cuda")
        assert train.amp_dtype(cuda) in (torch.bfloat16, torch.float16)
        assert train.to_device(x, cuda).is_contiguous(memory_format=torch.channels_last)


def test_fit_can_select_the_lowest_validation_loss(features):
    X, y = features["test"]
    (Xtr, ytr), (Xval, yval) = _split(X, y)
    torch.manual_seed(0)
    head = nn.Linear(X.shape[1], 2)
    history = train.fit(
        head,
        train.feature_loaders(Xtr, ytr),
        train.feature_loaders(Xval, yval, shuffle=False),
        num_epochs=6,
        lr=1e-2,
        select="val_loss",
        progress=False,
        device=torch.device("cpu"),
    )
    best = history["best_epoch"]
    assert history["val_loss"][best] == min(history["val_loss"])
    assert (
        abs(
            train.evaluate(head, train.feature_loaders(Xval, yval, shuffle=False))[0]
            - history["val_loss"][best]
        )
        < 1e-5
    )
    with pytest.raises(ValueError, match="select must be"):
        train.fit(
            head, train.feature_loaders(Xtr, ytr), num_epochs=1, select="accuracy", progress=False
        )


# --- the Figure-5 grid and Figure 4's measured points (utils.transfer) ----------------


def test_per_class_split_is_disjoint_and_per_class():
    from utils import transfer

    y = torch.tensor([0] * 6 + [1] * 4 + [2] * 5)
    a, b = transfer.per_class_split(y, (1, 3), seed=0)
    assert len(set(a) & set(b)) == 0
    assert torch.bincount(y[a]).tolist() == [1, 1, 1] and torch.bincount(y[b]).tolist() == [3, 3, 3]
    with pytest.raises(ValueError, match="class 1 has 4 examples"):
        transfer.per_class_split(y, (2, 3))


def test_probe_backbones_on_the_pets(features, pets_root):
    """The cross-validated probe on real cached features: near perfect on cats vs dogs, far above
    chance (1/37) and below perfect on the breeds; cv_probe is the mean and standard error of
    linear_probe over the folds."""
    from utils import transfer

    rows = transfer.probe_backbones(["efficientnet_lite0"], progress=False)
    by_task = {r["task"]: r for r in rows}
    assert set(by_task) == set(transfer.TASKS) and all(
        r["name"] == "efficientnet_lite0" for r in rows
    )
    assert by_task["cats vs dogs"]["acc"] > 0.95
    assert 0.3 < by_task["37 breeds"]["acc"] < 0.99 and by_task["37 breeds"]["se"] > 0
    breeds = transfer.breed_labels(data.pets_dataset("trainval").names)
    assert breeds.max() == 36 and len(breeds) == len(features["trainval"][1])
    X = features["trainval"][0].numpy()
    folds = [
        (
            np.arange(len(X))[np.arange(len(X)) % 2 == k],
            np.arange(len(X))[np.arange(len(X)) % 2 != k],
        )
        for k in (0, 1)
    ]
    acc, se = transfer.cv_probe(X, features["trainval"][1].numpy(), folds)
    y = features["trainval"][1]
    accs = [train.linear_probe(X[tr], y[tr], X[va], y[va]) for tr, va in folds]
    assert abs(acc - np.mean(accs)) < 1e-9 and abs(se - np.std(accs, ddof=1) / np.sqrt(2)) < 1e-9


def test_a_backbone_used_for_features_can_still_be_trained(lite0):
    """Extraction runs in inference mode and puts the model in channels-last: its parameters must
    stay trainable."""
    images = torch.utils.data.TensorDataset(
        torch.randn(3, 3, 64, 64), torch.zeros(3, dtype=torch.long)
    )
    train.compute_features(
        lite0, train.make_loader(images, 3), device=torch.device("cpu"), progress=False
    )
    assert not any(p.is_inference() for p in lite0.model.parameters())
    model = lite0.classifier(2)
    models.freeze_all_but(model, 1)
    trainable = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in trainable]
    loss = nn.functional.cross_entropy(model(torch.randn(2, 3, 64, 64)), torch.tensor([0, 1]))
    loss.backward()
    torch.optim.SGD(trainable, lr=0.1).step()
    assert any(not torch.equal(a, p) for a, p in zip(before, trainable))


# --- fine-tuning from the probe (utils.finetune, notebook 04) -------------------------


def _tiny_tail_task(n=96, seed=0):
    """Maps (n, 4, 4, 4) whose class (0/1) moves channel 0, and a pre-trained-looking tail: conv +
    BN + ReLU."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    X = torch.randn(n, 4, 4, 4, generator=g)
    X[:, 0] += 0.6 * (2 * y.float() - 1).view(-1, 1, 1)
    torch.manual_seed(seed)
    tail = nn.Sequential(nn.Conv2d(4, 8, 1), nn.BatchNorm2d(8), nn.ReLU()).eval()
    idx = np.arange(n)
    return tail, X, y, (idx[:32], idx[32:64], idx[64:])


@pytest.mark.parametrize("lr", [3e-3, 30.0])
def test_fine_tuning_never_ends_below_its_start_on_validation(lr, capsys):
    """Epoch 0 (the probe) is evaluated and may be kept: even a destructive rate cannot end below
    the start."""
    from utils import finetune

    tail, X, y, idx = _tiny_tail_task()
    stats = tail[1].running_mean.clone()
    out = finetune.fine_tune_tail([tail], X, y, idx, num_classes=2, num_epochs=4, lr=lr)
    assert out["val_after"] >= out["val_before"]
    if out["kept_epoch"] == 0:
        assert out["test_after"] == out["test_before"], (
            "keeping epoch 0 must give back the starting model"
        )
    assert torch.equal(tail[1].running_mean, stats), (
        "the caller's stages are copied, never trained in place"
    )
    assert "->" in capsys.readouterr().out, "each run prints its accuracy before and after"


def test_fine_tuning_keeps_batch_norm_statistics_and_warms_up():
    from utils import finetune

    bn = nn.BatchNorm2d(3)
    model = nn.Sequential(nn.Conv2d(3, 3, 1), bn, nn.Flatten(), nn.Linear(48, 2))
    x, y = torch.randn(16, 3, 4, 4) * 5 + 3, torch.arange(16) % 2
    loader = train.feature_loaders(x, y, batch_size=8)
    history = finetune.fine_tune(model, model[:2], model[3], loader, loader, num_epochs=2)
    assert torch.equal(bn.running_mean, torch.zeros(3)) and torch.equal(
        bn.running_var, torch.ones(3)
    )
    assert not torch.equal(bn.weight.detach(), torch.ones(3)), (
        "frozen statistics, but the affine weights still train"
    )
    assert "start_val_acc" in history and history["best_epoch"] >= -1
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = finetune.warmup_cosine(opt, 4, 20)
    rates = []
    for _ in range(20):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert rates[0] < rates[3] == max(rates) and rates[-1] < rates[4], (
        "a linear warm-up, then a decay"
    )


def test_augmentation_is_random_resized_crop_and_flip():
    from utils import finetune

    aug = finetune.augmentation(8)
    names = [type(t).__name__ for t in aug.transforms]
    assert names == ["RandomResizedCrop", "RandomHorizontalFlip"]
    torch.manual_seed(0)
    x = torch.arange(3 * 16 * 16, dtype=torch.float32).view(3, 16, 16)
    assert aug(x).shape == (3, 8, 8) and not torch.equal(aug(x), aug(x))
    assert [type(t).__name__ for t in finetune.augmentation(8, flip=False).transforms] == [
        "RandomResizedCrop"
    ]


def test_augmented_probe_is_paired_by_seed_and_a_mirror_hurts_digits():
    """The digits' augmentation measurement (notebook 04): the same seed gives the same views, no
    transform is the plain probe, and mirrored digits (other symbols) lower validation accuracy on
    every seed."""
    from sklearn.datasets import load_digits
    from torchvision.transforms import v2 as T

    from utils import finetune

    digits = load_digits()
    X = torch.as_tensor(digits.data / 16, dtype=torch.float32).view(-1, 1, 8, 8)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    val_idx = order[:300]
    flip = T.RandomHorizontalFlip(1.0)
    for seed in (0, 1):
        pool = np.random.default_rng(seed).permutation(order[300:])
        train_idx = np.concatenate([pool[digits.target[pool] == c][:5] for c in range(10)])
        plain = finetune.augmented_probe(X, digits.target, train_idx, val_idx)
        assert plain == train.linear_probe(
            X[train_idx].flatten(1).numpy(),
            digits.target[train_idx],
            X[val_idx].flatten(1).numpy(),
            digits.target[val_idx],
        )
        rotate = T.RandomRotation(10)
        assert finetune.augmented_probe(
            X, digits.target, train_idx, val_idx, rotate, copies=2, seed=seed
        ) == finetune.augmented_probe(
            X, digits.target, train_idx, val_idx, rotate, copies=2, seed=seed
        )
        assert (
            finetune.augmented_probe(
                X, digits.target, train_idx, val_idx, flip, copies=2, seed=seed
            )
            < plain - 0.03
        )


@pytest.mark.slow
def test_fine_tuning_from_a_middle_stage_leaves_the_probe_on_digits(lite0, tmp_path, monkeypatch):
    """Issue 27 §1: digits (unlike ImageNet) at 64 x 64, 100 per class, Lite0's stages after stage4
    fine-tuned on cached maps with the grid's recipe: the probe on the final features is weak, and
    fine-tuning gains on validation and on the test images (notebook 04's large digits cell, seed
    0)."""
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    from utils import finetune, transfer

    monkeypatch.setenv("PTM_CACHE", str(tmp_path))
    digits = load_digits()
    norm = next(t for t in lite0.transform.transforms if hasattr(t, "mean"))
    x = torch.tensor(digits.data, dtype=torch.float32).view(-1, 1, 8, 8) / 16
    x = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)
    x = (x - torch.tensor(norm.mean).view(1, 3, 1, 1)) / torch.tensor(norm.std).view(1, 3, 1, 1)
    y = torch.as_tensor(digits.target)
    maps = train.stage_outputs(lite0, [(x, y)], "stage4", key=("test-digits",))["map"]
    names = list(lite0.stage_modules)
    tail = list(lite0.stage_modules.values())[names.index("stage4") + 1 :]
    test = transfer.per_class_split(digits.target, (60,), 0)[0]
    pool = np.setdiff1d(np.arange(len(y)), test)
    val, tr = (pool[i] for i in transfer.per_class_split(y[pool], (10, 100), 0))
    with transfer.one_thread():
        out = finetune.fine_tune_tail(
            tail, maps, y, (tr, val, test), 10, transfer.TAIL_EPOCHS, transfer.TAIL_LR, flip=False
        )
    assert out["test_before"] < 0.96, f"the probe should be weak on this task: {out}"
    assert (
        out["val_after"] >= out["val_before"] + 0.02
        and out["test_after"] > out["test_before"] + 0.01
    ), out
    assert (
        out["val_curve"][0] == out["val_before"]
        and len(out["val_curve"]) == transfer.TAIL_EPOCHS + 1
    )


def test_depthwise_filters_as_matrices_are_the_same_function_and_weights(lite0):
    """``finetune.small_maps_as_matrices``: Lite0's last four stages (5 × 5 and 3 × 3 depthwise
    filters, one with stride 2 and timm's "same" padding) give the same outputs and the same
    gradients for every weight as the convolutions, on the maps the grid trains (4 × 4 after
    stage4, 2 × 2 after stage5), on odd shapes, and on a map too large for the matrices (7 × 7,
    left to the convolution); the state dict's keys are unchanged, and training one trains the
    weights the other holds."""
    import copy

    from utils import finetune

    tail = list(lite0.stage_modules.values())[-4:]
    for shape in [(6, 80, 4, 4), (6, 80, 2, 2), (3, 80, 5, 3), (2, 80, 7, 7)]:
        conv = nn.Sequential(*copy.deepcopy(tail)).eval().requires_grad_(True)  # as fine_tune
        matrices = finetune.small_maps_as_matrices(
            nn.Sequential(*copy.deepcopy(tail)).eval().requires_grad_(True)
        )
        assert matrices.state_dict().keys() == conv.state_dict().keys()
        swapped = [m for m in matrices.modules() if isinstance(m, finetune.DepthwiseAsMatrix)]
        assert len(swapped) == 8, "every depthwise filter of stages 5 to 7"
        x = torch.randn(*shape)
        a, b = conv(x), matrices(x)
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-4, rtol=1e-4), shape
        a.square().sum().backward()
        b.square().sum().backward()
        grads = dict(conv.named_parameters())
        for name, p in matrices.named_parameters():
            g = grads[name].grad
            assert torch.allclose(p.grad, g, atol=1e-4 * g.abs().max() + 1e-7), (shape, name)
    weight = swapped[0].weight
    assert weight is swapped[0]._conv[0].weight  # one parameter, two ways to compute
    with torch.no_grad():
        weight.zero_()
    assert matrices(torch.randn(2, 80, 4, 4)).shape == (2, 1280, 2, 2)


def test_verdicts_call_a_win_only_beyond_two_standard_errors():
    from utils import transfer

    def rows(strategy, accs):
        return [
            {"task": "t", "train_per_class": 4, "strategy": strategy, "seed": k, "test_acc": a}
            for k, a in enumerate(accs)
        ]

    clear = (
        rows("A", [0.80, 0.82, 0.81]) + rows("B", [0.70, 0.71, 0.69]) + rows("C", [0.5, 0.5, 0.5])
    )
    assert transfer.verdicts(clear)[("t", 4)] == {"winner": "A", "tied": ["A"]}
    noisy = (
        rows("A", [0.80, 0.70, 0.81]) + rows("B", [0.78, 0.74, 0.76]) + rows("C", [0.5, 0.5, 0.5])
    )
    verdict = transfer.verdicts(noisy)[("t", 4)]
    assert verdict == {"winner": None, "tied": ["A", "B"]}, verdict
    assert transfer.prediction_matches("B", verdict) and not transfer.prediction_matches(
        "C", verdict
    )
    summary = {r["strategy"]: r for r in transfer.summarize(clear)}
    assert (
        abs(summary["A"]["mean"] - 0.81) < 1e-9
        and abs(summary["A"]["se"] - 0.01 / np.sqrt(3)) < 1e-9
    )


def test_transfer_grid_rows_are_cached_and_record_both_ends_of_fine_tuning(tmp_path, monkeypatch):
    """A second run of notebook 04's grid reuses its rows (issue 19 §5), keyed by every input: other
    seeds recompute."""
    from utils import transfer

    monkeypatch.setenv("PTM_CACHE", str(tmp_path))
    tail, X, y, _ = _tiny_tail_task(n=60)
    y = torch.arange(60) % 3
    g = torch.Generator().manual_seed(1)
    pooled = {
        s: torch.randn(60, 4, generator=g) + y.view(-1, 1).float() for s in ("a", "b", "pooled")
    }
    task = {
        "name": "tiny",
        "y": y,
        "pool_idx": np.arange(45),
        "test_idx": np.arange(45, 60),
        "pooled": pooled,
        "map": X,
        "pixels": X.flatten(1),
        "images": X[:, :1].repeat(1, 1, 2, 2),
        "flip": False,
    }
    first = transfer.transfer_grid(task, [tail], (3,), 2, seed=0)
    assert [r["strategy"] for r in first] == list(transfer.STRATEGIES)
    tuned = next(r for r in first if r["strategy"] == "fine-tune last stages")
    assert tuned["val_after"] >= tuned["val_before"] and {
        "test_before",
        "kept_epoch",
        "epochs",
    } <= set(tuned)
    curve = tuned["val_curve"]  # drawn from epoch 0: the start (the probe) first, then every epoch
    assert (
        len(curve) == tuned["epochs"] + 1 == transfer.TAIL_EPOCHS + 1
        and curve[0] == tuned["val_before"]
    )
    assert max(curve) >= tuned["val_after"] - 1e-4

    def no_training(*args, **kwargs):
        raise AssertionError("the cached rows should have been reused")

    monkeypatch.setattr(transfer, "_grid_rows", no_training)
    assert transfer.transfer_grid(task, [tail], (3,), 2, seed=0) == first
    with pytest.raises(AssertionError, match="reused"):  # another seed is another measurement
        transfer.transfer_grid(task, [tail], (3,), 2, seed=1)


def test_stage_sweep_largest_k_is_the_grids_run_and_smaller_k_freeze_the_first_stages(
    tmp_path, monkeypatch
):
    """Notebook 04 chooses how many stages to fine-tune from a sweep (issue 27 §3): its largest k is
    the grid's own fine-tuning row (same split, recipe and seed), a smaller k trains only the last k
    stages; cached like the grid."""
    from utils import transfer

    monkeypatch.setenv("PTM_CACHE", str(tmp_path))
    tail, X, y, _ = _tiny_tail_task(n=60)
    second = nn.Sequential(nn.Conv2d(8, 8, 1), nn.BatchNorm2d(8), nn.ReLU()).eval()
    y = torch.arange(60) % 3
    X[:, 1] += y.float().view(-1, 1, 1)
    task = {
        "name": "tiny",
        "y": y,
        "pool_idx": np.arange(45),
        "test_idx": np.arange(45, 60),
        "pooled": {s: torch.randn(60, 4) for s in ("a", "b", "pooled")},
        "map": X,
        "pixels": X.flatten(1),
        "images": X[:, :1].repeat(1, 1, 2, 2),
        "flip": False,
    }
    before = [m.state_dict() for m in (tail, second)]
    before = [{k: v.clone() for k, v in sd.items()} for sd in before]
    grid_row = next(
        r
        for r in transfer.transfer_grid(task, [tail, second], (3,), 2, seed=0)
        if r["strategy"] == transfer.FINE_TUNED[0]
    )
    sweep = transfer.stage_sweep(task, [tail, second], 3, 2, (1, 2), seed=0)
    assert [r["k"] for r in sweep] == [1, 2]
    assert {k: sweep[1][k] for k in ("val_before", "val_after", "test_before", "test_acc")} == {
        k: grid_row[k] for k in ("val_before", "val_after", "test_before", "test_acc")
    }, (sweep[1], grid_row)
    assert sweep[0]["val_before"] == grid_row["val_before"]  # every k starts from the same probe
    for module, sd in zip((tail, second), before):  # the caller's stages are copied, never trained
        assert all(torch.equal(v, module.state_dict()[k]) for k, v in sd.items())
        assert not module.training

    def no_training(*args, **kwargs):
        raise AssertionError("the cached sweep should have been reused")

    monkeypatch.setattr(transfer, "_sweep_row", no_training)
    assert transfer.stage_sweep(task, [tail, second], 3, 2, (1, 2), seed=0) == sweep
    with pytest.raises(ValueError, match="between 1 and 2"):
        transfer.stage_sweep(task, [tail, second], 3, 2, (0, 1))


def _tiny_grid_task(n=60, name="tiny"):
    tail, X, _, _ = _tiny_tail_task(n=n)
    y = torch.arange(n) % 3
    X[:, 1] += y.float().view(-1, 1, 1)
    g = torch.Generator().manual_seed(1)
    pooled = {
        s: torch.randn(n, 4, generator=g) + y.view(-1, 1).float() for s in ("a", "b", "pooled")
    }
    task = {
        "name": name,
        "y": y,
        "pool_idx": np.arange(45),
        "test_idx": np.arange(45, n),
        "pooled": pooled,
        "map": X,
        "pixels": X.flatten(1),
        "images": X[:, :1].repeat(1, 1, 2, 2),
        "flip": False,
        "tail_epochs": 3,
    }
    return task, tail


def test_grid_runs_in_worker_processes_give_the_serial_numbers_and_fill_the_cache(
    tmp_path, monkeypatch
):
    """Notebook 04 computes its grid's independent runs (and the sweep's k) in one process per CPU
    (issue 27 §6): every row, the fine-tuning curves included, is what a serial run in this process
    gives, in the order asked; the second call loads every entry without training."""
    from utils import transfer

    (breeds, breeds_tail), (digits, digits_tail) = _tiny_grid_task(), _tiny_grid_task(name="other")
    second = nn.Sequential(nn.Conv2d(8, 8, 1), nn.BatchNorm2d(8), nn.ReLU()).eval()
    runs = [
        (task, tails, (2, 3), 2, seed)
        for seed in (0, 1)
        for task, tails in ((breeds, [breeds_tail]), (digits, [digits_tail, second]))
    ]
    without_time = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731

    monkeypatch.setenv("PTM_CACHE", str(tmp_path / "serial"))
    serial = [
        row
        for task, tails, sizes, val, seed in runs
        for row in transfer.transfer_grid(task, tails, sizes, val, seed=seed, cached=False)
    ]
    sweep_serial = transfer.stage_sweep(digits, [digits_tail, second], 3, 2, (1, 2), cached=False)

    monkeypatch.setenv("PTM_CACHE", str(tmp_path / "parallel"))
    sweeps = [(digits, [digits_tail, second], 3, 2, (1, 2), 0)]  # the sweep's k, in the same pool
    parallel = transfer.transfer_grids(runs, sweeps=sweeps, workers=2, progress=False)
    assert without_time(parallel) == without_time(serial)
    assert len(list((tmp_path / "parallel" / "arrays").glob("*.pt"))) == 2 * 2 * 2 + 2

    def no_training(*args, **kwargs):
        raise AssertionError("the cached rows should have been reused")

    monkeypatch.setattr(transfer, "_grid_rows", no_training)
    monkeypatch.setattr(transfer, "_sweep_row", no_training)
    sweep = transfer.stage_sweep(digits, [digits_tail, second], 3, 2, (1, 2), workers=2)
    assert without_time(sweep) == without_time(sweep_serial)
    assert transfer.transfer_grids(runs, workers=2, progress=False) == parallel
    with pytest.raises(ValueError, match="between 1 and 2"):
        transfer.transfer_grids(runs, sweeps=[(digits, [digits_tail, second], 3, 2, (3,), 0)])


INTERRUPTED_GRID = """
import sys
import numpy as np, torch
from torch import nn
from utils import transfer
g = torch.Generator().manual_seed(0)
y = torch.arange(60) % 3
X = torch.randn(60, 4, 4, 4, generator=g)
task = {"name": "endless", "y": y, "pool_idx": np.arange(45), "test_idx": np.arange(45, 60),
        "pooled": {s: torch.randn(60, 4, generator=g) for s in ("a", "b", "pooled")}, "map": X,
        "pixels": X.flatten(1), "images": X[:, :1], "flip": False, "tail_epochs": 100000}
tail = nn.Sequential(nn.Conv2d(4, 8, 1), nn.BatchNorm2d(8), nn.ReLU()).eval()
runs = [(task, [tail], (3, 4), 2, seed) for seed in range(3)]
if __name__ == "__main__":  # a spawned worker imports this file: it must not start a grid itself
    transfer.transfer_grids(runs, workers=2, progress=False)
"""


def _cmdline(process) -> str:
    import psutil

    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # it ended meanwhile
        return ""


def test_an_interrupted_grid_leaves_no_worker_process_behind(tmp_path):
    """A student who interrupts notebook 04's grid cell (Jupyter sends SIGINT to the kernel) stops
    its worker processes too: none keeps a core busy behind the student's back."""
    import signal
    import subprocess
    import sys
    import time
    from contextlib import suppress
    from pathlib import Path

    import psutil

    script = tmp_path / "grid.py"
    script.write_text(INTERRUPTED_GRID)
    env = {
        **os.environ,
        "PTM_CACHE": str(tmp_path / "cache"),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    proc = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    workers, alive = [], []
    try:
        parent, deadline = psutil.Process(proc.pid), time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            workers = [c for c in parent.children() if "spawn_main" in _cmdline(c)]
        assert len(workers) == 2, "the grid should have started two worker processes"
        time.sleep(2)  # the workers are training
        assert all(w.is_running() for w in workers) and proc.poll() is None
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        _, alive = psutil.wait_procs(workers, timeout=30)
    finally:  # the test owns its processes: nothing of it outlives it, pass or fail
        for p in [proc, *workers]:
            with suppress(OSError, psutil.Error):
                p.kill()
    assert proc.returncode != 0 and b"KeyboardInterrupt" in err, err[-2000:]
    assert b"died" not in out + err, (out + err)[-2000:]  # no worker had died before the interrupt
    assert not alive, f"worker processes left running: {alive}"


def test_paired_difference_is_seed_by_seed():
    """Notebook 04 judges a difference by the standard error of the paired (same seed)
    differences."""
    from utils import transfer

    grid = [
        {"task": "t", "train_per_class": 5, "strategy": s, "seed": k, "test_acc": a}
        for s, accs in (("A", [0.60, 0.80, 0.70]), ("B", [0.58, 0.77, 0.69]))
        for k, a in enumerate(accs)
    ]
    grid.append(
        {"task": "t", "train_per_class": 50, "strategy": "A", "seed": 0, "test_acc": 0.1}
    )  # another cell
    mean, se, seeds = transfer.paired_difference(grid, "t", 5, "A", "B")
    d = np.array([0.02, 0.03, 0.01])
    assert seeds == 3 and abs(mean - 0.02) < 1e-9 and abs(se - d.std(ddof=1) / np.sqrt(3)) < 1e-9
    unpaired = np.sqrt(
        np.var([0.60, 0.80, 0.70], ddof=1) / 3 + np.var([0.58, 0.77, 0.69], ddof=1) / 3
    )
    assert se < unpaired / 5, "pairing removes the split's noise, which both strategies share"


def test_the_grids_recipe_key_follows_the_code_not_its_prose(tmp_path):
    """A cached grid row is kept while only comments and docstrings change, and recomputed when code
    does (``transfer._recipe`` keys on each module's syntax tree without docstrings)."""
    from utils import transfer

    base = 'def f(x):\n    """Scale x."""\n    return 2 * x  # twice\n'
    variants = {
        "reworded": (
            'def f(x):\n    """Multiply x\n    by two."""\n    # the factor\n    return 2 * x\n'
        ),
        "code": 'def f(x):\n    """Scale x."""\n    return 3 * x  # twice\n',
    }
    (tmp_path / "base.py").write_text(base)
    keys = {"base": transfer._code(tmp_path / "base.py")}
    for name, text in variants.items():
        (tmp_path / f"{name}.py").write_text(text)
        keys[name] = transfer._code(tmp_path / f"{name}.py")
    assert keys["reworded"] == keys["base"] and keys["code"] != keys["base"]
