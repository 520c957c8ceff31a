"""`python -m autograder check`: its verdicts and table. Whether the real zips score each solution
full and each untouched notebook zero is asserted in test_notebooks (scored once, by the grading
service's judge, with every other grading of the module); `make demo` runs this command on the real
zips with the grading service."""

from pathlib import Path

import pytest

from autograder import check


def test_solutions_must_score_full_and_untouched_notebooks_zero(monkeypatch, capsys):
    scores = {
        "solution": {"q_fit": (2.0, 2.0), "q_mc": (1.0, 1.0)},
        "untouched": {"q_fit": (0.0, 2.0), "q_mc": (0.0, 1.0)},
    }
    graded = []

    def grade(notebooks, stem):
        graded.append(([Path(nb).name for nb in notebooks], stem))
        return {
            Path(nb).name: scores[
                "solution" if Path(nb).name.endswith("-solution.ipynb") else "untouched"
            ]
            for nb in notebooks
        }

    monkeypatch.setattr(check, "grade", grade)
    monkeypatch.setattr(check, "ensure_built", lambda stems: None)
    stem = "01_ols_raw_pixels"
    assert check.main([stem]) == 0
    out = capsys.readouterr().out
    assert "OK: 1 notebooks, 2 questions" in out and " NO" not in out
    assert graded == [([f"{stem}-solution.ipynb", f"{stem}.ipynb"], stem)]  # one batch of the two

    scores["untouched"]["q_mc"] = (1.0, 1.0)  # a stub that earns a point
    scores["solution"]["q_fit"] = (1.0, 2.0)  # a solution that loses one
    assert check.main([stem]) == 1
    captured = capsys.readouterr()
    assert f"FAILED: {stem}:q_fit, {stem}:q_mc" in captured.err
    assert captured.out.count(" NO") == 2


def test_table_marks_failures():
    rows = [
        {
            "notebook": "nb",
            "question": "q",
            "solution": 1,
            "possible": 2,
            "untouched": 0,
            "ok": False,
            "seconds": 1.0,
        }
    ]
    assert "NO" in check.format_table(rows)


@pytest.mark.slow
def test_the_grading_service_scores_notebook_01s_solution_full_and_its_untouched_notebook_zero():
    """check grades with the service that grades the students, in one batch of the two notebooks."""
    from autograder import NOTEBOOKS, solution_path

    stem = "01_ols_raw_pixels"
    check.ensure_built([stem])
    got = check.grade([solution_path(stem), NOTEBOOKS / f"{stem}.ipynb"], stem)
    solved, blank = got[f"{stem}-solution.ipynb"], got[f"{stem}.ipynb"]
    assert set(solved) == set(blank) and solved
    assert all(p > 0 and s == pytest.approx(p) for s, p in solved.values()), solved
    assert all(s == 0 for s, _ in blank.values()), blank
