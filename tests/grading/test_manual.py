"""Written answers read by people (autograder/grading/manual.py): review pages, the scores template,
merge-manual.

Three real notebook-02 submissions (the committed samples: the full solution, the partial one whose
explanation is still the stub, and a hostile one) are graded ONCE by the sandboxed batch. Each
carries, in the cells that print the test accuracies, the outputs its own run saved (numbers that
differ per student), as a student's saved notebook does. Each merge test works on a copy of that
grades folder.
"""

import copy
import csv
import io
import json
import re
import shutil

import pytest

from autograder import check, zip_path
from autograder.demo import SAMPLES
from autograder.grading import assignment, batch, manual, sandbox, store

STEM = "02_logistic_regression_edges"
WRITTEN = {"edges_predict": 1.0, "edges_explain": 1.0}
HOSTILE = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'
# per student: what its cells nb02-103 and nb02-104 printed (the numbers the answer is about)
PRINTED = {
    "alice": (
        "{'edges': 0.653, 'control': 0.611, 'raw pixels': 0.574}",
        "edges 0.653 vs control 0.611 on 190 test images: edges higher by 0.042",
    ),
    "bob": (
        "{'edges': 0.642, 'control': 0.629, 'raw pixels': 0.581}",
        "edges 0.642 vs control 0.629 on 190 test images: edges higher by 0.013",
    ),
    "mallory": ("{'edges': 0.6, 'control': 0.6}", "edges 0.600 vs control 0.600 " + HOSTILE),
    "carol": (
        "{'edges': 0.668, 'control': 0.602, 'raw pixels': 0.569}",
        "edges 0.668 vs control 0.602 on 190 test images: edges higher by 0.066",
    ),
}
CAROL_SAID = (
    "On the 190 test images the edges reached 0.668, the control 0.602 and the raw pixels 0.569."
)
ALICE_ANSWER = (
    'edges_explain = "Edges reached 0.653 and the control 0.611; the gap of 0.042 is about two '
    "standard errors, so my prediction of edges barely held, and the control shows most of the "
    'gain over raw pixels comes from pooling."\nprint(edges_explain)'
)

needs_sandbox = pytest.mark.skipif(not sandbox.bwrap_status()[0], reason=sandbox.bwrap_status()[1])
pytestmark = [pytest.mark.slow, needs_sandbox]


def _saved(nb, student, answer=None, said=None):
    """``nb`` as ``student`` saved it: the printed cells with that student's outputs, maybe another
    answer, and what the answer cell printed when it ran (``said``)."""
    nb = copy.deepcopy(nb)
    texts = dict(zip(("nb02-103", "nb02-104"), PRINTED[student]))
    for cell in nb["cells"]:
        if cell.get("id") == "nb02-103":
            cell["outputs"] = [
                {
                    "output_type": "execute_result",
                    "execution_count": 40,
                    "metadata": {},
                    "data": {"text/plain": texts["nb02-103"]},
                }
            ]
        elif cell.get("id") == "nb02-104":
            cell["outputs"] = [
                {"output_type": "stream", "name": "stdout", "text": texts["nb02-104"] + "\n"}
            ]
        elif cell.get("id") == "nb02-110":
            cell["source"] = cell["source"] if answer is None else answer
            cell["outputs"] = (
                [{"output_type": "stream", "name": "stdout", "text": said + "\n"}] if said else []
            )
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The grades folder of the three submissions, graded once: (out, rows by student)."""
    check.ensure_built([STEM])
    root = tmp_path_factory.mktemp("manual")
    full = json.loads((SAMPLES / f"{STEM}-full.ipynb").read_text(encoding="utf-8"))
    partial = json.loads((SAMPLES / f"{STEM}-partial.ipynb").read_text(encoding="utf-8"))
    subs = {
        "alice": _saved(full, "alice", ALICE_ANSWER),
        "bob": _saved(partial, "bob"),
        "mallory": _saved(
            full, "mallory", f"edges_explain = {HOSTILE!r} * 3\nprint(edges_explain)"
        ),
        "carol": _saved(full, "carol", said=CAROL_SAID),
    }  # the reference: an f-string over test_acc
    for name, nb in subs.items():
        (root / "subs" / name).mkdir(parents=True)
        (root / "subs" / name / f"{STEM}.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    out = root / "out"
    assert (
        batch.main([str(root / "subs"), "--out", str(out), "--jobs", "2", "--timeout", "300"]) == 0
    )
    rows = {r["file"].split("/")[-2]: r for r in store.read_rows(out / "grades.csv").values()}
    assert set(rows) == set(subs) and all(r["status"] == "graded" for r in rows.values()), rows
    return out, rows


@pytest.fixture
def copy_of(graded, tmp_path):
    out, rows = graded
    shutil.copytree(out, tmp_path / "grades")
    return tmp_path / "grades", rows


def _template(out):
    return list(
        csv.DictReader(io.StringIO((out / "review" / manual.TEMPLATE).read_text(encoding="utf-8")))
    )


def _write_scores(path, rows):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(manual.HEADER)
    for r in rows:
        writer.writerow([r.get(k, "") for k in manual.HEADER])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _auto_total(row):
    return sum(
        float(v) for k, v in row.items() if k.startswith("edges_") and k not in WRITTEN and v != ""
    )


# --------------------------------------------------------------------------------- grading


def test_written_questions_claim_no_points_until_a_person_scores_them(graded):
    out, rows = graded
    auto = sum(assignment.load_template(zip_path(STEM), out.parent / "tpl").possible.values())
    for name, row in rows.items():
        assert float(row["maximum"]) == auto + sum(WRITTEN.values()), row
        assert float(row["total"]) == _auto_total(row), row  # only the automatic points so far
    assert (
        rows["alice"]["edges_explain"] == "" and rows["alice"]["edges_predict"] == ""
    )  # awaiting a reader
    assert (
        rows["bob"]["edges_explain"] == "0"
    )  # the stub as handed out: the gate gives 0, nothing to read
    assert (
        rows["carol"]["edges_explain"] == "" and rows["carol"]["reason"] == ""
    )  # never run by the grader
    results = json.loads((out / "results" / f"{rows['alice']['id']}.json").read_text())
    names = {t["name"]: t for t in results["tests"]}
    hand = names["edges_explain (written answer, graded by hand)"]
    assert (
        "score" not in hand and "max_score" not in hand and "status" not in hand
    )  # never shown as "passed"
    assert all(t["score"] == round(t["score"], 2) for t in results["tests"] if "score" in t)
    assert not any(n.startswith("edges_explain (") and "hand" not in n for n in names)
    assert results["score"] == pytest.approx(float(rows["alice"]["total"]))
    page = (out / "feedback" / f"{rows['alice']['id']}.html").read_text()
    assert "edges_explain: read by a person, worth 1 point(s): not scored yet" in page


def test_one_review_page_per_written_question_with_each_answer_rubric_and_printed_numbers(graded):
    out, rows = graded
    assert sorted(p.name for p in (out / "review").glob("*.html")) == [
        "edges_explain.html",
        "edges_predict.html",
    ]
    page = (out / "review" / "edges_explain.html").read_text()
    assert "quotes the test accuracies this notebook printed" in page  # the master's rubric
    for student in ("alice", "bob", "carol"):
        assert f'id="{rows[student]["id"]}"' in page
        for printed in PRINTED[student]:
            assert printed.replace("'", "&#39;") in page, (student, printed)
    assert "Edges reached 0.653 and the control 0.611" in page  # alice's own words
    assert (
        "f&#34;On the {len(Y_test)} test images" in page and CAROL_SAID in page
    )  # carol's f-string, as it ran
    bob = page[page.index(f'id="{rows["bob"]["id"]}"') : page.index(f'id="{rows["carol"]["id"]}"')]
    assert "no answer written" in bob and "edges_explain = ..." in bob
    predict = (out / "review" / "edges_predict.html").read_text()
    assert (
        "Edge maps say where the outline" in predict and "edges 0.642 vs control 0.629" in predict
    )
    report = (out / "report.html").read_text()
    assert 'href="review/edges_explain.html"' in report and "merge-manual" in report


def test_student_text_is_escaped_everywhere(graded):
    out, _ = graded
    pages = [
        p.read_text()
        for p in [
            *(out / "review").glob("*.html"),
            *(out / "feedback").glob("*.html"),
            out / "report.html",
        ]
    ]
    assert not any("<script>alert" in p or "<img src=x" in p for p in pages)
    review = (out / "review" / "edges_explain.html").read_text()
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in review  # shown, as text
    assert "&lt;img src=x onerror=alert(1)&gt;" in review  # its printed output too


def test_the_scores_template_has_one_row_per_answer_and_empty_scores(graded):
    out, rows = graded
    template = _template(out)
    assert {(r["id"], r["question"]) for r in template} == {
        (row["id"], q) for row in rows.values() for q in WRITTEN
    }
    assert all(r["max_points"] == "1" for r in template)
    by = {(r["id"], r["question"]): r for r in template}
    assert by[rows["alice"]["id"], "edges_explain"]["score"] == ""
    assert (
        by[rows["bob"]["id"], "edges_explain"]["score"] == "0"
        and "no answer" in by[rows["bob"]["id"], "edges_explain"]["note"]
    )


# --------------------------------------------------------------------------------- merge-manual


def _filled(out, scores):
    rows = _template(out)
    for r in rows:
        r["score"] = scores.get((r["id"], r["question"]), r["score"])
    return rows


def test_merge_adds_exactly_the_scores_and_a_corrected_rerun_replaces_them(
    copy_of, tmp_path, capsys
):
    from autograder import lms

    out, rows = copy_of
    before = store.read_rows(out / "grades.csv")
    a, m = rows["alice"]["id"], rows["mallory"]["id"]
    scores = {
        (a, "edges_explain"): "1",
        (a, "edges_predict"): "0.5",
        (m, "edges_predict"): "1",
        (m, "edges_explain"): "0",
    }
    assert (
        manual.main([str(out), str(_write_scores(tmp_path / "s.csv", _filled(out, scores)))]) == 0
    )
    assert (
        "merged 5 score(s)" in capsys.readouterr().out
    )  # bob's 0 from the template counts as merged
    after = store.read_rows(out / "grades.csv")
    assert float(after[a]["total"]) == float(before[a]["total"]) + 1.5
    assert float(after[m]["total"]) == float(before[m]["total"]) + 1
    assert after[a]["edges_predict"] == "0.5" and after[a]["maximum"] == before[a]["maximum"]
    assert "0.5 / 1" in (out / "review" / "edges_predict.html").read_text()
    page = (out / "feedback" / f"{a}.html").read_text()
    assert "edges_explain: 1 / 1" in page and "edges_predict: 0.5 / 1" in page
    assert f"score {after[a]['total']} / {after[a]['maximum']}." in page
    # a corrected CSV: replaces, never adds again
    scores[a, "edges_predict"] = "1"
    assert (
        manual.main([str(out), str(_write_scores(tmp_path / "s2.csv", _filled(out, scores)))]) == 0
    )
    again = store.read_rows(out / "grades.csv")
    assert float(again[a]["total"]) == float(before[a]["total"]) + 2
    assert float(again[m]["total"]) == float(before[m]["total"]) + 1
    # the LMS export reads the merged total; a submission with an unscored answer gets a blank cell
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "student_id,name,email,submission\nS1,Alice,a@x.org,alice\nS2,Bob,b@x.org,bob\n"
        "S3,Mal,m@x.org,mallory\n",
        encoding="utf-8",
    )
    result = lms.export([out], roster, tmp_path / "lms")
    assert lms.score(result.best["S1", STEM]) == again[a]["total"]
    partial = tmp_path / "partial.csv"
    _write_scores(
        partial, [{"id": a, "question": "edges_predict", "score": ""}]
    )  # an empty cell: unchanged
    assert manual.main([str(out), str(partial)]) == 0
    assert store.read_rows(out / "grades.csv")[a]["edges_predict"] == "1"


def test_merge_leaves_answers_without_a_score_pending_for_the_export(copy_of, tmp_path):
    from autograder import lms

    out, rows = copy_of
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "student_id,name,email,submission\nS1,Alice,a@x.org,alice\n", encoding="utf-8"
    )
    result = lms.export([out], roster, tmp_path / "lms")
    assert (
        lms.score(result.best["S1", STEM]) == ""
    )  # written answers not scored yet: a person must look
    assert "written answer" in (tmp_path / "lms" / "report.html").read_text()


BAD = [
    (
        "unknown student",
        lambda r: [{**r[0], "id": "nobody-at-all"}],
        "unknown submission id 'nobody-at-all'",
    ),
    (
        "unknown question",
        lambda r: [{**r[0], "question": "edges_conv"}],
        "'edges_conv' is not a written question",
    ),
    ("above max", lambda r: [{**r[0], "score": "1.5"}], "score 1.5 is outside 0..1"),
    ("negative", lambda r: [{**r[0], "score": "-1"}], "score -1 is outside 0..1"),
    ("non-numeric", lambda r: [{**r[0], "score": "one"}], "score 'one' is not a number"),
    ("nan", lambda r: [{**r[0], "score": "nan"}], "is outside 0..1"),
    ("duplicate row", lambda r: [{**r[0], "score": "1"}, {**r[0], "score": "0"}], "duplicate row"),
]


@pytest.mark.parametrize("case,make,message", BAD, ids=[b[0] for b in BAD])
def test_bad_scores_are_refused_with_a_specific_message_and_change_nothing(
    copy_of, tmp_path, case, make, message
):
    out, rows = copy_of
    before = {
        p: p.read_bytes()
        for p in (out / "grades.csv", out / "report.html", out / "review" / "edges_explain.html")
    }
    good = {"id": rows["alice"]["id"], "question": "edges_explain", "max_points": "1", "score": "1"}
    bad = _write_scores(tmp_path / "bad.csv", [good | {"question": "edges_predict"}] + make([good]))
    with pytest.raises(SystemExit) as err:
        manual.merge(out, bad)
    assert message in str(err.value) and "nothing was merged" in str(err.value), str(err.value)
    assert "line 3" in str(err.value) or case == "duplicate row"
    assert all(
        p.read_bytes() == data for p, data in before.items()
    )  # the good row was not merged either


def test_missing_or_malformed_files_are_refused(copy_of, tmp_path):
    out, _ = copy_of
    with pytest.raises(SystemExit, match="is missing"):
        manual.merge(out, tmp_path / "no-such.csv")
    (tmp_path / "h.csv").write_text("student,points\nx,1\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="lacks id, question, score"):
        manual.merge(out, tmp_path / "h.csv")
    with pytest.raises(SystemExit, match="holds no grades.csv"):
        manual.merge(tmp_path, tmp_path / "h.csv")


# --------------------------------------------------------------------------------- otter's own path


@pytest.mark.parametrize(
    "stem", ["02_logistic_regression_edges", "03_pretrained_features", "04_fine_tuning"]
)
def test_otters_filtered_pdf_export_holds_exactly_the_written_questions(stem, tmp_path):
    """What ``otter export --filtering`` (and ``grader.export(pdf=True)``) puts in the PDF a
    Gradescope reader grades: otter's own filter, run on the built student notebook answered with
    the solution (no PDF engine needed)."""
    from otter.export.exporters.base_exporter import BaseExporter

    from autograder import NOTEBOOKS

    check.ensure_built([stem])
    specs = json.loads(__import__("zipfile").ZipFile(zip_path(stem)).read(manual.MANIFEST))
    full = SAMPLES / f"{stem}-full.ipynb"
    kept = BaseExporter.load_notebook(str(full), filtering=True)
    ids = {c.get("id") for c in kept.cells}
    text = "\n".join(c.source for c in kept.cells)
    for q, spec in specs.items():
        assert set(spec["answer_ids"]) <= ids, q  # the answer cell, with its output
        assert spec["rubric"].splitlines()[0] in text and spec["prompt"].splitlines()[0] in text, q
    questions = {
        c.get("id") for c in json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text())["cells"]
    }
    graded_code = [
        c
        for c in kept.cells
        if c.cell_type == "code"
        and c.get("id") in questions
        and not any(c.get("id") in s["answer_ids"] for s in specs.values())
    ]
    assert all("grader.check" in c.source for c in graded_code), [
        c.source[:60] for c in graded_code
    ]


@pytest.fixture
def system_chromium(monkeypatch):
    """Playwright pointed at Debian's chromium: the stand-in, offline, for the
    ``playwright install chromium`` that otter asks of a student's or a TA's machine
    (docs/instructors.md, "Written answers")."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is missing (.ci/run installs it with apt)"
    from playwright.async_api import BrowserType

    real = BrowserType.launch

    async def launch(self, *args, **kwargs):
        kwargs.setdefault("executable_path", chromium)
        kwargs["args"] = [*(kwargs.get("args") or []), "--no-sandbox", "--disable-gpu"]
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(BrowserType, "launch", launch)
    return chromium


def test_otters_pdf_export_renders_the_written_answers_for_gradescope(system_chromium, tmp_path):
    """``otter export --filtering -e html`` (what ``grader.export(pdf=True)`` runs) renders a real
    PDF of a student's notebook 04 with both written answers filled in: a page per written question
    at least, holding each question's prompt, rubric and the student's own words, and none of the
    automatically graded code around them."""
    import nbformat
    from otter.export import export_notebook
    from pypdf import PdfReader

    from autograder import NOTEBOOKS

    stem = "04_fine_tuning"
    check.ensure_built([stem])
    specs = json.loads(__import__("zipfile").ZipFile(zip_path(stem)).read(manual.MANIFEST))
    answers = {
        "ft_predict": 'prediction = {("3 breeds", "small"): FINAL, '
        '("3 breeds", "large"): FINETUNE,\n'
        '              ("digits", "small"): EARLIER, ("digits", "large"): SCRATCH}\nprediction',
        "ft_explain": 'grid_explanation = """The large digits cell surprised me most: '
        "the small CNN from scratch won it, although I had expected fine-tuning to win where the "
        'data is unlike ImageNet."""\n'
        "print(grid_explanation)",
    }
    assert set(answers) == set(specs), (
        "a written question of notebook 04 without an answer in this test"
    )
    nb = nbformat.read(str(NOTEBOOKS / f"{stem}.ipynb"), as_version=4)
    for q, spec in specs.items():
        next(c for c in nb.cells if c.get("id") == spec["answer_ids"][0]).source = answers[q]
    nbformat.write(nb, str(tmp_path / f"{stem}.ipynb"))
    export_notebook(
        str(tmp_path / f"{stem}.ipynb"),
        dest=str(tmp_path / "written.pdf"),
        filtering=True,
        pagebreaks=True,
        exporter_type="html",
    )
    reader = PdfReader(str(tmp_path / "written.pdf"))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
    assert len(reader.pages) >= len(specs), (
        f"{len(reader.pages)} pages for {len(specs)} written questions"
    )

    def words(markdown, n=5):
        """The first n consecutive plain words of a markdown text (no markup, math or code): what
        the PDF shows."""
        tokens = markdown.split()
        plain = [bool(re.fullmatch(r"[A-Za-z][A-Za-z,.;:'’-]*", t)) for t in tokens]
        start = next(
            i for i in range(len(tokens)) if all(plain[i : i + n]) and len(plain[i : i + n]) == n
        )
        return " ".join(tokens[start : start + n])

    for q, spec in specs.items():
        assert words(spec["prompt"]) in text and words(spec["rubric"]) in text, (q, text[:1500])
    assert (
        "The large digits cell surprised me most" in text and '("digits", "large"): SCRATCH' in text
    )
    assert "def freeze(" not in text and "ft_freeze" not in text and "BEGIN SOLUTION" not in text
