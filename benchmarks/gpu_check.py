"""GPU check: AMP against fp32 throughput and correctness of utils.train on CUDA.

Run on a machine with a CUDA GPU (``python benchmarks/gpu_check.py``, or as
part of ``make bench``). It needs no dataset: inputs are synthetic, sized like
the notebooks' (224 x 224 RGB, batch 64). It checks that

- the AMP forward (bf16 or fp16, channels_last) agrees with fp32 (features'
  cosine similarity > 0.99, same ImageNet top-1 on most images),
- a fine-tuning step through ``utils.train.train_one_epoch`` lowers the loss on
  CUDA with AMP,

and measures images/s of feature extraction and of a training epoch in fp32
and in AMP. It prints JSON and writes ``build/gpu_check.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _throughput(fn, n_images, warmup=2, iters=5):
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    torch.cuda.synchronize()
    return n_images * iters / (time.perf_counter() - start)


def run(batch=64):
    import torch
    from torch import nn

    from utils import models, train

    device = torch.device("cuda")
    backbone = models.load_backbone("efficientnet_lite0")
    train.prepare_model(backbone.model.eval(), device)  # in place: the stages share its modules
    g = torch.Generator().manual_seed(0)
    x = train.to_device(torch.randn(batch, 3, 224, 224, generator=g), device)
    out = {"device": torch.cuda.get_device_name(), "amp_dtype": str(train.amp_dtype(device))}
    with torch.inference_mode():
        f32 = backbone.features(x).float()
        with train.autocast(device):
            famp = backbone.features(x).float()
        cos = nn.functional.cosine_similarity(f32, famp).min().item()
        top_same = (
            (backbone.head(f32).argmax(1) == backbone.head(famp).argmax(1)).float().mean().item()
        )

        def fwd_fp32():
            backbone.features(x)

        def fwd_amp():
            with train.autocast(device):
                backbone.features(x)

        out["extract_fp32_images_per_s"] = _throughput(fwd_fp32, batch)
        out["extract_amp_images_per_s"] = _throughput(fwd_amp, batch)
    out["amp_min_cosine"] = cos
    out["amp_top1_agreement"] = top_same
    out["extract_amp_speedup"] = out["extract_amp_images_per_s"] / out["extract_fp32_images_per_s"]

    clf = backbone.classifier(2)
    models.freeze_all_but(clf, 2)
    y = torch.randint(0, 2, (batch * 4,), generator=g)
    xs = torch.randn(batch * 4, 3, 224, 224, generator=g)
    loader = train.make_loader(torch.utils.data.TensorDataset(xs, y), batch, device=device)
    history = train.fit(clf, loader, num_epochs=3, lr=1e-3, device=device, progress=False)
    out["amp_fit_loss"] = history["train_loss"]
    opt = torch.optim.SGD([p for p in clf.parameters() if p.requires_grad], lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    out["epoch_amp_images_per_s"] = _throughput(
        lambda: train.train_one_epoch(clf, loader, loss_fn, opt, device, progress=False),
        len(xs),
        1,
        2,
    )
    saved = train.amp_dtype
    train.amp_dtype = lambda d: None  # the same loop in fp32
    try:
        out["epoch_fp32_images_per_s"] = _throughput(
            lambda: train.train_one_epoch(clf, loader, loss_fn, opt, device, progress=False),
            len(xs),
            1,
            2,
        )
    finally:
        train.amp_dtype = saved
    out["epoch_amp_speedup"] = out["epoch_amp_images_per_s"] / out["epoch_fp32_images_per_s"]
    out["ok"] = (
        cos > 0.99 and top_same >= 0.9 and history["train_loss"][-1] < history["train_loss"][0]
    )
    return out


if __name__ == "__main__":
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check here", file=sys.stderr)
        sys.exit(2)
    result = run()
    (REPO / "build").mkdir(exist_ok=True)
    (REPO / "build" / "gpu_check.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["ok"] else 1)
