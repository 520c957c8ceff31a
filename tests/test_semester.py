"""A semester, end to end, through the commands an instructor, a TA and three students use (issue 30
§1).

Notebook 02, the cheapest with written answers (edges_predict and edges_explain, 1 point each; 13
automatic points). The story, and what a careful person computes by hand at each step:

1. The instructor releases the course (``release``) and, by mistake, ships an autograder whose
   hidden ``test_loss_large_margins`` fails every answer (a bug in the test).
2. Three students hand in, as Canvas's "Download Submissions" zip names their files
   (``<name>[_late]_<user id>_<attachment id>_<file>``):
   - Ana answers everything and submits with the submit cell (``grader.export``) from the release's
     folder;
   - Bob answers edges_conv and edges_loss, and hands in the ``.ipynb`` as downloaded from Colab;
   - Cara hands in edges_conv, edges_design and edges_loss on time, then everything two days late.
3. ``grade``: Ana 13 automatic points less the buggy case's share of edges_loss, written answers
   pending; Bob's and Cara's first stubs of written answers score 0 with no reader.
4. The TA reads ``review/<question>.html`` and fills the scores template with scores and notes;
   ``merge-manual`` adds them.
5. The instructor fixes the test and runs ``grade`` again, without ``--force``: the changed
   autograder regrades every row, and the TA's scores and notes survive.
6. ``export`` from Canvas's own gradebook export, the course's due date and a 10 % per-day penalty,
   with Canvas's record of when each file came in: Ana 14.5, Bob 5, Cara's late 15 less 20 % = 12
   beats her on-time 7.
"""

import csv
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest
from notebook_helpers import execute, outputs_text

from autograder import REPO, check, demo, zip_path
from autograder.grading import sandbox, store

STEM = "02_logistic_regression_edges"
IDS = dict(
    zip(
        ("conv", "design", "predict", "loss", "grad", "sgd", "explain"),
        demo.answer_ids(json.loads((REPO / "notebooks" / f"{STEM}.ipynb").read_text())),
    )
)
AUTO = {"edges_conv": 3, "edges_design": 2, "edges_loss": 2, "edges_grad": 3, "edges_sgd": 3}
WRITTEN = {"edges_predict": 1, "edges_explain": 1}
BUGGY_CASE = "test_loss_large_margins"
DUE = "2027-02-01T23:59:00-05:00"
NOTES = {
    ("ana", "edges_predict"): (1, "a clear reason, tied to the feature counts"),
    ("ana", "edges_explain"): (0.5, "names the control but not why it matters"),
    ("cara-late", "edges_predict"): (1, "fine"),
    ("cara-late", "edges_explain"): (1, "uses the standard errors: well done"),
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sandbox.bwrap_status()[0], reason=sandbox.bwrap_status()[1]),
]


def _autograder(dist, fixed):
    """notebook 02's autograder in ``dist``: as built (``fixed``), or with the instructor's bug in
    edges_loss."""
    src = zip_path(STEM)
    dst = dist / src.name
    if fixed:
        shutil.copy2(src, dst)
        return dst
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "tests/edges_loss.py":
                text, n = re.subn(
                    rf"(def {BUGGY_CASE}\([^)]*\):\n)",
                    r"\1    assert False, 'a bug in the test'\n",
                    data.decode(),
                )
                assert n == 1
                data = text.encode()
            zout.writestr(item, data)
    return dst


def _loss_case_share():
    """What one test case of edges_loss is worth: its points over its cases (otter splits them
    evenly)."""
    with zipfile.ZipFile(zip_path(STEM)) as zf:
        text = zf.read("tests/edges_loss.py").decode()
    return float(re.search(r"^points = (\S+)", text, re.M)[1]) / text.count("@test_case(")


def _canvas_name(key, user, attachment, file, late=False):
    return f"{key}{'_late' if late else ''}_{user}_{attachment}_{file}"


def _grade(subs, out, dist):
    """`grade`, with limits wide enough for a busy shared machine: the story is about the joins, and
    a call that outlives the default limit under load would cost a point no careful person would
    take."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(subs),
            "--out",
            str(out),
            "--dist",
            str(dist),
            "--jobs",
            "2",
            "--timeout",
            "1200",
            "--judge-timeout",
            "600",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def _rows_by_student(out, names):
    rows = store.read_rows(out / "grades.csv")
    return {
        who: next(r for r in rows.values() if r["file"].lstrip("'") == file)
        for who, file in names.items()
    }


@pytest.fixture(scope="module")
def semester(student_release, tmp_path_factory):
    root = tmp_path_factory.mktemp("semester")
    check.ensure_built([STEM])
    solution = json.loads(demo.solution_path(STEM).read_text())
    student = json.loads((REPO / "notebooks" / f"{STEM}.ipynb").read_text())
    answered = lambda *keys: demo.fill(student, solution, [IDS[k] for k in keys])
    dist = root / "dist"
    dist.mkdir()
    _autograder(dist, fixed=False)
    subs = root / "submissions"  # Canvas's "Download Submissions" zip, unpacked
    subs.mkdir()

    # Ana: the submit cell, in the release's notebooks/ folder (four notebooks side by side)
    release = root / "release"
    shutil.copytree(student_release, release, ignore=shutil.ignore_patterns(".git"))
    folder = release / "notebooks"
    nb = nbformat.reads(json.dumps(answered(*IDS)), as_version=4)
    nbformat.write(nb, str(folder / f"{STEM}.ipynb"))
    submit = next(
        c for c in nb.cells if c.cell_type == "code" and c.source.startswith("SUBMIT = False")
    )
    cells = [
        next(c for c in nb.cells if c.cell_type == "code"),
        nbformat.v4.new_code_cell(submit.source.replace("SUBMIT = False", "SUBMIT = True", 1)),
    ]
    ran, _ = execute(
        nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata), cwd=folder, timeout=300
    )
    (exported,) = folder.glob(f"{STEM}_*.zip")
    assert "Hand in that zip" in outputs_text(ran)
    names = {"ana": _canvas_name("alvarezana", 1234, 501, exported.name)}
    shutil.copy2(exported, subs / names["ana"])
    # Bob: the .ipynb downloaded from Colab; Cara: twice, the second time late
    for who, key, user, att, keys, late in (
        ("bob", "bellbob", 1235, 502, ("conv", "loss"), False),
        ("cara", "chencara", 1236, 503, ("conv", "design", "loss"), False),
        ("cara-late", "chencara", 1236, 504, tuple(IDS), True),
    ):
        names[who] = _canvas_name(key, user, att, f"{STEM}{'-1' if late else ''}.ipynb", late)
        (subs / names[who]).write_text(json.dumps(answered(*keys), indent=1), encoding="utf-8")

    out = root / "grades"
    _grade(subs, out, dist)
    first = _rows_by_student(out, names)
    review = {q: (out / "review" / f"{q}.html").read_text(encoding="utf-8") for q in WRITTEN}
    feedback_before = (out / "feedback" / f"{first['ana']['id']}.html").read_text(encoding="utf-8")

    # the TA: the scores template, filled with scores and notes
    with open(out / "review" / "scores_template.csv", encoding="utf-8") as f:
        template = list(csv.DictReader(f))
    ids = {r["id"]: who for who, r in first.items()}
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(template[0]))
    writer.writeheader()
    for line in template:
        score, note = NOTES.get((ids[line["id"]], line["question"]), (line["score"], line["note"]))
        writer.writerow({**line, "score": score, "note": note})
    (root / "scores.csv").write_text(buf.getvalue(), encoding="utf-8")
    merged = subprocess.run(
        [sys.executable, "-m", "autograder", "merge-manual", str(out), str(root / "scores.csv")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert merged.returncode == 0, merged.stderr[-3000:]
    after_merge = _rows_by_student(out, names)

    # the instructor fixes the test and grades again (no --force: the changed autograder is enough)
    _autograder(dist, fixed=True)
    regrade_log = _grade(subs, out, dist)
    final = _rows_by_student(out, names)

    # Canvas: its gradebook export as the roster, its record of when each file came in, the course's
    # due date
    (root / "gradebook.csv").write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Notebook 2 (4712),"
        "Current Points,Final Points\n"
        "    Points Possible,,,,,15,(read only),(read only)\n"
        '"Alvarez, Ana",1234,S1001,ana,A,,0,0\n"Bell, Bob",1235,S1002,bob,A,,0,0\n'
        '"Chen, Cara",1236,S1003,cara,B,,0,0\n"Student, Test",9999,,,A,,0,0\n',
        encoding="utf-8",
    )
    (root / "course.toml").write_text(
        f'[late]\nper_day = 0.1\n\n[due]\n{STEM} = "{DUE}"\n', encoding="utf-8"
    )
    attempt = lambda n, when, att: {
        "attempt": n,
        "submitted_at": when,
        "attachments": [{"id": att}],
    }
    (root / "submissions.json").write_text(
        json.dumps(
            [
                {"user_id": 1234, "submitted_at": "2027-02-01T22:00:00Z"},
                {"user_id": 1235, "submitted_at": "2027-02-02T04:00:00Z"},  # 59 minutes early (EST)
                {
                    "user_id": 1236,
                    "submitted_at": "2027-02-03T09:00:00Z",
                    "submission_history": [
                        attempt(1, "2027-02-01T15:00:00Z", 503),
                        attempt(2, "2027-02-03T09:00:00Z", 504),
                    ],
                },
            ]
        ),
        encoding="utf-8",
    )
    lms = root / "lms"
    exported = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "export",
            str(out),
            "--roster",
            str(root / "gradebook.csv"),
            "--out",
            str(lms),
            "--canvas",
            "--course",
            str(root / "course.toml"),
            "--submitted",
            f"{STEM}={root / 'submissions.json'}",
            "--column",
            f"{STEM}=Notebook 2 (4712)",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert exported.returncode == 0, exported.stderr[-3000:]
    return {
        "out": out,
        "first": first,
        "merged": after_merge,
        "final": final,
        "review": review,
        "lms": lms,
        "feedback_before": feedback_before,
        "regrade_log": regrade_log,
        "names": names,
    }


def test_first_grading_counts_what_each_student_answered(semester):
    share = _loss_case_share()
    first = semester["first"]
    assert all(r["status"] == "graded" and r["assignment"] == STEM for r in first.values()), first
    expect = {
        "ana": sum(AUTO.values()) - share,
        "bob": 3 + 2 - share,
        "cara": 3 + 2 + 2 - share,
        "cara-late": sum(AUTO.values()) - share,
    }
    assert {who: float(r["total"]) for who, r in first.items()} == pytest.approx(expect)
    assert {who: r["maximum"] for who, r in first.items()} == dict.fromkeys(first, "15")
    assert [first["ana"][q] for q in WRITTEN] == ["", ""]  # awaiting a reader
    assert [first["bob"][q] for q in WRITTEN] == ["0", "0"]  # the stubs: no answer


def test_review_pages_hold_every_answer_and_feedback_says_what_is_pending(semester):
    review, first = semester["review"], semester["first"]
    for page in review.values():
        assert all(first[who]["id"] in page for who in first)
        assert (
            "<code>grader.check</code>" in page and "&lt;code&gt;" not in page
        )  # rendered, not shown as tags
    before = semester["feedback_before"]
    auto = sum(AUTO.values()) - _loss_case_share()
    assert f"{auto:g} of 13 automatic points; 2 written points not yet graded" in before


def test_the_ta_scores_are_merged_and_survive_the_regrade(semester):
    merged, final = semester["merged"], semester["final"]
    for (who, q), (score, _) in NOTES.items():
        assert float(merged[who][q]) == score and float(final[who][q]) == score
    assert "grading 4 submission(s)" in semester["regrade_log"], semester["regrade_log"]
    expect = {"ana": 13 + 1.5, "bob": 5, "cara": 7, "cara-late": 13 + 2}
    assert {who: float(r["total"]) for who, r in final.items()} == expect


def test_feedback_after_the_regrade_shows_the_ta_notes(semester):
    out, final = semester["out"], semester["final"]
    page = (out / "feedback" / f"{final['ana']['id']}.html").read_text(encoding="utf-8")
    assert "14.5" in page and "a clear reason, tied to the feature counts" in page
    assert "names the control but not why it matters" in page and "a bug in the test" not in page
    assert 'lang="en"' in page and 'name="viewport"' in page


def test_canvas_receives_what_a_careful_person_computes(semester):
    rows = list(
        csv.reader(io.StringIO((semester["lms"] / "canvas.csv").read_text(encoding="utf-8")))
    )
    assert rows[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "Notebook 2 (4712)",
    ]
    assert rows[1] == ["    Points Possible", "", "", "", "", "15"]
    assert rows[2:] == [
        ["Alvarez, Ana", "1234", "S1001", "ana", "A", "14.5"],
        ["Bell, Bob", "1235", "S1002", "bob", "A", "5"],
        ["Chen, Cara", "1236", "S1003", "cara", "B", "12"],
    ]
    cara = list(
        csv.reader(
            io.StringIO((semester["lms"] / "students" / "S1003.csv").read_text(encoding="utf-8"))
        )
    )
    assert cara[1][4] == semester["names"]["cara-late"] and cara[1][8:12] == [
        "yes",
        "2027-02-03T09:00:00+00:00",
        "2",
        "0.2",
    ]
