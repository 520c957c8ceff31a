"""The assignment build: masters are well formed, share the setup cell, and rebuild byte for byte."""
import filecmp

import nbformat
import pytest

from autograder import NOTEBOOKS, build, setup_cell

MASTERS = build.masters()
IDS = [m.stem for m in MASTERS]


@pytest.mark.parametrize("master", MASTERS, ids=IDS)
def test_setup_cell_is_the_shared_one(master):
    nb = nbformat.read(str(master), as_version=4)
    cell = setup_cell.first_code_cell(nb)
    assert cell is not None and cell.source == setup_cell.SOURCE, (
        f"{master.name}: the first code cell must be autograder/setup_cell.py's SOURCE verbatim; "
        "run `python -m autograder.setup_cell` to copy it in")


@pytest.mark.parametrize("master", MASTERS, ids=IDS)
def test_assignment_config(master):
    config = build.assignment_config(master)
    assert config.get("name") == master.stem
    assert config.get("requirements") and config.get("files"), "config must name requirements and files"
    assert "seed" in config
    assert config["tests"]["ok_format"] is False, "tests must be exception-based (tests: ok_format: false)"
    assert config["tests"]["files"] is True, "public tests must be files (Colab cannot read notebook metadata)"
    assert config.get("init_cell") is False, "the shared setup cell creates `grader` (otter's init cell would run first)"


@pytest.mark.parametrize("master", MASTERS, ids=IDS)
def test_master_committed_without_outputs(master):
    nb = nbformat.read(str(master), as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{master.name} has outputs"


def test_rebuild_gives_no_diff(tmp_path):
    """Building from the committed masters into a temp dir reproduces notebooks/ exactly."""
    built = build.build(out=tmp_path / "notebooks", dist=tmp_path / "dist")
    assert set(built) == set(IDS)
    for stem in IDS:
        assert filecmp.cmp(tmp_path / "notebooks" / f"{stem}.ipynb", NOTEBOOKS / f"{stem}.ipynb", shallow=False), (
            f"notebooks/{stem}.ipynb differs from a fresh build: run `python -m autograder build` and commit")
    fresh = sorted(p.name for p in (tmp_path / "notebooks" / "tests").glob("*.py"))
    committed = sorted(p.name for p in (NOTEBOOKS / "tests").glob("*.py"))
    assert fresh == committed, "notebooks/tests/ holds other public tests than a fresh build"
    for name in fresh:
        assert filecmp.cmp(tmp_path / "notebooks" / "tests" / name, NOTEBOOKS / "tests" / name, shallow=False), name
    for stem in IDS:
        assert (tmp_path / "dist" / f"{stem}.zip").is_file()
        assert (tmp_path / "dist" / f"{stem}-solution.ipynb").is_file()


def test_build_twice_is_identical(tmp_path):
    """Nothing nondeterministic (cell ids, timestamps) leaks into the student notebooks."""
    build.build(out=tmp_path / "a", dist=tmp_path / "da")
    build.build(out=tmp_path / "b", dist=tmp_path / "db")
    cmp = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only
    assert not filecmp.dircmp(tmp_path / "a" / "tests", tmp_path / "b" / "tests").diff_files


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
