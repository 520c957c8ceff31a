"""Notebook 04 (fine-tuning, when to use which): runs end to end, reaches its accuracy, public tests pass, wrong answers get hints."""
import pytest

from notebook_helpers import (assert_hints, assert_public_tests_pass, execute, load_built, outputs_text,
                              question_names)

STEM = "04_fine_tuning"

# question -> [(solution text, a wrong version a student might write, words of the hint that must appear)]
WRONG = {
    "ft_freeze": [("p.requires_grad_(i >= len(stages) - k)", "p.requires_grad_(i < k)", "you trained the FIRST k stages")],
    "ft_groups": [('[{"params": body, "lr": lr * body_factor}, {"params": list(head.parameters()), "lr": lr}]',
                   '[{"params": body, "lr": lr}, {"params": list(head.parameters()), "lr": lr * body_factor}]',
                   "the learning rates are swapped")],
    "ft_bn": [("            m.eval()\n", "            pass\n", "overwrites its ImageNet averages")],
    "ft_scenarios": [('("small", "similar"): LINEAR_FINAL,', '("small", "similar"): FINE_TUNE,', "overfits"),
                     ('pets_scenario = ("small", "similar")', 'pets_scenario = ("large", "similar")',
                      "469 labelled images is a small dataset")],
    "ft_probe": [("LogisticRegression(max_iter=1000).fit((F_train - mean) / std, np.asarray(y_train))",
                  "LogisticRegression(max_iter=1000).fit((F_test - mean) / std, np.asarray(y_test))",
                  "the probe was fitted on the test split")],
    "ft_digits": [("reshape(-1, 1, 8, 8) / 16", "reshape(-1, 1, 8, 8)", "divide by 16 first")],
}
WRONG_2 = {
    "ft_freeze": [("    for p in head.parameters():\n        p.requires_grad_(True)\n", "",
                   "the head must be made trainable")],
    "ft_groups": [("for p in stage.parameters() if p.requires_grad]", "for p in stage.parameters()]",
                   "frozen parameters (requires_grad = False) are in a group")],
    "ft_bn": [(" and not any(p.requires_grad for p in m.parameters()):", ":",
               "the trainable batch-norm layer (last stage) must stay in training mode")],
    "ft_scenarios": [('("small", "different"): LINEAR_EARLIER,', '("small", "different"): LINEAR_FINAL,',
                      "more generic features of an earlier stage")],
    "ft_probe": [("    mean, std = F_train.mean(0), F_train.std(0)\n    std[std == 0] = 1\n    probe = ",
                  "    mean, std = 0.0, np.ones(F_train.shape[1])\n    probe = ",
                  "standardize each feature with the training mean and std")],
    "ft_digits": [(".reshape(-1, 1, 8, 8) / 16", ".reshape(-1, 1, 8, 8).transpose(2, 3) / 16", "row-major order")],
}


@pytest.fixture(scope="module")
def built():
    return load_built(STEM)


def test_every_question_has_wrong_answers(built):
    assert question_names(built[0]) == set(WRONG) == set(WRONG_2)


@pytest.mark.slow
def test_solution_runs_end_to_end_and_reaches_accuracy(built, pets_root):
    from utils import results

    nb, _ = execute(built[0])  # runtime is measured by `make bench`, not asserted here
    assert "ft_digits results: All test cases passed!" in outputs_text(nb)
    finetune = results.load()["finetune"]
    assert finetune["test_acc"] >= 0.99, finetune


@pytest.mark.slow
def test_untouched_notebook_runs_without_errors(built, pets_root):
    nb, _ = execute(built[1])
    text = outputs_text(nb)
    assert "to do: freeze" in text and "to do: digits_to_images" in text


@pytest.mark.slow
def test_public_tests_pass_when_answered(built):
    assert_public_tests_pass(*built, WRONG)


@pytest.mark.slow
@pytest.mark.parametrize("wrong", [WRONG, WRONG_2], ids=["set1", "set2"])
def test_wrong_answers_get_their_hints(built, tmp_path, wrong):
    assert_hints(built[0], STEM, wrong, tmp_path)
