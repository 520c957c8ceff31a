from otter.test_files import test_case

OK_FORMAT = False

name = "ft_stage"
points = 3

@test_case(points=None, hidden=False)
def test_stage_chosen_on_validation(choose_stage):
    import numpy as np
    stages = ['conv1', 'layer1', 'layer2', 'layer3', 'avgpool']
    F = {s: np.c_[np.full(40, 1000.0 * j), np.arange(40.0)] for j, s in enumerate(stages)}
    y = np.arange(40) % 2
    train_idx, val_idx, test_idx = (np.arange(0, 24), np.arange(24, 32), np.arange(32, 40))
    val = {'conv1': 0.6, 'layer1': 0.7, 'layer2': 0.9, 'layer3': 0.8, 'avgpool': 0.75}
    test = {'conv1': 0.55, 'layer1': 0.95, 'layer2': 0.85, 'layer3': 0.7, 'avgpool': 0.65}
    TEST_FIT, VAL_FIT, OTHER_FIT, REFIT = (-1.0, -2.0, -3.0, 0.123)

    def split(F_part):
        rows = set(np.asarray(F_part)[:, 1].astype(int).tolist())
        names = {'train': set(train_idx.tolist()), 'val': set(val_idx.tolist()), 'test': set(test_idx.tolist())}
        if rows & names['test'] and rows != names['test']:
            return 'with test'
        return next((n for n, r in names.items() if rows == r), 'train+val' if rows == names['train'] | names['val'] else 'other')

    def probe(F_train, y_train, F_eval, y_eval):
        stage, fit, ev = (stages[int(np.asarray(F_train)[0, 0] // 1000)], split(F_train), split(F_eval))
        if fit in ('test', 'with test'):
            return TEST_FIT
        if fit == 'val':
            return VAL_FIT
        if fit == 'train+val':
            return REFIT if ev == 'test' else OTHER_FIT
        if fit != 'train':
            return OTHER_FIT
        return {'val': val[stage], 'test': test[stage], 'train': 0.99}.get(ev, OTHER_FIT)
    best, test_acc, val_accs = choose_stage(probe, F, y, train_idx, val_idx, test_idx)
    recorded = list(dict(val_accs).values()) + [test_acc]
    assert TEST_FIT not in recorded, 'choose_stage: a probe was fitted on test images: fit every probe on the training images (F[s][train_idx], y[train_idx]); the test images are only ever evaluated on'
    assert VAL_FIT not in dict(val_accs).values(), "choose_stage: a stage's validation accuracy came from a probe fitted on the validation images themselves: fit every probe on the training images and only evaluate it on the validation images"
    assert test_acc != REFIT, "choose_stage: the test accuracy you report comes from a probe refitted on the training AND validation images. That is a sound habit elsewhere, but this question asks for the test accuracy of the probe the choice was made with: the chosen stage's probe fitted on the training images only"
    assert OTHER_FIT not in recorded, 'choose_stage: a probe was fitted on images that are not the training split: fit every probe on (F[s][train_idx], y[train_idx]) and evaluate it on the validation images, then the test images'
    assert best != 'layer3', 'choose_stage: you chose the stage with the largest NAME, not the largest validation accuracy: max (or sorted) over a dict goes through its keys; choose by the validation accuracy each stage maps to'
    assert best != 'layer1', "choose_stage: the stage was chosen by its TEST accuracy: choose on the validation split; the test split only reports the chosen stage's accuracy, once"
    assert best != 'avgpool', 'choose_stage: you chose the last stage, not the one with the best validation accuracy: compare the validation accuracies of all the stages'
    assert dict(val_accs) == val and best == 'layer2', f"choose_stage: val_accs should hold each stage's probe accuracy on the validation images, and best the stage with the highest; got best = {best!r}, val_accs = {val_accs}"
    assert test_acc != 0.99, 'choose_stage: the accuracy you report is measured on the TRAINING images, which the probe was fitted to: report its accuracy on the test images'
    assert test_acc != 0.9, "choose_stage: the accuracy you report is the validation accuracy, which was used to choose the stage: report the chosen stage's accuracy on the test images"
    assert test_acc == 0.85, f"choose_stage: expected the chosen stage's accuracy on the test images, got {test_acc}"

