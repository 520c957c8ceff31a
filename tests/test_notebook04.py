"""Notebook 04 (fine-tuning, when to use which): runs end to end, reaches its accuracy, records the measured Figure 5
grid, public tests pass, and a table of plausible wrong answers, each substituted into the solution, loses points and
shows its hint."""
import pytest

from notebook_helpers import (assert_hints, assert_public_tests_pass, execute, load_built, outputs_text,
                              question_names)

STEM = "04_fine_tuning"

# The wrong-answers table: question -> [(solution text, a wrong version a student might write, words of the hint)].
WRONG = {
    "ft_freeze": [("p.requires_grad_(i >= len(stages) - k)", "p.requires_grad_(i < k)", "you trained the FIRST k stages")],
    "ft_groups": [('[{"params": body, "lr": lr * body_factor}, {"params": list(head.parameters()), "lr": lr}]',
                   '[{"params": body, "lr": lr}, {"params": list(head.parameters()), "lr": lr * body_factor}]',
                   "the learning rates are swapped")],
    "ft_bn": [("            m.eval()\n", "            pass\n", "overwrites its ImageNet averages")],
    "ft_scenarios": [('("small", "similar"): LINEAR_FINAL,', '("small", "similar"): FINE_TUNE,',
                      "anything that trains millions of parameters overfits"),
                     ('pets_scenario = ("small", "similar")', 'pets_scenario = ("large", "similar")',
                      "compare the number of labelled pets")],
    "ft_stage": [  # the probe's TRAINING accuracy reported as its test accuracy
        ("return best, probe(F[best][train_idx], y[train_idx], F[best][test_idx], y[test_idx]), val_accs",
         "return best, probe(F[best][train_idx], y[train_idx], F[best][train_idx], y[train_idx]), val_accs",
         "measured on the TRAINING images")],
    "ft_digits": [("reshape(-1, 1, 8, 8) / 16", "reshape(-1, 1, 8, 8)", "divide by 16 first")],
    "ft_predict": [('("pets breeds", "small"): FINAL,', '("pets breeds", "small"): ...,', "record your prediction")],
    "ft_explain": [('grid_explanation = """On the pets', 'grid_explanation = "Fine-tuning won." or """On the pets',
                    "at least 25 words")],
}
WRONG_2 = {
    "ft_freeze": [("    for p in head.parameters():\n        p.requires_grad_(True)\n", "",
                   "the head must be made trainable")],
    "ft_groups": [("for p in stage.parameters() if p.requires_grad]", "for p in stage.parameters()]",
                   "frozen parameters (requires_grad = False) are in a group")],
    "ft_bn": [(" and not any(p.requires_grad for p in m.parameters()):", ":",
               "the trainable batch-norm layer (last stage) must stay in training mode")],
    "ft_scenarios": [('("small", "different"): LINEAR_EARLIER,', '("small", "different"): LINEAR_FINAL,',
                      "are the LAST stage's features")],
    "ft_stage": [  # the stage chosen by its test accuracy
        ("val_accs = {s: probe(F[s][train_idx], y[train_idx], F[s][val_idx], y[val_idx]) for s in F}",
         "val_accs = {s: probe(F[s][train_idx], y[train_idx], F[s][test_idx], y[test_idx]) for s in F}",
         "chosen by its TEST accuracy")],
    "ft_digits": [(".reshape(-1, 1, 8, 8) / 16", ".reshape(-1, 1, 8, 8).transpose(2, 3) / 16", "row-major order")],
    "ft_predict": [('("digits", "small"): EARLIER,', '("digits", "small"): "fine-tune",',
                    "is not one of the five strategies")],
    "ft_explain": [('grid_explanation = """On the pets',
                    'grid_explanation = "I expected something else entirely, and the outcome was a surprise to me, '
                    'although in hindsight it makes some sense given what we saw before today." or """On the pets',
                    "name the task")],
}
WRONG_3 = {
    "ft_digits": [('mode="bilinear", align_corners=False)', 'mode="bilinear", align_corners=True)',
                  "check the mode and align_corners")],
    "ft_stage": [("    y = np.asarray(y)\n    val_accs = {s: probe(F[s][train_idx], y[train_idx], F[s][val_idx], y[val_idx])",
                  "    y = np.asarray(y)\n    val_accs = {s: probe(F[s][val_idx], y[val_idx], F[s][val_idx], y[val_idx])",
                  "a probe was fitted on validation or test images")],
    "ft_scenarios": [('("large", "different"): WHOLE,', '("large", "different"): FINE_TUNE,',
                      "which pre-trained layers still deserve to stay frozen")],
}


@pytest.fixture(scope="module")
def built():
    return load_built(STEM)


def test_every_question_has_wrong_answers(built):
    assert question_names(built[0]) == set(WRONG) == set(WRONG_2)


@pytest.mark.slow
def test_solution_runs_end_to_end_and_reaches_accuracy(built, pets_root):
    from utils import results, train

    nb, _ = execute(built[0])  # runtime is measured by `make bench`, not asserted here
    text = outputs_text(nb)
    assert "ft_digits results: All test cases passed!" in text
    recorded = results.load()
    assert recorded["finetune"]["test_acc"] >= 0.99, recorded["finetune"]
    grid = recorded["scenarios"]["grid"]
    cells = {(r["task"], r["train_per_class"]) for r in grid}
    assert {t for t, _ in cells} == {"pets breeds", "digits"} and len(cells) == 4, cells
    assert all(sum(r["task"] == t and r["train_per_class"] == n for r in grid) == len(train.STRATEGIES)
               for t, n in cells)
    assert all(0 <= r["test_acc"] <= 1 for r in grid)
    # the grid is a real measurement: chance is 1/37 and 1/10, the pre-trained features are far above it
    final = {(r["task"], r["train_per_class"]): r["test_acc"] for r in grid if r["strategy"] == train.STRATEGIES[1]}
    assert all(acc > 0.3 for acc in final.values()), final


@pytest.mark.slow
def test_untouched_notebook_runs_without_errors(built, pets_root):
    nb, _ = execute(built[1])
    text = outputs_text(nb)
    assert "to do: freeze" in text and "to do: digits_to_images" in text


@pytest.mark.slow
def test_public_tests_pass_when_answered(built):
    assert_public_tests_pass(*built, WRONG)


@pytest.mark.slow
@pytest.mark.parametrize("wrong", [WRONG, WRONG_2, WRONG_3], ids=["set1", "set2", "set3"])
def test_wrong_answers_get_their_hints(built, tmp_path, wrong):
    assert_hints(built[0], STEM, wrong, tmp_path)
