"""Notebook 03 (frozen pre-trained features): runs end to end, reaches its accuracy, public tests pass, wrong answers get hints."""
import pytest

from notebook_helpers import (assert_hints, assert_public_tests_pass, execute, load_built, outputs_text,
                              question_names)

STEM = "03_pretrained_features"

# question -> (solution text, wrong version a student might write, words of the hint that must appear)
WRONG = {
    "frozen_phi": ("    phi = copy.deepcopy(model)\n", "    phi = model\n", "change a copy"),
    "frozen_split": ("idx = rng.permutation(np.flatnonzero(y == c))", "idx = np.flatnonzero(y == c)", "shuffle first"),
    "frozen_standardize": ("return tuple((X - mean) / std for X in (X_train, *others))",
                           "return tuple((X - X.mean(0)) / X.std(0) for X in (X_train, *others))",
                           "use the TRAINING split's mean"),
    "frozen_sgd": ("                    p.grad.zero_()\n", "", "the gradients accumulate"),
    "frozen_pick": ('max(fits, key=lambda m: m["acc1"])', 'min(fits, key=lambda m: m["gflops"])',
                    "not the smallest or cheapest"),
    "frozen_phone": ('phone = "efficientnet_lite0"', 'phone = "mobilenet_v3_small"', "take the most accurate model that fits"),
}
# A second set of plausible mistakes, graded in a second run.
WRONG_2 = {
    "frozen_phi": ("return phi.requires_grad_(False).eval()", "return phi.requires_grad_(False)",
                   "return the copy in eval mode"),
    "frozen_split": ("idx = rng.permutation(np.flatnonzero(y == c))",
                     "idx = rng.permutation(len(y)) if c == y[0] else np.array([], dtype=int)", "stratified"),
    "frozen_standardize": ("    std[std == 0] = 1\n", "", "divide by 1 where the std is 0"),
    "frozen_sgd": ("p -= lr * p.grad", "p += lr * p.grad", "step AGAINST the gradient"),
    "frozen_pick": ('m["gflops"] <= max_gflops and m["params"] <= max_params',
                    'm["gflops"] < max_gflops and m["params"] < max_params', "use <="),
    "frozen_phone": ('server = "resnet50"', 'server = "resnet18"', "most accurate model on ImageNet"),
}


@pytest.fixture(scope="module")
def built():
    return load_built(STEM)


def test_every_question_has_wrong_answers(built):
    assert question_names(built[0]) == set(WRONG) == set(WRONG_2)


@pytest.mark.slow
def test_solution_runs_end_to_end_and_reaches_accuracy(built, pets_root):
    """The full solution on the real data reaches the accuracy targets (its runtime: `make bench`)."""
    from utils import results

    nb, _ = execute(built[0])  # runtime is measured by `make bench`, not asserted here
    text = outputs_text(nb)
    assert "frozen_sgd results: All test cases passed!" in text
    frozen = results.load()["frozen"]
    assert frozen["test_acc"] >= 0.98, frozen
    assert frozen["sgd_test_acc"] >= 0.97, frozen
    assert frozen["random_init_test_acc"] < frozen["test_acc"] - 0.15, frozen


@pytest.mark.slow
def test_untouched_notebook_runs_without_errors(built, pets_root):
    nb, _ = execute(built[1])
    text = outputs_text(nb)
    assert "to do: headless" in text and "to do: stratified_split" in text


@pytest.mark.slow
def test_public_tests_pass_when_answered(built):
    assert_public_tests_pass(*built, WRONG)


@pytest.mark.slow
@pytest.mark.parametrize("wrong", [WRONG, WRONG_2], ids=["set1", "set2"])
def test_wrong_answers_get_their_hints(built, tmp_path, wrong):
    assert_hints(built[0], STEM, wrong, tmp_path)
