"""Colab, simulated faithfully on the build machine (no internet, no Google).

* The kernel is a real IPython kernel whose shell class lives in ``google.colab._shell``
  (a small launcher subclasses ``IPythonKernel`` with that ``shell_class``), so both the
  setup cell (``"google.colab" in sys.modules``) and otter's own Colab detection
  (``str(get_ipython())``) see Colab. The fake ``google/colab`` package is on a path
  only this kernel sees (its kernelspec's ``PYTHONPATH``).
* The working folder holds only the notebook, like Colab's ``/content``.
* The repo URL is the ``file://`` address of a student release built by
  ``python -m autograder release``; the data is pre-seeded through ``$PTM_DATA``.
"""

import os
import shutil
import sys

import nbformat
import pytest
from nbclient import NotebookClient
from notebook_helpers import outputs_text

from autograder import SOLUTIONS, build, setup_cell

sys.path.insert(0, str(build.REPO / "tools"))
import colab_sim  # noqa: E402

pytestmark = pytest.mark.slow
STEM = "01_ols_raw_pixels"


@pytest.fixture(scope="module")
def colab_kernel(tmp_path_factory):
    """The kernelspec name of the simulated Colab kernel (JUPYTER_PATH points at it for this
    module)."""
    path = colab_sim.write_kernelspec(
        tmp_path_factory.mktemp("colab-sim"), sys.executable, "colab-sim"
    )
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(path)
    yield "colab-sim"
    if old is None:
        os.environ.pop("JUPYTER_PATH")
    else:
        os.environ["JUPYTER_PATH"] = old


def run_in(folder, nb, kernel, allow_errors=False, timeout=600):
    """Execute ``nb`` as ``folder/<STEM>.ipynb`` (the folder holds only it) and return the executed
    notebook."""
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / f"{STEM}.ipynb"))
    assert [p.name for p in folder.iterdir()] == [f"{STEM}.ipynb"]
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()
    return nb


def only_setup(nb, url=None):
    """A notebook holding only ``nb``'s setup cell (with REPO_URL set to ``url`` when given)."""
    cell = nbformat.from_dict(setup_cell.first_code_cell(nb))
    if url is not None:
        cell.source = setup_cell.with_repo_url(cell.source, url)
    return nbformat.v4.new_notebook(cells=[cell], metadata=nb.metadata)


def error_text(nb):
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors, "the setup cell should have stopped with an error"
    return f"{errors[0].ename}: {errors[0].evalue}"


@pytest.fixture(scope="module")
def student_nb(student_release):
    return nbformat.read(str(student_release / "notebooks" / f"{STEM}.ipynb"), as_version=4)


def test_untouched_student_notebook_runs_to_the_end_on_colab(
    student_nb, student_release, colab_kernel, tmp_path
):
    content = tmp_path / "content"
    nb = run_in(content, student_nb, colab_kernel)
    setup = outputs_text(nbformat.v4.new_notebook(cells=[setup_cell.first_code_cell(nb)]))
    assert "packages: nothing to install" in setup, setup
    assert f"utils from {content / 'ptm-course' / 'utils'}" in setup, setup
    assert (content / "tests").is_symlink() and (
        content / "tests"
    ).resolve() == content / "ptm-course" / "notebooks" / "tests"
    assert (content / "ptm-course" / ".git").is_dir() and not list(content.glob(".ptm-course-*"))
    probe = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import otter.check.utils as u; "
                "print(u.IPythonInterpreter.COLAB.value.running(), type(get_ipython()).__module__)"
            )
        ]
    )
    out = outputs_text(run_in(tmp_path / "probe", probe, colab_kernel))
    assert out.split() == ["True", "google.colab._shell"], "otter's own detection must see Colab"


def test_solution_with_release_setup_cell_passes_every_check_on_colab(
    student_nb, colab_kernel, tmp_path
):
    build.build_one(SOLUTIONS / f"{STEM}.ipynb", tmp_path / "nb", tmp_path / "dist")
    solution = nbformat.read(str(tmp_path / "dist" / f"{STEM}-solution.ipynb"), as_version=4)
    setup_cell.first_code_cell(solution).source = setup_cell.first_code_cell(student_nb).source
    checks = [c for c in solution.cells if c.cell_type == "code" and "grader.check(" in c.source]
    assert len(checks) >= 5
    nb = run_in(tmp_path / "content", solution, colab_kernel)
    for cell in (c for c in nb.cells if c.cell_type == "code" and "grader.check(" in c.source):
        shown = outputs_text(nbformat.v4.new_notebook(cells=[cell]))
        assert "results: All test cases passed!" in shown, f"{cell.source}: {shown}"


def test_repo_url_that_does_not_clone_leaves_nothing(student_nb, colab_kernel, tmp_path):
    content = tmp_path / "content"
    nb = run_in(
        content,
        only_setup(student_nb, (tmp_path / "no-such-release").as_uri()),
        colab_kernel,
        allow_errors=True,
    )
    message = error_text(nb)
    assert (
        "could not clone" in message
        and "no-such-release" in message
        and "re-run this cell" in message
    )
    assert sorted(p.name for p in content.iterdir()) == [f"{STEM}.ipynb"], (
        "a failed clone must leave nothing"
    )


def test_no_repo_url_tells_the_student_what_to_do(student_nb, colab_kernel, tmp_path):
    """A student who opens a notebook built without release_url: what to do first, the instructor's
    fix last."""
    nb = run_in(tmp_path / "content", only_setup(student_nb, ""), colab_kernel, allow_errors=True)
    message = error_text(nb)
    student, _, instructor = message.partition("Instructors:")
    assert (
        "'Open in Colab' link your instructor shared" in student and "your own computer" in student
    )
    assert (
        "release_url" in instructor and "course.toml" in instructor and "release_url" not in student
    )


def test_partial_data_folder_is_named(student_nb, colab_kernel, pets_root, tmp_path, monkeypatch):
    partial = tmp_path / "partial"
    shutil.copytree(
        pets_root / "oxford-iiit-pet" / "annotations", partial / "oxford-iiit-pet" / "annotations"
    )
    (partial / "oxford-iiit-pet" / "images").mkdir()
    images = sorted((pets_root / "oxford-iiit-pet" / "images").iterdir())
    for p in images[: len(images) // 2]:
        (partial / "oxford-iiit-pet" / "images" / p.name).symlink_to(p)
    monkeypatch.setenv("PTM_DATA", str(partial))
    nb = run_in(tmp_path / "content", only_setup(student_nb), colab_kernel, allow_errors=True)
    message = error_text(nb)
    assert "course images of 'trainval' are missing" in message and str(partial) in message, message
    assert (
        tmp_path / "content" / "ptm-course" / "utils"
    ).is_dir()  # the clone itself is complete and kept


def test_notebook_opened_alone_says_where_it_belongs(student_nb, tmp_path):
    """Outside Colab, a notebook copied somewhere on its own (no utils/, no tests/)."""
    nb = run_in(tmp_path / "alone", only_setup(student_nb), "python3", allow_errors=True)
    message = error_text(nb)
    assert "needs the course's utils/ folder" in message and "notebooks/" in message, message


def test_missing_tests_folder_is_reported(student_nb, tmp_path):
    """A notebook next to utils/ but without tests/: the cell says grader.check cannot run."""
    folder = tmp_path / "no-tests"
    nb = nbformat.from_dict(only_setup(student_nb))
    folder.mkdir()
    (folder / "utils").symlink_to(build.REPO / "utils")
    nbformat.write(nb, str(folder / f"{STEM}.ipynb"))
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    assert "No tests/ folder next to this notebook" in outputs_text(nb)


# --- utils.colab.install: only what Colab lacks, without dependencies; nothing Colab ships is
# changed ---

COLAB_HAS = {
    "torch": "2.11.0+cpu",
    "torchvision": "0.26.0+cpu",
    "numpy": "2.1.3",
    "timm": "1.0.28",
    "ipywidgets": "7.7.1",
}


def test_install_list_is_only_what_is_missing():
    from utils import colab

    pins = colab.pinned(build.REPO / "requirements-colab.txt")
    wanted = colab.to_install(pins, have=COLAB_HAS.get)
    assert wanted == [f"{n}=={v}" for n, v in pins.items() if n != "timm"], (
        "Colab's timm 1.0.28 is kept"
    )
    assert (
        colab.to_install(dict(pins, ipywidgets="8.1.9", numpy="2.4.6"), have=COLAB_HAS.get)
        == wanted
    )


def test_install_never_lets_pip_resolve_and_reports_pip_failure(tmp_path, monkeypatch, capsys):
    from utils import colab

    reqs = tmp_path / "requirements-colab.txt"
    reqs.write_text("otter-grader==7.0.0\ntimm==1.0.31\nfica==0.4.1\n")
    monkeypatch.setattr(colab, "installed_version", COLAB_HAS.get)
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return type(
            "Done", (), {"returncode": len(calls) - 1, "stderr": "ERROR: no matching distribution"}
        )()

    monkeypatch.setattr(colab.subprocess, "run", fake_run)
    assert colab.install(reqs) == ["otter-grader==7.0.0", "fica==0.4.1"]
    assert calls[0][1:] == [
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "otter-grader==7.0.0",
        "fica==0.4.1",
    ]
    shown = capsys.readouterr().out
    assert (
        shown.count("\n") == 1
        and "installing otter-grader==7.0.0, fica==0.4.1" in shown
        and shown.endswith("done\n")
    )
    with pytest.raises(
        RuntimeError,
        match="(?s)pip could not install otter-grader==7.0.0.*no matching distribution",
    ):
        colab.install(reqs)
    monkeypatch.setattr(colab, "installed_version", lambda name: "1")
    assert colab.install(reqs) == [] and len(calls) == 2  # nothing missing: pip is not run


def test_missing_package_is_not_mistaken_for_a_missing_utils(student_nb, tmp_path):
    """utils/ is there but a package it needs is not installed: the cell says to install the
    packages."""
    folder = tmp_path / "no-package"
    (folder / "utils").mkdir(parents=True)
    (folder / "utils" / "__init__.py").write_text("")
    (folder / "utils" / "data.py").write_text("import ptm_package_that_is_not_installed\n")
    nb = run_in_plain(folder, only_setup(student_nb))
    message = error_text(nb)
    assert (
        "ptm_package_that_is_not_installed" in message
        and "pip install -r requirements.txt" in message
    )
    assert "needs the course's utils/ folder" not in message


def run_in_plain(folder, nb):
    """Execute ``nb`` in ``folder`` with the ordinary python3 kernel, letting errors through."""
    nbformat.write(nb, str(folder / f"{STEM}.ipynb"))
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    return nb


def test_no_data_downloads_with_make_datas_script(pets_root, tmp_path, monkeypatch, capsys):
    """No data anywhere: prepare runs the release's data/download.py (what `make data` runs), then
    checks."""
    from utils import colab, data

    monkeypatch.delenv("PTM_DATA")
    monkeypatch.setattr(data, "REPO_DATA", tmp_path / "repo" / "data")
    calls = []

    def fake_download(
        cmd, **kwargs
    ):  # offline stand-in for torchvision's download: the data appears
        calls.append(cmd)
        monkeypatch.setenv("PTM_DATA", str(pets_root))
        return type("Done", (), {"returncode": 0})()

    monkeypatch.setattr(colab.subprocess, "run", fake_download)
    assert colab.find_or_download_data(tmp_path / "repo") == pets_root
    assert calls == [[sys.executable, str(tmp_path / "repo" / "data" / "download.py")]]
    said = capsys.readouterr().out  # before the download: its size and where it goes
    assert "about 800 MB" in said and f"into {tmp_path / 'repo' / 'data'}" in said, said
    monkeypatch.setattr(
        colab.subprocess, "run", lambda cmd, **kw: type("Failed", (), {"returncode": 1})()
    )
    monkeypatch.delenv("PTM_DATA")
    with pytest.raises(RuntimeError, match="the download failed"):
        colab.find_or_download_data(tmp_path / "repo")


def _submit_cell(nb):
    cell = next(
        c for c in nb.cells if c.cell_type == "code" and c.source.startswith("SUBMIT = False")
    )
    return nbformat.v4.new_code_cell(cell.source.replace("SUBMIT = False", "SUBMIT = True", 1))


@pytest.mark.parametrize(
    "stem", sorted(p.stem for p in (build.REPO / "notebooks").glob("0*.ipynb"))
)
def test_every_notebook_has_the_submit_cell(stem):
    nb = nbformat.read(str(build.REPO / "notebooks" / f"{stem}.ipynb"), as_version=4)
    assert "colab.submit(grader, TESTS)" in _submit_cell(nb).source


def test_submit_on_colab_says_in_one_line_how_to_hand_in(student_nb, colab_kernel, tmp_path):
    """SUBMIT = True on Colab: one line (download the .ipynb, where to hand it in), never otter's
    raw RuntimeError."""
    nb = only_setup(student_nb)
    nb.cells.append(_submit_cell(student_nb))
    run_in(tmp_path / "content", nb, colab_kernel)
    shown = outputs_text(nbformat.v4.new_notebook(cells=[nb.cells[-1]])).strip()
    assert shown.count("\n") == 0 and "File → Download → Download .ipynb" in shown, shown
    assert f"{STEM}.ipynb" in shown and "hand in" in shown and "RuntimeError" not in shown
