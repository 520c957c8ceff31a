from otter.test_files import test_case

OK_FORMAT = False

name = "edges_loss"
points = 2

@test_case(points=None, hidden=False)
def test_loss_at_zero(logistic_loss):
    import numpy as np
    X, Y = (np.array([[1.0, 2.0], [1.0, -1.0], [1.0, 0.5]]), np.array([1, -1, 1]))
    loss = float(logistic_loss(np.zeros(2), X, Y))
    assert abs(loss - 3 * np.log(2)) > 1e-09, 'logistic_loss: at w = 0 you return n times the expected value: the loss is the MEAN over the n examples, not the sum'
    assert abs(loss - np.log(2)) < 1e-09, f'logistic_loss: at w = 0 every example has probability 1/2; got {loss:.4f}: check the loss at a zero score'

@test_case(points=None, hidden=False)
def test_loss_value(logistic_loss):
    import numpy as np
    X, Y, w = (np.array([[1.0, 2.0], [1.0, -1.0]]), np.array([1, -1]), np.array([0.5, 1.0]))
    expected = np.mean(np.log1p(np.exp(-Y * (X @ w))))
    loss = float(logistic_loss(w, X, Y))
    assert abs(loss - expected) < 1e-09, f'logistic_loss: wrong on a two-example problem (got {loss:.6f}): the loss of one example is -log σ(y x^T w), with labels ±1'

