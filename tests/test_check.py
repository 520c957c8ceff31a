"""`python -m autograder check`: its verdicts and table. Whether the real zips score each solution full and each
untouched notebook zero is asserted in test_notebooks (scored once, by the grading service's judge, with every
other grading of the module); `make demo` runs this command on the real zips with otter's own grading."""
from pathlib import Path
from types import SimpleNamespace

from autograder import check


def _otter_results(scores):
    return SimpleNamespace(results={q: SimpleNamespace(score=s, possible=p) for q, (s, p) in scores.items()})


def test_solutions_must_score_full_and_untouched_notebooks_zero(monkeypatch, capsys):
    scores = {"solution": {"q_fit": (2.0, 2.0), "q_mc": (1.0, 1.0)}, "untouched": {"q_fit": (0.0, 2.0), "q_mc": (0.0, 1.0)}}
    graded = []

    def grade(notebook, stem):
        graded.append((Path(notebook).name, stem))
        return _otter_results(scores["solution" if Path(notebook).name.endswith("-solution.ipynb") else "untouched"])

    monkeypatch.setattr(check, "grade", grade)
    monkeypatch.setattr(check, "ensure_built", lambda stems: None)
    stem = "01_ols_raw_pixels"
    assert check.main([stem]) == 0
    out = capsys.readouterr().out
    assert "OK: 1 notebooks, 2 questions" in out and " NO" not in out
    assert graded == [(f"{stem}-solution.ipynb", stem), (f"{stem}.ipynb", stem)]

    scores["untouched"]["q_mc"] = (1.0, 1.0)     # a stub that earns a point
    scores["solution"]["q_fit"] = (1.0, 2.0)     # a solution that loses one
    assert check.main([stem]) == 1
    captured = capsys.readouterr()
    assert f"FAILED: {stem}:q_fit, {stem}:q_mc" in captured.err
    assert captured.out.count(" NO") == 2


def test_table_marks_failures():
    rows = [{"notebook": "nb", "question": "q", "solution": 1, "possible": 2, "untouched": 0, "ok": False,
             "seconds": 1.0}]
    assert "NO" in check.format_table(rows)
