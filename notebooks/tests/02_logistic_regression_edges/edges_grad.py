from otter.test_files import test_case

OK_FORMAT = False

name = "edges_grad"
points = 3

@test_case(points=None, hidden=False)
def test_grad_numerical(logistic_grad):
    import numpy as np
    rng = np.random.default_rng(0)
    X = np.hstack([np.ones((20, 1)), rng.normal(size=(20, 3))])
    Y, w = (rng.choice([-1, 1], size=20), rng.normal(size=4))
    loss = lambda v: np.mean(np.logaddexp(0, -Y * (X @ v)))
    eps = 1e-06
    numeric = np.array([(loss(w + eps * e) - loss(w - eps * e)) / (2 * eps) for e in np.eye(4)])
    g = np.asarray(logistic_grad(w, X, Y), dtype=float)
    assert g.shape == (4,), f'logistic_grad: got shape {g.shape}, expected (4,) like w'
    assert not np.allclose(g, 20 * numeric, atol=1e-05), 'logistic_grad: your gradient is n times the numerical one: the loss is a mean, so is its gradient'
    assert not np.allclose(g, -numeric, atol=1e-05), 'logistic_grad: your gradient has the wrong sign (it points downhill)'
    assert np.allclose(g, numeric, atol=1e-05), 'logistic_grad: differs from the numerical gradient (central differences): check the chain rule step by step, in particular which σ (of m or of -m) multiplies y_i x_i'

@test_case(points=0, hidden=False)
def test_grad_derived_not_autograd(logistic_grad, env):
    import numpy as np
    from utils import checks
    rng = np.random.default_rng(3)
    X = np.hstack([np.ones((9, 1)), rng.normal(size=(9, 2))])
    Y, w = (rng.choice([-1, 1], size=9), rng.normal(size=3))
    engines = {'torch.autograd': ('backward', 'grad'), 'torch.func': ('grad', 'grad_and_value', 'vjp')}
    used = []
    for module, names in engines.items():
        with checks.count_calls(env, module, names) as calls:
            logistic_grad(w, X, Y)
        used += [f'{module}.{name}' for name, count in calls.items() if count]
    assert not used, f"logistic_grad: your function asks torch's autograd for the gradient ({', '.join(used)} ran): this question asks for the gradient you derived by the chain rule, written as matrix products (the points stand; a person will look at how it was computed)"

