from otter.test_files import test_case

OK_FORMAT = False

name = "ft_freeze"
points = 3

@test_case(points=None, hidden=False)
def test_freeze_last_k(freeze, env):
    import torch
    from torch import nn
    torch.manual_seed(0)
    stages = [nn.Conv2d(3, 4, 3), nn.Conv2d(4, 8, 3), nn.Conv2d(8, 8, 1)]
    head = nn.Linear(8, 2)
    from utils import checks
    (checks.mutable(env, stages), checks.mutable(env, head))
    count = freeze(stages, head, 1)
    trainable = [any((p.requires_grad for p in s.parameters())) for s in stages]
    assert trainable != [True, False, False], 'freeze: you trained the FIRST k stages: fine-tuning trains the LAST k stages (the early stages hold generic edges and textures worth keeping; the late ones are the most specific to ImageNet)'
    assert trainable == [False, False, True], f'freeze: with k = 1 only the last stage trains; trainable stages: {trainable}'
    assert all((p.requires_grad for p in head.parameters())), 'freeze: the new head always trains (requires_grad = True)'
    assert count == 90, f'freeze: with k = 1, 72 + 18 = 90 parameters are trainable (last stage and head), you returned {count}: count the elements (p.numel()) of the parameters with requires_grad'

@test_case(points=None, hidden=False)
def test_freeze_extremes(freeze):
    from torch import nn
    stages = [nn.Conv2d(3, 4, 3), nn.Conv2d(4, 8, 3), nn.Conv2d(8, 8, 1)]
    head = nn.Linear(8, 2)
    assert freeze(stages, head, 0) == 18, 'freeze: k = 0 is the fixed feature extractor of notebook 03: only the head (18 parameters) trains'
    assert freeze(stages, head, 3) == 498, 'freeze: k = 3 (all stages) trains everything: 112 + 296 + 72 + 18 = 498 parameters'

