from otter.test_files import test_case

OK_FORMAT = False

name = "frozen_pick"
points = 3

@test_case(points=None, hidden=False)
def test_pick_within_budget(pick_backbone):
    metas = [{'name': 'big', 'acc1': 80.0, 'gflops': 4.0, 'params': 25000000.0}, {'name': 'mid', 'acc1': 75.0, 'gflops': 0.4, 'params': 4700000.0}, {'name': 'tiny', 'acc1': 67.0, 'gflops': 0.06, 'params': 2500000.0}]
    assert pick_backbone(metas) == 'big', 'pick_backbone: without limits the most accurate model (highest acc1) wins, not the smallest or cheapest'
    choice = pick_backbone(metas, max_gflops=1.0, max_params=10000000.0)
    assert choice != 'big', "pick_backbone: 'big' needs 4 GFLOPs, over the 1 GFLOP budget: keep only models within the limits"
    assert choice != 'tiny', "pick_backbone: 'tiny' fits the budget, but 'mid' fits too and is more accurate: among the models that fit, take the highest acc1 (not the smallest or cheapest)"
    assert choice == 'mid', f"pick_backbone: expected 'mid', got {choice!r}"

