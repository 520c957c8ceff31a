"""`python -m autograder check` with the real zips: solutions get full marks, untouched notebooks 0."""
import pytest

from autograder import check


@pytest.mark.slow
def test_check_passes(capsys):
    assert check.main([]) == 0, capsys.readouterr().err
    table = capsys.readouterr().out
    assert "OK:" in table and " NO" not in table


def test_table_marks_failures():
    rows = [{"notebook": "nb", "question": "q", "solution": 1, "possible": 2, "untouched": 0, "ok": False,
             "seconds": 1.0}]
    assert "NO" in check.format_table(rows)
