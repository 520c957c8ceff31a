"""Build (or reuse) a stand-in of Google Colab's runtime: a Python 3.13 virtualenv at Colab's
versions.

Colab publishes what its runtime ships (``../shared/colab/pip-freeze.txt``, copied from Colab's own
``googlecolab/backend-info``). The stand-in installs :data:`NAMES` (every package the course,
otter's student-side API and the kernel import) with that file as uv's constraints, so each one, and
each of its dependencies that Colab also ships, comes at Colab's version. What cannot be installed
here at Colab's exact version is in :data:`NEAREST` (``tests/test_colab_runtime.py`` lists it in its
report).

The virtualenv is cached between runs on one machine, in
``$PTM_COLAB_RUNTIME_CACHE/colab-runtime-<key>`` (default ``~/.cache/ptm-course``), where ``<key>``
hashes the freeze file, this file's lists and the Python version: a warm CI reuses it; a new Colab
list builds a new one. It is built in a temporary folder and renamed into place only when complete.
Tests never install into it: :func:`layer` makes a thin virtualenv on top of it (a ``.pth`` line),
which the setup cell's pip installs into.

    python tools/colab_runtime.py  # prints the cached virtualenv's path (builds it when absent)
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FREEZE = Path(os.environ.get("PTM_COLAB_INFO", REPO.parent / "shared" / "colab")) / "pip-freeze.txt"
# Colab's Python is 3.13: $PTM_COLAB_PYTHON, else pyenv's 3.13.0 (the build machine's), else
# python3.13 on PATH.
PYTHON = os.environ.get("PTM_COLAB_PYTHON") or next(
    (
        p
        for p in ("/root/.pyenv/versions/3.13.0/bin/python3.13", shutil.which("python3.13"))
        if p and Path(p).exists()
    ),
    "python3.13",
)

# What the course (utils/, the notebooks), otter's student-side API (otter.Notebook, check,
# check_all, export) and the kernel import, every one shipped by Colab. Their dependencies follow.
NAMES = """
torch torchvision numpy scipy scikit-learn threadpoolctl matplotlib pillow tqdm
timm huggingface_hub safetensors pyyaml
ipykernel ipython ipywidgets widgetsnbextension jupyterlab_widgets notebook traitlets
jupyter_client jupyter_core pyzmq tornado debugpy matplotlib-inline ipython-genutils
nbformat nbconvert jsonschema jupytext dill wrapt pandas requests jinja2 click astunparse six
pip setuptools
""".split()

# Colab's entry -> what the stand-in has instead, and why.
NEAREST = {
    "python 3.13.15": "3.13.0 (the newest 3.13 that pyenv holds on the build machine)",
    "torch 2.11.0+cpu": "2.11.0 from PyPI, the CUDA build (download.pytorch.org's +cpu wheel is "
    "not reachable here); CUDA is never used, its runtime libraries below only let libtorch load",
    "torchvision 0.26.0+cpu": "0.26.0 from PyPI",
    "(no CUDA on Colab's CPU runtime)": "the CUDA runtime libraries torch 2.11.0 links against, "
    "at the versions already on this machine (torch asks for cudnn 9.19.0.56, "
    "nccl 2.28.9, cusparselt 0.8.0, cuda-toolkit 13.0.2); triton left out",
    "nvidia-nccl-cu13 2.31.2": "2.30.7 (the version on this machine, as above; "
    "the course never uses NCCL)",
}
# uv overrides: torch's CUDA libraries at the versions in this machine's wheel mirror and uv cache
# (no GB download), and no triton (Colab's +cpu torch has none).
OVERRIDES = """
nvidia-cudnn-cu13==9.24.0.43
nvidia-nccl-cu13==2.30.7
nvidia-cusparselt-cu13==0.8.1
nvidia-nvshmem-cu13==3.4.5
cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.0.3.0
cuda-bindings==13.5.0
triton; sys_platform == "never"
""".strip().splitlines()
SKIP = {"google-colab"}  # Colab's own package, a local tarball: the tests' kernel stands in for it
WHEEL_VERSION = re.compile(r"/[A-Za-z0-9_.]+?-([0-9][^-/]*?)(?:%2B|\+)[a-z0-9]+-cp")


def colab_versions(freeze: Path = FREEZE) -> dict[str, str]:
    """``{name: version}`` from Colab's ``pip freeze`` (``torch @ .../torch-2.11.0%2Bcpu-...whl`` ->
    2.11.0)."""
    versions = {}
    for line in freeze.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "==" in line:
            name, version = line.split("==", 1)
        elif " @ " in line:
            name, url = line.split(" @ ", 1)
            found = WHEEL_VERSION.search(url)
            if not found:
                continue  # a git or local-tarball install: no index version to take
            version = found.group(1)
        else:
            continue
        versions[canonical(name)] = version.strip()
    return {name: v for name, v in versions.items() if name not in SKIP}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def key(freeze: Path = FREEZE) -> str:
    text = "\n".join([freeze.read_text(), " ".join(NAMES), "\n".join(OVERRIDES), PYTHON])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cache_dir() -> Path:
    return Path(os.environ.get("PTM_COLAB_RUNTIME_CACHE", Path.home() / ".cache" / "ptm-course"))


def uv() -> list[str]:
    """uv, installed in the project's venv by tools/install_requirements.py."""
    here = Path(sys.executable).parent / "uv"
    if here.exists():
        return [str(here)]
    if shutil.which("uv"):
        return ["uv"]
    return [sys.executable, "-m", "uv"]


def index_options() -> tuple[list[str], dict[str, str]]:
    """pip's index settings (the build machine's mirrors) as uv options, like `make venv` uses
    them."""
    sys.path.insert(0, str(REPO / "tools"))
    import install_requirements as ir

    plan = ir.uv_options(ir.pip_settings(sys.executable))
    if isinstance(plan, str):
        raise RuntimeError(f"cannot build the Colab runtime with uv: {plan}")
    return plan


def build(target: Path) -> None:
    """Create the virtualenv in ``target`` (a fresh folder)."""
    if not shutil.which(PYTHON):
        raise RuntimeError(
            f"no Python 3.13 at {PYTHON!r} for the Colab stand-in: install one "
            "(pyenv install 3.13) or set PTM_COLAB_PYTHON to its path"
        )
    versions = colab_versions()
    options, env = index_options()
    env = {**os.environ, **env}
    subprocess.run(
        uv() + ["venv", "-q", "--seed", "--relocatable", "-p", PYTHON, str(target)],
        check=True,
        env=env,
    )
    with tempfile.TemporaryDirectory() as tmp:
        constraints, overrides = Path(tmp) / "colab.txt", Path(tmp) / "overrides.txt"
        overridden = {canonical(re.split(r"[\[=;]", line)[0]) for line in OVERRIDES}
        constraints.write_text(
            "".join(f"{n}=={v}\n" for n, v in versions.items() if n not in overridden)
        )
        overrides.write_text(
            "\n".join(
                OVERRIDES
                + [f"torch=={versions['torch']}", f"torchvision=={versions['torchvision']}"]
            )
            + "\n"
        )
        missing = [n for n in NAMES if canonical(n) not in versions]
        if missing:
            raise RuntimeError(f"{FREEZE} has no version of {missing}: update NAMES in {__file__}")
        subprocess.run(
            uv()
            + [
                "pip",
                "install",
                "-q",
                "--python",
                str(target / "bin" / "python"),
                *options,
                "-c",
                str(constraints),
                "--override",
                str(overrides),
                *[f"{n}=={versions[canonical(n)]}" for n in NAMES],
            ],
            check=True,
            env=env,
        )


def ensure() -> Path:
    """The cached stand-in virtualenv (built when absent); its path."""
    venv = cache_dir() / f"colab-runtime-{key()}"
    if (venv / "bin" / "python").exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".colab-runtime-", dir=venv.parent))
    try:
        build(tmp / "venv")
        os.rename(tmp / "venv", venv)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return venv


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def layer(base: Path, target: Path) -> Path:
    """A thin virtualenv in ``target`` that sees ``base``'s packages; pip installs into it, never
    into base.

    Returns its python. Packages pip adds land in ``target``; the base stays as Colab ships it."""
    # No --seed: the layer's pip is the base's (Colab's 24.1.2), found through the .pth line.
    subprocess.run(
        uv() + ["venv", "-q", "-p", str(base / "bin" / "python"), str(target)], check=True
    )
    (site_packages(target) / "_colab_runtime.pth").write_text(
        f"import site; site.addsitedir({str(site_packages(base))!r})\n"
    )
    return target / "bin" / "python"


if __name__ == "__main__":
    print(ensure())
