from otter.test_files import test_case

OK_FORMAT = False

name = "ols_split"
points = 2

@test_case(points=None, hidden=False)
def test_split_partition(split_trainval):
    import numpy as np
    train_idx, val_idx = (np.asarray(a) for a in split_trainval(50, 0.2, 0))
    assert len(val_idx) == 10, f'split_trainval: n = 50 with val_fraction = 0.2 should give 10 validation indices, got {len(val_idx)}'
    both = np.concatenate([train_idx, val_idx])
    assert len(np.intersect1d(train_idx, val_idx)) == 0, 'split_trainval: some indices are in BOTH parts: a validation image must never be trained on'
    assert sorted(both.tolist()) == list(range(50)), 'split_trainval: together the two parts must hold every index 0..n-1 exactly once (none lost, none repeated)'

@test_case(points=None, hidden=False)
def test_split_is_random_and_reproducible(split_trainval):
    import numpy as np
    _, val_a = (np.asarray(a) for a in split_trainval(200, 0.25, 1))
    _, val_b = (np.asarray(a) for a in split_trainval(200, 0.25, 1))
    _, val_c = (np.asarray(a) for a in split_trainval(200, 0.25, 2))
    assert np.array_equal(np.sort(val_a), np.sort(val_b)), 'split_trainval: the same seed must give the same split: draw it from np.random.default_rng(seed)'
    first, last = (set(range(50)), set(range(150, 200)))
    assert set(val_a.tolist()) not in (first, last), 'split_trainval: your validation set is a block of consecutive indices. The images are sorted by breed, so such a split validates on breeds it never trained on: shuffle before you cut'
    assert not np.array_equal(np.sort(val_a), np.sort(val_c)), 'split_trainval: a different seed should give a different split: is the seed used?'

