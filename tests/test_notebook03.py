"""Notebook 03 (frozen pre-trained features): runs end to end, reaches its accuracy, public tests pass, and a table of
plausible wrong answers, each substituted into the solution, loses points and shows its hint."""
import pytest

from notebook_helpers import (assert_hints, assert_public_tests_pass, execute, load_built, outputs_text,
                              question_names)

STEM = "03_pretrained_features"

# The wrong-answers table: question -> (solution text, a wrong version a student might write, words of the hint).
# Each set is graded in one run (one mistake per question per run, so that no hint hides another).
WRONG = {
    "frozen_phi": ("    phi = copy.deepcopy(model)\n", "    phi = model\n", "change a copy"),
    "frozen_split": ("idx = rng.permutation(np.flatnonzero(y == c))", "idx = np.flatnonzero(y == c)", "shuffle first"),
    "frozen_standardize": (  # statistics pooled over every split
        "    mean, std = X_train.mean(0), X_train.std(0)\n",
        "    pooled = torch.cat([torch.as_tensor(X) for X in (X_train, *others)])\n"
        "    mean, std = pooled.mean(0), pooled.std(0)\n", "statistics of all splits together"),
    "frozen_sgd": (  # one order drawn once, reused by every epoch
        "    for _ in range(num_epochs):\n        order = torch.randperm(len(X), generator=g)\n",
        "    order = torch.randperm(len(X), generator=g)\n    for _ in range(num_epochs):\n",
        "draw a NEW order at the start of each epoch"),
    "frozen_lr": ("predicted = (torch.as_tensor(X_val) @ torch.as_tensor(w) + torch.as_tensor(b) > 0).long()\n"
                  "        val_accs[lr] = float((predicted == torch.as_tensor(y_val)).float().mean())",
                  "predicted = (torch.as_tensor(X_train) @ torch.as_tensor(w) + torch.as_tensor(b) > 0).long()\n"
                  "        val_accs[lr] = float((predicted == torch.as_tensor(y_train)).float().mean())",
                  "best on the TRAINING split"),
    "frozen_phone": ("phone = max(fits(0.5, 5e6)", 'phone = max(fits(0.5, float("inf"))', "BOTH limits must hold"),
    "frozen_predict": ("predicted_random_acc = 0.6", "predicted_random_acc = ...", "write your prediction"),
    "frozen_explain": ('random_explanation = """My guess', 'random_explanation = "It was close." or """My guess',
                       "at least 15 words"),
}
WRONG_2 = {
    "frozen_phi": ("return phi.requires_grad_(False).eval()", "return phi.requires_grad_(False)",
                   "return the copy in eval mode"),
    "frozen_split": ("idx = rng.permutation(np.flatnonzero(y == c))",
                     "idx = rng.permutation(len(y)) if c == y[0] else np.array([], dtype=int)", "stratified"),
    "frozen_standardize": ("    std[std == 0] = 1\n", "", "divide by 1 where the std is 0"),
    "frozen_sgd": (  # the last, smaller mini-batch of every epoch dropped
        "for start in range(0, len(X), batch_size):",
        "for start in range(0, len(X) - len(X) % batch_size, batch_size):", "the last, smaller mini-batch"),
    "frozen_lr": ("return max(val_accs, key=val_accs.get), val_accs",
                  "return max(reversed(list(val_accs)), key=val_accs.get), val_accs", "on a tie"),
    "frozen_phone": ("server = max(fits(20, ", 'server = max(fits(float("inf"), ', "over the server's 20"),
    "frozen_predict": ("predicted_random_acc = 0.6", "predicted_random_acc = 60", "between 0 and 1"),
    "frozen_explain": ('random_explanation = """My guess',
                       'random_explanation = "I was close enough this time and the number surprised me only a little '
                       'bit, not very much at all." or """My guess', "say what the experiment compared"),
}
WRONG_3 = {  # more mistakes on the questions where students go wrong in several ways
    "frozen_sgd": ("p -= lr * p.grad", "p += lr * p.grad", "step AGAINST the gradient"),
    "frozen_standardize": ("return tuple((X - mean) / std for X in (X_train, *others))",
                           "return tuple((X - X.mean(0)) / X.std(0) for X in (X_train, *others))",
                           "use the TRAINING split's mean"),
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
    assert "chosen on validation" in text and "test image #0" in text
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
@pytest.mark.parametrize("wrong", [WRONG, WRONG_2, WRONG_3], ids=["set1", "set2", "set3"])
def test_wrong_answers_get_their_hints(built, tmp_path, wrong):
    assert_hints(built[0], STEM, wrong, tmp_path)
