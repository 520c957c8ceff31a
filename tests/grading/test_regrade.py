"""Regrading and what a person gave (issue 30 §3, §5), in units; the whole story is
tests/test_semester.py.

- the autograder's fingerprint changes with a test's code or points, and with a written question's
  points;
- a regraded row of the same file keeps the TA's scores; the feedback's score line says what is
  pending;
- merge-manual puts the TA's note and score on the results JSON's written line, rounded."""

from autograder.grading import manual, report, store
from autograder.grading.assignment import Template

TESTS = {
    "q1.py": "points = 2\n@test_case(points=None, hidden=False)\n"
    "def test_a(x):\n    assert x == 1\n"
}
SPECS = {"w1": {"points": 1}, "w2": {"points": 1}}


def _template(tests=TESTS, specs=SPECS):
    return Template("a", dict(tests), None, [], {}, set(), set(), {}, manual=dict(specs))


def test_the_fingerprint_follows_the_tests_and_the_points():
    base = _template().fingerprint()
    assert _template().fingerprint() == base and len(base) == 16
    assert (
        _template({"q1.py": TESTS["q1.py"].replace("== 1", "== 2")}).fingerprint() != base
    )  # a fixed test
    assert (
        _template({"q1.py": TESTS["q1.py"].replace("points = 2", "points = 3")}).fingerprint()
        != base
    )
    assert _template(specs={"w1": {"points": 2}, "w2": {"points": 1}}).fingerprint() != base


def test_a_regraded_row_keeps_the_tas_scores_and_its_total_counts_them():
    old = {
        "id": "s",
        "q1": "1",
        "w1": "1",
        "w2": "0.5",
        "total": "2.5",
        "maximum": "4",
        "sha256": "x",
    }
    new = {
        "id": "s",
        "q1": "2",
        "w1": "",
        "w2": "",
        "total": "2",
        "maximum": "4",
        "status": "graded",
    }
    manual.keep_scores(new, old, SPECS)
    assert (new["w1"], new["w2"], new["total"]) == ("1", "0.5", "3.5")


def test_the_score_line_says_what_a_person_has_not_read_yet():
    row = {"q1": "2", "w1": "", "w2": "", "total": "2", "maximum": "4", "status": "graded"}
    assert (
        report.score_line(row, SPECS) == "2 of 2 automatic points; 2 written points not yet graded."
    )
    row.update(w1="1", total="3")
    assert (
        report.score_line(row, SPECS)
        == "2 of 2 automatic points, and 1 of 1 written points; 1 written point not yet graded."
    )
    row.update(w2="0.5", total="3.5")
    assert report.score_line(row, SPECS) == "score 3.5 / 4."
    assert report.score_line({"total": "1", "maximum": "2", "status": "graded"}) == "score 1 / 2."


def test_merged_scores_and_notes_reach_the_results_json():
    cases = [
        {"name": "test_a", "hidden": False, "points": 1.428571, "passed": True, "hint": ""},
        {"name": "test_b", "hidden": False, "points": 0.571429, "passed": False, "hint": "h"},
    ]
    data = {"questions": {"q1": [1.428571, 2], "w1": [0, 1]}, "cases": {"q1": cases}}
    specs = {"w1": {"points": 1}}
    before = report.gradescope_results(data, specs, {"q1": "1.428571", "w1": ""}, {})
    assert "score" not in before["tests"][0]  # not read yet: no 0-point line that reads "passed"
    assert (before["tests"][1]["score"], before["score"]) == (1.43, 1.43)  # 2 decimals
    row = {"q1": "1.428571", "w1": "0.5", "total": "1.928571"}
    data_after = report.gradescope_results(data, specs, row, {"w1": "names <the> control only"})
    written = data_after["tests"][0]
    assert (written["score"], written["max_score"], data_after["score"]) == (0.5, 1.0, 1.93)
    assert "Note: names <the> control only" in written["output"]


def test_notes_are_kept_per_submission_and_question(tmp_path):
    assert store.read_notes(tmp_path) == {}
    store.write_notes(tmp_path, {"s": {"w1": "good"}})
    assert store.read_notes(tmp_path) == {"s": {"w1": "good"}}
    (tmp_path / store.NOTES).write_text("[1, 2]")
    assert store.read_notes(tmp_path) == {}
