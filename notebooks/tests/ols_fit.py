from otter.test_files import test_case

OK_FORMAT = False

name = "ols_fit"
points = 3

@test_case(points=None, hidden=False)
def test_fit_ols_shape(fit_ols):
    import numpy as np
    rng = np.random.default_rng(0)
    Phi, Y = (rng.normal(size=(40, 6)), rng.choice([-1, 1], size=40))
    got = np.shape(fit_ols(Phi, Y))
    assert got != (6,), f'fit_ols: your w has shape {got}, expected (7,): did you add the bias column?'
    assert got != (7, 1), f'fit_ols: your w has shape {got}, expected (7,): keep Y one-dimensional, shape (n,)'
    assert got == (7,), f'fit_ols: your w has shape {got}, expected (7,) = (d + 1,): one weight per feature plus the bias'

@test_case(points=None, hidden=False)
def test_fit_ols_matches_lstsq(fit_ols):
    import numpy as np
    rng = np.random.default_rng(1)
    Phi, Y = (rng.normal(size=(40, 6)), rng.choice([-1, 1], size=40))
    X = np.hstack([np.ones((40, 1)), Phi])
    w_ref = np.linalg.lstsq(X, Y, rcond=None)[0]
    w = np.asarray(fit_ols(Phi, Y), dtype=float).ravel()
    assert w.shape == w_ref.shape, f'fit_ols: w has shape {w.shape}, expected {w_ref.shape}'
    assert np.allclose(w, w_ref, atol=1e-06), 'fit_ols: w differs from np.linalg.lstsq on the same data: solve (X^T X) w = X^T Y with X = add_bias(Phi), bias column first'

