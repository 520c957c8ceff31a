"""The wrong-answer tables of the four notebooks: plausible mistakes a student makes, one row each.

A row is ``(question, solution text, wrong text, words of the hint)``: the wrong text replaces the solution text
(which must occur exactly once in the built solution notebook), and grading the result must cost that question
points and show the hint. ``SOLO`` names, per notebook, the questions whose functions other questions call: their
rows are graded alone, so that a broken shared function cannot hide another row's hint.
"""


def _rows(*tables):
    """Rows from tables written as {question: (solution, wrong, hint) or [(solution, wrong, hint), ...]}."""
    return [(question, *row) for table in tables for question, rows in table.items()
            for row in (rows if isinstance(rows, list) else [rows])]


# the whole answer cells of the written questions of 03 and 04 (issue 27): each quotes what its notebook printed
# and recorded (utils.results); where nothing is recorded (a grading) it says what it would quote
EXPLAIN_03 = 'measured = results.load().get("frozen", {})   # what the cells above printed and recorded\nif {"random_init_test_acc", "test_acc", "majority_test_acc"} <= set(measured):\n    random_acc_, frozen_acc_, majority_ = (measured[k] for k in ("random_init_test_acc", "test_acc", "majority_test_acc"))\n    verdict = ("close to" if abs(predicted_random_acc - random_acc_) <= 0.02 else\n               "too high for" if predicted_random_acc > random_acc_ else "too low for")\n    random_explanation = (\n        f"My prediction of {predicted_random_acc:.2f} was {verdict} the random network, which reached "\n        f"{random_acc_:.3f} on the test split, against {frozen_acc_:.3f} with the pre-trained weights and "\n        f"{majority_:.3f} for the majority class. The architecture alone, random convolutions and pooling, gives "\n        f"{random_acc_ - majority_:+.3f} over the majority class: features that keep some colour and texture "\n        f"statistics. The pre-trained weights add {frozen_acc_ - random_acc_:+.3f} more, so good features come from "\n        "what the network learned on ImageNet far more than from its architecture.")\nelse:\n    random_explanation = ("Run the control experiment first: this answer quotes the random network\'s printed test "\n                          "accuracy against the prediction, the majority class and the pre-trained weights.")\n'
EXPLAIN_04 = 'measured = results.load().get("scenarios", {}).get("grid", [])   # the grid printed above, as it was recorded\nif any(r["task"] == "digits" for r in measured):\n    n = max(r["train_per_class"] for r in measured if r["task"] == "digits")   # the digits\' large training set\n    cell_mean = {r["strategy"]: (r["mean"], r["se"]) for r in transfer.summarize(measured)\n                 if (r["task"], r["train_per_class"]) == ("digits", n)}\n    v = transfer.verdicts(measured)[("digits", n)]\n    d, d_se, _ = transfer.paired_difference(measured, "digits", n, FINETUNE, FINAL)\n    said = f"{v[\'winner\']} won it" if v["winner"] else "it was a tie between " + " and ".join(v["tied"])\n    grid_explanation = (\n        f"The cell that surprised me most was digits, large ({n} per class): I predicted "\n        f"{prediction[(\'digits\', \'large\')]}, and {said}. Fine-tuning the last stages reached "\n        f"{cell_mean[FINETUNE][0]:.3f} ± {cell_mean[FINETUNE][1]:.3f} against {cell_mean[FINAL][0]:.3f} ± "\n        f"{cell_mean[FINAL][1]:.3f} for the frozen final features (paired difference {d:+.3f} ± {d_se:.3f}), and "\n        f"the small CNN from scratch {cell_mean[SCRATCH][0]:.3f} ± {cell_mean[SCRATCH][1]:.3f}. The digits are "\n        "unlike ImageNet: its last stages encode objects, not pen strokes, so the frozen final features are the "\n        "worst pre-trained option, and with a hundred images per class there is enough data to adapt most of the "\n        "network from a middle stage on, or even to learn the features from scratch.")\nelse:\n    grid_explanation = ("Run the grid first: this answer names the digits\' large cell, what the grid printed for "\n                        "it (the winner or the tie, with mean and standard error) and why fine-tuning or the frozen "\n                        "final features won there.")\n'


# ---------------------------------------------------------------- 01: OLS on raw pixels
FIT_SOLVE = "return np.linalg.solve(X.T @ X, X.T @ np.asarray(Y, dtype=np.float64))"
MIN_NORM = "return np.linalg.pinv(X) @ np.asarray(Y, dtype=np.float64)"
RIDGE_SOLVE = "return np.linalg.solve(X.T @ X + lam * D, X.T @ np.asarray(Y, dtype=np.float64))"
WRONG_01 = [
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
    # issue 21: the wide-matrix formula X^T (X X^T)^-1 Y, right only when d + 1 >= n (train accuracy 0.48 at s = 4)
    ("ols_fix", MIN_NORM, "return X.T @ np.linalg.solve(X @ X.T, np.asarray(Y, dtype=np.float64))",
     "for every shape of X"),
    ("ols_fix", MIN_NORM, "return X.T @ np.linalg.inv(X @ X.T) @ np.asarray(Y, dtype=np.float64)",
     "for every shape"),
    # one formula per shape: right for full-rank X, wrong when X^T X is singular on a tall X
    ("ols_fix", MIN_NORM, "Y = np.asarray(Y, dtype=np.float64)\n    if X.shape[0] >= X.shape[1]:\n"
     "        return np.linalg.solve(X.T @ X, X.T @ Y)\n    return X.T @ np.linalg.solve(X @ X.T, Y)",
     "every shape and rank of X"),
    ("ols_choose", 'return min(records, key=lambda r: (-r["val_acc"], r["s"], -r["lam"]))',
     'return max(records, key=lambda r: r["train_acc"])', "best TRAINING accuracy"),
    ("ols_choose", 'return min(records, key=lambda r: (-r["val_acc"], r["s"], -r["lam"]))',
     'return max(records, key=lambda r: r["val_acc"])', "prefer the smaller s"),
    ("ols_choose", 'return min(records, key=lambda r: (-r["val_acc"], r["s"], -r["lam"]))',
     'return min(records, key=lambda r: (-r["val_acc"], r["s"], r["lam"]))', "prefer the larger lam"),
    ("ols_mc", 'ols_mc_answer = "C"', 'ols_mc_answer = "A"', "not this one"),
    ("ols_mc", 'ols_mc_answer = "C"', "ols_mc_answer = 'c'", "write the letter of your choice in quotes"),
]


# ---------------------------------------------------------------- 02: edges and logistic regression
CONV_START = "    out = np.zeros((H - kh + 1, W - kw + 1))\n"
STEP = "w = w - lr * logistic_grad(w, X[batch], Y[batch])"
WRONG_02 = [
    ("edges_conv", "    out = np.zeros((H - kh + 1, W - kw + 1))\n",
     "    out = np.zeros((H - kh + 1, W - kw + 1))\n    kernel = kernel[::-1, ::-1]\n", "you flipped the kernel"),
    # issue 21: library shortcuts where the question is to write the sliding sum
    ("edges_conv", CONV_START, "    from scipy.signal import correlate2d\n    return correlate2d(image, kernel, mode='valid')\n",
     "hands the sliding sum to a library's convolution"),
    ("edges_conv", CONV_START, "    import scipy.signal\n    return scipy.signal.fftconvolve(image, kernel[::-1, ::-1], mode='valid')\n",
     "hands the sliding sum to a library's convolution"),
    ("edges_conv", CONV_START, "    from scipy import signal as sg\n    return sg.convolve2d(image, np.flip(kernel), 'valid')\n",
     "hands the sliding sum to a library's convolution"),
    ("edges_design", "my_kernel = np.array([[0, 1, 1], [-1, 0, 1], [-1, -1, 0]], dtype=float)",
     "my_kernel = np.array([[1, 0, -1]] * 3, dtype=float)", "A vertical or horizontal edge filter sees both patterns alike"),
    ("edges_design", "my_kernel = np.array([[0, 1, 1], [-1, 0, 1], [-1, -1, 0]], dtype=float)",
     "my_kernel = np.array([[1, 1, 1], [0, 1, 1], [0, 0, 1]], dtype=float)", "what must its nine numbers add up to?"),
    # issue 21: meets criteria 1 and 2 on the 12×12 example, not criterion 3 (other periods and shifts)
    ("edges_design", "my_kernel = np.array([[0, 1, 1], [-1, 0, 1], [-1, -1, 0]], dtype=float)",
     "my_kernel = np.array([[-1, -1, -1], [1, 0, 0], [0, 1, 1]], dtype=float)", "separates the 12×12 example but not the idea"),
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
    # issue 21: central differences of the loss instead of the derived gradient
    ("edges_grad", "return -(X.T @ (weights * Y)) / len(Y)",
     "eps = 1e-6\n    return np.array([(logistic_loss(w + eps * e, X, Y) - logistic_loss(w - eps * e, X, Y)) / (2 * eps)\n"
     "                     for e in np.eye(len(w))])", "a finite-difference approximation is not the gradient"),
    ("edges_grad", "return -(X.T @ (weights * Y)) / len(Y)",   # the step scaled to each weight
     "steps = 1e-6 * np.maximum(np.abs(w), 1e-8)\n    return np.array([(logistic_loss(w + h * e, X, Y) - "
     "logistic_loss(w - h * e, X, Y)) / (2 * h)\n                     for h, e in zip(steps, np.eye(len(w)))])",
     "a finite-difference approximation is not the gradient"),
    ("edges_sgd", STEP, "w = w + lr * logistic_grad(w, X[batch], Y[batch])", "AGAINST"),
    # issue 21: steps too small (the mean gradient divided by the batch size again), once told to go AGAINST it
    ("edges_sgd", STEP, "w = w - lr * logistic_grad(w, X[batch], Y[batch]) / len(batch)", "your steps are too small"),
    ("edges_sgd", "order = rng.permutation(n)", "order = np.arange(n)", "stored order"),
    ("edges_sgd", "    path = [w.copy()]\n    for _ in range(num_epochs):\n        order = rng.permutation(n)\n",
     "    path = [w.copy()]\n    order = rng.permutation(n)\n    for _ in range(num_epochs):\n", "same order"),
    ("edges_sgd", "for start in range(0, n, batch_size):", "for start in range(0, n - batch_size + 1, batch_size):",
     "dropped the last, smaller mini-batch"),
    ("edges_sgd", "order = rng.permutation(n)", "order = np.random.permutation(n)", "not reproducible from the seed"),
    ("edges_sgd", STEP, "w = w + lr * (X[batch].T @ (Y[batch] / (1 + np.exp(Y[batch] * (X[batch] @ w))))) / len(batch)",
     "logistic_grad was never called"),
    ("edges_explain", "edges_explain = (\n", "edges_explain = \"Edges won.\"\n_unused = (\n", "at least 20 words"),
]


# ---------------------------------------------------------------- 03: frozen pre-trained features
LSGD_SPAN = ("w = torch.zeros(X.shape[1], requires_grad=True)\n    b = torch.zeros((), requires_grad=True)\n"
             "    g = torch.Generator().manual_seed(seed)\n    for _ in range(num_epochs):\n"
             "        order = torch.randperm(len(X), generator=g)\n        for start in range(0, len(X), batch_size):\n"
             "            batch = order[start:start + batch_size]\n"
             "            loss = F.binary_cross_entropy_with_logits(X[batch] @ w + b, y[batch])")
_03_1 = {
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
    "frozen_explain": (EXPLAIN_03, 'random_explanation = "It was close."\n', "at least 15 words"),
}
_03_2 = {
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
    "frozen_explain": (EXPLAIN_03,
                       'random_explanation = "I was close enough this time and the number surprised me only a little '
                       'bit, not very much at all."\n', "say what the experiment compared"),
}
_03_3 = {  # more mistakes on the questions where students go wrong in several ways
    # issue 21: a (d, 1) weight: notebook 03's accuracies broadcast to (n, n) and report the majority class
    "frozen_sgd": [("p -= lr * p.grad", "p += lr * p.grad", "step AGAINST the gradient"),
                   ("return w.detach(), b.detach()", "return w.detach().reshape(-1, 1), b.detach()", "BROADCASTS"),
                   (LSGD_SPAN, LSGD_SPAN.replace("torch.zeros(X.shape[1], requires_grad", "torch.zeros(X.shape[1], 1, requires_grad")
                    .replace("X[batch] @ w + b, y[batch]", "X[batch] @ w + b, y[batch, None]"), "one dimension")],
    "frozen_standardize": ("return tuple((X - mean) / std for X in (X_train, *others))",
                           "return tuple((X - X.mean(0)) / X.std(0) for X in (X_train, *others))",
                           "use the TRAINING split's mean"),
}


# ---------------------------------------------------------------- 04: fine-tuning
_04_1 = {
    "ft_bn_predict": [("bn_prediction = PART_WAY   #", "bn_prediction = ...   #", "record your prediction")],
    "ft_bn_drift": [("    return 1 - (1 - first) ** n\n", "    return n * first\n", "you added the same step n times")],
    "ft_choose_k": [("best_k = min(val_acc, key=lambda k: (-val_acc[k], trainable[k]))",
                     "best_k = max(val_acc, key=val_acc.get)", "you kept the first key")],
    "ft_figure": [("k_half = 1   #", "k_half = 0   #", "fewer than half")],
    "ft_augment": [('digits_augmentation = ["rotation up to 10°", "scale 90–110%"]',
                    'digits_augmentation = ["horizontal flip", "rotation up to 10°"]', "can change what a digit means")],
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
         "measured on the TRAINING images"),
        # issue 21: max over the dict's keys (the largest stage name), the last stage, a refit on train + validation
        ("best = max(val_accs, key=val_accs.get)", "best = max(val_accs)", "the stage with the largest NAME"),
        ("return best, probe(F[best][train_idx], y[train_idx], F[best][test_idx], y[test_idx]), val_accs",
         "fit_idx = np.concatenate([train_idx, val_idx])\n"
         "    return best, probe(F[best][fit_idx], y[fit_idx], F[best][test_idx], y[test_idx]), val_accs",
         "refitted on the training AND validation images")],
    "ft_digits": [("reshape(-1, 1, 8, 8) / 16", "reshape(-1, 1, 8, 8)", "divide by 16 first"),
                  # issue 21: photos' scale, once told to normalize each channel
                  ("reshape(-1, 1, 8, 8) / 16", "reshape(-1, 1, 8, 8) / 255", "not 0 to 255")],
    "ft_predict": [('("3 breeds", "small"): FINAL,', '("3 breeds", "small"): ...,', "record your prediction")],
    "ft_explain": [(EXPLAIN_04, 'grid_explanation = "Fine-tuning won."\n', "at least 25 words")],
}
_04_2 = {
    "ft_bn_predict": [("bn_prediction = PART_WAY   #", 'bn_prediction = "part way"   #', "is not one of the three outcomes")],
    "ft_bn_drift": [("    return 1 - (1 - first) ** n\n", "    return (1 - first) ** n\n",
                     "after ONE pass the fraction closed is `first` itself")],
    "ft_choose_k": [("best_k = min(val_acc, key=lambda k: (-val_acc[k], trainable[k]))",
                     "best_k = max(test_acc, key=test_acc.get)", "chosen by its TEST accuracy")],
    "ft_figure": [("k_half = 1   #", "k_half = 4   #", "a smaller k already trains at least half")],
    "ft_augment": [("fit(transform, seed) - fit(None, seed) for seed in seeds]",
                    "fit(transform, seed) - fit(None, seed + 1) for seed in seeds]", "the same seed with and")],
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
         "chosen by its TEST accuracy"),
        ("best = max(val_accs, key=val_accs.get)", "best = list(val_accs)[-1]", "you chose the last stage")],
    "ft_digits": [(".reshape(-1, 1, 8, 8) / 16", ".reshape(-1, 1, 8, 8).transpose(2, 3) / 16", "row-major order")],
    "ft_predict": [('("digits", "small"): EARLIER,', '("digits", "small"): "fine-tune",',
                    "is not one of the five strategies")],
    "ft_explain": [(EXPLAIN_04,
                    'grid_explanation = "I expected something else entirely, and the outcome was a surprise to me, '
                    'although in hindsight it makes some sense given what we saw before today."\n',
                    "name the task")],
}
_04_3 = {
    "ft_bn_drift": [("    return 1 - (1 - first) ** n\n", "    return first\n", "closed another fraction of the gap")],
    "ft_choose_k": [("best_k = min(val_acc, key=lambda k: (-val_acc[k], trainable[k]))\n    return best_k, test_acc[best_k]",
                     "best_k = min(val_acc, key=lambda k: (-val_acc[k], trainable[k]))\n    return best_k, val_acc[best_k]",
                     "you returned the validation accuracy"),
                    # the tie broken by the smallest k: right whenever counts grow with k, wrong on the hidden case
                    ("best_k = min(val_acc, key=lambda k: (-val_acc[k], trainable[k]))",
                     "best_k = min(val_acc, key=lambda k: (-val_acc[k], k))", "compare the trainable parameter counts")],
    "ft_augment": [("gains.std(ddof=1)", "gains.std()", "(ddof=1) divided by the square root")],
    "ft_digits": [('mode="bilinear", align_corners=False)', 'mode="bilinear", align_corners=True)',
                  "check the mode and align_corners")],
    "ft_stage": [  # issue 27 §4: a tie kept by the LAST stage (>= in a loop, a reversed max), the prompt says the first
                 ("best = max(val_accs, key=val_accs.get)", "best = max(reversed(list(val_accs)), key=val_accs.get)",
                  "on a tie keep the FIRST stage"),
                 ("    y = np.asarray(y)\n    val_accs = {s: probe(F[s][train_idx], y[train_idx], F[s][val_idx], y[val_idx])",
                  "    y = np.asarray(y)\n    val_accs = {s: probe(F[s][val_idx], y[val_idx], F[s][val_idx], y[val_idx])",
                  "fitted on the validation images themselves")],
    "ft_scenarios": [('("large", "different"): WHOLE,', '("large", "different"): FINE_TUNE,',
                      "which pre-trained layers still deserve to stay frozen")],
}

WRONG = {"01_ols_raw_pixels": WRONG_01, "02_logistic_regression_edges": WRONG_02,
         "03_pretrained_features": _rows(_03_1, _03_2, _03_3), "04_fine_tuning": _rows(_04_1, _04_2, _04_3)}
# add_bias (01), conv2d_valid and logistic_grad (02) are called by other questions' code
SOLO = {"01_ols_raw_pixels": {"ols_phi"}, "02_logistic_regression_edges": {"edges_conv", "edges_grad"}}
