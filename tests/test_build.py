"""The assignment build: masters are well formed, share the setup cell, and rebuild byte for
byte."""

import filecmp
import shutil
import zipfile

import nbformat
import pytest
import yaml

from autograder import NOTEBOOKS, build, setup_cell

MASTERS = build.masters()
IDS = [m.stem for m in MASTERS]


@pytest.mark.parametrize("master", MASTERS, ids=IDS)
def test_setup_cell_is_the_shared_one(master):
    nb = nbformat.read(str(master), as_version=4)
    cell = setup_cell.first_code_cell(nb)
    assert cell is not None and cell.source == setup_cell.SOURCE, (
        f"{master.name}: the first code cell must be autograder/setup_cell.py's SOURCE verbatim; "
        "run `python -m autograder.setup_cell` to copy it in"
    )


@pytest.mark.parametrize("master", MASTERS, ids=IDS)
def test_assignment_config(master):
    config = build.assignment_config(master)
    assert config.get("name") == master.stem
    assert config.get("requirements") and config.get("files"), (
        "config must name requirements and files"
    )
    assert config["requirements"] == "../requirements-grading.txt", (
        "the zips install only what grading needs"
    )
    assert str(config.get("python_version")) == "3.11", (
        "grade with the students' Python (otter's python_version)"
    )
    assert "seed" in config
    assert config["tests"]["ok_format"] is False, (
        "tests must be exception-based (tests: ok_format: false)"
    )
    assert config["tests"]["files"] is True, (
        "public tests must be files (Colab cannot read notebook metadata)"
    )
    assert config.get("init_cell") is False, (
        "the shared setup cell creates `grader` (otter's init cell would run first)"
    )


@pytest.mark.parametrize("master", MASTERS, ids=IDS)
def test_master_committed_without_outputs(master):
    nb = nbformat.read(str(master), as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        f"{master.name} has outputs"
    )


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """One build of every master into a temp dir (notebooks/ and dist/)."""
    tmp = tmp_path_factory.mktemp("fresh-build")
    built = build.build(out=tmp / "notebooks", dist=tmp / "dist")
    return tmp, built


def test_rebuild_gives_no_diff(fresh):
    """Building from the committed masters into a temp dir reproduces notebooks/ exactly."""
    tmp_path, built = fresh
    assert set(built) == set(IDS)
    for stem in IDS:
        assert filecmp.cmp(
            tmp_path / "notebooks" / f"{stem}.ipynb", NOTEBOOKS / f"{stem}.ipynb", shallow=False
        ), (
            f"notebooks/{stem}.ipynb differs from a fresh build: run `python -m autograder build` "
            "and commit"
        )
    public = lambda root: sorted(
        str(p.relative_to(root)) for p in (root / "tests").rglob("*") if p.is_file()
    )
    fresh = public(tmp_path / "notebooks")
    assert fresh == public(NOTEBOOKS), (
        "notebooks/tests/ holds other public tests than a fresh build"
    )
    for name in fresh:
        assert filecmp.cmp(tmp_path / "notebooks" / name, NOTEBOOKS / name, shallow=False), name
    for stem in IDS:
        assert (tmp_path / "dist" / f"{stem}.zip").is_file()
        assert (tmp_path / "dist" / f"{stem}-solution.ipynb").is_file()


def test_build_twice_is_identical(tmp_path):
    """Nothing nondeterministic (cell ids, timestamps) leaks into the student notebooks."""
    build.build(out=tmp_path / "a", dist=tmp_path / "da")
    build.build(out=tmp_path / "b", dist=tmp_path / "db")
    cmp = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only
    for stem in IDS:
        assert not filecmp.dircmp(
            tmp_path / "a" / "tests" / stem, tmp_path / "b" / "tests" / stem
        ).diff_files


def test_each_notebook_has_its_own_public_tests(fresh):
    """tests/<stem>/ holds exactly the questions that notebook checks, and its setup cell points
    otter there, so the closing grader.check_all() runs this notebook's questions and no other's."""
    tmp, built = fresh
    folders = sorted(p.name for p in (tmp / "notebooks" / "tests").iterdir())
    assert folders == sorted(IDS), "one folder per notebook, nothing else"
    for stem in IDS:
        nb = nbformat.read(str(tmp / "notebooks" / f"{stem}.ipynb"), as_version=4)
        checked = {
            c.source.split('"')[1]
            for c in nb.cells
            if c.cell_type == "code" and c.source.startswith('grader.check("')
        }
        assert checked and checked == set(built[stem]), stem
        assert sorted(p.stem for p in (tmp / "notebooks" / "tests" / stem).glob("*.py")) == sorted(
            built[stem]
        )
        assert f'TESTS = "tests/{stem}"' in setup_cell.first_code_cell(nb).source, stem
        solution = nbformat.read(str(tmp / "dist" / f"{stem}-solution.ipynb"), as_version=4)
        assert f'TESTS = "tests/{stem}"' in setup_cell.first_code_cell(solution).source, stem
        code = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        summary = [i for i, src in code if src.strip() == "grader.check_all()"]
        checks = [i for i, src in code if src.startswith('grader.check("')]
        assert len(summary) == 1 and summary[0] > max(checks), (
            f"{stem}: one grader.check_all() after every check"
        )


def test_full_build_removes_what_no_master_owns(fresh, tmp_path, monkeypatch):
    """Stale public tests (a removed notebook's folder, the old flat layout, a renamed question) do
    not survive a full build. The course is cut to its first master, so the others' folders count as
    removed ones."""
    out = tmp_path / "notebooks"
    shutil.copytree(fresh[0] / "notebooks", out)
    (out / "tests" / "ols_fit.py").write_text("# the old flat layout\n")
    stale_in_folder = out / "tests" / IDS[0] / "renamed_question.py"
    stale_in_folder.write_text("# a question renamed in the master\n")
    monkeypatch.setattr(build, "masters", lambda: MASTERS[:1])
    built = build.build(out=out, dist=tmp_path / "dist")
    assert sorted(p.name for p in (out / "tests").iterdir()) == [IDS[0]]
    assert sorted(p.stem for p in (out / "tests" / IDS[0]).iterdir()) == sorted(built[IDS[0]])


def test_duplicate_question_names_are_refused(tmp_path, monkeypatch):
    master = next(m for m in MASTERS)
    monkeypatch.setattr(build, "masters", lambda: [master, master])
    with pytest.raises(ValueError, match="unique across notebooks"):
        build.build(out=tmp_path / "nb", dist=tmp_path / "dist")


def test_staging_leaves_out_bytecode(tmp_path):
    staged = build._stage(MASTERS[0], tmp_path)
    utils = staged.parent / "utils"
    assert (utils / "data.py").is_file()
    assert not list(utils.rglob("__pycache__")), "the zip must not carry __pycache__"


def test_zips_install_cpu_torch_on_python_311(fresh):
    """otter's environment.yml in each zip: the students' Python, CPU torch, nothing for a front
    end."""
    tmp, _ = fresh
    for stem in IDS:
        with zipfile.ZipFile(tmp / "dist" / f"{stem}.zip") as zf:
            env = yaml.safe_load(zf.read("environment.yml"))
        assert "python=3.11" in env["dependencies"], stem
        pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
        assert "--extra-index-url https://download.pytorch.org/whl/cpu" in pip
        assert any(p.startswith("torch==") and p.endswith("+cpu") for p in pip), pip
        assert any(p.startswith("torchvision==") and p.endswith("+cpu") for p in pip), pip
        assert not any(
            p.split("==")[0] in {"jupyterlab", "pytest", "nbclient", "ipykernel"} for p in pip
        ), pip


def test_student_notebooks_carry_course_toml_url():
    url = build.course_config()["release_url"]
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        assert setup_cell.first_code_cell(nb).source == setup_cell.for_notebook(path.stem, url), (
            path.name
        )
        assert "placeholder" not in setup_cell.first_code_cell(nb).source


@pytest.mark.parametrize(
    "url, expect",
    [
        (
            "https://github.com/some-course/ptm-student.git",
            "https://colab.research.google.com/github/some-course/ptm-student/blob/main/notebooks/{name}",
        ),
        ("file:///srv/ptm-student", "upload this notebook"),
        ("", None),
    ],
)
def test_personalize_writes_url_and_colab_badge(tmp_path, url, expect):
    path = tmp_path / "01_ols_raw_pixels.ipynb"
    path.write_bytes((NOTEBOOKS / path.name).read_bytes())
    before = nbformat.read(str(path), as_version=4)
    build.personalize(path, url, "main", "nb01")
    nb = nbformat.read(str(path), as_version=4)
    assert f'REPO_URL = "{url}"' in setup_cell.first_code_cell(nb).source
    if expect is None:
        assert len(nb.cells) == len(before.cells)
    else:
        assert len(nb.cells) == len(before.cells) + 1 and nb.cells[0].cell_type == "markdown"
        assert (
            expect.format(name=path.name) in nb.cells[0].source
            and nb.cells[0]["id"] == "nb01-colab"
        )


def test_tests_folder_name_is_checked():
    assert 'TESTS = "tests/01_ols_raw_pixels"' in setup_cell.with_tests(
        setup_cell.SOURCE, "01_ols_raw_pixels"
    )
    with pytest.raises(ValueError, match="tests folder"):
        setup_cell.with_tests(setup_cell.SOURCE, '01"; import os')


def test_repo_url_with_a_quote_is_refused():
    with pytest.raises(ValueError, match="cannot contain quotes"):
        setup_cell.with_repo_url(setup_cell.SOURCE, 'https://x/"; import os')


def test_questions_are_listed_in_the_notebooks_order(tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(f'grader.check("{q}")')
            for q in ("ols_phi", "ols_split", "ols_fit", "ols_mc", "ols_phi")
        ]
    )
    nbformat.write(nb, str(tmp_path / "x.ipynb"))
    assert build.question_order(
        tmp_path / "x.ipynb", ["ols_fit", "ols_mc", "ols_phi", "ols_split", "ols_zz"]
    ) == ["ols_phi", "ols_split", "ols_fit", "ols_mc", "ols_zz"]
