"""The student release (`python -m autograder release`): what it holds, and that nothing secret
leaks into it."""

import re
import subprocess
from pathlib import Path

import nbformat
import pytest
from otter.assign.solutions import replace_solutions
from test_no_leak import MARKUP, MASTERS, distinctive, master_blocks

from autograder import REPO, release, setup_cell

EXPECTED = {
    ".git",
    ".gitignore",
    "README.md",
    "CREDITS.md",
    "Makefile",
    "notebooks",
    "utils",
    "data",
    "requirements.txt",
    "requirements-colab.txt",
    "environment.yml",
}
SAMPLES = sorted(p.stem for p in (REPO / "autograder" / "samples").glob("*.ipynb"))


def release_texts(root):
    """{relative path: text} of every file in the release (notebooks as their cells' sources)."""
    texts = {}
    for path in sorted(
        p for p in root.rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts
    ):
        rel = str(path.relative_to(root))
        if path.suffix == ".ipynb":
            texts[rel] = "\n".join(c.source for c in nbformat.read(str(path), as_version=4).cells)
        else:
            texts[rel] = (
                path.read_text()
            )  # every file is text: a binary (zip, weights, image) fails here
    return texts


@pytest.fixture(scope="module")
def texts(student_release):
    return release_texts(student_release)


def test_release_holds_what_a_student_needs(student_release, texts):
    assert {p.name for p in student_release.iterdir()} == EXPECTED
    assert {p.name for p in (REPO / "notebooks").glob("*.ipynb")} == {
        p.name for p in (student_release / "notebooks").glob("*.ipynb")
    }
    public = lambda root: sorted(
        str(p.relative_to(root)) for p in (root / "notebooks" / "tests").rglob("*.py")
    )
    assert public(student_release) == public(REPO) and public(REPO), (
        "the release must carry tests/<notebook>/*.py"
    )
    assert (student_release / "data" / "splits" / "trainval.txt").read_text() == (
        REPO / "data" / "splits" / "trainval.txt"
    ).read_text()
    url = student_release.as_uri()
    for name, text in texts.items():
        if name.startswith("notebooks/0"):
            nb = nbformat.read(str(student_release / name), as_version=4)
            assert setup_cell.first_code_cell(nb).source == setup_cell.for_notebook(
                Path(name).stem, url
            )
    readme = texts["README.md"]
    assert "SUBMIT = True" in readme and "Download .ipynb" in readme and "make lab" in readme
    assert "Parkhi" in texts["CREDITS.md"] and "CC BY-SA 4.0" in texts["CREDITS.md"]
    assert "solutions" not in readme and "autograder" not in readme


def test_release_installs_the_student_requirements_only(student_release):
    import yaml

    student = (REPO / "requirements-student.txt").read_text()
    assert (student_release / "requirements.txt").read_text() == student
    pins = [line for line in student.splitlines() if line.strip() and not line.startswith("#")]
    env = yaml.safe_load((student_release / "environment.yml").read_text())
    assert next(d["pip"] for d in env["dependencies"] if isinstance(d, dict)) == pins
    assert "pytest" not in student and "selenium" not in student


def test_release_is_committed_and_clean(student_release):
    git = lambda *a: (
        subprocess.run(
            ["git", "-C", str(student_release), *a], capture_output=True, text=True
        ).stdout
    )
    assert git("status", "--porcelain") == ""
    assert git("rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert len(git("log", "--oneline").splitlines()) == 1


def test_student_makefile_runs_lab_and_data(student_release):
    dry = lambda target: (
        subprocess.run(
            ["make", "-n", "-C", str(student_release), target], capture_output=True, text=True
        ).stdout
    )
    assert "-m jupyter lab notebooks/" in dry("lab")
    assert "data/download.py" in dry("data")


def test_no_leak_of_otter_markup_samples_or_instructor_code(texts):
    for name, text in texts.items():
        hit = MARKUP.search(text)
        assert not hit, f"release/{name} contains otter markup {hit.group(0)!r}"
        assert "ASSIGNMENT CONFIG" not in text, f"release/{name} contains an assign config"
        assert not re.search(r"^\s*(from|import) autograder\b", text, re.M), (
            f"release/{name} imports instructor code"
        )
        for sample in SAMPLES:
            assert sample not in text and sample not in name, (
                f"release/{name} names the sample {sample}"
            )
    assert not any(
        name.endswith((".zip", "-solution.ipynb")) or name.startswith(("solutions/", "autograder/"))
        for name in texts
    )


@pytest.mark.parametrize("master", MASTERS, ids=[m.stem for m in MASTERS])
def test_no_leak_of_solutions_or_hidden_tests(master, texts):
    solutions, hidden, _ = master_blocks(master)
    # utils/ is public by design (students import it); its generic lines (`def forward(self, x):`)
    # are not secrets and a line that another master shows in public
    # (`rng = np.random.default_rng(0)`) is no secret of this one
    public = "\n".join(
        [cell for m in MASTERS for cell in master_blocks(m)[2]]
        + [p.read_text() for p in sorted((REPO / "utils").glob("*.py"))]
    )
    secret = set()
    for source in solutions:
        lines = source.split("\n")
        kept = set(replace_solutions(lines, "python"))
        secret |= distinctive([l for l in lines if l not in kept], public)
    secret |= {l for src in hidden for l in distinctive(src.split("\n")[1:], public)}
    names = {
        m.group(1) for src in hidden for m in re.finditer(r"def (test_\w+)\(", src)
    }  # not helpers (__init__)
    assert secret and names, f"{master.name}: nothing distinctive to look for"
    for name, text in texts.items():
        leaked = sorted(l for l in secret if l in text)
        assert not leaked, (
            f"release/{name} contains solution or hidden-test code of {master.name}: {leaked[:3]}"
        )
        for fn in names:
            assert not re.search(rf"\b{fn}\b", text), f"release/{name} names the hidden test {fn}"


def test_release_refuses_a_folder_with_other_content(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="not empty and not a git repository"):
        release.main(["--out", str(tmp_path), "--repo-url", ""])
    assert (tmp_path / "notes.txt").read_text() == "mine"
    with pytest.raises(SystemExit, match="overlaps"):
        release.release(REPO / "notebooks" / "x", repo_url="")


def test_releasing_again_into_the_clone_changes_nothing(student_release):
    """The instructor's update flow: release into the release repository again; unchanged masters,
    no new commit."""
    head = lambda: (
        subprocess.run(
            ["git", "-C", str(student_release), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout
    )
    before = head()
    release.release(student_release, repo_url=student_release.as_uri())
    assert head() == before
    assert (
        subprocess.run(
            ["git", "-C", str(student_release), "status", "--porcelain"],
            capture_output=True,
            text=True,
        ).stdout
        == ""
    )
