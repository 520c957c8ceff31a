"""autograder/grading/store.py: the --out folder (CSV escaping, the lock)."""

import pytest

from autograder.grading import batch, store


@pytest.mark.parametrize(
    "value, escaped",
    [
        ("=1+2", "'=1+2"),
        ("+cmd", "'+cmd"),
        ("-3", "-3"),
        ("@x", "'@x"),
        ("ok", "ok"),
        ("-nan", "'-nan"),
    ],
)
def test_csv_formulas_are_escaped(value, escaped):
    assert store.escape_cell(value) == escaped


def test_a_second_grader_on_the_same_out_refuses(tmp_path):
    with store.OutLock(tmp_path):
        assert batch.main([str(tmp_path), "--out", str(tmp_path), "--trusted"]) == 2
