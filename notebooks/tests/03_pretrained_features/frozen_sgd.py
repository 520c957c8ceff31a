from otter.test_files import test_case

OK_FORMAT = False

name = "frozen_sgd"
points = 4

@test_case(points=None, hidden=False)
def test_sgd_one_full_batch_step(logistic_sgd):
    import torch
    torch.manual_seed(0)
    X, y = (torch.randn(12, 3), torch.tensor([0, 1] * 6))
    p = torch.full((12,), 0.5)
    w_ref, b_ref = (-0.5 * X.T @ (p - y) / 12, -0.5 * (p - y).mean())
    w, b = logistic_sgd(X.clone(), y.clone(), lr=0.5, num_epochs=1, batch_size=12, seed=0)
    shape_w, shape_b = (tuple(torch.as_tensor(w).shape), tuple(torch.as_tensor(b).shape))
    assert shape_w == (3,), f'logistic_sgd: w has shape {shape_w}; it must be (d,) = (3,), one dimension. With a (d, 1) column, X @ w + b is an (n, 1) column, and comparing it with the (n,) labels BROADCASTS to an (n, n) table: every accuracy computed from it is wrong. Check the shape you create w with and the one you return'
    assert shape_b in ((), (1,)), f'logistic_sgd: b has shape {shape_b}; it must be a single number, shape ()'
    w, b = (torch.as_tensor(w, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32).reshape(()))
    assert not torch.allclose(w, -w_ref, atol=1e-05), 'logistic_sgd: your step goes uphill: step AGAINST the gradient, w = w - lr * w.grad'
    assert torch.allclose(w, w_ref, atol=1e-05) and abs(float(b - b_ref)) < 1e-05, 'logistic_sgd: with batch_size = n one epoch is one gradient step from w = 0, b = 0 on the MEAN loss F.binary_cross_entropy_with_logits(X @ w + b, y) (0/1 labels, w and b both updated)'

@test_case(points=None, hidden=False)
def test_sgd_learns(logistic_sgd):
    import torch
    torch.manual_seed(1)
    X = torch.randn(80, 2)
    y = (X[:, 0] - X[:, 1] > 0).long()
    w, b = logistic_sgd(X.clone(), y.clone(), lr=0.5, num_epochs=20, batch_size=8, seed=0)
    acc = float((X @ torch.as_tensor(w).reshape(-1) + torch.as_tensor(b) > 0).long().eq(y).float().mean())
    assert acc > 0.95, f'logistic_sgd: only {acc:.2f} training accuracy on linearly separable data: check the labels (0/1) and the step direction, and take one step per mini-batch'

