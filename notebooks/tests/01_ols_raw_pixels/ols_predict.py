from otter.test_files import test_case

OK_FORMAT = False

name = "ols_predict"
points = 1

@test_case(points=None, hidden=False)
def test_predict_labels(predict):
    import numpy as np
    Phi = np.array([[2.0, 0.0], [-1.0, 0.5], [0.0, -3.0]])
    w = np.array([0.5, 1.0, 1.0])
    Y_hat = np.asarray(predict(Phi, w))
    assert Y_hat.shape == (3,), f'predict: got shape {Y_hat.shape}, expected (3,): one label per row of Phi'
    assert set(np.unique(Y_hat)) <= {-1, 1}, f'predict: labels must be +1 or -1, got {np.unique(Y_hat)}'
    assert list(Y_hat) == [1, 1, -1], f'predict: got {list(Y_hat)} on a small example: the score of a row is x^T w with x = [1, φ(v)], so w[0] is the bias (use add_bias)'

@test_case(points=None, hidden=False)
def test_accuracy(accuracy):
    import numpy as np
    acc = accuracy(np.array([1, -1, 1, 1]), np.array([1, 1, 1, -1]))
    assert np.isscalar(acc) or np.ndim(acc) == 0, 'accuracy: return one number'
    assert abs(float(acc) - 0.5) < 1e-12, f'accuracy: got {acc} for 2 correct out of 4: return the FRACTION of correct labels'

