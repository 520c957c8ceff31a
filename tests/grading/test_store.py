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


def test_student_text_is_cleaned_one_way():
    """store.printable is the one cleaning of what a student controls (reasons, hints, answers,
    similarity snippets): printable, bounded, a hidden test's line redacted even in full-width
    letters."""
    hostile = "\x1b[31mred\x1b[0m\tand\x00 \u202eevil\r\n    indented"
    assert store.printable(hostile) == "red and evil indented"
    block = store.printable(hostile, one_line=False)
    assert block.splitlines() == ["red    and   evil", "    indented"]
    secret = "assert fit(X) == 42"
    leaked = "ok\n" + "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in secret)
    assert store.printable(leaked, 500, (secret,), one_line=False) == "ok\n" + store.REDACTED
    assert store.printable("x" * 50, 10) == "x" * 9 + "…"


def test_the_modules_that_show_student_text_clean_it_with_store():
    from autograder import similarity
    from autograder.grading import manual, verdict

    text = "a\tb\x07\r\nc"
    assert verdict.clean(text, 50, (), False) == store.printable(text, 50, one_line=False)
    assert manual.clean_block(text, 50) == similarity.safe_text(text, 50) == "a    b \nc"
