from otter.test_files import test_case

OK_FORMAT = False

name = "frozen_split"
points = 3

@test_case(points=None, hidden=False)
def test_split_partition(stratified_split):
    import numpy as np
    y = np.array([0] * 30 + [1] * 20)
    train_idx, val_idx = (np.asarray(a) for a in stratified_split(y, 0.2, 0))
    both = np.concatenate([train_idx, val_idx])
    assert len(np.intersect1d(train_idx, val_idx)) == 0, 'stratified_split: some examples are in both training and validation: a validation example must never be trained on'
    assert np.array_equal(np.sort(both), np.arange(50)), 'stratified_split: every example must be in exactly one of the two parts (indices 0 .. n-1, no repeats)'
    assert len(val_idx) == 10, f'stratified_split: 20% of 50 examples is 10 validation examples, got {len(val_idx)}'

@test_case(points=None, hidden=False)
def test_split_stratified_and_shuffled(stratified_split):
    import numpy as np
    y = np.array([0] * 40 + [1] * 10)
    train_idx, val_idx = (np.asarray(a) for a in stratified_split(y.copy(), 0.2, 0))
    assert np.sum(y[val_idx] == 1) == 2 and np.sum(y[val_idx] == 0) == 8, f'stratified_split: validation should hold 20% of each class (8 of class 0, 2 of class 1), got {np.sum(y[val_idx] == 0)} and {np.sum(y[val_idx] == 1)}: split each class separately (stratified)'
    assert not np.array_equal(np.sort(val_idx), np.r_[np.arange(32, 40), np.arange(48, 50)]) and (not np.array_equal(np.sort(val_idx), np.r_[np.arange(8), np.arange(40, 42)])), 'stratified_split: validation is a block at the start or end of each class: shuffle first (the pets lists are ordered by breed), with rng.permutation'

