"""tools/time_estimates.py: each intro's "Estimated time" is what the tool derives from the
notebooks now."""

import json
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import time_estimates as te  # noqa: E402


@pytest.mark.parametrize("stem", te.STEMS)
def test_intro_says_the_tools_estimate(stem):
    """The master's and the student notebook's intro carry the tool's rounded estimate, and only
    that figure."""
    record = te.derive(json.loads(te.RECORD.read_text()))
    expected = te.intro_for(record["notebooks"][stem])
    assert te.intro_estimate(stem) == expected, (
        f"{stem}: the intro's estimate is not the tool's; run python tools/time_estimates.py, "
        "then autograder build"
    )
    student = "\n".join(
        "".join(c["source"])
        for c in json.loads((te.NOTEBOOKS / f"{stem}.ipynb").read_text())["cells"]
    )
    assert expected in student, f"{stem}: notebooks/ is stale: run python -m autograder build"


def test_docs_page_and_record_are_current():
    """docs/time-estimates.{json,md} are what the tool writes from the current notebooks
    (--check)."""
    assert te.main(["--check"]) == 0
    page = te.PAGE.read_text()
    assert "Brysbaert" in page and f"{te.WPM} words per minute" in page
    assert all(f"`{stem}`" in page for stem in te.STEMS)


def test_question_types_read_from_the_masters():
    types = {name: kind for stem in te.STEMS for name, kind in te.questions(stem).items()}
    assert types["ols_phi"] == types["frozen_sgd"] == types["ft_freeze"] == "function"
    assert types["ols_mc"] == "choice" and types["frozen_phone"] == "value"
    assert types["frozen_explain"] == types["ft_explain"] == "written"
    assert (
        te.question_type("# BEGIN QUESTION\nname: q\nmanual: true", 'answer = "..."  # SOLUTION')
        == "written"
    )
    assert te.question_type("name: q", 'pick = "B"  # SOLUTION') == "choice"


def test_run_seconds_come_from_nbclients_cell_timings(tmp_path):
    """A cell that sleeps is timed at least as long as its sleep; a notebook without timings is
    refused."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("import time; time.sleep(0.5)"),
            nbformat.v4.new_code_cell("1 + 1"),
        ]
    )
    NotebookClient(nb, kernel_name="python3").execute()
    nbformat.write(nb, str(tmp_path / "run.ipynb"))
    assert 0.5 <= te.run_seconds(tmp_path / "run.ipynb") < 30
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]),
        str(tmp_path / "bare.ipynb"),
    )
    with pytest.raises(SystemExit, match="no cell timings"):
        te.run_seconds(tmp_path / "bare.ipynb")


def test_rounding_is_up_to_the_half_hour():
    assert [te.rounded_hours(m) for m in (1, 30, 31, 75, 90, 91)] == [0.5, 0.5, 1.0, 1.5, 1.5, 2.0]
    assert te.hours_text(1.0) == "about 1 hour" and te.hours_text(1.5) == "about 1.5 hours"


def test_an_observed_read_replaces_the_derived_estimate(tmp_path, monkeypatch):
    """Timed reads (--observed) give the intro their median; the page lists them beside the
    derivation; bad input is refused with what to fix, and the record is left as it was."""
    monkeypatch.setattr(te, "RECORD", tmp_path / "record.json")
    monkeypatch.setattr(te, "PAGE", tmp_path / "page.md")
    te.RECORD.write_text(
        json.dumps(
            json.loads(
                (Path(te.__file__).parent.parent / "docs" / "time-estimates.json").read_text()
            )
        )
    )
    written = {}
    monkeypatch.setattr(
        te, "write_intro", lambda stem, entry: written.__setitem__(stem, entry) or False
    )
    first, second = te.STEMS[:2]
    assert (
        te.main(
            [
                "--observed",
                first,
                "200",
                "TA pilot, 2027-01-12, laptop CPU",
                "--observed",
                first,
                "160",
                "pilot student, 2027-01-13, Colab",
            ]
        )
        == 0
    )
    assert written[first]["observed_median"] == 180 and written[first]["hours"] == 3.0
    assert "median of timed reads" in te.intro_for(written[first])
    assert written[second]["observed_median"] is None and "derives them" in te.intro_for(
        written[second]
    )
    page = te.PAGE.read_text()
    assert (
        "| 200, 160 |" in page and "TA pilot, 2027-01-12, laptop CPU" in page and "none yet" in page
    )
    before = te.RECORD.read_text()
    for argv, message in (
        (["--observed", first, "two hours", "TA"], "MINUTES must be a number"),
        (["--observed", "05_missing", "90", "TA"], "no notebook '05_missing'"),
        (["--observed", first, "90", " "], "WHO must say"),
    ):
        with pytest.raises(SystemExit, match=message):
            te.main(argv)
        assert te.RECORD.read_text() == before
