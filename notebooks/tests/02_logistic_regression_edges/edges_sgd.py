from otter.test_files import test_case

OK_FORMAT = False

name = "edges_sgd"
points = 3

@test_case(points=None, hidden=False)
def test_sgd_shape_and_learns(sgd):
    import numpy as np
    rng = np.random.default_rng(1)
    X = np.hstack([np.ones((60, 1)), rng.normal(size=(60, 2))])
    Y = np.where(X[:, 1] - X[:, 2] > 0, 1, -1)
    loss = lambda w: np.mean(np.logaddexp(0, -Y * (X @ w)))
    g0 = np.array([(loss(1e-06 * e) - loss(-1e-06 * e)) / 2e-06 for e in np.eye(3)])
    asked, start_loss = (-0.5 * g0, loss(np.zeros(3)))
    W = np.asarray(sgd(X.copy(), Y.copy(), lr=0.5, num_epochs=20, batch_size=10, seed=0))
    assert W.shape == (21, 3), f'sgd: got shape {W.shape} for 20 epochs and d = 3: return the starting point and the weights after each epoch'
    assert np.all(W[0] == 0), 'sgd: row 0 must be the starting point w = 0'
    W1 = np.asarray(sgd(X.copy(), Y.copy(), lr=0.5, num_epochs=1, batch_size=60, seed=0))
    ratio = float((W1[-1] - W1[0]) @ asked / (asked @ asked))
    assert ratio > 0, 'sgd: your step goes uphill: each step must go AGAINST the gradient of the mini-batch'
    assert ratio > 0.99, f'sgd: with batch_size = n one epoch is one step, and yours went {ratio:.3g} times as far as lr times the mean gradient: your steps are too small. Check the update line: the step is lr times what logistic_grad returns (already a mean over the mini-batch), nothing divided again'
    assert ratio < 1.01, f'sgd: with batch_size = n one epoch is one step, and yours went {ratio:.3g} times as far as lr times the mean gradient: your steps are too large. Check the update line: the step is lr times what logistic_grad returns'
    assert loss(W[-1]) < 0.5 * start_loss, f'sgd: the loss went from {start_loss:.3f} to {loss(W[-1]):.3f} in 20 epochs on separable data, although one full-batch step is right: take one step per mini-batch in every epoch, each from the weights the last one left'

@test_case(points=None, hidden=False)
def test_sgd_visits_every_example_in_a_new_order(sgd, env):
    import itertools
    import numpy as np
    n, bs, epochs, lr = (10, 4, 3, 0.5)
    X = np.hstack([np.ones((n, 1)), np.arange(n, dtype=float)[:, None] / n])
    Y = np.where(np.arange(n) % 3 == 0, -1.0, 1.0)
    batches = []

    def grad(w, Xb, Yb):
        Xb, Yb = (np.asarray(Xb, dtype=float), np.asarray(Yb, dtype=float))
        batches.append(np.rint(Xb[:, 1] * n).astype(int).tolist())
        return Xb.T @ (Xb @ np.asarray(w, dtype=float) - Yb) / len(Yb)

    def epoch(w, cut):
        for b in cut:
            w = w - lr * (X[list(b)].T @ (X[list(b)] @ w - Y[list(b)]) / len(b))
        return w
    cuts = []
    for a in itertools.combinations(range(n), bs):
        rest = [i for i in range(n) if i not in a]
        for b in itertools.combinations(rest, bs):
            cuts.append((a, b, tuple((i for i in rest if i not in b))))
    from utils import checks
    with checks.replace_global(env, 'logistic_grad', grad):
        W = np.asarray(sgd(X.copy(), Y.copy(), lr=lr, num_epochs=epochs, batch_size=bs, seed=0), dtype=float)
    assert W.shape == (epochs + 1, 2), f'sgd: got shape {W.shape}, expected ({epochs + 1}, 2): w = 0, then each epoch'
    used = [next((c for c in cuts if np.allclose(epoch(W[e], c), W[e + 1], rtol=1e-09, atol=1e-12)), None) for e in range(epochs)]
    if None in used:
        assert batches, "sgd: logistic_grad was never called: compute each step's gradient with your logistic_grad"
        assert len(batches) != epochs * (n // bs), 'sgd: with n = 10 and batch_size = 4 you took 2 steps per epoch: you dropped the last, smaller mini-batch, so some examples are never used in an epoch'
        assert len(batches) == epochs * -(-n // bs), f'sgd: expected one step per mini-batch, ceil(n / batch_size) per epoch; got {len(batches)} steps in {epochs} epochs'
        raise AssertionError('sgd: your weights after an epoch are not those of one step per mini-batch over a permutation of the n examples: each step is w = w - lr * logistic_grad(w, X[batch], Y[batch]), from the weights the last step left, every example exactly once per epoch')
    assert any((c != ((0, 1, 2, 3), (4, 5, 6, 7), (8, 9)) for c in used)), 'sgd: you visit the examples in their stored order: SGD shuffles them (the data is sorted by breed)'
    assert len(set(used)) == epochs, 'sgd: every epoch uses the same order: draw a NEW random order at the start of each epoch'

