from otter.test_files import test_case

OK_FORMAT = False

name = "ft_probe"
points = 3

@test_case(points=None, hidden=False)
def test_probe_separable(linear_probe):
    import numpy as np
    rng = np.random.default_rng(0)
    F = rng.normal(size=(80, 5))
    y = (F[:, 0] + F[:, 1] > 0).astype(int)
    acc = linear_probe(F[:60], y[:60], F[60:], y[60:])
    assert isinstance(acc, float), f'linear_probe: return the accuracy as a float, got {type(acc).__name__}'
    assert acc >= 0.9, f'linear_probe: {acc:.2f} test accuracy on linearly separable features: fit on the training split, score on the test split'

@test_case(points=None, hidden=False)
def test_probe_torch_and_scales(linear_probe):
    import numpy as np
    import torch
    rng = np.random.default_rng(1)
    F = rng.normal(size=(120, 3)) * np.array([10000.0, 0.001, 1.0])
    y = (F[:, 1] > 0).astype(int)
    acc = linear_probe(torch.tensor(F[:80]), torch.tensor(y[:80]), torch.tensor(F[80:]), torch.tensor(y[80:]))
    assert acc >= 0.9, f'linear_probe: {acc:.2f} accuracy when the informative feature is tiny (1e-3) next to a huge one (1e4): standardize each feature with the training mean and std before fitting'

