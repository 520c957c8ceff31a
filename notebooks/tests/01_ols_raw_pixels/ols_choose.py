from otter.test_files import test_case

OK_FORMAT = False

name = "ols_choose"
points = 1

@test_case(points=None, hidden=False)
def test_choose_on_validation(choose):
    records = [{'s': 8, 'lam': 1.0, 'train_acc': 0.7, 'val_acc': 0.6}, {'s': 32, 'lam': 0.0, 'train_acc': 1.0, 'val_acc': 0.5}, {'s': 16, 'lam': 10.0, 'train_acc': 0.8, 'val_acc': 0.55}]
    got = choose(records)
    assert got is not records[1], 'choose: you picked the fit with the best TRAINING accuracy. Training accuracy rewards memorising (it reaches 1.0 when d > n); choose on the validation accuracy'
    assert isinstance(got, dict) and got.get('s') == 8 and (got.get('lam') == 1.0), f'choose: got {got}: return the whole record (a dict) of the fit with the best validation accuracy'

@test_case(points=None, hidden=False)
def test_choose_ties_prefer_simpler(choose):
    records = [{'s': 16, 'lam': 1.0, 'train_acc': 0.8, 'val_acc': 0.6}, {'s': 8, 'lam': 1.0, 'train_acc': 0.7, 'val_acc': 0.6}, {'s': 8, 'lam': 100.0, 'train_acc': 0.6, 'val_acc': 0.6}]
    got = choose(records)
    assert got.get('s') == 8, f"choose: on a tie in validation accuracy prefer the smaller s, got s = {got.get('s')}"
    assert got.get('lam') == 100.0, f"choose: on a tie at the same s prefer the larger lam (a stronger penalty is the simpler model), got lam = {got.get('lam')}"

