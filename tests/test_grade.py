"""Batch grading (autograder/grade.py): statuses, isolation, resume, feedback, report.

The bad batch is built from the real notebook 01 (``samples.bad_submissions``)
and graded once, with ``--jobs 2`` and a short timeout, in a module fixture.
"""
import csv
import json
import shutil
import subprocess
import sys

import pytest

from autograder import DIST, REPO, grade, gradereport, samples, sandbox, submissions

STEM = "01_ols_raw_pixels"
TIMEOUT = 60        # honest notebook-01 submissions take ~10 s; the loop case costs this much

EXPECTED = {
    "full": "graded", "syntax_error": "graded", "sys_exit": "graded", "deleted_cell": "graded",
    "renamed_cell": "graded", "wrong_type": "graded", "huge_output": "graded",
    "infinite_loop": "timeout", "os_exit": "crashed", "memory_bomb": "memory",
    "corrupted": "invalid", "empty": "invalid", "not_a_notebook": "invalid", "json_not_notebook": "invalid",
    "other_assignment": "wrong-assignment",
    "replace_check": "invalid", "fake_results": "invalid", "read_hidden": "invalid",
}
REASON_WORDS = {
    "syntax_error": "SyntaxError", "sys_exit": "SystemExit", "infinite_loop": "time limit",
    "os_exit": "kernel died", "memory_bomb": "out of memory", "corrupted": "invalid JSON",
    "empty": "empty", "not_a_notebook": "not a notebook", "json_not_notebook": "not a Jupyter notebook",
    "other_assignment": "02_logistic_regression_edges", "replace_check": "grader.check",
    "fake_results": "results.json", "read_hidden": "hidden test content",
}


@pytest.fixture(scope="module")
def dist():
    if not (DIST / f"{STEM}.zip").exists():
        subprocess.run([sys.executable, "-m", "autograder", "build"], cwd=REPO, check=True)
    return DIST


@pytest.fixture(scope="module")
def bad(dist, tmp_path_factory):
    """(cases, out dir, rows) of the bad batch graded once with --jobs 2."""
    src = tmp_path_factory.mktemp("bad")
    cases = samples.bad_submissions(src / "subs")
    shutil.copy(samples.SAMPLES / f"{STEM}-partial.ipynb", src / "subs" / "partial.ipynb")
    out = src / "out"
    assert grade.main([str(src / "subs"), "--out", str(out), "--assignment", STEM,
                       "--jobs", "2", "--timeout", str(TIMEOUT)]) == 0
    return cases, out, gradereport.read_rows(out / "grades.csv")


@pytest.fixture(scope="module")
def alone(dist, bad, tmp_path_factory):
    """The full and partial submissions graded on their own, one at a time."""
    cases, _, _ = bad
    out = tmp_path_factory.mktemp("alone")
    rows = {}
    for name in ("full", "partial"):
        path = cases["full"] if name == "full" else samples.SAMPLES / f"{STEM}-partial.ipynb"
        rows[name] = grade.grade([str(path)], out / name, jobs=1, quiet=True,
                                 limits=sandbox.Limits(timeout=TIMEOUT))
    return {k: next(iter(v.values())) for k, v in rows.items()}


def _points(row):
    fixed = set(gradereport.FIXED_HEAD + gradereport.FIXED_TAIL)
    return {k: v for k, v in row.items() if k not in fixed and v != ""}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_status_and_reason(bad, case):
    _, _, rows = bad
    row = rows[case]
    assert row["status"] == EXPECTED[case], row
    if case in REASON_WORDS:
        assert REASON_WORDS[case].lower() in row["reason"].lower(), row


@pytest.mark.slow
def test_one_row_per_submission(bad):
    cases, out, rows = bad
    with open(out / "grades.csv", newline="") as f:
        ids = [r["id"] for r in csv.DictReader(f)]
    assert sorted(ids) == sorted(set(ids)) == sorted(list(cases) + ["partial"])


@pytest.mark.slow
def test_others_keep_the_score_they_get_alone(bad, alone):
    _, _, rows = bad
    for name in ("full", "partial"):
        assert _points(rows[name]) == _points(alone[name])
        assert rows[name]["total"] == alone[name]["total"]
    assert rows["full"]["total"] == rows["full"]["maximum"]
    assert 0 < float(rows["partial"]["total"]) < float(rows["partial"]["maximum"])


@pytest.mark.slow
@pytest.mark.parametrize("case", ["syntax_error", "deleted_cell", "renamed_cell", "wrong_type"])
def test_broken_answer_loses_only_its_question(bad, case):
    _, _, rows = bad
    full, row = _points(rows["full"]), _points(rows[case])
    lost = {q for q in full if row[q] != full[q]}
    assert lost == {"ols_mc"} and float(row["ols_mc"]) == 0


@pytest.mark.slow
@pytest.mark.parametrize("case", ["sys_exit", "huge_output", "edit_support"])
def test_harmless_misbehaviour_keeps_full_score(bad, case):
    _, _, rows = bad
    if case == "edit_support" and not sandbox.bwrap_status()[0]:
        assert rows[case]["status"] == "invalid" and "modified support" in rows[case]["reason"]
        return
    assert rows[case]["status"] == "graded"
    assert rows[case]["total"] == rows["full"]["total"]


@pytest.mark.slow
def test_tampering_is_withheld_and_fake_results_ignored(bad):
    _, out, rows = bad
    for case in ("replace_check", "fake_results", "read_hidden"):
        assert rows[case]["total"] == "0"
    assert "otter gave 0/11" in rows["fake_results"]["reason"]      # the fake 99 points were ignored
    assert "otter gave 0/11" in rows["replace_check"]["reason"]     # otter's own checks still ran


@pytest.mark.slow
def test_feedback_has_public_hints_and_no_hidden_tests(bad, tmp_path):
    _, out, rows = bad
    tpl = sandbox.unpack_template(DIST / f"{STEM}.zip", tmp_path / "tpl")
    secrets = gradereport.hidden_secrets(tpl / "source" / "tests")
    assert secrets, "the real tests should have hidden cases"
    for page in (out / "feedback").glob("*.html"):
        text = page.read_text()
        assert not any(s in text for s in secrets), page.name
    partial = (out / "feedback" / "partial.html").read_text()
    assert "Public tests" in partial and "Test case failed" in partial
    assert "ols_mc_answer must be one of" in partial          # the public test's own message
    assert set(p.stem for p in (out / "feedback").glob("*.html")) == set(rows)


@pytest.mark.slow
def test_results_are_otters_and_report_has_figures(bad):
    _, out, rows = bad
    res = json.loads((out / "results" / "full.json").read_text())
    scores = {t["name"]: t["score"] for t in res["tests"] if "score" in t}
    assert scores == {q: float(v) for q, v in _points(rows["full"]).items()}
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3
    for case in ("infinite_loop", "os_exit", "empty"):
        assert case in html
    for png in ("histogram", "pass_rate", "runtime"):
        assert (out / f"{png}.png").stat().st_size > 1000


@pytest.mark.slow
def test_interrupted_batch_resumes_without_losing_or_duplicating(bad, tmp_path):
    cases, out, rows = bad
    resumed = tmp_path / "out"
    shutil.copytree(out, resumed)
    kept = {k: v for k, v in rows.items() if k not in ("empty", "corrupted", "json_not_notebook")}
    gradereport.write_rows(resumed / "grades.csv", kept)      # as if killed before these three
    again = grade.grade([str(cases["full"].parent)], resumed, assignment=STEM, jobs=2, quiet=True)
    assert set(again) == set(rows)
    for k in kept:
        assert again[k] == rows[k]        # finished rows are not regraded
    with open(resumed / "grades.csv", newline="") as f:
        ids = [r["id"] for r in csv.DictReader(f)]
    assert len(ids) == len(set(ids))


@pytest.mark.slow
def test_fallback_without_bwrap_still_isolates_support_files(dist, bad, tmp_path):
    cases, _, _ = bad
    rows = grade.grade([str(cases["full"]), str(cases["edit_support"])], tmp_path / "out",
                       jobs=2, use_bwrap=False, quiet=True, limits=sandbox.Limits(timeout=TIMEOUT))
    assert rows["full"]["status"] == "graded" and rows["full"]["total"] == rows["full"]["maximum"]
    assert rows["edit_support"]["status"] == "invalid"
    assert "modified support" in rows["edit_support"]["reason"]
    assert (tmp_path / "out" / "warnings.txt").read_text().strip()


# fast tests: no notebook is executed

def test_invalid_files_need_no_sandbox(tmp_path):
    (tmp_path / "empty.ipynb").write_bytes(b"")
    (tmp_path / "bad.ipynb").write_text("{")
    nb = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "nometa.ipynb").write_text(json.dumps(nb))
    assert grade.main([str(tmp_path), "--out", str(tmp_path / "out"), "--dist", str(tmp_path)]) == 0
    rows = gradereport.read_rows(tmp_path / "out" / "grades.csv")
    assert {r["status"] for r in rows.values()} == {"invalid"}
    assert "--assignment" in rows["nometa"]["reason"]
    nb["metadata"]["otter"] = {"assignment_name": "nope"}
    (tmp_path / "nometa.ipynb").write_text(json.dumps(nb))
    (tmp_path / "out" / "grades.csv").unlink()
    grade.main([str(tmp_path / "nometa.ipynb"), "--out", str(tmp_path / "out"), "--dist", str(tmp_path)])
    assert "nope.zip is missing" in gradereport.read_rows(tmp_path / "out" / "grades.csv")["nometa"]["reason"]


def test_zip_submissions_and_folders_are_collected(tmp_path):
    import zipfile
    nb = {"cells": [], "metadata": {"otter": {"assignment_name": "a"}}, "nbformat": 4, "nbformat_minor": 5}
    with zipfile.ZipFile(tmp_path / "sub_2024.zip", "w") as zf:
        zf.writestr("hw.ipynb", json.dumps(nb))
        zf.writestr(".OTTER_LOG", b"never unpickled")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "hw.ipynb").write_text(json.dumps(nb))
    found = submissions.collect([tmp_path])
    assert [i for i, _ in found] == ["hw", "sub_2024"]
    sub = submissions.load("sub_2024", tmp_path / "sub_2024.zip")
    assert sub.problem is None and sub.assignment == "a" and sub.nb_name == "hw.ipynb"


@pytest.mark.parametrize("source, flagged", [
    ("grader.check = lambda q: None", True),
    ("import otter\notter.Notebook.check = print", True),
    ("from otter.execute import Checker", True),
    ("setattr(grader, 'check', print)", True),
    ("open('../results/results.json', 'w')", True),
    ("print(open('tests/q1.py').read())", True),
    ("open('utils/data.py', 'a').write('x')", True),
    ("grader = otter.Notebook('x.ipynb')\ngrader.check('q1')", False),
    ("if not Path('tests').exists():\n    Path('tests').symlink_to(repo)", False),
    ("from utils import data\nX = data.pets_arrays('test', 8)", False),
    ("def f(:\n  pass", False),
])
def test_audit(source, flagged):
    nb = {"cells": [{"cell_type": "code", "source": source, "metadata": {}}]}
    assert bool(submissions.audit(nb)) == flagged
