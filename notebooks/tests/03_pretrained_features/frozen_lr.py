from otter.test_files import test_case

OK_FORMAT = False

name = "frozen_lr"
points = 3

@test_case(points=None, hidden=False)
def test_lr_chosen_on_validation(choose_lr):
    import torch
    X_train = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    y_train = torch.tensor([1, 0, 1, 0])
    X_val = torch.tensor([[0.0, 1.0], [0.0, -1.0], [0.0, 2.0], [1.0, -1.0]])
    y_val = torch.tensor([1, 0, 1, 0])
    rules = {0.1: (torch.tensor([1.0, 0.0]), 0.0), 1.0: (torch.tensor([0.0, 1.0]), 0.0), 10.0: (torch.tensor([1.0, 0.1]), 0.0)}
    calls = []
    train_fn = lambda X, y, lr: (calls.append(lr), rules[lr])[1]
    best, accs = choose_lr([0.1, 1.0, 10.0], X_train, y_train, X_val, y_val, train_fn)
    assert sorted(calls) == [0.1, 1.0, 10.0], 'choose_lr: train once with each learning rate in lrs (train_fn(X_train, y_train, lr))'
    assert best != 10.0, 'choose_lr: the chosen learning rate is the best on the TRAINING split: a choice must be made on data the weights were not fitted to, the validation split'
    assert best == 1.0 and abs(accs[1.0] - 1.0) < 1e-09 and (abs(accs[0.1] - 0.25) < 1e-06), f'choose_lr: expected the lr whose rule is right on every validation example, with val_accs {{lr: accuracy of (X_val @ w + b > 0) against y_val}}; got best = {best}, val_accs = {accs}'

