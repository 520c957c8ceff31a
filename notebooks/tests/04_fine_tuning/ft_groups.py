from otter.test_files import test_case

OK_FORMAT = False

name = "ft_groups"
points = 3

@test_case(points=None, hidden=False)
def test_groups_learning_rates(param_groups):
    import torch
    from torch import nn
    stages, head = ([nn.Linear(4, 4), nn.Linear(4, 4)], nn.Linear(4, 2))
    groups = param_groups(stages, head, 0.001, 0.1)
    optimizer = torch.optim.AdamW(groups)
    head_ids = {id(p) for p in head.parameters()}
    lr_of = {id(p): g['lr'] for g in optimizer.param_groups for p in g['params']}
    assert all((i in lr_of for i in head_ids)), "param_groups: the head's parameters are missing from the groups"
    head_lr = lr_of[id(head.weight)]
    body_lr = lr_of.get(id(stages[1].weight))
    assert not (head_lr < 0.001 and body_lr == 0.001), 'param_groups: the learning rates are swapped: the pre-trained layers get the SMALLER rate lr * body_factor, the new, randomly initialized head the full lr'
    assert abs(head_lr - 0.001) < 1e-12, f'param_groups: the head should learn with lr = 1e-3, got {head_lr}'
    assert body_lr is not None and abs(body_lr - 0.0001) < 1e-12, f'param_groups: trainable stage parameters should learn with lr * body_factor = 1e-4, got {body_lr}'

@test_case(points=None, hidden=False)
def test_groups_skip_frozen(param_groups):
    from torch import nn
    stages, head = ([nn.Linear(4, 4), nn.Linear(4, 4)], nn.Linear(4, 2))
    for p in stages[0].parameters():
        p.requires_grad_(False)
    groups = param_groups(stages, head, 0.01)
    ids = [id(p) for g in groups for p in g['params']]
    assert not any((id(p) in ids for p in stages[0].parameters())), 'param_groups: frozen parameters (requires_grad = False) are in a group: only trainable parameters belong in the optimizer (filter with p.requires_grad)'
    expected = {id(p) for p in [*stages[1].parameters(), *head.parameters()]}
    assert set(ids) == expected and len(ids) == len(expected), 'param_groups: every trainable parameter must be in exactly one group (none missing, none twice)'

