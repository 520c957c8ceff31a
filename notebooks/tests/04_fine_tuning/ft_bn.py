from otter.test_files import test_case

OK_FORMAT = False

name = "ft_bn"
points = 2

@test_case(points=None, hidden=False)
def test_frozen_bn_keeps_statistics(set_train_mode, env):
    import torch
    from torch import nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4))
    from utils import checks
    checks.mutable(env, model)
    for p in [*model[0].parameters(), *model[1].parameters()]:
        p.requires_grad_(False)
    model.eval()
    set_train_mode(model)
    frozen_mean = model[1].running_mean.clone()
    model(torch.randn(8, 3, 10, 10) * 3 + 5)
    assert torch.equal(model[1].running_mean, frozen_mean), "set_train_mode: the frozen batch-norm layer changed its running mean: in training mode batch norm normalizes with the batch's statistics and overwrites its ImageNet averages. Put batch-norm layers whose parameters are frozen in eval mode (m.eval())"
    assert model.training and model[3].training, 'set_train_mode: the model itself must be in training mode (model.train())'
    assert model[4].training, 'set_train_mode: the trainable batch-norm layer (last stage) must stay in training mode: only frozen ones go to eval'

