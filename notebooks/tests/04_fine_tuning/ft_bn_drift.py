from otter.test_files import test_case

OK_FORMAT = False

name = "ft_bn_drift"
points = 3

@test_case(points=None, hidden=False)
def test_fraction_after_one_and_more_passes(fraction_moved):
    import torch
    from torch import nn
    torch.manual_seed(0)
    for momentum in (0.1, 0.3):
        bn = nn.BatchNorm2d(3, momentum=momentum).train()
        x = torch.randn(8, 3, 5, 5) * 2 + torch.tensor([1.0, -3.0, 5.0]).view(1, 3, 1, 1)
        start, target = (bn.running_mean.clone(), x.mean((0, 2, 3)))
        with torch.no_grad():
            for n in range(1, 4):
                bn(x)
                measured = float(((bn.running_mean - start) / (target - start)).mean())
                got = float(fraction_moved(n, momentum))
                assert n > 1 or abs(got - measured) < 0.0001, f'fraction_moved: after ONE pass the fraction closed is `first` itself (what the measurement above printed), got {got} for first = {momentum}'
                assert abs(got - n * momentum) > 1e-06 or abs(measured - n * momentum) < 0.0001, 'fraction_moved: you added the same step n times; but each pass moves the running mean by `first` times the gap that is LEFT, which shrinks after every pass'
                assert abs(got - measured) < 0.0001, f'fraction_moved: after {n} passes a real nn.BatchNorm2d (momentum {momentum}) closed another fraction of the gap than yours: check how the gap that is left shrinks from one pass to the next'

