from otter.test_files import test_case

OK_FORMAT = False

name = "ols_fit"
points = 3

@test_case(points=None, hidden=False)
def test_grad_matches_finite_differences(squared_loss_grad):
    import numpy as np
    rng = np.random.default_rng(0)
    X = np.hstack([np.ones((12, 1)), rng.normal(size=(12, 3))])
    Y, w = (rng.choice([-1.0, 1.0], size=12), rng.normal(size=4))
    loss = lambda v: np.sum((X @ v - Y) ** 2)
    numeric = np.array([(loss(w + 1e-06 * e) - loss(w - 1e-06 * e)) / 2e-06 for e in np.eye(4)])
    g = np.asarray(squared_loss_grad(w, X, Y), dtype=float)
    assert g.shape == (4,), f'squared_loss_grad: got shape {g.shape}, expected (4,), one entry per weight like w'
    assert not np.allclose(g, -numeric, rtol=0.0001), 'squared_loss_grad: your gradient has the wrong sign: it points downhill. Check the order of X w and Y'
    ratio = np.dot(g, numeric) / np.dot(numeric, numeric)
    assert not (np.allclose(g, ratio * numeric, rtol=0.0001) and abs(ratio - 1) > 0.001), f'squared_loss_grad: your gradient points the right way but is {ratio:.3g} times the numerical one: re-derive the constant that differentiating a square brings, and check whether you divided by n (L is a sum)'
    assert np.allclose(g, numeric, rtol=0.0001, atol=1e-06), 'squared_loss_grad: differs from the finite-difference gradient of ||X w - Y||^2: re-derive it with the chain rule'

@test_case(points=None, hidden=False)
def test_fit_ols_matches_lstsq(fit_ols):
    import numpy as np
    rng = np.random.default_rng(1)
    Phi, Y = (rng.normal(size=(40, 6)), rng.choice([-1, 1], size=40))
    X = np.hstack([np.ones((40, 1)), Phi])
    w_ref = np.linalg.lstsq(X, Y, rcond=None)[0]
    w = np.asarray(fit_ols(Phi, Y), dtype=float)
    assert w.shape != (6,), f'fit_ols: your w has shape {w.shape}, expected (7,): did you add the bias column?'
    assert w.shape == (7,), f'fit_ols: your w has shape {w.shape}, expected (7,) = (d + 1,): keep Y one-dimensional'
    assert np.allclose(w, w_ref, atol=1e-06), "fit_ols: w differs from np.linalg.lstsq on the same data: does your linear system say 'gradient = 0' for X = add_bias(Phi), bias column first?"

@test_case(points=0, hidden=False)
def test_fit_ols_solves_without_inverse(fit_ols, env):
    import numpy as np
    from utils import checks
    rng = np.random.default_rng(2)
    Phi, Y = (rng.normal(size=(30, 4)), rng.choice([-1, 1], size=30))
    with checks.count_calls(env, 'numpy.linalg', ('solve', 'inv', 'pinv')) as calls:
        fit_ols(Phi, Y)
    assert not (calls.get('inv') or calls.get('pinv')), 'fit_ols: you formed an inverse (np.linalg.inv or np.linalg.pinv). The question asks you to SOLVE the normal equations with np.linalg.solve: it is faster and more accurate than inverting a matrix'
    assert calls.get('solve'), 'fit_ols: np.linalg.solve was never called: solve the normal equations with np.linalg.solve'

