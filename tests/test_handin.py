"""Handing a notebook in (utils/handin.py, the submit cell): the zip holds the right notebook, and
it grades.

The end-to-end test plays a local student: the release's notebooks/ folder (four notebooks side by
side, where otter 7 alone cannot tell which one is running), the solution's answers saved in the
notebook, the setup cell and the submit cell run in a real kernel with nbclient, and the zip it
writes graded with ``python -m autograder grade``.
"""

import os
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest
from notebook_helpers import execute, fill_answers, load_built, outputs_text

from autograder import REPO
from autograder.grading import sandbox, store
from utils import handin

STEM = "01_ols_raw_pixels"
TESTS = f"tests/{STEM}"


def _submit_cell(nb):
    cell = next(
        c for c in nb.cells if c.cell_type == "code" and c.source.startswith("SUBMIT = False")
    )
    return nbformat.v4.new_code_cell(cell.source.replace("SUBMIT = False", "SUBMIT = True", 1))


def _notebook(path, tests=TESTS):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f'TESTS = "{tests}"  # setup')])
    nbformat.write(nb, str(path))
    return path


def test_the_built_name_is_found_among_the_other_notebooks(tmp_path):
    for stem in (STEM, "02_logistic_regression_edges", "03_pretrained_features"):
        _notebook(tmp_path / f"{stem}.ipynb", f"tests/{stem}")
    assert handin.notebook_file(TESTS, {}, tmp_path) == tmp_path / f"{STEM}.ipynb"


def test_a_renamed_copy_saved_last_is_the_one_zipped(tmp_path):
    built, copy = _notebook(tmp_path / f"{STEM}.ipynb"), _notebook(tmp_path / f"{STEM}-Copy1.ipynb")
    os.utime(built, (1_000_000, 1_000_000))
    assert handin.notebook_file(TESTS, {}, tmp_path) == copy


def test_the_front_ends_path_wins_when_the_file_exists(tmp_path, monkeypatch):
    _notebook(tmp_path / f"{STEM}.ipynb")
    mine = _notebook(tmp_path / "my work.ipynb", "tests/something else")
    monkeypatch.setenv("JPY_SESSION_NAME", str(mine))  # JupyterLab, Notebook 7, nbclassic
    assert handin.notebook_file(TESTS, {}, tmp_path) == mine
    vscode = _notebook(tmp_path / "vscode.ipynb", "tests/x")
    assert handin.notebook_file(TESTS, {"__vsc_ipynb_file__": str(vscode)}, tmp_path) == vscode
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "renamed since.ipynb"))  # stale: ignored
    assert handin.notebook_file(TESTS, {}, tmp_path) == tmp_path / f"{STEM}.ipynb"


def test_no_notebook_of_this_assignment_says_how_to_export_by_name(tmp_path):
    _notebook(tmp_path / "02_logistic_regression_edges.ipynb", "tests/02_logistic_regression_edges")
    with pytest.raises(
        handin.NotebookNotFound,
        match=r'grader\.export\("PATH/TO/YOUR/01_ols_raw_pixels'
        r'\.ipynb", pdf=False\)',
    ):
        handin.notebook_file(TESTS, {}, tmp_path)


def test_an_error_that_is_not_colabs_is_not_hidden(tmp_path, monkeypatch):
    from utils import colab

    class Grader:
        def export(self, nb_path, export_path, pdf):
            raise RuntimeError("disk full")

    _notebook(tmp_path / f"{STEM}.ipynb")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RuntimeError, match="disk full"):
        colab.submit(Grader(), TESTS)


def test_when_otter_refuses_colab_the_submit_cell_prints_the_line(tmp_path, monkeypatch, capsys):
    from utils import colab

    class Grader:
        def export(self, nb_path, export_path, pdf):
            raise RuntimeError("This method is not compatible with Google Colab")

    _notebook(tmp_path / f"{STEM}.ipynb")
    monkeypatch.chdir(tmp_path)
    colab.submit(Grader(), TESTS)
    assert "Download .ipynb saves 01_ols_raw_pixels.ipynb" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.skipif(not sandbox.bwrap_status()[0], reason=sandbox.bwrap_status()[1])
def test_submit_cell_in_the_release_writes_a_zip_that_grades_full_marks(student_release, tmp_path):
    """A local student: answers saved in notebooks/01_ols_raw_pixels.ipynb of the release (three
    other notebooks beside it), the setup and submit cells run in a kernel; `grade` scores the zip
    in full."""
    release = tmp_path / "release"
    shutil.copytree(student_release, release, ignore=shutil.ignore_patterns(".git"))
    folder = release / "notebooks"
    solution, _ = load_built(STEM)
    student = nbformat.read(str(folder / f"{STEM}.ipynb"), as_version=4)
    answered = fill_answers(student, solution)
    nbformat.write(answered, str(folder / f"{STEM}.ipynb"))  # what the student saved
    assert len(list(folder.glob("*.ipynb"))) == 4
    setup = next(c for c in answered.cells if c.cell_type == "code")
    ran, _ = execute(
        nbformat.v4.new_notebook(cells=[setup, _submit_cell(answered)], metadata=answered.metadata),
        cwd=folder,
        timeout=300,
    )
    said = outputs_text(nbformat.v4.new_notebook(cells=[ran.cells[-1]]))
    (zip_path,) = folder.glob(f"{STEM}_*.zip")
    assert f"Wrote {zip_path.name}" in said and f"holds {STEM}.ipynb" in said, said
    with zipfile.ZipFile(zip_path) as zf:
        notebooks = [n for n in zf.namelist() if n.endswith(".ipynb")]
        assert notebooks == [f"{STEM}.ipynb"], zf.namelist()
        sent = nbformat.reads(zf.read(notebooks[0]).decode(), as_version=4)
    assert [c.source for c in sent.cells] == [c.source for c in answered.cells]
    subs = tmp_path / "submissions" / "ana"
    subs.mkdir(parents=True)
    shutil.copy2(zip_path, subs / zip_path.name)
    out = tmp_path / "grades"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(subs.parent),
            "--out",
            str(out),
            "--jobs",
            "1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (row,) = store.read_rows(out / "grades.csv").values()
    assert row["status"] == "graded" and row["assignment"] == STEM, row
    assert float(row["total"]) == float(row["maximum"]) > 0, row
