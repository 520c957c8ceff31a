"""``python -m autograder bench`` (``make bench``): speed figures into build/bench.json.

Measured in one run, on whatever machine runs it (the figures say which):

- ``extract_ratio``: throughput of ``utils.train.extract_features`` against a
  minimal hand-written torch loop over the same images (goal >= 0.95).
- ``epoch_ratio``: one training epoch through ``utils.train.train_one_epoch``
  against a minimal hand-written loop on the same tensors (goal >= 0.95).
- ``cache_speedup``: first extraction over a cached second one (goal >= 20).
- ``grade_seconds.<stem>``: seconds for otter alone to grade the solution of each notebook.
- ``grade_seconds_max``: the slowest submission of the committed samples (every
  notebook: full, partial, broken) through the sandboxed grader, both stages,
  one submission at a time (goal <= 15 s per submission); ``grade_seconds_samples``
  has each one, ``grade_stages_samples`` the seconds, CPU seconds and peak
  memory of its run and judge stages, ``grade_stage_max`` the largest of each.
- ``batch_vs_serial``: 40 submissions of notebook 01, ``--jobs 2`` against
  ``otter run`` one after another (goal: batch wall time <= 0.6 x serial).
- ``submissions_per_minute``: one sandboxed batch of 100 copies of notebook 01's samples and 20 of
  notebook 03's at ``--jobs 2``: per notebook, submissions graded per minute of the batch's wall
  time (goal for 01: >= 50 on the 2-core machine), with the load average before and after (quick
  mode: 10 and 2 copies).
- ``notebook_seconds.<stem>``: each solution notebook end to end on the real
  data, ``cold`` (empty feature cache) and ``warm`` (a student's second run);
  goal <= 180 s.
- ``colab_notebook_seconds.<stem>``: each solution notebook on the stand-in of Colab's published
  runtime (tools/colab_runtime.py: Python 3.13, Colab's versions), in the simulated Colab kernel,
  cold as on a fresh Colab runtime: the setup cell clones the release and installs what Colab lacks,
  the feature cache and torch hub are empty (goal <= 480 s each, issue 20). Beside
  ``notebook_seconds``.
- ``gpu``: AMP against fp32 figures from benchmarks/gpu_check.py when CUDA is present.

Each pair is timed alternately, best of ``repeats``, so that a busy machine
slows both sides alike.

Two modes, both written to build/bench.json with ``mode`` saying which ran:

- *quick* (``make bench``, the default): every figure above on a smaller workload (one repeat, 64
  test images for the extraction figures, notebooks 01 and 02 once each, notebook 01's samples, 6
  submissions for ``batch_vs_serial``), under a time budget
  (``--budget``, 420 s, leaving room for the step that is running when it runs out): a step that
  would start after the budget is spent is recorded under ``skipped``, and a notebook's cells share
  what is left, so the bench finishes on a loaded 2-core machine;
- *full* (``make bench-full``, ``--full``): the workloads above, no budget (the figures of
  docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder import BUILD, REPO, solution_path, zip_path

QUICK = {
    "repeats": 1,
    "extract_images": 64,
    "epoch_images": 64,
    "notebooks": ("01_ols_raw_pixels", "02_logistic_regression_edges"),
    "notebook_runs": 1,
    "sample_stems": ("01_ols_raw_pixels",),
    "grade_stems": ("01_ols_raw_pixels",),
    "submissions": 6,
    "budget": 420,
    "throughput": {"01_ols_raw_pixels": 10, "03_pretrained_features": 2},
}
FULL = {
    "repeats": 2,
    "extract_images": None,
    "epoch_images": 128,
    "notebooks": None,
    "notebook_runs": 2,
    "sample_stems": None,
    "grade_stems": None,
    "submissions": 40,
    "budget": None,
    "throughput": {"01_ols_raw_pixels": 100, "03_pretrained_features": 20},
}


class Budget:
    """Seconds left to the bench (None: no limit); ``spent(why)`` records a step it skipped."""

    def __init__(self, seconds):
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.seconds, self.skipped = seconds, {}

    def left(self):
        return None if self.deadline is None else self.deadline - time.monotonic()

    def allows(self, step, needs=0.0):
        """Whether ``step`` may start (at least ``needs`` seconds left); a refused step is
        recorded."""
        left = self.left()
        if left is None or left > needs:
            return True
        self.skipped[step] = f"not run: {left:.0f} s of the {self.seconds:g} s budget left"
        return False


def _best(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _pair(utils_fn, hand_fn, repeats, check=None):
    """Best time of each, interleaved: (utils seconds, hand seconds); ``check(utils out, hand out)``
    on the warm-up."""
    hand_out, utils_out = (
        hand_fn(),
        utils_fn(),
    )  # warm-up: first-call costs (allocations, file cache) hit neither side
    if check is not None:
        check(utils_out, hand_out)
    t_utils, t_hand = [], []
    for _ in range(repeats):
        t_hand.append(_best(hand_fn, 1))
        t_utils.append(_best(utils_fn, 1))
    return min(t_utils), min(t_hand)


def bench_extract(backbone, repeats=2, images=None):
    """utils' extraction against a hand loop; ``images``: the first n test images only (quick mode),
    else the split.

    On the whole split "ours" is ``train.extract_features``; on a subset it is
    ``train.compute_features``, the code ``extract_features`` runs below its cache, and the cache is
    timed through ``utils.cache`` directly.
    """
    import torch
    from torch.utils.data import DataLoader, Subset

    from utils import cache, data, train

    ds = data.pets_dataset("test", transform=backbone.transform, draft=train.DRAFT)
    if images is not None:
        ds = Subset(ds, range(min(images, len(ds))))
    model = backbone.model.eval()

    def hand():
        feats = []
        with torch.inference_mode():
            for x, _ in DataLoader(ds, batch_size=64):
                feats.append(model.forward_head(model.forward_features(x), pre_logits=True))
        return torch.cat(feats)

    def ours():
        if images is None:
            return train.extract_features(backbone, "test", use_cache=False, progress=False)[0]
        return train.compute_features(backbone, train.make_loader(ds, 64), progress=False)[0]

    def cached():
        if images is None:
            return train.extract_features(backbone, "test", progress=False)
        return cache.load_or_compute(
            "features", cache.key("bench-subset", backbone.name, images), lambda: {"X": ours()}
        )

    def agree(mine, theirs):
        assert torch.allclose(theirs, mine, atol=1e-4), "utils features differ from the hand loop's"

    t_utils, t_hand = _pair(ours, hand, repeats, agree)
    saved = os.environ.get("PTM_CACHE")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PTM_CACHE"] = tmp  # an empty cache: the first call computes, the next ones load
        first = _best(cached, 1)
        second = _best(cached, 3)
    if saved is None:
        os.environ.pop("PTM_CACHE")
    else:
        os.environ["PTM_CACHE"] = saved
    return {
        "extract_ratio": t_hand / t_utils,
        "extract_images_per_s": len(ds) / t_utils,
        "extract_hand_images_per_s": len(ds) / t_hand,
        "cache_speedup": first / second,
        "extract_first_s": first,
        "extract_cached_s": second,
        "extract_images": len(ds),
    }


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
    return {
        "epoch_ratio": t_hand / t_utils,
        "epoch_images_per_s": n / t_utils,
        "epoch_hand_images_per_s": n / t_hand,
    }


def bench_grading(n=40, jobs=2, grade_stems=None, sample_stems=None, budget=None, throughput=None):
    from autograder import check

    budget = budget or Budget(None)
    stems = grade_stems or [m.stem for m in check.masters()]
    figures = {
        "grade_seconds": {
            s: check.time_grade_one(s) for s in stems if budget.allows(f"grade_seconds.{s}", 45)
        }
    }
    if budget.allows("grade_seconds_samples", 30 * len(sample_stems or stems) + 30):
        figures.update(bench_samples(stems=sample_stems))
    if budget.allows("batch_vs_serial", 25 * n):  # otter run one by one is the slow half
        figures["batch_vs_serial"] = bench_batch_vs_serial(n=n, jobs=jobs)
    throughput = throughput or {}
    if throughput and budget.allows("submissions_per_minute", 6 * sum(throughput.values())):
        figures["submissions_per_minute"] = bench_throughput(throughput, jobs=jobs)
    return figures


def bench_throughput(copies, jobs=2):
    """One sandboxed batch of ``copies`` ({stem: how many}) of each notebook's committed samples,
    ``--jobs``: submissions per minute of the batch's wall time, per notebook (the rows finish
    interleaved, so each notebook's figure is its count over the wall time of the rows of that
    notebook) and for the whole batch."""
    from autograder.demo import SAMPLES
    from autograder.grading import batch, sandbox

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    work = Path(tempfile.mkdtemp(prefix="ptm-bench-"))
    try:
        subs = work / "subs"
        subs.mkdir()
        for stem, count in copies.items():
            kinds = sorted(SAMPLES.glob(f"{stem}-*.ipynb"))
            for i in range(count):
                shutil.copy(
                    kinds[i % len(kinds)],
                    subs / f"{stem}-{i:03d}-{kinds[i % len(kinds)].stem}.ipynb",
                )
        start = time.monotonic()
        rows = batch.grade([str(subs)], work / "out", jobs=jobs, quiet=True)
        wall = time.monotonic() - start
        per = {stem: sum(1 for r in rows.values() if r["assignment"] == stem) for stem in copies}
        busy = {
            stem: sum(float(r["seconds"]) for r in rows.values() if r["assignment"] == stem)
            for stem in copies
        }
        total_busy = sum(busy.values()) or 1.0
        out = {
            "jobs": jobs,
            "copies": dict(copies),
            "wall_s": round(wall, 1),
            "all": round(60 * len(rows) / wall, 1),
            # each notebook's share of the batch's wall time, in proportion to its rows' seconds
            "per_notebook": {
                stem: round(60 * per[stem] / (wall * busy[stem] / total_busy), 1)
                for stem in copies
                if per[stem] and busy[stem]
            },
            "statuses": sorted({r["status"] for r in rows.values()}),
            "sandbox": "bwrap" if sandbox.bwrap_status()[0] else "none",
            "cpus": os.cpu_count(),
            "load_average_before": load,
            "load_average_after": os.getloadavg()[0] if load is not None else None,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def bench_samples(jobs=1, stems=None):
    """Every committed sample through the sandboxed grader: seconds per submission (goal <= 15).

    One submission at a time by default, so that each figure is the latency of
    one submission (its two stages run at once on the machine's cores); the
    throughput of ``--jobs 2`` is ``batch_vs_serial``. Also the seconds, CPU
    seconds and peak memory of each stage (``grade_stages_samples``) and the
    largest of each over the samples (``grade_stage_max``).
    """
    from autograder.demo import SAMPLES
    from autograder.grading import batch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    paths = (
        [str(SAMPLES)]
        if stems is None
        else [str(p) for s in stems for p in sorted(SAMPLES.glob(f"{s}-*.ipynb"))]
    )
    with tempfile.TemporaryDirectory(prefix="ptm-bench-") as tmp:
        rows = batch.grade(paths, Path(tmp) / "out", jobs=jobs, quiet=True)
        stages = json.loads((Path(tmp) / "out" / "timings.json").read_text())
    seconds = {r["id"]: float(r["seconds"]) for r in rows.values()}
    worst = {}
    for entry in stages.values():
        for stage, figures in entry.items():
            for key, value in figures.items():
                if value is not None:
                    name = f"{stage}_{key}"
                    worst[name] = max(worst.get(name, value), value)
    return {
        "grade_seconds_samples": seconds,
        "grade_seconds_max": max(seconds.values(), default=None),
        "grade_statuses_samples": {r["id"]: r["status"] for r in rows.values()},
        "grade_stages_samples": stages,
        "grade_stage_max": worst,
        "grade_samples_setup": {
            "jobs": jobs,
            "load_average_before": load,
            "load_average_after": os.getloadavg()[0] if load is not None else None,
        },
    }


def bench_batch_vs_serial(n=40, jobs=2):
    """``n`` notebook-01 samples graded by ``grade --jobs`` vs one plain ``otter run`` after
    another.

    Returns wall times, submissions per minute, their ratio (goal <= 0.6) and
    whether both ways gave the same totals.
    """
    from autograder.demo import SAMPLES
    from autograder.grading import batch, sandbox

    stem = "01_ols_raw_pixels"
    kinds = sorted(SAMPLES.glob(f"{stem}-*.ipynb"))
    work = Path(tempfile.mkdtemp(prefix="ptm-bench-"))
    subs = work / "subs"
    subs.mkdir()
    for i in range(n):
        shutil.copy(kinds[i % len(kinds)], subs / f"s{i:03d}-{kinds[i % len(kinds)].stem}.ipynb")
    start = time.monotonic()
    rows = batch.grade([str(subs)], work / "batch", assignment=stem, jobs=jobs, quiet=True)
    batch_s = time.monotonic() - start
    serial, start = {}, time.monotonic()
    for sub in sorted(subs.iterdir()):
        out = work / "serial" / sub.stem
        out.mkdir(parents=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "otter",
                "run",
                "-a",
                str(zip_path(stem)),
                "-o",
                str(out),
                str(sub),
            ],
            cwd=out,
            capture_output=True,
        )
        tests = json.loads((out / "results.json").read_text())["tests"]
        serial[sub.stem] = sum(t.get("score", 0) for t in tests)
    serial_s = time.monotonic() - start
    same = all(float(rows[k]["total"]) == v for k, v in serial.items())
    shutil.rmtree(work, ignore_errors=True)
    return {
        "n": n,
        "jobs": jobs,
        "batch_s": round(batch_s, 1),
        "serial_s": round(serial_s, 1),
        "ratio": round(batch_s / serial_s, 3),
        "batch_per_min": round(60 * n / batch_s, 2),
        "serial_per_min": round(60 * n / serial_s, 2),
        "same_scores": same,
        "sandbox": "bwrap" if sandbox.bwrap_status()[0] else "none",
        "cpus": os.cpu_count(),
    }


def bench_notebooks(paths=None, runs=2, budget=None, timeout=900):
    """Each solution notebook (``paths``: default, every master, built when stale) ``runs`` times:
    cold, then warm.

    A run that fails is recorded under ``error`` in words ("timed out after 600 s in cell 37",
    "kernel died in cell 12", "cell 5 raised ValueError: ...") and the next run goes on. With a
    ``budget``, a run starts only while time is left, and its cells share what is left.
    """
    if paths is None:
        from autograder import check

        stems = [m.stem for m in check.masters()]
        check.ensure_built(stems)
        paths = [solution_path(s) for s in stems]
    from autograder.nbrun import run_notebook

    budget = budget or Budget(None)

    seconds = {}
    saved = {k: os.environ.get(k) for k in ("PTM_CACHE", "PTM_RESULTS")}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PTM_CACHE"] = str(Path(tmp) / "cache")
        os.environ["PTM_RESULTS"] = str(Path(tmp) / "results.json")
        try:
            for path in map(Path, paths):
                stem = path.stem.replace("-solution", "")
                done = [
                    run_notebook(path, Path(tmp) / "out", timeout, budget.deadline)
                    for run in range(runs)
                    if budget.allows(f"notebook_seconds.{stem}.{('cold', 'warm')[min(run, 1)]}", 20)
                ]
                if done:
                    seconds[stem] = {
                        "cold": done[0]["seconds"],
                        "warm": done[-1]["seconds"] if len(done) > 1 else None,
                        "error": next((d["error"] for d in done if d["error"]), None),
                    }
        finally:
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return {"notebook_seconds": seconds}


def bench_colab(stems=None, timeout=1800):
    """Each solution, cold, on the Colab stand-in: a fresh session (thin venv, /content, caches) per
    notebook."""
    import nbformat
    from nbclient import NotebookClient

    from autograder import SOLUTIONS, build, release, setup_cell

    sys.path.insert(0, str(REPO / "tools"))
    import colab_runtime
    import colab_sim

    start = time.perf_counter()
    base = colab_runtime.ensure()
    seconds = {"stand_in_ready_s": round(time.perf_counter() - start, 1)}
    stems = stems or sorted(p.stem for p in SOLUTIONS.glob("0*.ipynb"))
    saved = os.environ.get("JUPYTER_PATH")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "release").mkdir()
        course = tmp / "release" / "ptm-course-release"
        release.release(course, repo_url=course.as_uri())
        try:
            for stem in stems:
                root = tmp / stem
                python = colab_runtime.layer(base, root / "venv")
                env = {
                    "PTM_CACHE": str(root / "cache"),
                    "TORCH_HOME": str(root / "torch"),
                    "PTM_RESULTS": str(root / "results.json"),
                }
                os.environ["JUPYTER_PATH"] = str(
                    colab_sim.write_kernelspec(root / "kernel", python, "colab", env)
                )
                build.build_one(SOLUTIONS / f"{stem}.ipynb", root / "nb", root / "dist")
                nb = nbformat.read(str(root / "dist" / f"{stem}-solution.ipynb"), as_version=4)
                released = nbformat.read(str(course / "notebooks" / f"{stem}.ipynb"), as_version=4)
                setup_cell.first_code_cell(nb).source = setup_cell.first_code_cell(released).source
                (root / "content").mkdir()
                began, error = time.perf_counter(), None
                try:
                    NotebookClient(
                        nb,
                        timeout=timeout,
                        kernel_name="colab",
                        resources={"metadata": {"path": str(root / "content")}},
                    ).execute()
                except Exception as err:  # noqa: BLE001 - recorded, the next notebook still runs
                    error = f"{type(err).__name__}: {str(err).strip().splitlines()[-1][:300]}"
                seconds[stem] = {"cold": round(time.perf_counter() - began, 1), "error": error}
        finally:
            os.environ.pop("JUPYTER_PATH", None) if saved is None else os.environ.__setitem__(
                "JUPYTER_PATH", saved
            )
    return {
        "colab_notebook_seconds": seconds,
        "colab_runtime": {"stand_in": str(base), **colab_runtime.NEAREST},
    }


def bench_gpu():
    import torch

    if not torch.cuda.is_available():
        return {
            "available": False,
            "note": "no CUDA device here; run benchmarks/gpu_check.py on a GPU machine",
        }
    from benchmarks import gpu_check

    return gpu_check.run()


def write(figures, path=None, groups=()):
    """Merge ``figures`` into bench.json; a failure recorded by an earlier run of one of ``groups``
    is dropped."""
    path = path or BUILD / "bench.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(path.read_text()) if path.exists() else {}
    failed = {g: why for g, why in old.get("failed", {}).items() if g not in groups}
    failed.update(figures.get("failed", {}))
    old.update(figures)
    old.pop("failed", None)
    if failed:
        old["failed"] = failed
    path.write_text(json.dumps(old, indent=2, sort_keys=True))
    return path


def main(argv=None):
    from autograder.nbrun import warnings_once

    with warnings_once():  # every kernel and grading process would print the same warnings again
        return _main(argv)


def _main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m autograder bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--full", action="store_true", help="the full workloads, no time budget (make bench-full)"
    )
    parser.add_argument(
        "--only",
        choices=["utils", "notebooks", "colab", "grading", "gpu"],
        action="append",
        help="run only these groups (default: all)",
    )
    parser.add_argument(
        "--submissions", type=int, help="submissions for batch_vs_serial (quick 6, full 40)"
    )
    parser.add_argument(
        "--budget", type=float, help="seconds for the whole bench (quick 420, full none)"
    )
    args = parser.parse_args(argv)
    mode = dict(FULL if args.full else QUICK)
    if args.submissions is not None:
        mode["submissions"] = args.submissions
    if args.budget is not None:
        mode["budget"] = args.budget
    budget = Budget(mode["budget"])
    # the Colab stand-in's cold runs take many minutes: the full mode (make bench-full), or --only
    # colab
    groups = args.only or ["utils", "notebooks", "grading", "gpu"] + (
        ["colab"] if args.full else []
    )
    sys.path.insert(0, str(REPO))
    import torch

    from utils import models

    figures = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        },
        "mode": "full" if args.full else "quick",
        "budget_s": mode["budget"],
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }

    def utils_group():
        backbone = models.load_backbone("efficientnet_lite0")
        out = bench_extract(backbone, repeats=mode["repeats"], images=mode["extract_images"])
        if budget.allows("epoch_ratio", 10):
            out.update(bench_epoch(backbone, n=mode["epoch_images"], repeats=mode["repeats"]))
        return out

    def notebooks_group():
        paths = None if mode["notebooks"] is None else _built(mode["notebooks"])
        return bench_notebooks(paths, runs=mode["notebook_runs"], budget=budget)

    runs = {
        "utils": utils_group,
        "notebooks": notebooks_group,
        "colab": bench_colab,
        "grading": lambda: bench_grading(
            n=mode["submissions"],
            grade_stems=mode["grade_stems"],
            sample_stems=mode["sample_stems"],
            budget=budget,
            throughput=mode["throughput"],
        ),
        "gpu": lambda: {"gpu": bench_gpu()},
    }
    start = time.monotonic()
    if (
        not args.only
    ):  # a whole run replaces the file: no figure of another mode or day stays behind
        (BUILD / "bench.json").unlink(missing_ok=True)
    path = write(figures, groups=groups)
    for group in groups:  # each group is written as soon as it is measured; a failure is recorded
        if budget.allows(group, 10):
            try:
                figures.update(runs[group]())
            except Exception as e:  # noqa: BLE001 - the bench must finish and say what failed
                figures.setdefault("failed", {})[group] = f"{type(e).__name__}: {str(e)[:300]}"
        figures["skipped"], figures["bench_seconds"] = (
            dict(budget.skipped),
            round(time.monotonic() - start, 1),
        )
        path = write(figures, groups=groups)
    print(json.dumps(figures, indent=2, sort_keys=True))
    print(f"written to {path} ({figures['mode']} mode, {figures['bench_seconds']:.0f} s)")
    return 0


def _built(stems):
    from autograder import check

    check.ensure_built(list(stems))
    return [solution_path(s) for s in stems]
