from otter.test_files import test_case

OK_FORMAT = False

name = "ft_choose_k"
points = 3

@test_case(points=None, hidden=False)
def test_k_chosen_on_validation(choose_k):
    val_acc = {0: 0.9, 1: 0.95, 2: 0.93}
    test_acc = {0: 0.97, 1: 0.91, 2: 0.96}
    trainable = {0: 18, 1: 90, 2: 498}
    k, acc = choose_k(val_acc, test_acc, trainable)
    assert k != 0, 'choose_k: k was chosen by its TEST accuracy: choose on validation; the test split only reports the choice'
    assert k == 1, f'choose_k: choose the k with the highest validation accuracy, got k = {k}'
    assert acc != 0.95, 'choose_k: you returned the validation accuracy of the choice: report its TEST accuracy'
    assert acc == 0.91, f'choose_k: return the test accuracy of the chosen k, got {acc}'

@test_case(points=None, hidden=False)
def test_k_tie_prefers_fewer_parameters(choose_k):
    val_acc = {3: 0.98, 2: 0.98, 1: 0.98, 0: 0.95}
    test_acc = {3: 0.99, 2: 0.97, 1: 0.96, 0: 0.95}
    trainable = {3: 11020034, 2: 10494466, 1: 8394754, 0: 1026}
    k, acc = choose_k(val_acc, test_acc, trainable)
    assert k != 3, 'choose_k: on a tie in validation accuracy you kept the first key (or the largest k): among the tied k, prefer the one that trains the fewest parameters'
    assert k == 1 and acc == 0.96, f'choose_k: on a tie, prefer the fewest trainable parameters; got k = {k}, accuracy {acc}'

