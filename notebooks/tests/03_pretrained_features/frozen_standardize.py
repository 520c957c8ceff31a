from otter.test_files import test_case

OK_FORMAT = False

name = "frozen_standardize"
points = 2

@test_case(points=None, hidden=False)
def test_standardize_train(standardize):
    import torch
    torch.manual_seed(0)
    X = torch.randn(200, 3) * torch.tensor([1.0, 10.0, 0.1]) + torch.tensor([5.0, -3.0, 0.0])
    out = standardize(X)
    assert isinstance(out, tuple) and len(out) == 1, 'standardize: return a tuple with one standardized matrix per argument, e.g. (Z_train,) for one argument'
    Z = torch.as_tensor(out[0])
    assert torch.allclose(Z.mean(0), torch.zeros(3), atol=0.0001), 'standardize: each training feature should have mean 0'
    assert torch.allclose(Z.std(0), torch.ones(3), atol=0.01), 'standardize: each training feature should have standard deviation 1: divide by the per-feature std (axis 0)'

@test_case(points=None, hidden=False)
def test_standardize_uses_train_statistics(standardize):
    import torch
    torch.manual_seed(1)
    X_train, X_test = (torch.randn(100, 2), torch.randn(50, 2) + 100.0)
    mu, sd, sd_n = (X_train.mean(0), X_train.std(0), X_train.std(0, unbiased=False))
    refs = ((X_test - mu) / sd, (X_test - mu) / sd_n)
    Z_train, Z_test = (torch.as_tensor(z, dtype=torch.float32) for z in standardize(X_train.clone(), X_test.clone()))
    assert Z_test.mean() > 10, "standardize: the test features were scaled with their own mean and std, or with statistics of all splits together: use the TRAINING split's mean and std for every split, so that nothing about validation or test data leaks into the model"
    assert any((torch.allclose(Z_test, ref, rtol=0.02) for ref in refs)), 'standardize: other splits should be (X - mean_train) / std_train'

