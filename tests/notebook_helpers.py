"""Helpers for the notebook tests (test_notebook01/02, test_check): run, fill and mutate built notebooks."""
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"


def execute(nb, cwd=NOTEBOOKS, skip_ignored=False, timeout=600):
    """Run a notebook with nbclient in ``cwd`` (the student's place: notebooks/); returns (nb, seconds).

    ``skip_ignored`` drops cells tagged ``otter_ignore`` first, as the grader does.
    Raises ``nbclient.exceptions.CellExecutionError`` on the first failing cell.
    """
    nb = nbformat.from_dict(nb)
    if skip_ignored:
        nb.cells = [c for c in nb.cells if "otter_ignore" not in c.metadata.get("tags", [])]
    log = Path(cwd) / ".OTTER_LOG"  # grader.check appends to it; leave no trace in the repo
    had_log = log.exists()
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        if not had_log:
            log.unlink(missing_ok=True)
    return nb, time.perf_counter() - start


def outputs_text(nb) -> str:
    """Every stream and text/plain output of a notebook, joined."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif "data" in out:
                parts.append(out.data.get("text/plain", ""))
            elif out.output_type == "error":
                parts.append(f"{out.ename}: {out.evalue}")
    return "\n".join(parts)


def fill_answers(student, solution):
    """The student notebook with every answer cell replaced by the solution's cell of the same id."""
    by_id = {c.id: c for c in solution.cells}
    filled = nbformat.from_dict(student)
    for cell in filled.cells:
        if "otter_answer_cell" in cell.metadata.get("tags", []):
            cell.source = by_id[cell.id].source
    return filled


def mutate(nb, replacements):
    """A copy of ``nb`` with ``old -> new`` applied in code cells; every ``old`` must occur exactly once."""
    nb = nbformat.from_dict(nb)
    for old, new in replacements.items():
        hits = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
        assert len(hits) == 1, f"mutation target found {len(hits)} times: {old!r}"
        hits[0].source = hits[0].source.replace(old, new)
    return nb


def grade_notebook(nb, stem, tmp_path):
    """Grade ``nb`` with the real zip ``autograder/dist/<stem>.zip``; returns otter's GradingResults."""
    from autograder import check

    path = Path(tmp_path) / f"{stem}.ipynb"
    nbformat.write(nb, str(path))
    return check.grade(path, stem)


def messages(results, question) -> str:
    """All test-case messages of one question (public and hidden)."""
    return "\n".join(r.message for r in results.results[question].test_case_results)


def data_env():
    """True when the pets data is reachable (tests that execute data cells need it)."""
    from utils import data

    try:
        data.find_root()
        return True
    except data.DataNotFoundError:
        return False


def load_built(stem):
    """(solution, student) notebooks of ``stem``, built first when missing or stale."""
    from autograder import DIST, check

    check.ensure_built([stem])
    solution = nbformat.read(str(DIST / f"{stem}-solution.ipynb"), as_version=4)
    student = nbformat.read(str(NOTEBOOKS / f"{stem}.ipynb"), as_version=4)
    return solution, student


def question_names(nb) -> set:
    """The questions a notebook checks with ``grader.check("...")``."""
    return {c.source.split('"')[1] for c in nb.cells
            if c.cell_type == "code" and c.source.startswith("grader.check(")}


def assert_public_tests_pass(solution, student, questions):
    """The student notebook with the solution's answers passes every public test via grader.check."""
    nb, _ = execute(fill_answers(student, solution), skip_ignored=True)
    text = outputs_text(nb)
    for question in questions:
        assert f"{question} results: All test cases passed!" in text, text[-2000:]


def assert_hints(solution, stem, wrong, tmp_path):
    """Grade the solution with every ``old -> new`` mutation of ``wrong`` applied; each question must lose
    points and show each hint. ``wrong``: {question: (old, new, hint)} or {question: [(old, new, hint), ...]}."""
    wrong = {q: m if isinstance(m, list) else [m] for q, m in wrong.items()}
    replacements = {old: new for mistakes in wrong.values() for old, new, _ in mistakes}
    results = grade_notebook(mutate(solution, replacements), stem, tmp_path)
    for question, mistakes in wrong.items():
        assert results.results[question].score < results.results[question].possible, question
        for _, _, hint in mistakes:
            assert hint in messages(results, question), f"{question}: hint {hint!r} missing:\n{messages(results, question)}"


def assert_wrong_answers(solution, stem, table, tmp_path, solo=()):
    """Grade every wrong answer of ``table`` and assert that its question loses points and shows its hint.

    ``table``: rows ``(question, old, new, hint)``; each row replaces ``old`` by ``new`` in the solution
    (``old`` must occur exactly once). Rows are packed into as few gradings as possible: one grading
    applies at most one row per question and never two rows whose texts overlap. Rows of the questions
    in ``solo`` (whose functions other questions call, e.g. ``add_bias``) are graded alone.
    """
    def clash(a, b):
        return a[0] == b[0] or any(x in y or y in x for x in a[1:3] for y in b[1:3])

    rounds = []
    for row in table:
        batch = next((b for b in rounds if row[0] not in solo and b[0][0] not in solo
                      and not any(clash(row, other) for other in b)), None)
        if batch is None:
            rounds.append([row])
        else:
            batch.append(row)
    failures = []
    for k, batch in enumerate(rounds):
        folder = Path(tmp_path) / f"round{k}"
        folder.mkdir(parents=True, exist_ok=True)
        results = grade_notebook(mutate(solution, {old: new for _, old, new, _ in batch}), stem, folder)
        for question, old, new, hint in batch:
            result = results.results[question]
            if result.score >= result.possible:
                failures.append(f"{question}: full marks for the wrong answer {new.strip()[:80]!r}")
            elif hint not in messages(results, question):
                failures.append(f"{question}: hint {hint!r} missing for {new.strip()[:80]!r}:\n{messages(results, question)}")
    assert not failures, "\n".join(failures)


MEASURED = r"(?<![\d.])(?:0\.\d{2,3}|\d{2,4} (?:images|s\b|seconds))"  # the before-stop hook's regex (item 4)


def assert_no_measured_numbers(stem):
    """Counts, accuracies and run times are printed by cells, never written in a master's markdown."""
    import json
    import re

    nb = json.loads((REPO / "solutions" / f"{stem}.ipynb").read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            assert not re.findall(MEASURED, text), text
