"""``python -m autograder bench`` (``make bench``): speed figures into build/bench.json.

Measured in one run, on whatever machine runs it (the figures say which):

- ``extract_ratio``: throughput of ``utils.train.extract_features`` against a
  minimal hand-written torch loop over the same images (goal >= 0.95).
- ``epoch_ratio``: one training epoch through ``utils.train.train_one_epoch``
  against a minimal hand-written loop on the same tensors (goal >= 0.95).
- ``cache_speedup``: first extraction over a cached second one (goal >= 20).
- ``grade_seconds.<stem>``: seconds to grade one submission of each notebook.
- ``batch_vs_serial``: 40 submissions of notebook 01, ``--jobs 2`` against
  ``otter run`` one after another (goal: batch wall time <= 0.6 x serial).
- ``notebook_seconds.<stem>``: each solution notebook end to end on the real
  data, ``cold`` (empty feature cache) and ``warm`` (a student's second run);
  goal <= 180 s.
- ``gpu``: AMP against fp32 figures from benchmarks/gpu_check.py when CUDA is present.

Each pair is timed alternately, best of ``repeats``, so that a busy machine
slows both sides alike.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from . import BUILD, REPO


def _best(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _pair(utils_fn, hand_fn, repeats):
    """Best time of each, interleaved: (utils seconds, hand seconds)."""
    hand_fn(), utils_fn()  # warm-up: first-call costs (allocations, file cache) hit neither side
    t_utils, t_hand = [], []
    for _ in range(repeats):
        t_hand.append(_best(hand_fn, 1))
        t_utils.append(_best(utils_fn, 1))
    return min(t_utils), min(t_hand)


def bench_extract(backbone, repeats=2):
    import torch
    from torch.utils.data import DataLoader
    from utils import data, train

    ds = data.pets_dataset("test", transform=backbone.transform, draft=train.DRAFT)
    model = backbone.model.eval()

    def hand():
        feats = []
        with torch.inference_mode():
            for x, _ in DataLoader(ds, batch_size=64):
                feats.append(model.forward_head(model.forward_features(x), pre_logits=True))
        return torch.cat(feats)

    def ours():
        return train.extract_features(backbone, "test", use_cache=False, progress=False)[0]

    assert torch.allclose(hand(), ours(), atol=1e-4), "utils features differ from the hand loop's"
    t_utils, t_hand = _pair(ours, hand, repeats)
    saved = os.environ.get("PTM_CACHE")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PTM_CACHE"] = tmp  # an empty cache: the first call computes, the next ones load
        first = _best(lambda: train.extract_features(backbone, "test", progress=False), 1)
        second = _best(lambda: train.extract_features(backbone, "test", progress=False), 3)
    if saved is None:
        os.environ.pop("PTM_CACHE")
    else:
        os.environ["PTM_CACHE"] = saved
    return {"extract_ratio": t_hand / t_utils, "extract_images_per_s": len(ds) / t_utils,
            "extract_hand_images_per_s": len(ds) / t_hand, "cache_speedup": first / second,
            "extract_first_s": first, "extract_cached_s": second}


def bench_epoch(backbone, n=128, batch_size=32, repeats=2):
    """Fine-tuning the last stage of the backbone on n preprocessed images."""
    import torch
    from torch import nn
    from utils import data, models, train

    ds = data.pets_dataset("trainval", transform=backbone.transform, draft=train.DRAFT)
    X = torch.stack([ds[i][0] for i in range(n)])
    y = torch.tensor(ds.targets[:n])
    loader = train.make_loader(torch.utils.data.TensorDataset(X, y), batch_size, shuffle=False)
    model = backbone.classifier(2)
    models.freeze_all_but(model, 1)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    cpu = torch.device("cpu")

    def hand():
        model.train()
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def ours():
        train.train_one_epoch(model, loader, loss_fn, optimizer, cpu, progress=False)

    t_utils, t_hand = _pair(ours, hand, repeats)
    return {"epoch_ratio": t_hand / t_utils, "epoch_images_per_s": n / t_utils,
            "epoch_hand_images_per_s": n / t_hand}


def bench_grading(n=40, jobs=2):
    from . import check, grade
    figures = {"grade_seconds": {m.stem: check.time_grade_one(m.stem) for m in check.masters()}}
    figures["batch_vs_serial"] = grade.bench_batch_vs_serial(n=n, jobs=jobs)
    return figures


def bench_notebooks():
    from . import DIST
    from .build import build, masters
    from .demo import run_notebook

    build()
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PTM_CACHE"] = str(Path(tmp) / "cache")
        os.environ["PTM_RESULTS"] = str(Path(tmp) / "results.json")
        for master in masters():
            runs = [run_notebook(DIST / f"{master.stem}-solution.ipynb", Path(tmp) / "out") for _ in range(2)]
            seconds[master.stem] = {"cold": runs[0]["seconds"], "warm": runs[1]["seconds"],
                                    "error": runs[0]["error"] or runs[1]["error"]}
    return {"notebook_seconds": seconds}


def bench_gpu():
    import torch
    if not torch.cuda.is_available():
        return {"available": False, "note": "no CUDA device here; run benchmarks/gpu_check.py on a GPU machine"}
    from benchmarks import gpu_check
    return gpu_check.run()


def write(figures, path=None):
    path = path or BUILD / "bench.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(path.read_text()) if path.exists() else {}
    old.update(figures)
    path.write_text(json.dumps(old, indent=2, sort_keys=True))
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["utils", "notebooks", "grading", "gpu"], action="append",
                        help="run only these groups (default: all)")
    parser.add_argument("--submissions", type=int, default=40)
    args = parser.parse_args(argv)
    groups = args.only or ["utils", "notebooks", "grading", "gpu"]
    import sys
    sys.path.insert(0, str(REPO))
    import torch
    from utils import models

    figures = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                           "torch_threads": torch.get_num_threads(),
                           "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None},
               "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if "utils" in groups:
        backbone = models.load_backbone("efficientnet_lite0")
        figures.update(bench_extract(backbone))
        figures.update(bench_epoch(backbone))
    if "notebooks" in groups:
        figures.update(bench_notebooks())
    if "grading" in groups:
        figures.update(bench_grading(n=args.submissions))
    if "gpu" in groups:
        figures["gpu"] = bench_gpu()
    path = write(figures)
    print(json.dumps(figures, indent=2, sort_keys=True))
    print(f"written to {path}")
    return 0
