"""Points only for what the judge can verify (issue 29 §4): a "how it was computed" check reads what
the worker reports about itself, so it is worth 0 points; where it fires, the answer keeps its
points and the submission is flagged for a person to look at (``verdict.review_flags``). Graded by
the service's own judge, on notebook 01.
"""

import pytest
from notebook_helpers import judge_all, load_built, mutate

from autograder.grading import verdict

STEM = "01_ols_raw_pixels"
SOLVE = "return np.linalg.solve(X.T @ X, X.T @ np.asarray(Y, dtype=np.float64))"
INVERSE = "return np.linalg.inv(X.T @ X) @ X.T @ np.asarray(Y, dtype=np.float64)"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def judged():
    solution, student = load_built(STEM)
    inverse, untouched, full = judge_all(
        [(mutate(solution, {SOLVE: INVERSE}), STEM), (student, STEM), (solution, STEM)]
    )
    return inverse, untouched, full


def cases(result):
    return {q: r["cases"] for q, r in result.items()}


def scores(result):
    return {q: (r["score"], r["possible"]) for q, r in result.items()}


def flags(result):
    return verdict.review_flags(cases(result), {}, scores(result))


def test_a_counted_shortcut_keeps_its_points_and_is_flagged(judged):
    inverse, _, full = judged
    assert (
        inverse["ols_fit"]["score"] == inverse["ols_fit"]["possible"] == full["ols_fit"]["possible"]
    )
    flags = verdict.review_flags(cases(inverse), {}, scores(inverse))
    assert flags and all(f.startswith("ols_fit: ") for f in flags), flags
    assert any("you formed an inverse" in f for f in flags), flags


def test_no_flag_for_the_solution_nor_for_functions_that_only_raise(judged):
    _, untouched, full = judged
    assert flags(full) == []
    # NotImplementedError is not a finding, nor is the unanswered letter of a multiple-choice
    # question (its format check fires on `...`, beside no points)
    assert any(not c["passed"] and c["kind"] == "assert" for c in untouched["ols_mc"]["cases"])
    assert flags(untouched) == []
