"""Notebook 01 (OLS on raw pixels): runs end to end, public tests pass when answered, wrong answers get hints."""
import pytest

from notebook_helpers import (assert_hints, assert_public_tests_pass, execute, load_built, outputs_text,
                              question_names)

STEM = "01_ols_raw_pixels"
pytestmark = pytest.mark.slow

# One plausible wrong answer per question, applied to the solution notebook, and the hint it must get.
WRONG = {
    "ols_phi": ("return images.reshape(images.shape[0], -1)",
                "return images.reshape(images.shape[0], -1).T", "rows are images, so do not transpose"),
    "ols_fit": ("    X = add_bias(np.asarray(Phi, dtype=np.float64))\n    return np.linalg.solve(X.T @ X, X.T @ np.asarray(Y",
                "    X = np.asarray(Phi, dtype=np.float64)\n    return np.linalg.solve(X.T @ X, X.T @ np.asarray(Y",
                "did you add the bias column?"),
    "ols_predict": ("return np.where(scores >= 0, 1, -1)", "return np.sign(scores)", "np.sign(0) is 0"),
    "ols_fix": ("    D[0, 0] = 0.0\n", "", "shrinks the bias too"),
    "ols_mc": ('ols_mc_answer = "C"', 'ols_mc_answer = "A"', "not this one"),
}


@pytest.fixture(scope="module")
def built():
    return load_built(STEM)


def test_every_question_has_a_wrong_answer(built):
    assert question_names(built[0]) == set(WRONG)


def test_solution_runs_end_to_end(built, pets_root):
    nb, _ = execute(built[0])  # runtime is measured by `make bench`, not asserted here
    text = outputs_text(nb)
    assert "ols_fix results: All test cases passed!" in text


def test_untouched_notebook_runs_without_errors(built, pets_root):
    nb, _ = execute(built[1])  # raises CellExecutionError if any cell fails
    assert "to do: phi" in outputs_text(nb), "demo cells should print a reminder for unwritten functions"


def test_public_tests_pass_when_answered(built):
    assert_public_tests_pass(*built, WRONG)


def test_wrong_answers_get_their_hints(built, tmp_path):
    assert_hints(built[0], STEM, WRONG, tmp_path)
