"""autograder/grading/report.py: every page from the files of --out, and numbers that are right.

Notebook 01's three samples (full, partial, broken) are graded in one batch; the report's tables
(the numbers beside each figure) are read back and checked against grades.csv and the maxima the
batch read from the zip, and every page is rendered again from the files to the same bytes.
"""

import re
import shutil

import pytest

from autograder.check import ensure_built
from autograder.demo import SAMPLES
from autograder.grading import batch, report, store

STEM = "01_ols_raw_pixels"
KINDS = ("full", "partial", "broken")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    ensure_built([STEM])
    root = tmp_path_factory.mktemp("samples")
    (root / "subs").mkdir()
    for kind in KINDS:
        shutil.copy(SAMPLES / f"{STEM}-{kind}.ipynb", root / "subs" / f"{kind}.ipynb")
    rows = batch.grade([str(root / "subs")], root / "out", jobs=2, quiet=True, trusted=True)
    return root / "out", rows


def numbers(html, title):
    """The rows of the table beside the figure ``title`` (header left out)."""
    table = re.search(rf'<table border=1 class="numbers" data-figure="{title}">(.*?)</table>', html,
                      re.S)  # fmt: skip
    assert table, f"no table beside the figure {title!r}"
    lines = re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
    return [re.findall(r"<td>(.*?)</td>", line) for line in lines[1:]]


@pytest.mark.slow
def test_pass_rates_per_question_follow_the_grades(graded):
    out, rows = graded
    assert set(rows) == set(KINDS)
    full = rows["full"]
    assert full["status"] == "graded" and float(full["total"]) == float(full["maximum"]) > 0
    maxima = store.maxima(out)[STEM]
    questions = [k for k in full if k not in store.FIXED_HEAD + store.FIXED_TAIL]
    assert set(maxima) == set(questions) and all(p > 0 for p in maxima.values())
    graded_rows = [r for r in rows.values() if r["status"] == "graded"]
    table = {
        q: line for q, *line in numbers((out / "report.html").read_text(), "pass rate per question")
    }
    assert set(table) == set(questions)
    for q, (points, got, n, percent) in table.items():
        expected = sum(float(r[q]) >= maxima[q] - 1e-9 for r in graded_rows)
        assert float(points) == pytest.approx(maxima[q]) and maxima[q] == round(maxima[q], 6)
        assert (int(got), int(n)) == (expected, len(graded_rows)), q
        assert int(percent) == round(100 * expected / len(graded_rows)), q
        assert int(got) >= 1, f"{q}: the full sample earns every question"
    assert any(int(got) < int(n) for _, got, n, _ in table.values()), "partial and broken miss some"


@pytest.mark.slow
def test_the_score_histogram_table_counts_every_graded_submission(graded):
    out, rows = graded
    bins = numbers((out / "report.html").read_text(), "score histogram")
    graded_rows = [r for r in rows.values() if r["status"] == "graded"]
    assert sum(int(n) for _, n in bins) == len(graded_rows)
    assert bins[-1] == ["95-100%", "1"] or int(bins[-1][1]) >= 1  # the full sample is at 100%
    assert numbers((out / "report.html").read_text(), "runtime")[0][0] == "fastest"


@pytest.mark.slow
def test_every_page_renders_again_from_the_files_to_the_same_bytes(graded, tmp_path):
    out, _ = graded
    copy = shutil.copytree(out, tmp_path / "out")
    pages = sorted(p.relative_to(copy) for p in copy.rglob("*") if p.suffix in (".html", ".json")
                   and p.parts[-2] in ("feedback", "results"))  # fmt: skip
    assert len(pages) >= 3 + 2, pages  # a feedback page per row, results of graded rows
    before = {p: (copy / p).read_bytes() for p in pages}
    for p in pages:
        (copy / p).unlink()
    (copy / "report.html").unlink()
    report.render_all(copy)
    assert {p: (copy / p).read_bytes() for p in pages} == before
    assert (copy / "report.html").read_bytes() == (out / "report.html").read_bytes()


@pytest.mark.slow
def test_questions_appear_in_the_notebooks_order_everywhere(graded):
    """grades.csv's columns, the report's table, the feedback page and results.json list the
    questions as the student notebook checks them, not alphabetically (issue 30 §5)."""
    import csv
    import json

    from autograder import NOTEBOOKS

    out, _ = graded
    nb = json.loads((NOTEBOOKS / f"{STEM}.ipynb").read_text())
    asked = []
    for cell in nb["cells"]:
        for q in re.findall(r'grader\.check\("(\w+)"\)', "".join(cell["source"])):
            asked.append(q) if q not in asked else None
    assert asked != sorted(asked), (
        "the notebook asks in alphabetical order: this test tells nothing"
    )
    with open(out / "grades.csv", newline="") as f:
        header = next(csv.reader(f))
    assert [h for h in header if h in asked] == asked
    table = numbers((out / "report.html").read_text(), "pass rate per question")
    assert [q for q, *_ in table] == asked
    page = store.entry(out, "feedback", "full").read_text()
    assert [q for q in re.findall(r"<h3>(\w+):", page) if q in asked] == asked
    results = json.loads(store.entry(out, "results", "full").read_text())
    named = [t["name"].split(" ")[0] for t in results["tests"]]
    assert list(dict.fromkeys(q for q in named if q in asked)) == asked


@pytest.mark.slow
def test_each_figure_says_its_numbers_to_a_screen_reader(graded):
    """The alt text of a figure is its kind, its title and the rows of the table beside it (issue 30
    §9)."""
    out, _ = graded
    html = (out / "report.html").read_text()
    alts = {
        title: alt
        for alt, title in re.findall(
            r'<img alt="(([^",]+), a (?:bar chart|histogram) \([^"]*)"', html
        )
    }
    assert set(alts) == {"Score histogram", "Pass rate per question", "Runtime"}, alts
    for q, *line in numbers(html, "pass rate per question"):
        assert f"{q} {' '.join(line)}" in alts["Pass rate per question"], (q, alts)
