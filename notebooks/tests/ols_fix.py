from otter.test_files import test_case

OK_FORMAT = False

name = "ols_fix"
points = 3

@test_case(points=None, hidden=False)
def test_min_norm_wide(fit_min_norm):
    import numpy as np
    rng = np.random.default_rng(4)
    Phi, Y = (rng.normal(size=(5, 12)), rng.choice([-1, 1], size=5))
    w = np.asarray(fit_min_norm(Phi, Y), dtype=float)
    assert w.shape == (13,), f'fit_min_norm: your w has shape {w.shape}, expected (13,): did you add the bias column?'
    X = np.hstack([np.ones((5, 1)), Phi])
    w_ref = np.linalg.lstsq(X, Y, rcond=None)[0]
    assert np.allclose(w, w_ref, atol=1e-08), 'fit_min_norm: with more features than images the answer must be the MINIMUM-NORM solution pinv(X) @ Y'

@test_case(points=None, hidden=False)
def test_ridge_shape_and_zero_lambda(fit_ridge):
    import numpy as np
    rng = np.random.default_rng(5)
    Phi, Y = (rng.normal(size=(40, 6)), rng.choice([-1, 1], size=40))
    w = np.asarray(fit_ridge(Phi, Y, 0.0), dtype=float)
    assert w.shape == (7,), f'fit_ridge: your w has shape {w.shape}, expected (7,): did you add the bias column?'
    X = np.hstack([np.ones((40, 1)), Phi])
    assert np.allclose(w, np.linalg.lstsq(X, Y, rcond=None)[0], atol=1e-06), 'fit_ridge: with lam = 0 ridge must give the OLS solution'

