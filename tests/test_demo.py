"""The module report (build/report.html) that `make demo` writes, rendered from its template."""

import json

import nbformat
import pytest

from autograder import demo
from utils import data


def _report(error=None):
    grid = [
        {"task": "pets breeds", "train_per_class": 5, "strategy": s, "test_acc": a}
        for s, a in (("linear probe, final", 0.6), ("fine-tune", 0.7), ("from scratch", 0.1))
    ]
    return {
        "stages": {"ols": {"test_acc": 0.55}, "frozen": {"test_acc": 0.97}},
        "scenarios": grid,
        "course_data": data.course_counts(),
        "majority_baseline": 0.53,
        "notebooks": {"01_ols_raw_pixels": {"seconds": 9.5, "error": error}},
        "checks": [
            {
                "notebook": "01_ols_raw_pixels",
                "questions": 7,
                "ok": True,
                "failed": "",
                "solution": "11 / 11",
                "untouched": "0",
            }
        ],
        "check": "passed",
        "grading": None,
        "seconds": 60.0,
        "finished_at": "now",
        "machine": "2 CPUs",
    }


def test_report_shows_the_arc_the_data_the_grid_and_a_healthy_headline(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "BUILD", tmp_path)
    page = demo.write_report(_report()).read_text()
    counts = data.course_counts()
    assert (
        "All four notebooks ran" in page
        and 'alt="Bar chart: test accuracy of each notebook' in page
        and "; ols 0.550" in page
    )
    assert f"trainval: {counts['trainval']['n']} images" in page
    assert "<b>0.700</b>" in page  # the best strategy of the row is bold
    assert "No screenshots yet" in page
    assert (
        json.loads((tmp_path / "report.json").read_text())["scenarios"][0]["task"] == "pets breeds"
    )


def test_report_names_a_failed_notebook_and_escapes_its_error(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "BUILD", tmp_path)
    (tmp_path / "screens").mkdir()
    (tmp_path / "screens" / "index.json").write_text(
        json.dumps(
            [
                {
                    "notebook": "01_ols_raw_pixels",
                    "file": "01_ols_raw_pixels.png",
                    "at": "first widget",
                    "widgets": 1,
                }
            ]
        )
    )
    page = demo.write_report(_report(error="<script>alert(1)</script>")).read_text()
    assert "Needs attention: 01_ols_raw_pixels failed" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'src="screens/01_ols_raw_pixels.png"' in page


def test_report_shows_figure_5_with_its_uncertainty_and_ties(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "BUILD", tmp_path)
    report = _report()
    report["scenarios"] = [
        {"task": "digits", "train_per_class": 5, "strategy": s, "seed": k, "test_acc": a + 0.01 * k}
        for s, a in (("A", 0.8), ("B", 0.795), ("C", 0.1))
        for k in range(3)
    ]
    report["scenarios"][4]["test_acc"] = 0.85  # B's seed 1: noisy enough for a tie with A
    page = demo.write_report(report).read_text()
    assert (
        "0.810 ± 0.006" in page
        and "tie: B, A" in page
        and "<b>0.110" not in page
        and "0.110 ± 0.006" in page
    )


def test_a_solution_cell_becomes_what_a_student_writes():
    solution = (
        "def phi(images):\n    # BEGIN SOLUTION\n"
        "    flat = images.reshape(len(images), -1)  # SOLUTION\n"
        '    return flat\n    # END SOLUTION\n    """ # BEGIN PROMPT\n'
        '    raise NotImplementedError("phi")\n'
        '    """ # END PROMPT\nrng = np.random.default_rng(0)  # SEED\n'
    )
    assert demo.clean_source(solution) == (
        "def phi(images):\n    flat = images.reshape(len(images), -1)\n"
        "    return flat\nrng = np.random.default_rng(0)\n"
    )
    assert (
        demo.clean_source("x = '# SOLUTION is a word here'\n")
        == "x = '# SOLUTION is a word here'\n"
    )


@pytest.mark.parametrize("sample", sorted(demo.SAMPLES.glob("*.ipynb")), ids=lambda p: p.stem)
def test_committed_samples_read_like_a_students_notebook(sample):
    """No otter marker in any cell, and the outputs of a run (a review page shows them beside an
    answer)."""
    nb = nbformat.read(str(sample), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code:
        assert not demo.MARKER_LINE.search(cell.source) and "# SOLUTION" not in cell.source, cell.id
    assert sum(bool(c.get("outputs")) for c in code) >= len(code) // 2, "the sample was not run"
    errors = [o.ename for c in code for o in c.get("outputs", []) if o.output_type == "error"]
    broken = ["SyntaxError", "IndentationError"] if sample.stem.endswith("-broken") else []
    assert errors[:1] == [e for e in errors[:1] if e in broken] and bool(errors) == bool(broken), (
        errors
    )


def test_committed_samples_answer_with_the_current_masters(tmp_path):
    """The samples are rewritten by hand (`python -m autograder demo --samples-only`) when a
    question changes: a sample left behind grades below full marks on Gradescope (CI found one).
    Their cells are the built notebook's, answered with today's solution: the same sources, cell by
    cell, as make_samples would write now."""
    from autograder import check

    check.ensure_built([m.stem for m in check.masters()])
    fresh = {p.name: p for p in demo.make_samples(dest=tmp_path, log=lambda line: None)}
    assert sorted(fresh) == sorted(p.name for p in demo.SAMPLES.glob("*.ipynb"))
    stale = []
    for name, path in fresh.items():
        now = nbformat.read(str(path), as_version=4)
        committed = nbformat.read(str(demo.SAMPLES / name), as_version=4)
        if [(c.get("id"), c.source) for c in now.cells] != [
            (c.get("id"), c.source) for c in committed.cells
        ]:
            stale.append(name)
    assert not stale, f"rewrite the samples (python -m autograder demo --samples-only): {stale}"


def test_report_lists_the_stages_in_the_modules_order(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "BUILD", tmp_path)
    report = _report()
    report["stages"] = {
        "edges": {"test_acc": 0.6},
        "finetune": {"test_acc": 0.99},
        "frozen": {"test_acc": 0.97},
        "ols": {"test_acc": 0.55},
    }  # results.json's alphabetical order
    page = demo.write_report(report).read_text()
    table = page[page.index("<td>ols</td>") :]
    assert (
        table.index("<td>ols</td>")
        < table.index("<td>edges</td>")
        < table.index("<td>frozen</td>")
        < table.index("<td>finetune</td>")
    )
