"""Correct answers written differently from the course solution get full marks (tables in
``honest_answers``).

The wrong-answer tables (test_notebooks) check that the grader rejects mistakes; these check the
other half: that it accepts a correct answer however a student writes it (loops, attribute
assignment, ``.train(False)``, helpers, other imports, other wordings). Every grading of every
notebook is scored in ONE pool by the grading service's own judge (``notebook_helpers.judge``), with
the rows packed into a few gradings per notebook (``notebook_helpers.pack``).
"""

import nbformat
import pytest
from honest_answers import HONEST, KNOWN_FAILING, SOLO
from notebook_helpers import (
    hints,
    judge_all,
    load_built,
    manual_questions,
    mutate,
    pack,
    question_names,
)

STEMS = sorted(HONEST)
MIN_ROWS = 3


def short(text):
    return " ".join(text.split())[:100]


@pytest.mark.parametrize("stem", STEMS)
def test_every_question_has_three_honest_answers(stem):
    questions = question_names(load_built(stem)[0])
    counts = {q: sum(row[0] == q for row in HONEST[stem]) for q in questions}
    assert {row[0] for row in HONEST[stem]} <= questions, (
        "rows for questions the notebook does not have"
    )
    assert all(n >= MIN_ROWS for n in counts.values()), counts


@pytest.mark.parametrize("stem", STEMS)
def test_each_row_replaces_one_solution_text(stem):
    """Each solution text occurs once in the built solution notebook, and each replacement differs
    from it."""
    solution = load_built(stem)[0]
    for question, old, new in HONEST[stem] + KNOWN_FAILING.get(stem, []):
        assert old != new, question
        mutate(solution, {old: new})  # asserts that ``old`` occurs exactly once


@pytest.fixture(scope="module")
def judged():
    """Every packed round of both tables scored in one pool: {(stem, table name): [(rows,
    result)]}."""
    jobs, where = [], []
    for stem in STEMS:
        solution = load_built(stem)[0]
        for name, table in (("honest", HONEST[stem]), ("known", KNOWN_FAILING.get(stem, []))):
            for rows in pack(table, SOLO.get(stem, ())):
                jobs.append((mutate(solution, {old: new for _, old, new in rows}), stem))
                where.append(((stem, name), rows))
    out = {}
    for key_rows, result in zip(where, judge_all(jobs)):
        key, rows = key_rows
        out.setdefault(key, []).append((rows, result))
    return out


def not_full(rounds, stem):
    """'question: replacement (score/possible) hints' for every row of ``rounds`` below full marks.

    A written question (read by a person) claims no points: its row must be worth 0 to the
    autograder, and the answer must reach the reader: the review's extraction finds it, not the stub
    (``manual.extract``)."""
    import json

    from autograder.grading import manual

    written = manual_questions(stem)
    failures = []
    for rows, result in rounds:
        for question, _, new in rows:
            got = result[question]
            if question in written:
                nb = mutate(load_built(stem)[0], {new_old[1]: new_old[2] for new_old in rows})
                seen = manual.extract(
                    json.loads(nbformat.writes(nb)), {question: written[question]}
                )[question]
                if (
                    got["possible"] != 0
                    or not seen["answered"]
                    or new.strip()[:40] not in seen["answer"]
                ):
                    failures.append(
                        f"{question}: worth {got['possible']} to the autograder, or not found "
                        f"for the reader: {short(new)!r}"
                    )
            elif got["score"] < got["possible"] or got["possible"] <= 0:
                failures.append(
                    f"{question}: {got['score']}/{got['possible']} for {short(new)!r}\n"
                    f"  {hints(got)}"
                )
    return failures


@pytest.mark.slow
@pytest.mark.parametrize("stem", STEMS)
def test_honest_answers_score_full_marks(judged, stem):
    rounds = judged[stem, "honest"]
    assert sum(len(rows) for rows, _ in rounds) == len(HONEST[stem])
    failures = not_full(rounds, stem)
    assert not failures, "correct answers lost points:\n" + "\n".join(failures)


@pytest.mark.parametrize("stem", STEMS)
def test_honest_answers_are_never_flagged(stem):
    """The audit's false-positive rate on the honest corpus is 0 (issue 18 §3)."""
    import json

    import nbformat
    from notebook_helpers import template

    from autograder.grading import inputs, static

    solution, given = load_built(stem)[0], template(stem).given
    flagged = []
    for question, old, new in HONEST[stem]:
        nb = mutate(solution, {old: new})
        _, cells = inputs.rebuild(json.loads(nbformat.writes(nb)))
        found = static.audit([c for c in cells if c[2].strip() not in given])
        flagged += [f"{question}: {f} for {short(new)!r}" for f in found]
    assert not flagged, "\n".join(flagged)
