"""Notebook 02 (edges + logistic regression): runs end to end, public tests pass, wrong answers get hints."""
import numpy as np
import pytest
from scipy.signal import correlate2d

from notebook_helpers import (assert_hints, assert_public_tests_pass, execute, load_built, outputs_text,
                              question_names)

STEM = "02_logistic_regression_edges"

WRONG = {
    "edges_conv": ("    out = np.zeros((H - kh + 1, W - kw + 1))\n",
                   "    out = np.zeros((H - kh + 1, W - kw + 1))\n    kernel = kernel[::-1, ::-1]\n",
                   "you flipped the kernel"),
    "edges_loss": ("return float(np.mean(np.logaddexp(0.0, -margins)))",
                   "return float(np.sum(np.logaddexp(0.0, -margins)))", "not the sum (the 1/n)"),
    "edges_grad": ("return -(X.T @ (weights * Y)) / len(Y)", "return -(X.T @ (weights * Y))",
                   "did you forget the 1/n of the mean?"),
    "edges_sgd": ("w = w - lr * logistic_grad(", "w = w + lr * logistic_grad(", "step AGAINST the gradient"),
}


@pytest.fixture(scope="module")
def built():
    return load_built(STEM)


def test_every_question_has_a_wrong_answer(built):
    assert question_names(built[0]) == set(WRONG)


def solution_function(solution, name):
    """Define one of the solution notebook's functions here (for checks against references)."""
    source = next(c.source for c in solution.cells if c.cell_type == "code" and f"def {name}(" in c.source)
    scope = {"np": np}
    exec(source, scope)
    return scope[name]


def test_conv_is_cross_correlation_like_scipy(built):
    conv2d_valid = solution_function(built[0], "conv2d_valid")
    rng = np.random.default_rng(0)
    for shape, kshape in [((6, 6), (3, 3)), ((9, 5), (2, 4)), ((4, 7), (1, 1))]:
        image, kernel = rng.normal(size=shape), rng.normal(size=kshape)
        assert np.allclose(conv2d_valid(image, kernel), correlate2d(image, kernel, mode="valid"))
    note_image = np.zeros((6, 6))
    note_image[:, :3] = 10
    assert np.array_equal(conv2d_valid(note_image, np.array([[1, 0, -1]] * 3)), np.array([[0, 30, 30, 0]] * 4))


@pytest.mark.slow
def test_solution_runs_end_to_end(built, pets_root):
    nb, _ = execute(built[0])  # runtime is measured by `make bench`, not asserted here
    assert "edges_sgd results: All test cases passed!" in outputs_text(nb)


@pytest.mark.slow
def test_untouched_notebook_runs_without_errors(built, pets_root):
    nb, _ = execute(built[1])
    assert "to do: conv2d_valid" in outputs_text(nb)


@pytest.mark.slow
def test_public_tests_pass_when_answered(built):
    assert_public_tests_pass(*built, WRONG)


@pytest.mark.slow
def test_wrong_answers_get_their_hints(built, tmp_path):
    assert_hints(built[0], STEM, WRONG, tmp_path)
