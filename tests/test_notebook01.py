"""Notebook 01 (OLS on raw pixels): runs end to end, public tests pass when answered, wrong answers get hints."""
import re

import matplotlib
import pytest

from notebook_helpers import (assert_no_measured_numbers, assert_public_tests_pass, assert_wrong_answers, execute, load_built,
                              outputs_text, question_names)

STEM = "01_ols_raw_pixels"
pytestmark = pytest.mark.slow

FIT_SOLVE = "return np.linalg.solve(X.T @ X, X.T @ np.asarray(Y, dtype=np.float64))"
RIDGE_SOLVE = "return np.linalg.solve(X.T @ X + lam * D, X.T @ np.asarray(Y, dtype=np.float64))"
# Plausible wrong answers: (question, solution code, wrong code, hint the grader must show).
WRONG = [
    ("ols_phi", "return images.reshape(images.shape[0], -1)", "return images.reshape(images.shape[0], -1).T",
     "rows are images, so do not transpose"),
    ("ols_phi", "return np.hstack([np.ones((Phi.shape[0], 1), dtype=Phi.dtype), Phi])",
     "return np.hstack([Phi, np.ones((Phi.shape[0], 1), dtype=Phi.dtype)])", "the FIRST column must be all ones"),
    # a split that never shuffles validates on the last breeds of a breed-sorted list
    ("ols_split", "order = np.random.default_rng(seed).permutation(n)", "order = np.arange(n)",
     "a block of consecutive indices"),
    ("ols_split", "order = np.random.default_rng(seed).permutation(n)", "order = np.random.permutation(n)",
     "the same seed must give the same split"),
    ("ols_split", "n_val = int(round(val_fraction * n))", "n_val = int(val_fraction * n)",
     "round(val_fraction * n)"),
    ("ols_fit", "return 2 * X.T @ (X @ w - Y)", "return X.T @ (X @ w - Y)", "times the numerical one"),
    ("ols_fit", "return 2 * X.T @ (X @ w - Y)", "return 2 * X.T @ (Y - X @ w)", "wrong sign"),
    ("ols_fit", "return 2 * X.T @ (X @ w - Y)", "return 2 * X.T @ (X @ w - Y) / len(Y)", "divided by n"),
    ("ols_fit", FIT_SOLVE, "return np.linalg.inv(X.T @ X) @ X.T @ np.asarray(Y, dtype=np.float64)",
     "you formed an inverse"),
    ("ols_fit", FIT_SOLVE, "return np.linalg.pinv(X) @ np.asarray(Y, dtype=np.float64)", "you formed an inverse"),
    ("ols_fit", FIT_SOLVE, "return np.linalg.lstsq(X, np.asarray(Y, dtype=np.float64), rcond=None)[0]",
     "np.linalg.solve was never called"),
    ("ols_fit", "X = add_bias(np.asarray(Phi, dtype=np.float64))\n    return np.linalg.solve(X.T @ X, X.T",
     "X = np.asarray(Phi, dtype=np.float64)\n    return np.linalg.solve(X.T @ X, X.T", "did you add the bias column?"),
    ("ols_predict", "return np.where(scores >= 0, 1, -1)", "return np.sign(scores)", "np.sign(0) is 0"),
    ("ols_predict", "scores = add_bias(np.asarray(Phi, dtype=np.float64)) @ w",
     "scores = np.asarray(Phi, dtype=np.float64) @ w[1:]", "did you forget the bias?"),
    ("ols_predict", "return float(np.mean(np.asarray(Y_hat) == np.asarray(Y)))",
     "return float(np.sum(np.asarray(Y_hat) == np.asarray(Y)))", "FRACTION of correct labels"),
    ("ols_fix", "    D[0, 0] = 0.0\n", "", "shrinks the bias too"),
    ("ols_fix", RIDGE_SOLVE, "return np.linalg.solve(X.T @ X + len(Y) * lam * D, X.T @ np.asarray(Y, dtype=np.float64))",
     "scaled by the number of images n"),
    ("ols_fix", RIDGE_SOLVE, "return np.linalg.solve(X.T @ X / len(Y) + lam * D, X.T @ np.asarray(Y, dtype=np.float64) / len(Y))",
     "check how the penalty enters your linear system"),
    ("ols_fix", RIDGE_SOLVE, "return np.linalg.inv(X.T @ X + lam * D) @ X.T @ np.asarray(Y, dtype=np.float64)",
     "you formed an inverse"),
    ("ols_fix", "return np.linalg.pinv(X) @ np.asarray(Y, dtype=np.float64)", "return np.linalg.solve(X.T @ X, X.T @ Y)",
     "pseudo-inverse"),
    ("ols_choose", 'return min(records, key=lambda r: (-r["val_acc"], r["s"], -r["lam"]))',
     'return max(records, key=lambda r: r["train_acc"])', "best TRAINING accuracy"),
    ("ols_choose", 'return min(records, key=lambda r: (-r["val_acc"], r["s"], -r["lam"]))',
     'return max(records, key=lambda r: r["val_acc"])', "prefer the smaller s"),
    ("ols_choose", 'return min(records, key=lambda r: (-r["val_acc"], r["s"], -r["lam"]))',
     'return min(records, key=lambda r: (-r["val_acc"], r["s"], r["lam"]))', "prefer the larger lam"),
    ("ols_mc", 'ols_mc_answer = "C"', 'ols_mc_answer = "A"', "not this one"),
    ("ols_mc", 'ols_mc_answer = "C"', "ols_mc_answer = 'c'", "write the letter of your choice in quotes"),
]


@pytest.fixture(scope="module")
def built():
    return load_built(STEM)


@pytest.fixture(scope="module")
def ran(built, pets_root):
    """The solution notebook executed end to end (shared by the checks on its outputs)."""
    nb, _ = execute(built[0])  # runtime is measured by `make bench`, not asserted here
    return nb


def test_every_question_has_wrong_answers(built):
    assert question_names(built[0]) == {row[0] for row in WRONG}


def test_solution_runs_end_to_end(ran):
    text = outputs_text(ran)
    for question in question_names(ran):
        assert f"{question} results: All test cases passed!" in text


def test_size_and_lambda_are_chosen_on_validation_and_test_is_used_once(ran):
    text = outputs_text(ran)
    chosen = re.search(r"chosen on validation: s = (\d+), λ = ([\d.e+-]+)", text)
    assert chosen, text[-3000:]
    s, lam = int(chosen[1]), float(chosen[2])
    headline = re.search(r"s = (\d+), λ = ([\d.e+-]+): trainval accuracy [\d.]+, test accuracy", text)
    assert headline and (int(headline[1]), float(headline[2])) == (s, lam), "the headline must use the chosen s and λ"
    step7 = next(i for i, c in enumerate(ran.cells) if c.cell_type == "markdown" and "## Step 7" in c.source)
    before = "\n".join(c.source for c in ran.cells[:step7] if c.cell_type == "code")
    after = "\n".join(c.source for c in ran.cells[step7:] if c.cell_type == "code")
    assert 'pets_arrays("test"' not in before and "Y_test" not in before, "nothing before Step 7 may look at the test split"
    assert after.count('pets_arrays("test"') == 1, "the test split is loaded once, for the headline"


def test_sweep_crosses_n_and_text_holds(ran):
    text = outputs_text(ran)
    n = int(re.search(r"n = (\d+) training images; d = s² for s in SIZES: \[([\d, ]+)\]", text)[1])
    ds = [int(d) for d in re.search(r"SIZES: \[([\d, ]+)\]", text)[1].split(",")]
    assert min(ds) < n < max(ds), "the sweep must cross d > n on the course data"


def test_majority_baseline_comes_from_training_labels(built):
    code = "\n".join(c.source for c in built[0].cells if c.cell_type == "code")
    assert "majority_label = 1 if np.mean(Y_train == 1)" in code
    assert not re.search(r"max\(np\.mean\(Y_(test|val) == 1\)", code), "a baseline must not peek at test/val labels"


def test_weight_legend_matches_the_colour_map(built):
    """RdBu with symmetric limits: the top of the scale (positive weights, towards cat = +1) is blue."""
    r, g, b, _ = matplotlib.colormaps["RdBu"](1.0)
    assert b > r
    step8 = next(c.source for c in built[0].cells if c.cell_type == "markdown" and "look at $w$" in c.source)
    assert re.search(r"\*\*blue\*\* pixels have positive weights and push the score towards \"cat\"", step8)


def test_markdown_states_no_measured_numbers():
    assert_no_measured_numbers(STEM)


def test_untouched_notebook_runs_without_errors(built, pets_root):
    nb, _ = execute(built[1])  # raises CellExecutionError if any cell fails
    assert "to do: phi" in outputs_text(nb), "demo cells should print a reminder for unwritten functions"


def test_public_tests_pass_when_answered(built):
    assert_public_tests_pass(*built, question_names(built[0]))


def test_wrong_answers_lose_points_and_get_their_hints(built, tmp_path):
    assert_wrong_answers(built[0], STEM, WRONG, tmp_path, solo={"ols_phi"})  # add_bias is used everywhere
