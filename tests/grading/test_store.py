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


@pytest.mark.parametrize(
    "value", ["=1+2", "\tcmd", "\r=x", "'quoted", "''", "-3", "ok", "@SUM(A1)", ""]
)
def test_every_value_comes_back_from_grades_csv(tmp_path, value):
    """The escaping is undone on reading: a page rendered from grades.csv shows what the grader
    saw."""
    row = {"id": "a", "file": value, "assignment": "x", "reason": value, "total": "1"}
    store.write_rows(tmp_path / "grades.csv", {"a": row})
    written = (tmp_path / "grades.csv").read_text()
    assert not any(line.startswith(("=", "+", "@", "\t", "\r")) for line in written.split(","))
    back = store.read_rows(tmp_path / "grades.csv")["a"]
    assert back["file"] == value and back["reason"] == value


def test_every_csv_of_the_project_uses_the_one_escaping():
    """grades.csv, the scores template, the LMS exports and similarity.csv: all through store."""
    from autograder import REPO

    for path in [
        "autograder/lms.py",
        "autograder/similarity.py",
        "autograder/grading/report.py",
        "autograder/grading/shard.py",
        "autograder/grading/manual.py",
    ]:
        source = (REPO / path).read_text()
        assert "csv.writer(" not in source and "csv.DictWriter(" not in source, path


def test_maxima_are_written_once_and_read_back(tmp_path):
    store.save_maxima(tmp_path, "01", {"q1": 3.0, "q2": 0.5})
    store.save_maxima(tmp_path, "02", {"w": 2.0})
    assert store.maxima(tmp_path) == {"01": {"q1": 3.0, "q2": 0.5}, "02": {"w": 2.0}}
    (tmp_path / store.MAXIMA).write_text("{not json")
    assert store.maxima(tmp_path) == {}


def test_our_own_json_is_read_safely(tmp_path):
    (tmp_path / "a.json").write_text('{"x": 1}')
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "deep.json").write_text("[" * 100000 + "]" * 100000)
    (tmp_path / "link.json").symlink_to(tmp_path / "a.json")
    assert store.read_json(tmp_path / "a.json") == {"x": 1}
    for name in ("list.json", "deep.json", "link.json", "absent.json"):
        assert store.read_json(tmp_path / name) == {}, name
    assert (
        store.number("2.5") == 2.5
        and store.number("nan") == 0.0
        and store.number(None, None) is None
    )
