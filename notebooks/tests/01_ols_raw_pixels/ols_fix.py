from otter.test_files import test_case

OK_FORMAT = False

name = "ols_fix"
points = 2

@test_case(points=None, hidden=False)
def test_min_norm_wide(fit_min_norm):
    import numpy as np
    rng = np.random.default_rng(4)
    Phi, Y = (rng.normal(size=(5, 12)), rng.choice([-1, 1], size=5))
    X = np.hstack([np.ones((5, 1)), Phi])
    w_ref = np.linalg.lstsq(X, Y, rcond=None)[0]
    try:
        w = np.asarray(fit_min_norm(Phi.copy(), Y.copy()), dtype=float)
    except np.linalg.LinAlgError as e:
        raise AssertionError(f'fit_min_norm: {e}: with d + 1 > n the normal equations are singular; the minimum-norm solution needs the pseudo-inverse') from None
    assert w.shape == (13,), f'fit_min_norm: your w has shape {w.shape}, expected (13,): did you add the bias column?'
    assert np.allclose(w, w_ref, atol=1e-08), 'fit_min_norm: with more features than images the answer must be the MINIMUM-NORM solution (the pseudo-inverse)'

@test_case(points=None, hidden=False)
def test_min_norm_tall(fit_min_norm):
    import numpy as np
    rng = np.random.default_rng(9)
    Phi, Y = (rng.normal(size=(40, 6)), rng.choice([-1.0, 1.0], size=40))
    X = np.hstack([np.ones((40, 1)), Phi])
    w_ref = np.linalg.lstsq(X, Y, rcond=None)[0]
    try:
        w = np.asarray(fit_min_norm(Phi.copy(), Y.copy()), dtype=float)
    except np.linalg.LinAlgError as e:
        raise AssertionError(f'fit_min_norm: {e} on a tall X (40 images, 7 columns, as at a small s): X X^T is singular there; the minimum-norm solution is defined for every shape of X, so your formula must not assume a wide X') from None
    assert w.shape == (7,), f'fit_min_norm: your w has shape {w.shape}, expected (7,): did you add the bias column?'
    assert np.allclose(w, w_ref, atol=1e-08), 'fit_min_norm: on a tall X (40 images, 7 columns, as at a small s) your w is not the least-squares solution, so it fits the training images worse than OLS does. A formula derived for a wide X (X X^T invertible) does not hold here: the minimum-norm solution must be right for every shape of X'

@test_case(points=None, hidden=False)
def test_ridge_minimises_its_loss(fit_ridge):
    import numpy as np
    rng = np.random.default_rng(5)
    Phi, Y = (rng.normal(size=(40, 6)), rng.choice([-1.0, 1.0], size=40))
    X = np.hstack([np.ones((40, 1)), Phi])
    w_ols, scale = (np.linalg.lstsq(X, Y, rcond=None)[0], np.linalg.norm(2 * X.T @ Y))
    w0 = np.asarray(fit_ridge(Phi.copy(), Y.copy(), 0.0), dtype=float)
    assert w0.shape == (7,), f'fit_ridge: your w has shape {w0.shape}, expected (7,): did you add the bias column?'
    assert np.allclose(w0, w_ols, atol=1e-06), 'fit_ridge: with lam = 0 ridge must give the OLS solution'
    w = np.asarray(fit_ridge(Phi.copy(), Y.copy(), 5.0), dtype=float)
    grad = 2 * X.T @ (X @ w - Y) + 2 * 5.0 * np.r_[0.0, w[1:]]
    assert np.linalg.norm(grad) < 1e-06 * max(1.0, scale), 'fit_ridge: with lam = 5 your w is not where ||X w - Y||^2 + lam * ||w[1:]||^2 has zero gradient: check how the penalty enters your linear system (its scale, and which weights it covers)'

@test_case(points=0, hidden=False)
def test_ridge_solves_without_inverse(fit_ridge, env):
    import numpy as np
    from utils import checks
    rng = np.random.default_rng(5)
    Phi, Y = (rng.normal(size=(40, 6)), rng.choice([-1.0, 1.0], size=40))
    with checks.count_calls(env, 'numpy.linalg', ('inv', 'pinv')) as calls:
        fit_ridge(Phi, Y, 5.0)
    assert not (calls.get('inv') or calls.get('pinv')), 'fit_ridge: you formed an inverse (np.linalg.inv or pinv): the question asks you to SOLVE the ridge system with np.linalg.solve'

