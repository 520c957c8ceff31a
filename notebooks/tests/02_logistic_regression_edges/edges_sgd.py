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
    W = np.asarray(sgd(X, Y, lr=0.5, num_epochs=20, batch_size=10, seed=0))
    assert W.shape == (21, 3), f'sgd: got shape {W.shape} for 20 epochs and d = 3: return the starting point and the weights after each epoch'
    assert np.all(W[0] == 0), 'sgd: row 0 must be the starting point w = 0'
    loss = lambda w: np.mean(np.logaddexp(0, -Y * (X @ w)))
    W1 = np.asarray(sgd(X, Y, lr=0.5, num_epochs=1, batch_size=60, seed=0))
    g0 = np.array([(loss(1e-06 * e) - loss(-1e-06 * e)) / 2e-06 for e in np.eye(3)])
    asked = -0.5 * g0
    ratio = float((W1[-1] - W1[0]) @ asked / (asked @ asked))
    assert ratio > 0, 'sgd: your step goes uphill: each step must go AGAINST the gradient of the mini-batch'
    assert ratio > 0.99, f'sgd: with batch_size = n one epoch is one step, and yours went {ratio:.3g} times as far as lr times the mean gradient: your steps are too small. Check the update line: the step is lr times what logistic_grad returns (already a mean over the mini-batch), nothing divided again'
    assert ratio < 1.01, f'sgd: with batch_size = n one epoch is one step, and yours went {ratio:.3g} times as far as lr times the mean gradient: your steps are too large. Check the update line: the step is lr times what logistic_grad returns'
    assert loss(W[-1]) < 0.5 * loss(W[0]), f'sgd: the loss went from {loss(W[0]):.3f} to {loss(W[-1]):.3f} in 20 epochs on separable data, although one full-batch step is right: take one step per mini-batch in every epoch, each from the weights the last one left'

@test_case(points=None, hidden=False)
def test_sgd_visits_every_example_in_a_new_order(sgd, env):
    import numpy as np
    n, bs, epochs = (10, 4, 3)
    X = np.hstack([np.ones((n, 1)), np.arange(n, dtype=float)[:, None]])
    Y = np.ones(n)
    batches = []

    def spy(w, Xb, Yb):
        batches.append(np.asarray(Xb)[:, 1].astype(int).tolist())
        return np.zeros_like(w, dtype=float)
    from utils import checks
    with checks.replace_global(env, 'logistic_grad', spy):
        sgd(X, Y, lr=0.1, num_epochs=epochs, batch_size=bs, seed=0)
    assert batches, "sgd: logistic_grad was never called: compute each step's gradient with your logistic_grad"
    assert len(batches) != epochs * (n // bs), 'sgd: with n = 10 and batch_size = 4 you took 2 steps per epoch: you dropped the last, smaller mini-batch, so some examples are never used in an epoch'
    assert len(batches) == epochs * -(-n // bs), f'sgd: expected one step per mini-batch, ceil(n / batch_size) per epoch; got {len(batches)} steps in {epochs} epochs'
    per_epoch = [sum(batches[e * 3:(e + 1) * 3], []) for e in range(epochs)]
    assert all((sorted(order) == list(range(n)) for order in per_epoch)), 'sgd: each epoch must use every example exactly once (a permutation of the n examples, cut into mini-batches)'
    assert any((order != list(range(n)) for order in per_epoch)), 'sgd: you visit the examples in their stored order: SGD shuffles them (the data is sorted by breed)'
    assert len({tuple(order) for order in per_epoch}) == epochs, 'sgd: every epoch uses the same order: draw a NEW random order at the start of each epoch'

