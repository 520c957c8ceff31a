"""The judge never runs student code: forgeries from inside graded functions change no score but
their own.

Graded in one pool by the grading service's judge and workers (``notebook_helpers.judge_all``), on
notebook 01: every attack of ``judge_attacks.PLACES`` on the untouched notebook (it must still earn
nothing), the call-time attacks on the full solution (every other question keeps its full marks),
and a leak that replays the inputs it was given in its error messages (a hidden case's inputs must
never reach the feedback). And, for every graded function of notebooks 01-03, a version that
rewrites the test's inputs in place earns nothing the same version without the rewrite does not earn
(issue 29 §3).
"""

import re

import nbformat
import pytest
from judge_attacks import AT_CALL, BODY, FORGE, LEAK, PLACES, rewriting
from notebook_helpers import judge_all, load_built, mutate, template

STEM = "01_ols_raw_pixels"
pytestmark = pytest.mark.slow


def attacked(nb, place):
    before, line, top = PLACES[place]
    return mutate(nb, {BODY: FORGE + "\n\n" + before + line + top})


@pytest.fixture(scope="module")
def judged():
    solution, student = load_built(STEM)
    jobs = [("solution", p, attacked(solution, p)) for p in AT_CALL]
    jobs += [("untouched", p, attacked(student, p)) for p in PLACES]
    leak_source = next(
        c.source for c in solution.cells if c.cell_type == "code" and BODY in c.source
    )
    jobs.append(("solution", "leak", mutate(solution, {leak_source: LEAK})))
    results = judge_all([(nb, STEM) for _, _, nb in jobs])
    return {(base, place): result for (base, place, _), result in zip(jobs, results)}


@pytest.mark.parametrize("place", sorted(PLACES))
def test_forgeries_on_an_untouched_notebook_earn_nothing(judged, place):
    result = judged[("untouched", place)]
    assert {q: r["score"] for q, r in result.items()} == {q: 0 for q in result}, place


@pytest.mark.parametrize("place", AT_CALL)
def test_forgeries_in_one_function_leave_every_other_question_as_it_was(judged, place):
    result = judged[("solution", place)]
    others = {
        q: (r["score"], r["possible"]) for q, r in result.items() if q not in ("ols_predict",)
    }
    assert all(score == possible for score, possible in others.values()), (place, others)
    assert result["ols_predict"]["score"] < result["ols_predict"]["possible"]
    hints = " ".join(c["hint"] for r in result.values() for c in r["cases"])
    assert "99" not in hints and "questions" not in hints


def test_hidden_inputs_never_reach_feedback(judged):
    cases = judged[("solution", "leak")]["ols_predict"]["cases"]
    public = [c for c in cases if not c["hidden"]]
    hidden = [c for c in cases if c["hidden"]]
    assert public and hidden
    assert any("LEAK" in c["hint"] for c in public)  # a public case shows the student's own error
    for c in hidden:
        assert "LEAK" not in c["hint"] and "ValueError" not in c["hint"], c
    # hidden cases ran after every public one: what the public messages replay holds only public
    # inputs
    longest = max(public, key=lambda c: len(c["hint"]))["hint"]
    assert longest.count("|") < 4, longest


def test_a_hidden_message_keeps_the_authors_words_and_drops_every_value():
    from autograder.grading.programs import judge

    source = (
        "def test_x(f):\n    w = f()\n"
        '    assert w == 3, f"you found w = {w:.3g}: the bias comes first"\n'
        '    assert w, "plain text"\n    raise AssertionError("raised " + str(w))\n'
    )
    messages = judge.hidden_messages(source)
    assert messages[3] == "you found w = …: the bias comes first"
    assert messages[4] == "plain text" and messages[5] == "raised …"


REWRITTEN = ("01_ols_raw_pixels", "02_logistic_regression_edges", "03_pretrained_features")


def graded_functions(stem, nb):
    """The functions a notebook defines that its tests take as arguments."""
    defined = {
        m
        for c in nb.cells
        if c.cell_type == "code"
        for m in re.findall(r"^def (\w+)\(", c.source, re.M)
    }
    return defined & template(stem).params


@pytest.fixture(scope="module")
def rewritten():
    jobs, where = [], []
    for stem in REWRITTEN:
        solution, _ = load_built(stem)
        names = graded_functions(stem, solution)
        for rewrite in (False, True):
            nb = nbformat.from_dict(solution)
            nb.cells.append(nbformat.v4.new_code_cell(rewriting(names, rewrite)))
            jobs.append((nb, stem))
            where.append((stem, rewrite, names))
    results = judge_all(jobs)
    return {
        (stem, rewrite): (names, result) for (stem, rewrite, names), result in zip(where, results)
    }


@pytest.mark.parametrize("stem", REWRITTEN)
def test_rewriting_the_tests_inputs_earns_nothing(rewritten, stem):
    names, plain = rewritten[(stem, False)]
    _, rewrote = rewritten[(stem, True)]
    assert len(names) >= 4, names  # every graded function of the notebook, wrapped
    more = {
        q: (plain[q]["score"], r["score"])
        for q, r in rewrote.items()
        if r["score"] > plain[q]["score"] + 1e-9
    }
    assert not more, f"rewriting its inputs earned more on {more} (plain, rewriting)"
    assert (
        sum(r["score"] for r in rewrote.values()) < sum(r["possible"] for r in rewrote.values()) / 2
    )
