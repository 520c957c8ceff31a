from otter.test_files import test_case

OK_FORMAT = False

name = "edges_sgd"
points = 3

@test_case(points=None, hidden=False)
def test_sgd_shape_and_start(sgd):
    import numpy as np
    rng = np.random.default_rng(0)
    X = np.hstack([np.ones((30, 1)), rng.normal(size=(30, 2))])
    Y = np.where(X[:, 1] > 0, 1, -1)
    W = np.asarray(sgd(X, Y, lr=0.5, num_epochs=5, batch_size=8, seed=0))
    assert W.shape == (6, 3), f'sgd: got shape {W.shape}, expected (6, 3): the weights after each of the 5 epochs plus the start w = 0'
    assert np.all(W[0] == 0), 'sgd: row 0 must be the starting point w = 0'

@test_case(points=None, hidden=False)
def test_sgd_learns(sgd):
    import numpy as np
    rng = np.random.default_rng(1)
    X = np.hstack([np.ones((60, 1)), rng.normal(size=(60, 2))])
    Y = np.where(X[:, 1] - X[:, 2] > 0, 1, -1)
    W = np.asarray(sgd(X, Y, lr=0.5, num_epochs=20, batch_size=10, seed=0))
    loss = lambda w: np.mean(np.logaddexp(0, -Y * (X @ w)))
    assert loss(W[-1]) < 0.5 * loss(W[0]), f'sgd: the loss went from {loss(W[0]):.3f} to {loss(W[-1]):.3f} on separable data: step AGAINST the gradient, w = w - lr * logistic_grad(w, X[batch], Y[batch])'

