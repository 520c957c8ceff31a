"""Notebook 01 (OLS on raw pixels): runs end to end, public tests pass when answered, wrong answers get hints."""
import nbformat
import pytest

from autograder import DIST, NOTEBOOKS, check
from notebook_helpers import execute, fill_answers, grade_notebook, messages, mutate, outputs_text

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
    check.ensure_built([STEM])
    solution = nbformat.read(str(DIST / f"{STEM}-solution.ipynb"), as_version=4)
    student = nbformat.read(str(NOTEBOOKS / f"{STEM}.ipynb"), as_version=4)
    return solution, student


def test_solution_runs_end_to_end(built, pets_root):
    nb, _ = execute(built[0])  # runtime is measured by `make bench`, not asserted here
    text = outputs_text(nb)
    assert "ols_fix results: All test cases passed!" in text


def test_untouched_notebook_runs_without_errors(built, pets_root):
    nb, _ = execute(built[1])  # raises CellExecutionError if any cell fails
    assert "to do: phi" in outputs_text(nb), "demo cells should print a reminder for unwritten functions"


def test_public_tests_pass_when_answered(built):
    solution, student = built
    nb, _ = execute(fill_answers(student, solution), skip_ignored=True)
    text = outputs_text(nb)
    for question in WRONG:
        assert f"{question} results: All test cases passed!" in text, text[-2000:]


def test_wrong_answers_get_their_hints(built, tmp_path):
    wrong = mutate(built[0], {old: new for old, new, _ in WRONG.values()})
    results = grade_notebook(wrong, STEM, tmp_path)
    for question, (_, _, hint) in WRONG.items():
        assert results.results[question].score < results.results[question].possible, question
        assert hint in messages(results, question), f"{question}: hint {hint!r} missing:\n{messages(results, question)}"
