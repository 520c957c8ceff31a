from otter.test_files import test_case

OK_FORMAT = False

name = "ft_stage"
points = 3

@test_case(points=None, hidden=False)
def test_stage_chosen_on_validation(choose_stage):
    import numpy as np
    stages = ['early', 'middle', 'late']
    F = {s: np.c_[np.full(30, 1000.0 * j), np.arange(30.0)] for j, s in enumerate(stages)}
    y = np.arange(30) % 2
    train_idx, val_idx, test_idx = (np.arange(0, 20), np.arange(20, 25), np.arange(25, 30))
    table = {('early', 'val'): 0.6, ('middle', 'val'): 0.9, ('late', 'val'): 0.7, ('early', 'test'): 0.5, ('middle', 'test'): 0.8, ('late', 'test'): 0.95, ('early', 'train'): 1.0, ('middle', 'train'): 0.99, ('late', 'train'): 1.0}
    split_of = {tuple(train_idx): 'train', tuple(val_idx): 'val', tuple(test_idx): 'test'}

    def probe(F_train, y_train, F_eval, y_eval):
        F_train, F_eval = (np.asarray(F_train), np.asarray(F_eval))
        if split_of.get(tuple(F_train[:, 1].astype(int))) != 'train':
            return -1.0
        return table[stages[int(F_train[0, 0] // 1000)], split_of.get(tuple(F_eval[:, 1].astype(int)), 'other')]
    best, test_acc, val_accs = choose_stage(probe, F, y, train_idx, val_idx, test_idx)
    assert -1.0 not in dict(val_accs).values() and test_acc != -1.0, 'choose_stage: a probe was fitted on validation or test images: fit every probe on the training images (F[s][train_idx], y[train_idx]) and only evaluate it on the other splits'
    assert best != 'late', "choose_stage: the stage was chosen by its TEST accuracy: choose on the validation split; the test split only reports the chosen stage's accuracy, once"
    assert dict(val_accs) == {'early': 0.6, 'middle': 0.9, 'late': 0.7} and best == 'middle', f"choose_stage: val_accs should hold each stage's probe accuracy on the validation images, and best the stage with the highest; got best = {best!r}, val_accs = {val_accs}"
    assert test_acc not in (0.99, 1.0), 'choose_stage: the accuracy you report is measured on the TRAINING images, which the probe was fitted to: report its accuracy on the test images'
    assert test_acc != 0.9, "choose_stage: the accuracy you report is the validation accuracy, which was used to choose the stage: report the chosen stage's accuracy on the test images"
    assert test_acc == 0.8, f"choose_stage: expected the chosen stage's accuracy on the test images, got {test_acc}"

