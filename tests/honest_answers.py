"""The honest-answer tables of the four notebooks: CORRECT answers written the way students write them, one row each.

A row is ``(question, solution text, replacement text)``: the replacement replaces the solution text (which must
occur exactly once in the built solution notebook, ``autograder/dist/<stem>-solution.ipynb``) and is a correct
answer to the question's prompt written differently from the course solution: explicit loops instead of
comprehensions or vectorised code, attribute assignment (``p.requires_grad = False``) instead of
``requires_grad_``, ``.train(False)`` instead of ``.eval()``, ``setattr``/``getattr``/``add_module``, helper
functions defined in the same cell and called, comments and docstrings, other imports (math, itertools,
functools, collections, copy, operator, scipy), other variable names, equivalent algebra, other wordings and
layouts of written answers. Grading the mutated solution must give that question full marks
(``tests/test_honest_answers.py``).

Several rows of a question often replace the same solution text (a whole function body): ``pack`` never puts two
rows of one question, or two rows whose texts overlap, in the same grading. ``SOLO`` names, per notebook, the
questions whose functions other questions call (as in ``wrong_answers``): their rows are graded alone, so that a
broken shared function would show on its own row only.

``KNOWN_FAILING`` holds correct answers that the grading service scores below full marks today; each comment names
the test that rejects the row and why. They are grading bugs, kept here so that they are not lost: when the grader
is fixed, move them to ``HONEST``.
"""


from wrong_answers import EXPLAIN_03, EXPLAIN_04   # the solutions' whole answer cells


def _rows(*tables):
    """Rows from tables written as {question: [(solution, replacement), ...]}."""
    return [(question, *row) for table in tables for question, rows in table.items() for row in rows]


# ---------------------------------------------------------------- 01: OLS on raw pixels
PHI = "    images = np.asarray(images)\n    return images.reshape(images.shape[0], -1)\n"
ADD_BIAS = "    Phi = np.asarray(Phi)\n    return np.hstack([np.ones((Phi.shape[0], 1), dtype=Phi.dtype), Phi])\n"
GRAD = "    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)\n    return 2 * X.T @ (X @ w - Y)\n"
FIT = ("    X = add_bias(np.asarray(Phi, dtype=np.float64))\n"
       "    return np.linalg.solve(X.T @ X, X.T @ np.asarray(Y, dtype=np.float64))\n")
SPLIT = ("    order = np.random.default_rng(seed).permutation(n)\n    n_val = int(round(val_fraction * n))\n"
         "    return np.sort(order[n_val:]), np.sort(order[:n_val])\n")
PREDICT = "    scores = add_bias(np.asarray(Phi, dtype=np.float64)) @ w\n    return np.where(scores >= 0, 1, -1)\n"
ACCURACY = "    return float(np.mean(np.asarray(Y_hat) == np.asarray(Y)))\n"
MIN_NORM = ("    X = add_bias(np.asarray(Phi, dtype=np.float64))\n"
            "    return np.linalg.pinv(X) @ np.asarray(Y, dtype=np.float64)\n")
RIDGE = ("    X = add_bias(np.asarray(Phi, dtype=np.float64))\n    D = np.eye(X.shape[1])\n    D[0, 0] = 0.0\n"
         "    return np.linalg.solve(X.T @ X + lam * D, X.T @ np.asarray(Y, dtype=np.float64))\n")
CHOOSE = '    return min(records, key=lambda r: (-r["val_acc"], r["s"], -r["lam"]))\n'
MC = 'ols_mc_answer = "C"  # SOLUTION'

_01 = {
    "ols_phi": [
        (PHI,  # one image at a time, in a loop
         "    images = np.asarray(images)\n"
         "    rows = []\n"
         "    for image in images:\n"
         "        rows.append(image.flatten())  # row by row (C order)\n"
         "    return np.stack(rows)\n"),
        (PHI,  # d = s * s computed with math.prod
         "    import math\n"
         "    batch = np.asarray(images)\n"
         "    n = batch.shape[0]\n"
         "    d = math.prod(batch.shape[1:])\n"
         "    return np.reshape(batch, (n, d))\n"),
        (ADD_BIAS,  # np.column_stack with a vector of ones
         "    Phi = np.asarray(Phi)\n"
         "    ones = np.ones(len(Phi), dtype=Phi.dtype)\n"
         "    return np.column_stack((ones, Phi))\n"),
        (ADD_BIAS,  # filled into a preallocated matrix
         "    Phi = np.asarray(Phi)\n"
         "    n, d = Phi.shape\n"
         "    X = np.empty((n, d + 1), dtype=Phi.dtype)\n"
         "    X[:, 0] = 1      # the constant feature comes first\n"
         "    X[:, 1:] = Phi\n"
         "    return X\n"),
    ],
    "ols_split": [
        (SPLIT,  # rng.choice for validation, the complement for training
         "    rng = np.random.default_rng(seed)\n"
         "    n_val = round(val_fraction * n)\n"
         "    val_idx = rng.choice(n, size=n_val, replace=False)\n"
         "    train_idx = np.setdiff1d(np.arange(n), val_idx)\n"
         "    return train_idx, np.sort(val_idx)\n"),
        (SPLIT,  # a boolean mask filled in a loop
         "    perm = np.random.default_rng(seed).permutation(n)\n"
         "    k = int(round(n * val_fraction))\n"
         "    is_val = np.zeros(n, dtype=bool)\n"
         "    for i in perm[:k]:\n"
         "        is_val[i] = True\n"
         "    return np.flatnonzero(~is_val), np.flatnonzero(is_val)\n"),
        (SPLIT,  # shuffle in place, np.split, unsorted halves
         "    rng = np.random.default_rng(seed)\n"
         "    indices = np.arange(n)\n"
         "    rng.shuffle(indices)\n"
         "    cut = int(round(val_fraction * n))\n"
         "    val_idx, train_idx = np.split(indices, [cut])\n"
         "    return train_idx, val_idx\n"),
    ],
    "ols_fit": [
        (GRAD,  # the sum over examples, one term at a time
         "    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)\n"
         "    grad = np.zeros(X.shape[1])\n"
         "    for x_i, y_i in zip(X, Y):\n"
         "        grad += 2 * (x_i @ w - y_i) * x_i   # d/dw (x_i^T w - y_i)^2\n"
         "    return grad\n"),
        (GRAD,  # expanded: 2 X^T X w - 2 X^T Y
         "    X = np.asarray(X, dtype=float)\n"
         "    Y = np.asarray(Y, dtype=float)\n"
         "    return 2 * (X.T @ X @ w) - 2 * (X.T @ Y)\n"),
        (FIT,  # the normal equations named, then solved
         "    X = add_bias(np.asarray(Phi, dtype=np.float64))\n"
         "    Y = np.asarray(Y, dtype=np.float64)\n"
         "    gram = X.T @ X        # (d + 1, d + 1)\n"
         "    rhs = X.T @ Y         # (d + 1,)\n"
         "    w = np.linalg.solve(gram, rhs)   # X^T X w = X^T Y\n"
         "    return w\n"),
        (FIT,  # own bias column, np.dot, both sides divided by n
         "    Phi = np.asarray(Phi, dtype=np.float64)\n"
         "    n = Phi.shape[0]\n"
         "    X = np.c_[np.ones(n), Phi]\n"
         "    y = np.asarray(Y, dtype=np.float64)\n"
         "    return np.linalg.solve(np.dot(X.T, X) / n, np.dot(X.T, y) / n)\n"),
    ],
    "ols_predict": [
        (PREDICT,  # one label per row, in a loop
         "    X = add_bias(np.asarray(Phi, dtype=np.float64))\n"
         "    labels = []\n"
         "    for x in X:\n"
         "        labels.append(1 if x @ w >= 0 else -1)   # a tie (score 0) is a cat\n"
         "    return np.array(labels, dtype=int)\n"),
        (PREDICT,  # bias added by hand, np.sign with its zeros fixed
         "    scores = w[0] + np.asarray(Phi, dtype=float) @ w[1:]\n"
         "    labels = np.sign(scores)\n"
         "    labels[labels == 0] = 1\n"
         "    return labels.astype(int)\n"),
        (ACCURACY,  # a count of matches over the number of labels
         "    Y_hat, Y = np.asarray(Y_hat), np.asarray(Y)\n"
         "    return np.count_nonzero(Y_hat == Y) / len(Y)\n"),
        (ACCURACY,  # counted in a loop
         "    correct = 0\n"
         "    for guess, label in zip(Y_hat, Y):\n"
         "        if guess == label:\n"
         "            correct += 1\n"
         "    return correct / len(Y)\n"),
    ],
    "ols_fix": [
        (MIN_NORM,  # lstsq also returns the minimum-norm solution
         "    X = add_bias(np.asarray(Phi, dtype=np.float64))\n"
         "    w, *_ = np.linalg.lstsq(X, np.asarray(Y, dtype=np.float64), rcond=None)\n"
         "    return w\n"),
        (MIN_NORM,  # the pseudo-inverse by hand from the SVD
         "    X = add_bias(np.asarray(Phi, dtype=np.float64))\n"
         "    U, S, Vt = np.linalg.svd(X, full_matrices=False)\n"
         "    keep = S > S.max() * max(X.shape) * np.finfo(float).eps   # drop the zero singular values\n"
         "    return Vt[keep].T @ ((U[:, keep].T @ np.asarray(Y, dtype=np.float64)) / S[keep])\n"),
        (RIDGE,  # lam added to the diagonal in a loop, the bias entry skipped
         "    X = add_bias(np.asarray(Phi, dtype=np.float64))\n"
         "    A = X.T @ X\n"
         "    for j in range(1, A.shape[0]):\n"
         "        A[j, j] += lam\n"
         "    return np.linalg.solve(A, X.T @ np.asarray(Y, dtype=np.float64))\n"),
        (RIDGE,  # centre the data: ridge on the weights, then the bias from the means
         "    Phi = np.asarray(Phi, dtype=np.float64)\n"
         "    Y = np.asarray(Y, dtype=np.float64)\n"
         "    mu, y_bar = Phi.mean(axis=0), Y.mean()\n"
         "    Pc, Yc = Phi - mu, Y - y_bar\n"
         "    weights = np.linalg.solve(Pc.T @ Pc + lam * np.identity(Phi.shape[1]), Pc.T @ Yc)\n"
         "    return np.concatenate([[y_bar - mu @ weights], weights])\n"),
    ],
    "ols_choose": [
        (CHOOSE,  # sorted, first
         '    ranked = sorted(records, key=lambda r: (-r["val_acc"], r["s"], -r["lam"]))\n'
         "    return ranked[0]\n"),
        (CHOOSE,  # an explicit loop that keeps the best so far
         "    best = None\n"
         "    for r in records:\n"
         "        if best is None or r[\"val_acc\"] > best[\"val_acc\"]:\n"
         "            best = r\n"
         "        elif r[\"val_acc\"] == best[\"val_acc\"]:\n"
         "            if r[\"s\"] < best[\"s\"] or (r[\"s\"] == best[\"s\"] and r[\"lam\"] > best[\"lam\"]):\n"
         "                best = r   # a tie: the simpler model\n"
         "    return best\n"),
        (CHOOSE,  # one filter per rule
         '    top = max(r["val_acc"] for r in records)\n'
         '    tied = [r for r in records if r["val_acc"] == top]\n'
         '    smallest = min(r["s"] for r in tied)\n'
         '    tied = [r for r in tied if r["s"] == smallest]\n'
         '    return max(tied, key=lambda r: r["lam"])\n'),
        (CHOOSE,  # functools.reduce with a helper that compares two records
         "    import functools\n"
         "\n"
         "    def better(a, b):\n"
         '        """The preferred of two records: validation accuracy, then smaller s, then larger lam."""\n'
         '        rank = lambda r: (r["val_acc"], -r["s"], r["lam"])\n'
         "        return b if rank(b) > rank(a) else a\n"
         "\n"
         "    return functools.reduce(better, records)\n"),
    ],
    "ols_mc": [
        (MC, "ols_mc_answer = 'C'   # it punishes confidently correct scores"),
        (MC, 'ols_mc_answer = "ABCD"[2]'),
        (MC, '# C: the squared error also punishes scores that are "too right"\nols_mc_answer = "c".upper()'),
    ],
}


# ---------------------------------------------------------------- 02: edges and logistic regression
CONV = ("    image, kernel = np.asarray(image, dtype=np.float64), np.asarray(kernel, dtype=np.float64)\n"
        "    (H, W), (kh, kw) = image.shape, kernel.shape\n"
        "    out = np.zeros((H - kh + 1, W - kw + 1))\n"
        "    for a in range(kh):\n"
        "        for b in range(kw):\n"
        "            out += kernel[a, b] * image[a:a + H - kh + 1, b:b + W - kw + 1]\n"
        "    return out\n")
KERNEL = "my_kernel = np.array([[0, 1, 1], [-1, 0, 1], [-1, -1, 0]], dtype=float)  # SOLUTION"
PREDICTION = ('edges_prediction = "edges"  # SOLUTION\nedges_prediction_why = "Edge maps say where the outline and the '
              'texture of the animal are, which should matter more than brightness; the control only keeps brightness '
              'and contrast per block."  # SOLUTION')
LOSS = ("    margins = np.asarray(Y) * (np.asarray(X) @ w)\n"
        "    return float(np.mean(np.logaddexp(0.0, -margins)))\n")
LGRAD = ("    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)\n"
         "    weights = np.exp(-np.logaddexp(0.0, Y * (X @ w)))  # σ(-margin)\n"
         "    return -(X.T @ (weights * Y)) / len(Y)\n")
SGD = ("    rng = np.random.default_rng(seed)\n    n, d = X.shape\n    w = np.zeros(d)\n    path = [w.copy()]\n"
       "    for _ in range(num_epochs):\n        order = rng.permutation(n)\n"
       "        for start in range(0, n, batch_size):\n            batch = order[start:start + batch_size]\n"
       "            w = w - lr * logistic_grad(w, X[batch], Y[batch])\n        path.append(w.copy())\n"
       "    return np.array(path)\n")
EXPLAIN_02 = (  # the whole answer cell of the solution: its f-string quotes the numbers Step 10 printed
    'held = (abs(diff) > 2 * se_diff and leader == edges_prediction) or (\n'
    '    abs(diff) <= 2 * se_diff and edges_prediction == "no clear difference")\n'
    'edges_explain = (\n'
    '    f"On the {len(Y_test)} test images the edges reached {test_acc[\'edges\']:.3f}, the control "\n'
    '    f"{test_acc[\'control\']:.3f} and the raw pixels {test_acc[\'raw pixels\']:.3f}. Edges minus control is "\n'
    '    f"{diff:+.3f} with a standard error of about {se_diff:.3f}, so the gap is {verdict}. I predicted "\n'
    '    f"{edges_prediction!r}, and the measurement {\'agrees with\' if held else \'does not bear out\'} that '
    'prediction. "\n'
    '    "The control pools the same blocks into as many features without any filter: whatever it gains over the raw "\n'
    '    "pixels comes from pooling into few features, and only the edges\' lead over the control can be credited to '
    'the "\n'
    '    "edge filter.")')

_02 = {
    "edges_conv": [
        (CONV,  # the textbook loops over output pixels
         "    image = np.asarray(image, dtype=float)\n"
         "    kernel = np.asarray(kernel, dtype=float)\n"
         "    H, W = image.shape\n"
         "    kh, kw = kernel.shape\n"
         "    out = np.empty((H - kh + 1, W - kw + 1))\n"
         "    for i in range(out.shape[0]):\n"
         "        for j in range(out.shape[1]):\n"
         "            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)   # no flip: cross-correlation\n"
         "    return out\n"),
        (CONV,  # every window at once, then one einsum
         "    from numpy.lib.stride_tricks import sliding_window_view\n"
         "    image = np.asarray(image, dtype=np.float64)\n"
         "    kernel = np.asarray(kernel, dtype=np.float64)\n"
         "    windows = sliding_window_view(image, kernel.shape)   # (H-kh+1, W-kw+1, kh, kw)\n"
         "    return np.einsum(\"ijab,ab->ij\", windows, kernel)\n"),
        (CONV,  # itertools.product over the kernel entries, a helper for one shifted view
         "    import itertools\n"
         "    img = np.asarray(image, dtype=np.float64)\n"
         "    ker = np.asarray(kernel, dtype=np.float64)\n"
         "    rows, cols = img.shape[0] - ker.shape[0] + 1, img.shape[1] - ker.shape[1] + 1\n"
         "\n"
         "    def shifted(a, b):\n"
         "        return img[a:a + rows, b:b + cols]\n"
         "\n"
         "    total = np.zeros((rows, cols))\n"
         "    for a, b in itertools.product(range(ker.shape[0]), range(ker.shape[1])):\n"
         "        total = total + ker[a, b] * shifted(a, b)\n"
         "    return total\n"),
    ],
    "edges_design": [
        (KERNEL, "my_kernel = np.array([[0, 1, 2], [-1, 0, 1], [-2, -1, 0]], dtype=float)  # a diagonal Sobel"),
        (KERNEL, "my_kernel = np.triu(np.ones((3, 3)), 1) - np.tril(np.ones((3, 3)), -1)"),
        (KERNEL, "# brightness of the pixel right minus the pixel below: changes across pattern_a's stripes\n"
                 "my_kernel = np.array([[0.0, 1.0, 0.0],\n"
                 "                      [-1.0, 0.0, 0.0],\n"
                 "                      [0.0, 0.0, 0.0]])"),
        (KERNEL, "my_kernel = -2.0 * np.subtract.outer(np.arange(3), np.arange(3))"),
    ],
    "edges_predict": [
        (PREDICTION, 'edges_prediction = "control"\n'
                     'edges_prediction_why = ("The control keeps the brightness and contrast of every block, "\n'
                     '                        "which may tell fur colours apart better than the edges of blurry small images.")'),
        (PREDICTION, "edges_prediction = 'no clear difference'\n"
                     "edges_prediction_why = '''At 64 pixels a side the outlines are blurry, so edges and block "
                     "brightness probably carry similar information.'''"),
        (PREDICTION, 'edges_prediction = "edges"\n'
                     'edges_prediction_why = "I expect the edge features to win because cats and dogs differ in the '
                     'shape of ears and faces, while brightness per block mostly measures the fur colour."'),
    ],
    "edges_loss": [
        (LOSS,  # one example at a time
         "    total = 0.0\n"
         "    for x_i, y_i in zip(np.asarray(X), np.asarray(Y)):\n"
         "        total += np.logaddexp(0.0, -y_i * (x_i @ w))   # -log σ(y x^T w)\n"
         "    return float(total / len(Y))\n"),
        (LOSS,  # the stable softplus written out: max(t, 0) + log1p(exp(-|t|))
         "    t = -np.asarray(Y, dtype=float) * (np.asarray(X, dtype=float) @ w)\n"
         "    return float(np.mean(np.maximum(t, 0.0) + np.log1p(np.exp(-np.abs(t)))))\n"),
        (LOSS,  # scipy's log_expit: the loss is -log σ(margin)
         "    from scipy.special import log_expit\n"
         "    m = np.dot(np.asarray(X), w) * np.asarray(Y)\n"
         "    return -float(np.mean(log_expit(m)))\n"),
        (LOSS,  # sum divided by n, a np.float64 (a float) returned
         "    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)\n"
         "    n = len(Y)\n"
         "    return np.logaddexp(0, -(Y * (X @ w))).sum() / n\n"),
    ],
    "edges_grad": [
        (LGRAD,  # the mean of the per-example gradients, in a loop
         "    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)\n"
         "    grad = np.zeros_like(w, dtype=float)\n"
         "    for x_i, y_i in zip(X, Y):\n"
         "        sig = np.exp(-np.logaddexp(0.0, y_i * (x_i @ w)))   # σ(-m_i), safe for any m_i\n"
         "        grad -= sig * y_i * x_i\n"
         "    return grad / len(Y)\n"),
        (LGRAD,  # scipy's expit is σ without overflow
         "    from scipy.special import expit\n"
         "    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)\n"
         "    margins = Y * (X @ w)\n"
         "    return -X.T @ (Y * expit(-margins)) / X.shape[0]\n"),
        (LGRAD,  # broadcasting, then the mean over rows
         "    X = np.asarray(X, dtype=np.float64)\n"
         "    Y = np.asarray(Y, dtype=np.float64)\n"
         "    s = np.exp(-np.logaddexp(0, Y * X.dot(w)))\n"
         "    return -np.mean((s * Y)[:, None] * X, axis=0)\n"),
    ],
    "edges_sgd": [
        (SGD,  # a preallocated path, mini-batches counted with math.ceil
         "    import math\n"
         "    rng = np.random.default_rng(seed)\n"
         "    n, d = X.shape\n"
         "    W = np.zeros((num_epochs + 1, d))   # row 0: the start, w = 0\n"
         "    w = W[0].copy()\n"
         "    for epoch in range(num_epochs):\n"
         "        order = rng.permutation(n)\n"
         "        for k in range(math.ceil(n / batch_size)):\n"
         "            idx = order[k * batch_size:(k + 1) * batch_size]\n"
         "            w -= lr * logistic_grad(w, X[idx], Y[idx])\n"
         "        W[epoch + 1] = w\n"
         "    return W\n"),
        (SGD,  # a while loop over the start of each batch
         "    rng = np.random.default_rng(seed)\n"
         "    n = len(Y)\n"
         "    weights = np.zeros(X.shape[1])\n"
         "    history = [weights]\n"
         "    for _ in range(num_epochs):\n"
         "        perm = rng.permutation(n)\n"
         "        start = 0\n"
         "        while start < n:\n"
         "            b = perm[start:start + batch_size]\n"
         "            weights = weights - lr * logistic_grad(weights, X[b], Y[b])\n"
         "            start += batch_size\n"
         "        history.append(weights)\n"
         "    return np.stack(history)\n"),
        (SGD,  # a helper for one epoch, defined in the cell and called
         "    import copy\n"
         "    rng = np.random.default_rng(seed)\n"
         "    n, d = X.shape\n"
         "\n"
         "    def one_epoch(w):\n"
         "        \"\"\"One pass over a fresh random order, one step per mini-batch (the last may be smaller).\"\"\"\n"
         "        order = rng.permutation(n)\n"
         "        batches = (order[i:i + batch_size] for i in range(0, n, batch_size))\n"
         "        for batch in batches:\n"
         "            w = w - lr * logistic_grad(w, X[batch], Y[batch])\n"
         "        return w\n"
         "\n"
         "    w = np.zeros(d)\n"
         "    path = [copy.copy(w)]\n"
         "    for _ in range(num_epochs):\n"
         "        w = one_epoch(w)\n"
         "        path.append(copy.copy(w))\n"
         "    return np.array(path)\n"),
    ],
    "edges_explain": [
        # an f-string over the numbers Step 10 printed, as the prompt asks (once KNOWN_FAILING: the worker cannot
        # evaluate it, having no images; a written question is now read by a person from the saved notebook)
        (EXPLAIN_02,
         'edges_explain = (f"Edges reached {test_acc[\'edges\']:.3f} and the control {test_acc[\'control\']:.3f} on the test '
         'images; "\n'
         '                 "I predicted edges. The control pools the same blocks without a filter, so the part of the gain "\n'
         '                 "over raw pixels that it shares comes from pooling into few features, not from the edge filter.")'),
        (EXPLAIN_02, 'edges_explain = ("I compared the printed test accuracies of the edge features and the control, and the '
                     'gap between them with its standard error, to see whether my prediction held. Since the '
                     'control pools the same blocks without any filter, whatever it gains over raw pixels comes from '
                     'the pooling into few features, not from the edges.")'),
        (EXPLAIN_02, "edges_explain = '''I predicted that edges would win. The printed comparison shows the "
                     "difference between edges and the control next to two standard errors, so I read it against "
                     "that. The control has as many features as the edge maps, which tells me how much of the "
                     "improvement is due to pooling rather than to the filter.'''"),
        (EXPLAIN_02, 'edges_explain = "Measured: edges vs control accuracy on the test set, with the standard '
                     'error of the difference printed next to it; a gap smaller than 2 standard errors would not '
                     'support my guess. The control has the same number of pooled features as the edges, so it '
                     'separates the effect of the filter from the effect of pooling."'),
    ],
}


# ---------------------------------------------------------------- 03: frozen pre-trained features
HEADLESS = ("    phi = copy.deepcopy(model)\n    setattr(phi, head_name, nn.Identity())\n"
            "    return phi.requires_grad_(False).eval()      # every parameter frozen, batch norm on its running averages\n")
STRAT = ("    y = np.asarray(y)\n    rng = np.random.default_rng(seed)\n    train_idx, val_idx = [], []\n"
         "    for c in np.unique(y):\n        idx = rng.permutation(np.flatnonzero(y == c))\n"
         "        k = int(round(val_fraction * len(idx)))\n        val_idx.append(idx[:k])\n"
         "        train_idx.append(idx[k:])\n"
         "    return np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(val_idx))\n")
STD = ("    mean, std = X_train.mean(0), X_train.std(0)\n    std[std == 0] = 1\n"
       "    return tuple((X - mean) / std for X in (X_train, *others))\n")
LSGD = ("    X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)\n"
        "    w = torch.zeros(X.shape[1], requires_grad=True)\n"
        "    b = torch.zeros((), requires_grad=True)\n"
        "    g = torch.Generator().manual_seed(seed)\n"
        "    for _ in range(num_epochs):\n"
        "        order = torch.randperm(len(X), generator=g)\n"
        "        for start in range(0, len(X), batch_size):\n"
        "            batch = order[start:start + batch_size]\n"
        "            loss = F.binary_cross_entropy_with_logits(X[batch] @ w + b, y[batch])\n"
        "            loss.backward()\n"
        "            with torch.no_grad():\n"
        "                for p in (w, b):\n"
        "                    p -= lr * p.grad\n"
        "                    p.grad.zero_()\n"
        "    return w.detach(), b.detach()\n")
CHOOSE_LR = ("    val_accs = {}\n    for lr in lrs:\n        w, b = train_fn(X_train, y_train, lr)\n"
             "        predicted = (torch.as_tensor(X_val) @ torch.as_tensor(w) + torch.as_tensor(b) > 0).long()\n"
             "        val_accs[lr] = float((predicted == torch.as_tensor(y_val)).float().mean())\n"
             "    return max(val_accs, key=val_accs.get), val_accs\n")
PRED_03 = "predicted_random_acc = 0.6\n"
PHONE = ('fits = lambda max_gmacs, max_params: [m for m in zoo if m["gflops"] <= max_gmacs and m["params"] <= max_params]\n'
         'phone = max(fits(0.5, 5e6), key=lambda m: m["acc1"])["name"]\n'
         'server = max(fits(20, float("inf")), key=lambda m: m["acc1"])["name"]\n')

_03 = {
    "frozen_phi": [
        (HEADLESS,  # requires_grad set per parameter, .train(False)
         "    phi = copy.deepcopy(model)\n"
         "    setattr(phi, head_name, nn.Identity())\n"
         "    for p in phi.parameters():\n"
         "        p.requires_grad = False\n"
         "    phi.train(False)   # the same as phi.eval()\n"
         "    return phi\n"),
        (HEADLESS,  # from copy import deepcopy, add_module replaces the registered head
         "    from copy import deepcopy\n"
         "    features = deepcopy(model)          # never touch the caller's model\n"
         "    assert isinstance(getattr(features, head_name), nn.Module), head_name\n"
         "    features.add_module(head_name, torch.nn.Identity())\n"
         "    features.requires_grad_(False)\n"
         "    features.eval()\n"
         "    return features\n"),
        (HEADLESS,  # a helper that freezes, defined in the cell and called; attribute set with setattr at the end
         "    def freeze_all(module):\n"
         "        \"\"\"No parameter of module will ever get a gradient.\"\"\"\n"
         "        for name, param in module.named_parameters():\n"
         "            param.requires_grad_(False)\n"
         "        return module\n"
         "\n"
         "    phi = copy.deepcopy(model)\n"
         "    setattr(phi, head_name, nn.Identity())\n"
         "    return freeze_all(phi).eval()\n"),
    ],
    "frozen_split": [
        (STRAT,  # a loop over sorted classes, lists extended, rng.shuffle
         "    labels = np.asarray(y)\n"
         "    rng = np.random.default_rng(seed)\n"
         "    train, val = [], []\n"
         "    for c in sorted(set(labels.tolist())):\n"
         "        members = np.where(labels == c)[0]\n"
         "        rng.shuffle(members)\n"
         "        n_val = int(round(val_fraction * len(members)))\n"
         "        val.extend(members[:n_val])\n"
         "        train.extend(members[n_val:])\n"
         "    return np.array(sorted(train), dtype=int), np.array(sorted(val), dtype=int)\n"),
        (STRAT,  # rng.choice per class, the rest by np.setdiff1d
         "    y = np.asarray(y)\n"
         "    rng = np.random.default_rng(seed)\n"
         "    val_parts = []\n"
         "    for c in np.unique(y):\n"
         "        members = np.flatnonzero(y == c)\n"
         "        k = round(val_fraction * len(members))\n"
         "        val_parts.append(rng.choice(members, size=k, replace=False))\n"
         "    val_idx = np.sort(np.concatenate(val_parts)).astype(int)\n"
         "    train_idx = np.setdiff1d(np.arange(len(y)), val_idx)\n"
         "    return train_idx, val_idx\n"),
        (STRAT,  # indices grouped by class with collections.defaultdict
         "    from collections import defaultdict\n"
         "    rng = np.random.default_rng(seed)\n"
         "    by_class = defaultdict(list)\n"
         "    for i, label in enumerate(np.asarray(y).tolist()):\n"
         "        by_class[label].append(i)\n"
         "    train_idx, val_idx = [], []\n"
         "    for label in sorted(by_class):\n"
         "        shuffled = rng.permutation(by_class[label])\n"
         "        cut = int(round(val_fraction * len(shuffled)))\n"
         "        val_idx += shuffled[:cut].tolist()\n"
         "        train_idx += shuffled[cut:].tolist()\n"
         "    return np.array(train_idx, dtype=np.int64), np.array(val_idx, dtype=np.int64)\n"),
    ],
    "frozen_standardize": [
        (STD,  # std + (std == 0): adds 1 exactly where the std is 0; a loop over the splits
         "    mu = X_train.mean(0)\n"
         "    sigma = X_train.std(0)\n"
         "    sigma = sigma + (sigma == 0)   # divide by 1 for constant features\n"
         "    out = []\n"
         "    for X in (X_train,) + others:\n"
         "        out.append((X - mu) / sigma)\n"
         "    return tuple(out)\n"),
        (STD,  # everything as torch tensors, torch.where, the population std
         "    X_train = torch.as_tensor(X_train)\n"
         "    mean = X_train.mean(dim=0)\n"
         "    std = X_train.std(dim=0, correction=0)   # the population std\n"
         "    std = torch.where(std > 0, std, torch.ones_like(std))\n"
         "    return (X_train - mean) / std, *[(torch.as_tensor(X) - mean) / std for X in others]\n"),
        (STD,  # mean and std from their formulas, a helper applied to every split
         "    n = len(X_train)\n"
         "    mean = X_train.sum(0) / n\n"
         "    std = (((X_train - mean) ** 2).sum(0) / (n - 1)) ** 0.5   # the sample std, like torch's default\n"
         "    std[std == 0] = 1.0\n"
         "\n"
         "    def scale(X):\n"
         "        return (X - mean) / std\n"
         "\n"
         "    return tuple(map(scale, (X_train, *others)))\n"),
    ],
    "frozen_sgd": [
        (LSGD,  # torch.optim.SGD does the step and the zeroing; torch.split cuts the mini-batches
         "    X = torch.as_tensor(X, dtype=torch.float32)\n"
         "    y = torch.as_tensor(y, dtype=torch.float32)\n"
         "    w = torch.zeros(X.shape[1], requires_grad=True)\n"
         "    b = torch.zeros((), requires_grad=True)\n"
         "    optimizer = torch.optim.SGD([w, b], lr=lr)   # plain SGD: p <- p - lr * p.grad\n"
         "    g = torch.Generator().manual_seed(seed)\n"
         "    for epoch in range(num_epochs):\n"
         "        order = torch.randperm(len(X), generator=g)\n"
         "        for batch in torch.split(order, batch_size):\n"
         "            optimizer.zero_grad()\n"
         "            F.binary_cross_entropy_with_logits(X[batch] @ w + b, y[batch]).backward()\n"
         "            optimizer.step()\n"
         "    return w.detach(), b.detach()\n"),
        (LSGD,  # the loss written with logsigmoid, gradients reset to None
         "    X = torch.as_tensor(X).float()\n"
         "    y = torch.as_tensor(y).float()\n"
         "    n, d = X.shape\n"
         "    w = torch.zeros(d, requires_grad=True)\n"
         "    b = torch.zeros((), requires_grad=True)\n"
         "    gen = torch.Generator().manual_seed(seed)\n"
         "    for _ in range(num_epochs):\n"
         "        perm = torch.randperm(n, generator=gen)\n"
         "        start = 0\n"
         "        while start < n:\n"
         "            idx = perm[start:start + batch_size]\n"
         "            z = X[idx] @ w + b\n"
         "            loss = -(y[idx] * F.logsigmoid(z) + (1 - y[idx]) * F.logsigmoid(-z)).mean()\n"
         "            loss.backward()\n"
         "            with torch.no_grad():\n"
         "                w.sub_(lr * w.grad)\n"
         "                b.sub_(lr * b.grad)\n"
         "            w.grad, b.grad = None, None   # PyTorch would add the next gradient to these\n"
         "            start += batch_size\n"
         "    return w.detach(), b.detach()\n"),
        (LSGD,  # the gradient of the mean BCE written out: X^T (σ(z) - y) / m
         "    X = torch.as_tensor(X, dtype=torch.float32)\n"
         "    y = torch.as_tensor(y, dtype=torch.float32)\n"
         "    w, b = torch.zeros(X.shape[1]), torch.zeros(())\n"
         "    g = torch.Generator().manual_seed(seed)\n"
         "    for _ in range(num_epochs):\n"
         "        order = torch.randperm(len(X), generator=g)\n"
         "        for start in range(0, len(X), batch_size):\n"
         "            batch = order[start:start + batch_size]\n"
         "            residual = torch.sigmoid(X[batch] @ w + b) - y[batch]   # dL/dz of the mean loss, times m\n"
         "            w = w - lr * X[batch].T @ residual / len(batch)\n"
         "            b = b - lr * residual.mean()\n"
         "    return w.detach(), b.detach()\n"),
    ],
    "frozen_lr": [
        (CHOOSE_LR,  # NumPy accuracy, the best kept in a loop (strict > keeps the first on a tie)
         "    best_lr, best_acc, val_accs = None, -1.0, {}\n"
         "    for lr in lrs:\n"
         "        w, b = train_fn(X_train, y_train, lr)\n"
         "        scores = np.asarray(X_val, dtype=float) @ np.asarray(w, dtype=float).reshape(-1) + float(b)\n"
         "        acc = float(np.mean((scores > 0).astype(int) == np.asarray(y_val)))\n"
         "        val_accs[lr] = acc\n"
         "        if acc > best_acc:\n"
         "            best_lr, best_acc = lr, acc\n"
         "    return best_lr, val_accs\n"),
        (CHOOSE_LR,  # a helper for the validation accuracy, a dict comprehension, max over lrs
         "    X_val, y_val = torch.as_tensor(X_val), torch.as_tensor(y_val)\n"
         "\n"
         "    def val_accuracy(w, b):\n"
         "        \"\"\"Accuracy on the validation split of 'class 1 when X w + b > 0'.\"\"\"\n"
         "        predicted = (X_val @ torch.as_tensor(w) + torch.as_tensor(b) > 0).long()\n"
         "        return (predicted == y_val).float().mean().item()\n"
         "\n"
         "    val_accs = {lr: val_accuracy(*train_fn(X_train, y_train, lr)) for lr in lrs}\n"
         "    best_lr = max(lrs, key=lambda lr: val_accs[lr])   # max keeps the first of equal values\n"
         "    return best_lr, val_accs\n"),
        (CHOOSE_LR,  # stable sort by accuracy, first
         "    val_accs = {}\n"
         "    for lr in lrs:\n"
         "        weights, bias = train_fn(X_train, y_train, lr)\n"
         "        logits = torch.as_tensor(X_val) @ torch.as_tensor(weights) + torch.as_tensor(bias)\n"
         "        val_accs[lr] = torch.eq((logits > 0).long(), torch.as_tensor(y_val)).double().mean().item()\n"
         "    ranked = sorted(lrs, key=lambda lr: -val_accs[lr])   # sorted is stable: ties keep lrs' order\n"
         "    return ranked[0], val_accs\n"),
    ],
    "frozen_predict": [
        (PRED_03, "predicted_random_acc = 0.55   # a bit better than guessing\n"),
        (PRED_03, "predicted_random_acc = 3 / 4\n"),
        (PRED_03, 'predicted_random_acc = float("0.5")\n'),
        (PRED_03, "predicted_random_acc = np.float32(0.6)   # any real number type (issue 27 §4)\n"),
    ],
    "frozen_explain": [
        (EXPLAIN_03, 'random_explanation = "My prediction was too high: the random network\'s features gave far less '
                     'than the pre-trained ones. So the architecture alone is not enough; the good features come from '
                     'the weights learned on ImageNet."\n'),
        (EXPLAIN_03, "random_explanation = ('I guessed too low. The randomly initialised network still did better '\n"
                     "                      'than chance, but the pretrained network was much more accurate, so most '\n"
                     "                      'of the quality of the features comes from training, not the architecture.') "
                     '\n'),
        (EXPLAIN_03, "random_explanation = '''Close: I expected about 0.6 and the random features landed near there.\n"
                     "The gap to the pre-trained network shows that the ImageNet weights, not the layers themselves,\n"
                     "make the features useful for telling cats from dogs.'''\n"),
    ],
    "frozen_phone": [
        (PHONE,  # filtered lists sorted by accuracy, first
         'phone_fits = [m for m in zoo if m["gflops"] <= 0.5 and m["params"] <= 5e6]\n'
         'server_fits = [m for m in zoo if m["gflops"] <= 20]   # no limit on parameters\n'
         'phone = sorted(phone_fits, key=lambda m: m["acc1"], reverse=True)[0]["name"]\n'
         'server = sorted(server_fits, key=lambda m: m["acc1"], reverse=True)[0]["name"]\n'),
        (PHONE,  # a helper with an explicit loop, called for each budget
         "import math\n"
         "\n"
         "def most_accurate(models_list, max_gmacs, max_params=math.inf):\n"
         "    \"\"\"Name of the most accurate model within both budgets.\"\"\"\n"
         "    best = None\n"
         "    for m in models_list:\n"
         "        if m[\"gflops\"] <= max_gmacs and m[\"params\"] <= max_params:\n"
         "            if best is None or m[\"acc1\"] > best[\"acc1\"]:\n"
         "                best = m\n"
         "    return best[\"name\"]\n"
         "\n"
         "phone = most_accurate(zoo, 0.5, 5e6)\n"
         "server = most_accurate(zoo, 20)\n"),
        (PHONE,  # filter and operator.itemgetter
         "import operator\n"
         'phone = max(filter(lambda m: m["gflops"] <= 0.5 and m["params"] <= 5e6, zoo), key=operator.itemgetter("acc1"))["name"]\n'
         'server = max(filter(lambda m: m["gflops"] <= 20, zoo), key=operator.itemgetter("acc1"))["name"]\n'),
    ],
}


# ---------------------------------------------------------------- 04: fine-tuning
FREEZE = ("    for i, stage in enumerate(stages):\n        for p in stage.parameters():\n"
          "            p.requires_grad_(i >= len(stages) - k)\n    for p in head.parameters():\n"
          "        p.requires_grad_(True)\n"
          "    return sum(p.numel() for module in [*stages, head] for p in module.parameters() if p.requires_grad)\n")
GROUPS = ("    body = [p for stage in stages for p in stage.parameters() if p.requires_grad]\n"
          '    return [{"params": body, "lr": lr * body_factor}, {"params": list(head.parameters()), "lr": lr}]\n')
BN = ("    model.train()\n    for m in model.modules():\n"
      "        if isinstance(m, nn.modules.batchnorm._BatchNorm) and not any(p.requires_grad for p in m.parameters()):\n"
      "            m.eval()\n    return model\n")
ADVICE = ('advice = {\n    ("small", "similar"): LINEAR_FINAL,\n    ("large", "similar"): FINE_TUNE,\n'
          '    ("small", "different"): LINEAR_EARLIER,\n    ("large", "different"): WHOLE,\n}\n'
          'pets_scenario = ("small", "similar")\n')
STAGE = ("    y = np.asarray(y)\n"
         "    val_accs = {s: probe(F[s][train_idx], y[train_idx], F[s][val_idx], y[val_idx]) for s in F}\n"
         "    best = max(val_accs, key=val_accs.get)\n"
         "    return best, probe(F[best][train_idx], y[train_idx], F[best][test_idx], y[test_idx]), val_accs\n")
DIGITS = ("    x = torch.as_tensor(np.asarray(X), dtype=torch.float32).reshape(-1, 1, 8, 8) / 16\n"
          '    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)\n'
          "    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)\n")
PREDICTION_04 = ('prediction = {\n    ("3 breeds", "small"): FINAL,\n    ("3 breeds", "large"): FINETUNE,\n'
                 '    ("digits", "small"): EARLIER,\n    ("digits", "large"): SCRATCH,\n}\n')

BN_PREDICT = "bn_prediction = PART_WAY   # momentum: a running average moves only part of the way in one step\n"
FRACTION = "    return 1 - (1 - first) ** n\n"
CHOOSE_K = ("    best_k = min(val_acc, key=lambda k: (-val_acc[k], trainable[k]))\n"
            "    return best_k, test_acc[best_k]\n")
FIGURE = 'figure_backbone = "resnet18"\nk_half = 1   # layer4 alone holds most of ResNet-18\'s parameters\n'
AUG_CHOICE = 'digits_augmentation = ["rotation up to 10°", "scale 90–110%"]\n'
AUG_EFFECT = ("    gains = np.array([fit(transform, seed) - fit(None, seed) for seed in seeds])\n"
              "    return float(gains.mean()), float(gains.std(ddof=1) / np.sqrt(len(gains)))\n")

_04 = {
    "ft_freeze": [
        (FREEZE,  # attribute assignment, the count in a loop
         "    first_trainable = len(stages) - k\n"
         "    for i, stage in enumerate(stages):\n"
         "        for p in stage.parameters():\n"
         "            p.requires_grad = i >= first_trainable   # set every stage, True or False\n"
         "    for p in head.parameters():\n"
         "        p.requires_grad = True\n"
         "    count = 0\n"
         "    for module in list(stages) + [head]:\n"
         "        for p in module.parameters():\n"
         "            if p.requires_grad:\n"
         "                count += p.numel()\n"
         "    return count\n"),
        (FREEZE,  # stages cut into a frozen and a trainable list, Module.requires_grad_
         "    cut = max(len(stages) - k, 0)\n"
         "    frozen, trainable = stages[:cut], stages[cut:]\n"
         "    for stage in frozen:\n"
         "        stage.requires_grad_(False)\n"
         "    for module in [*trainable, head]:\n"
         "        module.requires_grad_(True)\n"
         "    return sum(p.numel() for module in [*trainable, head] for p in module.parameters())\n"),
        (FREEZE,  # itertools.chain over every parameter, setattr
         "    import itertools\n"
         "    for i, stage in enumerate(stages):\n"
         "        train_it = i >= len(stages) - k\n"
         "        for p in stage.parameters():\n"
         "            setattr(p, \"requires_grad\", train_it)\n"
         "    for p in head.parameters():\n"
         "        setattr(p, \"requires_grad\", True)\n"
         "    everything = itertools.chain(*(s.parameters() for s in stages), head.parameters())\n"
         "    return sum(torch.numel(p) for p in everything if p.requires_grad)\n"),
    ],
    "ft_groups": [
        (GROUPS,  # explicit loops, dict(...)
         "    body_params = []\n"
         "    for stage in stages:\n"
         "        for p in stage.parameters():\n"
         "            if p.requires_grad:      # frozen parameters belong to no group\n"
         "                body_params.append(p)\n"
         "    head_params = []\n"
         "    for p in head.parameters():\n"
         "        head_params.append(p)\n"
         "    return [dict(params=body_params, lr=lr * body_factor), dict(params=head_params, lr=lr)]\n"),
        (GROUPS,  # itertools.chain.from_iterable and filter
         "    from itertools import chain\n"
         "    all_body = chain.from_iterable(stage.parameters() for stage in stages)\n"
         "    trainable = list(filter(lambda p: p.requires_grad, all_body))\n"
         '    body_group = {"params": trainable, "lr": lr * body_factor}\n'
         '    head_group = {"params": [*head.parameters()], "lr": lr}\n'
         "    return [body_group, head_group]\n"),
        (GROUPS,  # one helper for both groups (a frozen head parameter would be left out too)
         "    def trainable(modules):\n"
         "        return [p for m in modules for p in m.parameters() if p.requires_grad]\n"
         "\n"
         '    return [{"lr": lr * body_factor, "params": trainable(stages)},\n'
         '            {"lr": lr, "params": trainable([head])}]\n'),
    ],
    "ft_bn": [
        (BN,  # model.train(True), .train(False), all(not ...)
         "    model.train(True)\n"
         "    for name, module in model.named_modules():\n"
         "        is_bn = isinstance(module, nn.modules.batchnorm._BatchNorm)\n"
         "        if is_bn and all(not p.requires_grad for p in module.parameters()):\n"
         "            module.train(False)   # keep the ImageNet running averages\n"
         "    return model\n"),
        (BN,  # _BatchNorm imported, a predicate helper and filter
         "    from torch.nn.modules.batchnorm import _BatchNorm\n"
         "\n"
         "    def frozen_bn(m):\n"
         "        return isinstance(m, _BatchNorm) and not any(p.requires_grad for p in m.parameters())\n"
         "\n"
         "    model.train()\n"
         "    for m in filter(frozen_bn, model.modules()):\n"
         "        m.eval()\n"
         "    return model\n"),
        (BN,  # a recursive walk over the children, the mode set with setattr
         "    def visit(module):\n"
         "        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):\n"
         "            if not any(p.requires_grad for p in module.parameters()):\n"
         "                setattr(module, \"training\", False)   # a batch-norm layer has no children: = .eval()\n"
         "        for child in module.children():\n"
         "            visit(child)\n"
         "\n"
         "    model.train()\n"
         "    visit(model)\n"
         "    return model\n"),
    ],
    "ft_scenarios": [
        (ADVICE,  # another order, one key per line, the scenario from two names
         "advice = {\n"
         "    (\"large\", \"different\"): WHOLE,            # plenty of data, nothing worth keeping frozen\n"
         "    (\"large\", \"similar\"): FINE_TUNE,\n"
         "    (\"small\", \"different\"): LINEAR_EARLIER,   # earlier features transfer better\n"
         "    (\"small\", \"similar\"): LINEAR_FINAL,\n"
         "}\n"
         "pets_size, pets_similarity = \"small\", \"similar\"   # a few thousand pets; ImageNet has cat and dog breeds\n"
         "pets_scenario = (pets_size, pets_similarity)\n"),
        (ADVICE,  # dict() of pairs, the strategies by their place in STRATEGIES
         "advice = dict([\n"
         "    ((\"small\", \"similar\"), STRATEGIES[0]),\n"
         "    ((\"large\", \"similar\"), STRATEGIES[2]),\n"
         "    ((\"small\", \"different\"), STRATEGIES[1]),\n"
         "    ((\"large\", \"different\"), STRATEGIES[3]),\n"
         "])\n"
         "pets_scenario = tuple([\"small\", \"similar\"])\n"),
        (ADVICE,  # a comprehension over the four cells with a helper
         "def figure5_strategy(size, similarity):\n"
         "    \"\"\"Figure 5 of the note.\"\"\"\n"
         "    if size == \"small\":\n"
         "        return LINEAR_FINAL if similarity == \"similar\" else LINEAR_EARLIER\n"
         "    return FINE_TUNE if similarity == \"similar\" else WHOLE\n"
         "\n"
         "advice = {(size, sim): figure5_strategy(size, sim) for size in (\"small\", \"large\") for sim in (\"similar\", \"different\")}\n"
         "pets_scenario = 'small', 'similar'\n"),
    ],
    "ft_stage": [
        (STAGE,  # an explicit loop; strict > keeps the first stage on a tie
         "    y = np.asarray(y)\n"
         "    val_accs = {}\n"
         "    best, best_acc = None, float(\"-inf\")\n"
         "    for stage, feats in F.items():\n"
         "        acc = probe(feats[train_idx], y[train_idx], feats[val_idx], y[val_idx])\n"
         "        val_accs[stage] = acc\n"
         "        if acc > best_acc:\n"
         "            best, best_acc = stage, acc\n"
         "    test_acc = probe(F[best][train_idx], y[train_idx], F[best][test_idx], y[test_idx])   # once\n"
         "    return best, test_acc, val_accs\n"),
        (STAGE,  # a helper that fits on training and scores on another split
         "    labels = np.asarray(y)\n"
         "\n"
         "    def score(stage, eval_idx):\n"
         "        \"\"\"Probe fitted on the training images of stage, accuracy on eval_idx.\"\"\"\n"
         "        feats = F[stage]\n"
         "        return probe(feats[train_idx], labels[train_idx], feats[eval_idx], labels[eval_idx])\n"
         "\n"
         "    val_accs = {stage: score(stage, val_idx) for stage in F}\n"
         "    best = sorted(val_accs, key=lambda s: -val_accs[s])[0]   # stable: the first stage on a tie\n"
         "    return best, score(best, test_idx), val_accs\n"),
        (STAGE,  # max over the items
         "    y = np.asarray(y)\n"
         "    val_accs = dict()\n"
         "    for name in F:\n"
         "        val_accs[name] = probe(F[name][train_idx], y[train_idx], F[name][val_idx], y[val_idx])\n"
         "    best_stage, _ = max(val_accs.items(), key=lambda item: item[1])\n"
         "    test_acc = probe(F[best_stage][train_idx], y[train_idx], F[best_stage][test_idx], y[test_idx])\n"
         "    return best_stage, test_acc, val_accs\n"),
    ],
    "ft_digits": [
        (DIGITS,  # torch.from_numpy, view, expand, broadcast with [None, :, None, None]
         "    x = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).view(len(X), 1, 8, 8) / 16.0\n"
         "    x = F.interpolate(x, size=size, mode=\"bilinear\", align_corners=False)\n"
         "    x = x.expand(-1, 3, -1, -1)\n"
         "    m = torch.as_tensor(mean, dtype=torch.float32)[None, :, None, None]\n"
         "    s = torch.as_tensor(std, dtype=torch.float32)[None, :, None, None]\n"
         "    return (x - m) / s\n"),
        (DIGITS,  # torch.cat of three copies, each channel normalized in a loop
         "    gray = torch.tensor(np.asarray(X), dtype=torch.float32).reshape(len(X), 1, 8, 8)\n"
         "    gray = gray / 16                      # 0..16 -> 0..1\n"
         "    gray = F.interpolate(gray, size=(size, size), mode=\"bilinear\", align_corners=False)\n"
         "    rgb = torch.cat([gray, gray, gray], dim=1)\n"
         "    for c in range(3):\n"
         "        rgb[:, c] = (rgb[:, c] - mean[c]) / std[c]\n"
         "    return rgb.float()\n"),
        (DIGITS,  # torchvision's normalize on the batch
         "    import torchvision.transforms.functional as TF\n"
         "    images = torch.as_tensor(np.asarray(X, dtype=np.float64) / 16, dtype=torch.float32)\n"
         "    images = images.reshape(-1, 8, 8).unsqueeze(1)\n"
         "    images = F.interpolate(images, size=(size, size), mode=\"bilinear\", align_corners=False)\n"
         "    images = images.repeat_interleave(3, dim=1)\n"
         "    return TF.normalize(images, mean=list(mean), std=list(std))\n"),
    ],
    "ft_bn_predict": [
        (BN_PREDICT, "bn_prediction = UNCHANGED   # requires_grad is False, so I expect nothing to move\n"),
        (BN_PREDICT, "bn_prediction = REPLACED\n"),
        (BN_PREDICT, "bn_prediction = \"moves part of the way towards the pets' batch mean\"   # the text itself\n"),
    ],
    "ft_bn_drift": [
        (FRACTION,  # what is left, multiplied pass by pass
         "    left = 1.0\n"
         "    for _ in range(n):\n"
         "        left *= 1 - first     # each pass keeps (1 - first) of the gap that is left\n"
         "    return 1 - left\n"),
        (FRACTION,  # math.pow
         "    import math\n"
         "    return 1.0 - math.pow(1.0 - first, n)\n"),
        (FRACTION,  # the closed fraction updated as the running mean is
         "    closed = 0.0\n"
         "    for step in range(n):\n"
         "        closed = closed + first * (1 - closed)\n"
         "    return closed\n"),
    ],
    "ft_choose_k": [
        (CHOOSE_K,  # an explicit loop with the tie rule spelled out
         "    best_k = None\n"
         "    for k in val_acc:\n"
         "        if best_k is None or val_acc[k] > val_acc[best_k]:\n"
         "            best_k = k\n"
         "        elif val_acc[k] == val_acc[best_k] and trainable[k] < trainable[best_k]:\n"
         "            best_k = k   # same validation accuracy, fewer parameters\n"
         "    return best_k, test_acc[best_k]\n"),
        (CHOOSE_K,  # the best validation accuracy, then the cheapest of the tied
         "    top = max(val_acc.values())\n"
         "    tied = [k for k in val_acc if val_acc[k] == top]\n"
         "    best_k = min(tied, key=trainable.get)\n"
         "    return best_k, test_acc[best_k]\n"),
        (CHOOSE_K,  # sorted items, the largest accuracy and the smallest count first
         "    ranked = sorted(val_acc.items(), key=lambda item: (item[1], -trainable[item[0]]), reverse=True)\n"
         "    k = ranked[0][0]\n"
         "    return k, test_acc[k]\n"),
    ],
    "ft_figure": [
        (FIGURE, "figure_backbone = 'efficientnet_lite0'   # the offline fallback, named in my figure's title\nk_half = 3\n"),
        (FIGURE, 'figure_backbone, k_half = "resnet18", 1   # the last stage alone is most of the network\n'),
        (FIGURE, 'figure_backbone = "resnet18"\nk_half = 1 if figure_backbone == "resnet18" else 3\n'),
    ],
    "ft_augment": [
        (AUG_CHOICE, 'digits_augmentation = ["shift up to 1 pixel"]   # keeps the label, even if it may not help\n'),
        (AUG_CHOICE, "digits_augmentation = [\n    \"scale 90–110%\",\n    \"rotation up to 10°\",\n"
                     "    \"shift up to 1 pixel\",\n]\n"),
        (AUG_EFFECT,  # a loop and the statistics module
         "    import statistics\n"
         "    gains = []\n"
         "    for seed in seeds:\n"
         "        with_aug = fit(transform, seed)\n"
         "        without = fit(None, seed)     # same seed: the same training digits\n"
         "        gains.append(with_aug - without)\n"
         "    return statistics.mean(gains), statistics.stdev(gains) / len(gains) ** 0.5\n"),
        (AUG_EFFECT,  # scipy's standard error of the mean (ddof=1 by default)
         "    from scipy import stats\n"
         "    diffs = [fit(transform, s) - fit(None, s) for s in seeds]\n"
         "    return float(np.mean(diffs)), float(stats.sem(diffs))\n"),
    ],
    "ft_predict": [
        (PREDICTION_04,  # other predictions (graded on recording them, not on being right)
         "prediction = {\n"
         "    (\"3 breeds\", \"small\"): FINAL,\n"
         "    (\"3 breeds\", \"large\"): FINAL,\n"
         "    (\"digits\", \"small\"): RAW,\n"
         "    (\"digits\", \"large\"): FINETUNE,\n"
         "}\n"),
        (PREDICTION_04,  # a comprehension over the grid
         "prediction = {(task, size): (FINETUNE if size == \"large\" else EARLIER)\n"
         "              for task in (\"3 breeds\", \"digits\") for size in (\"small\", \"large\")}\n"),
        (PREDICTION_04,  # dict(zip(...)) of the cells and transfer.STRATEGIES
         "grid_cells = [(\"3 breeds\", \"small\"), (\"3 breeds\", \"large\"), (\"digits\", \"small\"), (\"digits\", \"large\")]\n"
         "my_guesses = [transfer.STRATEGIES[1], transfer.STRATEGIES[3], transfer.STRATEGIES[2], transfer.STRATEGIES[4]]\n"
         "prediction = dict(zip(grid_cells, my_guesses))\n"),
    ],
    "ft_explain": [
        (EXPLAIN_04,  # the task named by its three breeds, the strategy as "probe" (issue 27 §4)
         'grid_explanation = ("Abyssinian, Bengal and American bulldog with four images each surprised me: an earlier '
         'stage beat the final features, which I had predicted. Its probe has far fewer features to fit, and with '
         'twelve training images the wide final layer overfits.")\n'),
        (EXPLAIN_04, 'grid_explanation = ("The digits with more examples surprised me most: training the small CNN from '
                     'scratch beat every pre-trained feature, which I had not expected. I think ImageNet features are '
                     'tuned to photos of objects, and handwritten digits look nothing like that, so with enough data '
                     'learning from scratch wins.")\n'),
        (EXPLAIN_04, "grid_explanation = '''Closest to my guess was pets breeds with few images: the linear classifier "
                     "on the final\nfeatures won, as I predicted. ImageNet already contains many dog and cat breeds, so "
                     "its last\nstage describes exactly what we need and there are too few images to fine-tune "
                     "safely.'''\n"),
        (EXPLAIN_04, 'grid_explanation = "I predicted fine-tuning for the larger pets set, but the linear probe on '
                     'final features was as good. Fine-tuning millions of weights needs more than a few dozen images '
                     'per breed, while the frozen features are already excellent for pets. For digits an earlier '
                     'stage was better than the final one."\n'),
    ],
}


# Correct answers that an earlier judge rejected (it skipped top-level loops, item assignments, method calls and a
# table defined in an otter_ignore cell); kept with the comments that named the tests rejecting them.
ONCE_FAILING = {
    "03_pretrained_features": [
        # test_phone_within_budget / test_server_within_budget / test_most_accurate_within_budget: the notebook's own
        # `table` (zoo sorted by accuracy, most accurate first) is defined in a cell tagged otter_ignore, so the judge
        # never defines it, the definition of phone raises NameError and the tests see None (hint "phone: None is not
        # the name of a model in zoo")
        ("frozen_phone", PHONE,
         'phone = next(m["name"] for m in table if m["gflops"] <= 0.5 and m["params"] <= 5_000_000)\n'
         'server = next(m["name"] for m in table if m["gflops"] <= 20)\n'),
        # the same three tests: the best-so-far loop runs at the top level of the cell, which the judge skips, so
        # phone and server stay None there ("None is not the name of a model in zoo")
        ("frozen_phone", PHONE,
         "phone, server = None, None\n"
         "best_phone_acc = best_server_acc = -1.0\n"
         "for m in zoo:\n"
         '    if m["gflops"] <= 0.5 and m["params"] <= 5e6 and m["acc1"] > best_phone_acc:\n'
         '        phone, best_phone_acc = m["name"], m["acc1"]\n'
         '    if m["gflops"] <= 20 and m["acc1"] > best_server_acc:\n'
         '        server, best_server_acc = m["name"], m["acc1"]\n'),
    ],
    "04_fine_tuning": [
        # test_advice_format (and the hidden test_small_scenarios, test_large_scenarios): the dict is filled by
        # item assignments, which the judge skips: advice is {} there ("advice: expected exactly the four keys"; the
        # hidden tests raise KeyError)
        ("ft_scenarios", ADVICE,
         "advice = {}\n"
         'advice[("small", "similar")] = LINEAR_FINAL\n'
         'advice[("large", "similar")] = FINE_TUNE\n'
         'advice[("small", "different")] = LINEAR_EARLIER\n'
         'advice[("large", "different")] = WHOLE\n'
         'pets_scenario = ("small", "similar")\n'),
        # test_prediction_recorded: prediction.update(...) is an expression statement, which the judge skips:
        # prediction is {} there ("expected exactly the four keys")
        ("ft_predict", PREDICTION_04,
         "prediction = {}\n"
         'prediction.update({("3 breeds", "small"): FINAL, ("3 breeds", "large"): FINETUNE})\n'
         'prediction.update({("digits", "small"): EARLIER, ("digits", "large"): SCRATCH})\n'),
    ],
}

HONEST = {"01_ols_raw_pixels": _rows(_01), "02_logistic_regression_edges": _rows(_02),
          "03_pretrained_features": _rows(_03), "04_fine_tuning": _rows(_04)}
for _stem, _more in ONCE_FAILING.items():
    HONEST[_stem] = HONEST[_stem] + _more
# add_bias (01), conv2d_valid and logistic_grad (02) are called by other questions' code
SOLO = {"01_ols_raw_pixels": {"ols_phi"}, "02_logistic_regression_edges": {"edges_conv", "edges_grad"}}


# ---------------------------------------------------------------- correct answers the grading service rejects today
# The worker runs the graded definitions (autograder/grading/tamper.py, graded_definitions): imports, def/class,
# plain assignments and the statements that change a needed name (item assignments, method calls, loops), from
# graded cells; a plain definition in an otter_ignore cell only where no graded cell defines the name. The run's
# data never reaches the worker. A row below is correct and passes grader.check in the notebook, but loses points
# in the judge; the comment names the test that rejects it. None today: the last one (an explanation quoting the
# printed numbers in an f-string) moved to HONEST when the written questions became read by a person.
KNOWN_FAILING = {}
