"""Helpers for the notebook tests (test_notebooks, executions, test_browser): run, fill, mutate and judge built notebooks."""
import functools
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"


def execute(nb, cwd=NOTEBOOKS, timeout=1200):
    """Run a notebook with nbclient in ``cwd`` (the student's place: notebooks/); returns (nb, seconds).

    Raises ``nbclient.exceptions.CellExecutionError`` on the first failing cell.
    """
    nb = nbformat.from_dict(nb)
    log = Path(cwd) / ".OTTER_LOG"  # grader.check appends to it; leave no trace in the repo
    had_log = log.exists()
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        if not had_log:
            log.unlink(missing_ok=True)
    return nb, time.perf_counter() - start


def outputs_text(nb) -> str:
    """Every stream and text/plain output of a notebook, joined."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif "data" in out:
                parts.append(out.data.get("text/plain", ""))
            elif out.output_type == "error":
                parts.append(f"{out.ename}: {out.evalue}")
    return "\n".join(parts)


def fill_answers(student, solution):
    """The student notebook with every answer cell replaced by the solution's cell of the same id."""
    by_id = {c.id: c for c in solution.cells}
    filled = nbformat.from_dict(student)
    for cell in filled.cells:
        if "otter_answer_cell" in cell.metadata.get("tags", []):
            cell.source = by_id[cell.id].source
    return filled


def mutate(nb, replacements):
    """A copy of ``nb`` with ``old -> new`` applied in code cells; every ``old`` must occur exactly once."""
    nb = nbformat.from_dict(nb)
    for old, new in replacements.items():
        hits = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
        assert len(hits) == 1, f"mutation target found {len(hits)} times: {old!r}"
        hits[0].source = hits[0].source.replace(old, new)
    return nb


def load_built(stem):
    """(solution, student) notebooks of ``stem``, built first when missing or stale."""
    from autograder import DIST, check

    check.ensure_built([stem])
    solution = nbformat.read(str(DIST / f"{stem}-solution.ipynb"), as_version=4)
    student = nbformat.read(str(NOTEBOOKS / f"{stem}.ipynb"), as_version=4)
    return solution, student


def question_names(nb) -> set:
    """The questions a notebook checks with ``grader.check("...")``."""
    return {c.source.split('"')[1] for c in nb.cells
            if c.cell_type == "code" and c.source.startswith("grader.check(")}


MEASURED = r"(?<![\d.])(?:0\.\d{2,3}|\d{2,4} (?:images|s\b|seconds))"  # the before-stop hook's regex (item 4)


def assert_no_measured_numbers(stem):
    """Counts, accuracies and run times are printed by cells, never written in a master's markdown."""
    import json
    import re

    nb = json.loads((REPO / "solutions" / f"{stem}.ipynb").read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            assert not re.findall(MEASURED, text), text


# ------------------------------------------------------------------------------------------- the judge
# The grading service scores a submission in its *judge* stage: otter's tests (public and hidden, from the zip)
# run against the graded definitions only (autograder/grading/programs/judge.py). The helpers below run that same
# program on the same payload, without the sandbox (the notebooks here are ours), so that a table of wrong
# answers is scored exactly as a student's submission is, in seconds instead of a whole notebook run.

_TEMPLATES = tempfile.TemporaryDirectory(prefix="ptm-judge-")   # unpacked zips; removed when the process ends


@functools.lru_cache(maxsize=None)
def template(stem):
    """The assignment ``stem`` as the grading service reads it from its built zip (loaded once per session)."""
    from autograder import zip_path
    from autograder.check import ensure_built
    from autograder.grading import batch

    ensure_built([stem])   # a folder per call: the judge's threads may load the same zip at once
    return batch.load_template(zip_path(stem), Path(tempfile.mkdtemp(dir=_TEMPLATES.name)) / stem)


def manual_questions(stem) -> dict:
    """{question: spec} of ``stem``'s written questions (read by a person; their checks are worth 0 points)."""
    return template(stem).manual or {}


def judge(nb, stem, timeout=600) -> dict:
    """Score ``nb`` with ``stem``'s tests as the grading service's judge does: {question: {score, possible, cases}}."""
    import json
    import shutil

    from autograder.grading import batch, inputs, sandbox, tamper

    tpl = template(stem)
    _, cells = inputs.rebuild(json.loads(nbformat.writes(nbformat.from_dict(nb))))
    root = Path(tempfile.mkdtemp(prefix="ptm-judge-run-"))
    try:
        batch._layout(root, False)   # the work folder the service gives a stage
        payload = batch.judge_payload(tpl, tamper.graded_definitions(cells, tpl.params), root, use_bwrap=False)
        outcome = sandbox.run_stage("judge", root, [], [str(batch.PROGRAMS / "judge.py")], sandbox.Limits(),
                                    timeout, use_bwrap=False, stdin=json.dumps(payload).encode(), use_cgroup=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert outcome.kind == "finished" and outcome.channel, (
        f"the judge of {stem} did not finish ({outcome.kind}, exit {outcome.returncode}):\n{outcome.log_tail}")
    return json.loads(outcome.channel)["questions"]


def judge_all(jobs) -> list:
    """``judge(nb, stem)`` for every ``(nb, stem)`` of ``jobs``, two at a time (one per core); results in order."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda job: judge(*job), jobs))


def hints(question_result) -> str:
    """Every failure message the judge returned for one question (what its feedback page shows)."""
    return "\n".join(case["hint"] for case in question_result["cases"] if not case["passed"])


def pack(table, solo=()):
    """Rounds of rows of a wrong-answer table that one grading can hold: at most one row per question, no two
    rows whose texts overlap, and the rows of the questions in ``solo`` alone."""
    def clash(a, b):
        return a[0] == b[0] or any(x in y or y in x for x in a[1:3] for y in b[1:3])

    rounds = []
    for row in table:
        batch = next((b for b in rounds if row[0] not in solo and b[0][0] not in solo
                      and not any(clash(row, other) for other in b)), None)
        if batch is None:
            rounds.append([row])
        else:
            batch.append(row)
    return rounds
