from otter.test_files import test_case

OK_FORMAT = False

name = "ft_augment"
points = 3

@test_case(points=None, hidden=False)
def test_augmentation_names(digits_augmentation):
    menu = ('horizontal flip', 'vertical flip', 'rotation up to 180°', 'rotation up to 10°', 'shift up to 1 pixel', 'scale 90–110%')
    chosen = list(digits_augmentation)
    assert chosen and ... not in chosen, 'digits_augmentation: choose at least one augmentation from the menu'
    assert all((name in menu for name in chosen)), f'digits_augmentation: use the names of AUGMENTATIONS exactly, got {chosen}'

@test_case(points=None, hidden=False)
def test_augmentation_effect_is_paired(augmentation_effect):
    calls = []

    def fit(transform, seed):
        calls.append((transform, seed))
        return 0.5 + 0.1 * seed + (0.02 if transform is not None else 0.0)
    mean_gain, se = augmentation_effect(fit, 'AUG', [0, 1, 2])
    assert {(t, s) for t, s in calls} == {(t, s) for t in ('AUG', None) for s in (0, 1, 2)}, 'augmentation_effect: for every seed, call fit(transform, seed) AND fit(None, seed): the same seed with and without the augmentation'
    assert abs(mean_gain - 0.02) < 1e-09 and abs(se) < 1e-09, 'augmentation_effect: compare the runs with and without the augmentation on the SAME seed (with minus without, seed by seed), then average those differences'

