"""The course as students meet it: every notebook run in JupyterLab in headless Chromium.

One JupyterLab server (this environment, 127.0.0.1, a free port, a random token) and one browser
serve the whole module. Each notebook is opened twice: answered (the student notebook with every
answer cell taken from the built solution) and untouched. Cells run through
JupyterLab's own ``notebook:run-all-cells`` command; the assertions read what the page received and
rendered. Every widget the page renders must be a live control, and changing each control (a real
key press, click, typed value or dropped file) must change what its cell shows. A screenshot of
each notebook at its first widget goes to ``build/screens/<stem>.png``, listed in
``build/screens/index.json`` for the module report. What each run printed is recorded in
``executions`` (cells, outputs and the results its cells stored), so that ``test_notebooks`` reads
these runs instead of executing the notebooks again.

Needs Debian's ``chromium`` and ``chromium-driver`` (.ci/run installs them). Without them the test
fails in CI (``CI=true``) and is skipped, saying so, elsewhere.
"""

import json
import os
from pathlib import Path

import executions
import nbformat
import pytest
from browser_helpers import TRACEBACK_TEXT, VALUE_CONTROLS, Lab, browser_paths
from notebook_helpers import load_built, question_names

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
STEMS = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SCREENS = REPO / "build" / "screens"


@pytest.fixture(scope="session")  # one per process of `make test` that runs browser tests
def lab(tmp_path_factory, pets_root):
    paths, missing = browser_paths()
    if paths is None:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing + "; CI fails here instead of skipping")
    tmp = tmp_path_factory.mktemp("jupyterlab")
    env = {
        "PTM_DATA": str(pets_root),
        "PTM_CACHE": os.environ["PTM_CACHE"],
        "PTM_RESULTS": str(tmp / "results.json"),
    }
    for stem in STEMS:  # built first, outside the timed page work
        load_built(stem)
    lab = Lab(tmp, *paths, env=env)
    lab.results = tmp / "results.json"
    yield lab
    lab.close()


def _run(lab, stem, variant):
    """Open ``stem``'s ``variant`` in the lab's student folder, run every cell, and record the
    run."""
    name = f"{stem}-answered.ipynb" if variant == "answered" else f"{stem}.ipynb"
    nbformat.write(executions.notebook(stem, variant), str(lab.notebooks / name))
    lab.results.unlink(missing_ok=True)  # the results this run's cells store, and no other's
    page = lab.run(f"notebooks/{name}")
    results = json.loads(lab.results.read_text()) if lab.results.exists() else {}
    executions.record(stem, variant, executions.from_page(page.cells), results)
    return page


def _upload_file(pets_root) -> Path:
    """A real pet photo for upload boxes (the first test image)."""
    images = pets_root / "oxford-iiit-pet" / "images"
    first = (pets_root / "oxford-iiit-pet" / "annotations" / "test.txt").read_text().split()[0]
    return images / f"{first}.jpg"


def _exercise_widgets(page, upload_file, wait=30):
    """Change every control of every rendered widget; returns (log lines, failures).

    ``wait``: seconds a value control's output has to change (a course widget may refit a model)."""
    log, failures = [], []
    for cell in sorted({i for i, _ in page.widget_outputs()}):
        for position in range(len(page.controls(cell))):
            kind, el = page.controls(cell)[position]  # re-found: an update may redraw the controls
            page.wait_idle()
            before = page.output_signature(cell)
            did = page.change(kind, el, upload_file)
            after = page.wait_output_change(
                cell, before, timeout=wait if kind in VALUE_CONTROLS else 3
            )
            page.wait_idle()
            log.append(f"cell {cell} {kind}: {did} -> {'output changed' if after else 'no change'}")
            if after is None and kind in VALUE_CONTROLS:
                failures.append(
                    f"cell {cell}: {kind} ({did}) left the output unchanged; it reads: "
                    f"{before.split('|')[0].strip()[:300]!r}"
                )
            if TRACEBACK_TEXT in page.output_signature(cell):
                failures.append(
                    f"cell {cell}: {kind} ({did}) raised:\n{page.output_signature(cell)[-1500:]}"
                )
    return log, failures


def _save_screen(page, stem):
    widgets = page.widget_outputs()
    at = "first widget" if widgets else "top (no widget)"
    page.screenshot(SCREENS / f"{stem}.png", cell_index=widgets[0][0] if widgets else None)
    index = SCREENS / "index.json"
    # keep the entries of notebooks this run did not reach (a -k selection, an earlier failure)
    try:
        entries = {
            e["notebook"]: e
            for e in json.loads(index.read_text())
            if (SCREENS / e["file"]).exists()
        }
    except (OSError, ValueError, KeyError, TypeError):
        entries = {}
    entries[stem] = {"notebook": stem, "file": f"{stem}.png", "at": at, "widgets": len(widgets)}
    index.write_text(
        json.dumps([entries[s] for s in sorted(entries) if s in STEMS], indent=1) + "\n"
    )


@pytest.mark.parametrize("stem", STEMS)
def test_answered_notebook_runs_in_jupyterlab(lab, stem, pets_root):
    page = _run(lab, stem, "answered")
    try:
        assert not page.errors(), f"{stem}: error output in JupyterLab: {page.errors()}"
        unrun = [c["index"] for c in page.code_cells if c["execution_count"] is None]
        assert not unrun, f"{stem}: cells {unrun} never ran"
        checks = [c for c in page.code_cells if c["source"].startswith("grader.check(")]
        assert {c["source"].split('"')[1] for c in checks} == question_names(load_built(stem)[0])
        for cell in checks:
            assert "All test cases passed" in page.cell_text(cell), (
                f"{stem}: {cell['source']}\n{page.cell_text(cell)}"
            )
        count = page.wait_widgets_rendered()
        assert not page.broken_widgets(), f"{stem}: widgets not rendered: {page.broken_widgets()}"
        assert not any(
            t in page.dom_text() for t in ("Error displaying widget", "Loading widget")
        ), stem
        _save_screen(page, stem)
        log, failures = _exercise_widgets(page, _upload_file(pets_root))
        print(f"{stem}: ran in {page.seconds:.0f} s, {count} widget(s)", *log, sep="\n  ")
        assert not failures, "\n".join(failures)
        assert not page.errors(), f"{stem}: error output after using the widgets: {page.errors()}"
    finally:
        page.close()


@pytest.mark.parametrize("stem", STEMS)
def test_untouched_notebook_runs_in_jupyterlab(lab, stem):
    page = _run(lab, stem, "untouched")
    try:
        assert not page.errors(), (
            f"{stem}: the untouched notebook shows tracebacks: {page.errors()}"
        )
        unrun = [c["index"] for c in page.code_cells if c["execution_count"] is None]
        assert not unrun, f"{stem}: cells {unrun} never ran"
        assert TRACEBACK_TEXT not in page.dom_text()
        assert "to do:" in page.text(), (
            f"{stem}: no reminder from attempt() in the untouched notebook"
        )
        page.wait_widgets_rendered()
        assert not page.broken_widgets(), f"{stem}: widgets not rendered: {page.broken_widgets()}"
        print(f"{stem} (untouched): ran in {page.seconds:.0f} s")
    finally:
        page.close()


LIVE_CONTROLS = """\
import ipywidgets as w
out = w.Output()
controls = [w.IntSlider(0, 0, 10), w.BoundedIntText(1, 0, 5), w.Dropdown(options=["a", "b", "c"]),
            w.ToggleButtons(options=["x", "y"]), w.Checkbox(False), w.RadioButtons(options=["p", "q"]),
            w.ToggleButton(False), w.FileUpload(accept="image/*")]

def show(change=None):
    with out:
        out.clear_output(wait=True)
        print([len(c.value) if isinstance(c, w.FileUpload) else c.value for c in controls])

for control in controls:
    control.observe(show, "value")
show()
w.VBox(controls + [out])"""  # noqa: E501
DEAD_CONTROL = (
    "import ipywidgets as w\n"
    'w.interactive(lambda k: print("always the same"), k=w.IntSlider(0, 0, 5))'
)
BROKEN_VIEW = """from IPython.display import display
display({"application/vnd.jupyter.widget-view+json": {"model_id": "no-such-model", "version_major": 2,
         "version_minor": 0}, "text/plain": "a widget whose model is gone"}, raw=True)"""  # noqa: E501


def test_widget_checks_see_live_dead_and_broken_widgets(lab, pets_root):
    """The checks above can fail: every kind of control is changed and seen to act, a control that
    changes nothing is reported, and a widget view whose model is missing is reported as broken."""
    nb = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        }
    )
    nb.cells = [
        nbformat.v4.new_code_cell(src) for src in (LIVE_CONTROLS, DEAD_CONTROL, BROKEN_VIEW)
    ]
    nbformat.write(nb, str(lab.notebooks / "widget-kinds.ipynb"))
    page = lab.run("notebooks/widget-kinds.ipynb")
    try:
        assert page.wait_widgets_rendered() == 3 and not page.errors()
        broken = page.broken_widgets()
        assert (
            len(broken) == 1
            and broken[0].startswith("cell 2:")
            and "Error displaying widget" in broken[0]
        )
        log, failures = _exercise_widgets(
            page, _upload_file(pets_root), wait=5
        )  # these callbacks only print
        live = [line for line in log if line.startswith("cell 0 ")]
        assert [line.split(":")[0] for line in live] == [
            f"cell 0 {kind}"
            for kind in (
                "slider",
                "number",
                "dropdown",
                "toggle buttons",
                "checkbox",
                "radio",
                "toggle",
                "upload",
            )
        ]
        assert all(line.endswith("output changed") for line in live), log
        assert len(failures) == 1 and failures[0].startswith(
            "cell 1: slider (slider 0.0 -> 5.0 of [0.0, 5.0]"
        )
        assert (
            "left the output unchanged; it reads:" in failures[0]
            and "always the same" in failures[0]
        ), failures
    finally:
        page.close()


WIDGET_WITH_STILL = """\
import sys; sys.path.insert(0, "..")
import ipywidgets as w
from matplotlib.figure import Figure
from utils import widgets
still = Figure(figsize=(2, 1))
still.subplots().plot([0, 1])
widgets.with_still(w.IntSlider(3, 0, 5), still)"""


def test_a_widget_with_a_still_shows_only_the_live_widget(lab):
    """JupyterLab with a kernel renders the widget view of ``widgets.with_still`` and not its PNG
    still, which the kernel sent in the same output (for static pages): one output, one live slider,
    no image."""
    nb = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        }
    )
    nb.cells = [nbformat.v4.new_code_cell(WIDGET_WITH_STILL)]
    nbformat.write(nb, str(lab.notebooks / "widget-still.ipynb"))
    page = lab.run("notebooks/widget-still.ipynb")
    try:
        assert page.wait_widgets_rendered() == 1 and not page.errors() and not page.broken_widgets()
        (output,) = page.code_cells[0]["outputs"]
        assert {"image/png", "application/vnd.jupyter.widget-view+json"} <= set(output["data"])
        area = page._output_area(0)
        assert [kind for kind, _ in page.controls(0)] == ["slider"]
        assert (
            page.driver.execute_script("return arguments[0].querySelectorAll('img').length;", area)
            == 0
        )
    finally:
        page.close()
