from otter.test_files import test_case

OK_FORMAT = False

name = "ft_choose_k"
points = 3

@test_case(points=None, hidden=False)
def test_k_chosen_on_validation(choose_k):
    val_acc = {0: 0.9, 1: 0.95, 2: 0.93}
    test_acc = {0: 0.97, 1: 0.91, 2: 0.96}
    trainable = {0: 18, 1: 90, 2: 498}
    k, acc = choose_k(val_acc, test_acc, trainable, 10000)
    assert k != 0, 'choose_k: k was chosen by its TEST accuracy: choose on validation; the test split only reports the choice'
    assert k == 1, f'choose_k: with 10,000 validation images only the best k is within one standard error, got k = {k}'
    assert acc != 0.95, 'choose_k: you returned the validation accuracy of the choice: report its TEST accuracy'
    assert acc == 0.91, f'choose_k: return the test accuracy of the chosen k, got {acc}'

@test_case(points=None, hidden=False)
def test_k_within_one_standard_error(choose_k):
    val_acc = {3: 0.98, 2: 0.975, 1: 0.97, 0: 0.9}
    test_acc = {3: 0.99, 2: 0.97, 1: 0.96, 0: 0.95}
    trainable = {3: 11020034, 2: 10494466, 1: 8394754, 0: 1026}
    k, acc = choose_k(val_acc, test_acc, trainable, 100)
    assert k != 3, 'choose_k: you kept the best validation accuracy as it is: on 100 validation images, which k are within one standard error, sqrt(p(1-p)/n_val) with p the best accuracy, of it? Take the cheapest of those'
    assert k == 1 and acc == 0.96, f'choose_k: got k = {k}: among the k within one standard error of the best, take the one with the fewest trainable parameters (check the margin you allow below the best)'
    k, acc = choose_k(val_acc, test_acc, trainable, 100000)
    assert (k, acc) == (3, 0.99), f'choose_k: with 100,000 validation images the standard error is tiny and only the best k is within it, got k = {k}: does your margin shrink as n_val grows?'

