"""`python -m autograder check` with the real zips: solutions get full marks, untouched notebooks 0."""
import pytest

from autograder import check


@pytest.mark.slow
def test_check_passes(capsys):
    assert check.main([]) == 0, capsys.readouterr().err
    table = capsys.readouterr().out
    assert "OK:" in table and " NO" not in table


@pytest.mark.slow
def test_time_grade_one_is_fast_enough():
    seconds = check.time_grade_one("01_ols_raw_pixels")
    assert 0 < seconds < 60, f"grading one solution took {seconds:.1f} s (goal: 20 s on 2 cores)"


def test_table_marks_failures():
    rows = [{"notebook": "nb", "question": "q", "solution": 1, "possible": 2, "untouched": 0, "ok": False,
             "seconds": 1.0}]
    assert "NO" in check.format_table(rows)
