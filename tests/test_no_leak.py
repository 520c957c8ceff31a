"""No solution and no hidden test reaches a student: scan every built notebook and public test
file."""

import re

import nbformat
import pytest
from otter.assign.solutions import replace_solutions

from autograder import NOTEBOOKS, build

MARKUP = re.compile(
    r"# (BEGIN|END) (SOLUTION|TESTS|QUESTION)|# SOLUTION|# HIDDEN|BEGIN TEST CONFIG"
)
MASTERS = build.masters()


def student_files():
    """Everything a student receives from the build: the notebooks and the public tests."""
    files = {p: nbformat.read(str(p), as_version=4) for p in sorted(NOTEBOOKS.glob("*.ipynb"))}
    texts = {p.name: "\n".join(c.source for c in nb.cells) for p, nb in files.items()}
    texts.update(
        {
            str(p.relative_to(NOTEBOOKS)): p.read_text()
            for p in sorted((NOTEBOOKS / "tests").rglob("*.py"))
        }
    )
    assert any(name.startswith("tests/") for name in texts), (
        "no public test found under notebooks/tests/<notebook>/"
    )
    return texts


TEST_CONFIG = re.compile(r'^"""\s*# BEGIN TEST CONFIG\n(.*?)\n"""\s*# END TEST CONFIG\n', re.S)


def case_kind(source):
    """'hidden', 'public' or None for a master's test cell: `# HIDDEN` first, or otter's TEST CONFIG
    block (``hidden: true``; the written questions' 0-point checks say ``points: 0`` there)."""
    source = source.lstrip()
    config = TEST_CONFIG.match(source)
    if config:
        return (
            "hidden"
            if re.search(r"^hidden:\s*true\s*$", config.group(1), re.M | re.I)
            else "public"
        )
    if source.upper().startswith("# HIDDEN"):
        return "hidden"
    return "public" if source.startswith("def test_") else None


def master_blocks(master):
    """(solution cells, hidden test cells, every other cell) of a master, by the raw block
    markers."""
    nb = nbformat.read(str(master), as_version=4)
    solutions, hidden, other, block = [], [], [], []
    for cell in nb.cells:
        head = cell.source.lstrip().split("\n", 1)[0].strip()
        if cell.cell_type == "raw" and (
            m := re.match(r"# (BEGIN|END) (SOLUTION|TESTS|PROMPT)", head)
        ):
            block = [m.group(2)] if m.group(1) == "BEGIN" else []
            continue
        if cell.cell_type == "code" and block == ["SOLUTION"]:
            solutions.append(cell.source)
        elif cell.cell_type == "code" and block == ["TESTS"] and case_kind(cell.source) == "hidden":
            hidden.append(cell.source)
        else:
            other.append(cell.source)
    return solutions, hidden, other


def distinctive(lines, public_text):
    """Lines long enough to be specific that do not also appear in public material."""
    out = set()
    for line in lines:
        line = line.strip()
        if len(line) >= 16 and line not in public_text and not line.startswith(("#", '"""')):
            out.add(line)
    return out


@pytest.fixture(scope="module")
def received():
    return student_files()


def test_student_files_exist(received):
    assert any(name.endswith(".ipynb") for name in received), (
        "no built student notebook: run `python -m autograder build`"
    )


def test_no_otter_markup(received):
    for name, text in received.items():
        hit = MARKUP.search(text)
        assert not hit, (
            f"{name} contains otter markup {hit.group(0)!r}: solutions or hidden tests leaked"
        )


def test_no_outputs_in_student_notebooks():
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
            f"{path.name} has outputs"
        )


@pytest.mark.parametrize("master", MASTERS, ids=[m.stem for m in MASTERS])
def test_no_solution_code(master, received):
    solutions, _, other = master_blocks(master)
    assert solutions, f"{master.name}: no solution cells found"
    public = "\n".join(other)
    secret = set()
    for source in solutions:
        lines = source.split("\n")
        kept = set(replace_solutions(lines, "python"))
        secret |= distinctive([l for l in lines if l not in kept], public)
    assert secret, f"{master.name}: found no distinctive solution line to look for"
    for name, text in received.items():
        leaked = sorted(l for l in secret if l in text)
        assert not leaked, f"{name} contains solution code from {master.name}: {leaked[:3]}"


@pytest.mark.parametrize("master", MASTERS, ids=[m.stem for m in MASTERS])
def test_no_hidden_tests(master, received):
    _, hidden, _ = master_blocks(master)
    assert hidden, f"{master.name}: every question should have hidden tests; found none"
    public = "\n".join(
        cell for m in MASTERS for cell in master_blocks(m)[2]
    )  # every master's public material
    names = {m.group(1) for src in hidden for m in re.finditer(r"def (\w+)\(", src)}
    names = {
        fn for fn in names if not re.search(rf"\b{fn}\b", public)
    }  # 'solve' in a prompt is no leak
    secret = {l for src in hidden for l in distinctive(src.split("\n")[1:], public)}
    for name, text in received.items():
        for fn in names:
            assert not re.search(rf"\b{fn}\b", text), (
                f"{name} contains the hidden test {fn} of {master.name}"
            )
        leaked = sorted(l for l in secret if l in text)
        assert not leaked, f"{name} contains hidden-test code from {master.name}: {leaked[:3]}"


@pytest.mark.parametrize("master", MASTERS, ids=[m.stem for m in MASTERS])
def test_every_question_has_public_and_hidden_tests(master):
    nb = nbformat.read(str(master), as_version=4)
    question, seen = None, {}
    for cell in nb.cells:
        if cell.cell_type == "raw" and cell.source.startswith("# BEGIN QUESTION"):
            question = re.search(r"name:\s*(\S+)", cell.source).group(1)
            seen[question] = {"public": 0, "hidden": 0, "points": "points:" in cell.source}
        elif cell.cell_type == "code" and question and case_kind(cell.source):
            seen[question][case_kind(cell.source)] += 1
    assert seen, f"{master.name}: no questions"
    for q, counts in seen.items():
        assert counts["points"] and counts["public"] and counts["hidden"], (
            f"{master.name}:{q}: {counts}"
        )
