"""Notebook 02 (edges + logistic regression): runs end to end, public tests pass, wrong answers get hints,
and the edges are compared with a dimension-matched control on splits that are what they say."""
import re

import numpy as np
import pytest
from scipy.signal import correlate2d

from notebook_helpers import (assert_no_measured_numbers, assert_public_tests_pass, assert_wrong_answers, execute, load_built,
                              outputs_text, question_names)

STEM = "02_logistic_regression_edges"
STEP = "w = w - lr * logistic_grad(w, X[batch], Y[batch])"
# Plausible wrong answers: (question, solution code, wrong code, hint the grader must show).
WRONG = [
    ("edges_conv", "    out = np.zeros((H - kh + 1, W - kw + 1))\n",
     "    out = np.zeros((H - kh + 1, W - kw + 1))\n    kernel = kernel[::-1, ::-1]\n", "you flipped the kernel"),
    ("edges_design", "my_kernel = np.array([[0, 1, 1], [-1, 0, 1], [-1, -1, 0]], dtype=float)",
     "my_kernel = np.array([[1, 0, -1]] * 3, dtype=float)", "A vertical or horizontal edge filter sees both patterns alike"),
    ("edges_design", "my_kernel = np.array([[0, 1, 1], [-1, 0, 1], [-1, -1, 0]], dtype=float)",
     "my_kernel = np.array([[1, 1, 1], [0, 1, 1], [0, 0, 1]], dtype=float)", "what must its nine numbers add up to?"),
    ("edges_predict", 'edges_prediction = "edges"', 'edges_prediction = "maybe"', "must be one of the strings"),
    ("edges_predict", "edges_prediction_why = \"Edge maps", "edges_prediction_why = \"Edges.\"\n_unused = \"Edge maps",
     "at least 8 words"),
    ("edges_loss", "return float(np.mean(np.logaddexp(0.0, -margins)))",
     "return float(np.sum(np.logaddexp(0.0, -margins)))", "not the sum"),
    ("edges_loss", "return float(np.mean(np.logaddexp(0.0, -margins)))",
     "return float(np.mean(np.log(1 + np.exp(-margins))))", "use np.logaddexp"),
    ("edges_grad", "return -(X.T @ (weights * Y)) / len(Y)", "return -(X.T @ (weights * Y))",
     "n times the numerical one"),
    ("edges_grad", "return -(X.T @ (weights * Y)) / len(Y)", "return (X.T @ (weights * Y)) / len(Y)", "wrong sign"),
    ("edges_sgd", STEP, "w = w + lr * logistic_grad(w, X[batch], Y[batch])", "AGAINST"),
    ("edges_sgd", "order = rng.permutation(n)", "order = np.arange(n)", "stored order"),
    ("edges_sgd", "    path = [w.copy()]\n    for _ in range(num_epochs):\n        order = rng.permutation(n)\n",
     "    path = [w.copy()]\n    order = rng.permutation(n)\n    for _ in range(num_epochs):\n", "same order"),
    ("edges_sgd", "for start in range(0, n, batch_size):", "for start in range(0, n - batch_size + 1, batch_size):",
     "dropped the last, smaller mini-batch"),
    ("edges_sgd", "order = rng.permutation(n)", "order = np.random.permutation(n)", "not reproducible from the seed"),
    ("edges_sgd", STEP, "w = w + lr * (X[batch].T @ (Y[batch] / (1 + np.exp(Y[batch] * (X[batch] @ w))))) / len(batch)",
     "logistic_grad was never called"),
    ("edges_explain", "edges_explain = \"The cell", "edges_explain = \"Edges won.\"\n_unused = \"The cell",
     "at least 20 words"),
]


@pytest.fixture(scope="module")
def built():
    return load_built(STEM)


def test_every_question_has_wrong_answers(built):
    assert question_names(built[0]) == {row[0] for row in WRONG}


def solution_function(solution, name):
    """Define one of the solution notebook's functions here (for checks against references)."""
    source = next(c.source for c in solution.cells if c.cell_type == "code" and f"def {name}(" in c.source)
    scope = {"np": np, "POOL": 8}
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


def test_control_matches_the_edge_features_in_number_and_blocks(built):
    """The control has exactly as many features as the edges, pooled over the same blocks, and no filter."""
    scope = {"np": np, "POOL": 8}
    exec(next(c.source for c in built[0].cells if "def block_stats(" in c.source), scope)
    scope["conv2d_valid"] = solution_function(built[0], "conv2d_valid")
    images = np.random.default_rng(0).uniform(size=(3, 64, 64))
    kernels = [np.array([[1, 0, -1]] * 3, float), np.array([[1, 0, -1]] * 3, float).T]
    edges, control = scope["edge_features"](images, kernels), scope["block_stats"](images)
    assert edges.shape == control.shape == (3, 98)
    # block (0, 0) of the control covers the centre pixels of the windows pooled into block (0, 0) of the edges
    assert np.isclose(control[0, 0], images[0, 1:9, 1:9].mean())
    assert np.isclose(control[0, 49], images[0, 1:9, 1:9].std())


@pytest.fixture(scope="module")
def ran(built, pets_root):
    nb, _ = execute(built[0])  # runtime is measured by `make bench`, not asserted here
    return nb


@pytest.mark.slow
def test_solution_runs_end_to_end(ran):
    text = outputs_text(ran)
    for question in question_names(ran):
        assert f"{question} results: All test cases passed!" in text


@pytest.mark.slow
def test_comparison_is_printed_with_its_uncertainty(ran):
    text = outputs_text(ran)
    m = re.search(r"edges ([\d.]+) vs control ([\d.]+) on (\d+) test images: (edges|control|neither) higher by ([\d.]+); "
                  r"standard error of the difference ≈ ([\d.]+), so the gap is (larger|within) two standard errors", text)
    assert m, text[-3000:]
    edges, control, se = float(m[1]), float(m[2]), float(m[6])
    assert m[4] == ("edges" if edges > control else "control" if control > edges else "neither")
    assert (m[7] == "larger") == (abs(edges - control) > 2 * se + 1e-3) or abs(abs(edges - control) - 2 * se) < 2e-3


@pytest.mark.slow
def test_curves_are_labelled_with_the_split_they_show(ran):
    """Learning curves come from the training and validation parts; the test set is touched once, in Step 10."""
    step10 = next(i for i, c in enumerate(ran.cells) if c.cell_type == "markdown" and "## Step 10" in c.source)
    before = "\n".join(c.source for c in ran.cells[:step10] if c.cell_type == "code")
    assert 'pets_arrays("test"' not in before and "Y_test" not in before and "A_test" not in before
    assert "training and validation parts" in before


def test_markdown_states_no_measured_numbers():
    assert_no_measured_numbers(STEM)


@pytest.mark.slow
def test_untouched_notebook_runs_without_errors(built, pets_root):
    nb, _ = execute(built[1])
    assert "to do: conv2d_valid" in outputs_text(nb)


@pytest.mark.slow
def test_public_tests_pass_when_answered(built):
    assert_public_tests_pass(*built, question_names(built[0]))


@pytest.mark.slow
def test_wrong_answers_lose_points_and_get_their_hints(built, tmp_path):
    # conv2d_valid and logistic_grad are called by other questions' code: their mistakes are graded alone
    assert_wrong_answers(built[0], STEM, WRONG, tmp_path, solo={"edges_conv", "edges_grad"})
