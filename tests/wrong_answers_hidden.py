"""A wider, hidden set of wrong answers: the mistakes of issue 21 §2 written in other words (issue 21: "A wider hidden
set verifies it").

``tests/wrong_answers.py`` holds the rows each check was written against. The rows here were written afterwards, in
the spellings other students use (another library routine, another way to build the same wrong shape, another
formula with the same flaw), and no check or hint was tuned to them: a row that passed would be a check that
recognises a spelling instead of the property. They are hidden in the sense that matters: they never reach the
release (tests/ is instructor-side), so they measure how a check generalises rather than what it was shown.

Same form as wrong_answers.py: ``(question, solution text, wrong text, words of the hint)``. Grading the mutated
solution must cost that question points and show the hint of the mistake's concept (the same words as the table's
row for that mistake: one concept, one hint, whatever the spelling).
"""
from wrong_answers import CONV_START, MIN_NORM, STEP, _rows

Y64 = "np.asarray(Y, dtype=np.float64)"
_01 = {
    "ols_fix": [
        # the wide-matrix formula X^T (X X^T)^-1 Y, three more ways (right only when d + 1 >= n)
        (MIN_NORM, f"Y = {Y64}\n    G = X @ X.T\n    return X.T @ np.linalg.solve(G, Y)", "for every shape"),
        (MIN_NORM, f"return X.T.dot(np.linalg.inv(X.dot(X.T))).dot({Y64})", "for every shape"),
        (MIN_NORM, f"import scipy.linalg\n    return X.T @ scipy.linalg.solve(X @ X.T, {Y64}, assume_a='sym')",
         "for every shape"),
    ],
}
_02 = {
    "edges_conv": [
        # library convolutions the table does not name
        (CONV_START, "    import torch\n    return torch.conv2d(torch.as_tensor(image)[None, None], "
                     "torch.as_tensor(kernel)[None, None])[0, 0].numpy()\n",
         "hands the sliding sum to a library's convolution"),
        (CONV_START, "    import torch\n    layer = torch.nn.Conv2d(1, 1, kernel.shape, bias=False, dtype=torch.float64)\n"
                     "    layer.weight.data[0, 0] = torch.as_tensor(kernel)\n"
                     "    return layer(torch.as_tensor(image)[None, None])[0, 0].detach().numpy()\n",
         "hands the sliding sum to a library's convolution"),
        (CONV_START, "    from scipy import signal\n    return signal.correlate(image, kernel, mode='valid', method='direct')\n",
         "hands the sliding sum to a library's convolution"),
        (CONV_START, "    from scipy.ndimage import correlate\n    full = correlate(image, kernel, mode='constant')\n"
                     "    return full[kh // 2:H - (kh - 1) // 2, kw // 2:W - (kw - 1) // 2]\n",
         "hands the sliding sum to a library's convolution"),
    ],
    "edges_grad": [
        # forward differences, and scipy's finite-difference gradient
        ("return -(X.T @ (weights * Y)) / len(Y)",
         "h, base = 1e-7, logistic_loss(w, X, Y)\n    g = np.zeros_like(w, dtype=float)\n    for j in range(len(w)):\n"
         "        e = np.zeros_like(w, dtype=float)\n        e[j] = h\n        g[j] = (logistic_loss(w + e, X, Y) - base) / h\n"
         "    return g", "a finite-difference approximation is not the gradient"),
        ("return -(X.T @ (weights * Y)) / len(Y)",
         "from scipy.optimize import approx_fprime\n    return approx_fprime(np.asarray(w, dtype=float), logistic_loss, "
         "1e-8, X, Y)", "a finite-difference approximation is not the gradient"),
    ],
    "edges_sgd": [
        # steps too small: the rate divided by the batch size, and by the number of images
        (STEP, "w -= (lr / batch_size) * logistic_grad(w, X[batch], Y[batch])", "your steps are too small"),
        (STEP, "w = w - lr / n * logistic_grad(w, X[batch], Y[batch])", "your steps are too small"),
        # the gradient's sign flipped inside the step
        (STEP, "w = w - lr * -logistic_grad(w, X[batch], Y[batch])", "AGAINST"),
    ],
}
_03 = {
    "frozen_sgd": [
        # a (d, 1) weight returned, three more ways
        ("return w.detach(), b.detach()", "return w.detach()[:, None], b.detach()", "BROADCASTS"),
        ("return w.detach(), b.detach()", "return w.detach().unsqueeze(1), b.detach()", "BROADCASTS"),
        ("return w.detach(), b.detach()", "return w.detach().view(len(w), 1), b.detach()", "BROADCASTS"),
    ],
}
_04 = {
    "ft_stage": [
        # the largest NAME again: sorted keys, the (name, accuracy) pairs' maximum
        ("best = max(val_accs, key=val_accs.get)", "best = sorted(val_accs)[-1]", "the stage with the largest NAME"),
        ("best = max(val_accs, key=val_accs.get)", "best = max(val_accs.items())[0]", "the stage with the largest NAME"),
        # the last stage, spelled another way
        ("best = max(val_accs, key=val_accs.get)", "best = next(reversed(val_accs))", "you chose the last stage"),
        # a tie kept by the last stage: sorted by accuracy, the last of the sorted list
        ("best = max(val_accs, key=val_accs.get)", "best = sorted(val_accs, key=val_accs.get)[-1]",
         "on a tie keep the FIRST stage"),
        # a refit on training + validation, concatenating the features instead of the indices
        ("return best, probe(F[best][train_idx], y[train_idx], F[best][test_idx], y[test_idx]), val_accs",
         "both = np.r_[train_idx, val_idx]\n    return best, probe(F[best][both], y[both], F[best][test_idx], "
         "y[test_idx]), val_accs", "refitted on the training AND validation images"),
    ],
    "ft_digits": [
        # photos' 0-255 scale, written as a float and before the reshape
        ("x = torch.as_tensor(np.asarray(X), dtype=torch.float32).reshape(-1, 1, 8, 8) / 16",
         "x = torch.as_tensor(np.asarray(X) / 255.0, dtype=torch.float32).reshape(-1, 1, 8, 8)", "not 0 to 255"),
    ],
}

HIDDEN = {"01_ols_raw_pixels": _rows(_01), "02_logistic_regression_edges": _rows(_02),
          "03_pretrained_features": _rows(_03), "04_fine_tuning": _rows(_04)}
