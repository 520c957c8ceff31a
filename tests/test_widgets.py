"""utils.widgets: each widget's callbacks driven directly, on real cached data."""
import re

# --- notebook 01 ----------------------------------------------------------------

import numpy as np
import pytest

from utils import widgets


def _ridge(Phi, Y, lam):
    X = np.hstack([np.ones((len(Phi), 1)), np.asarray(Phi, dtype=float)])
    D = np.eye(X.shape[1])
    D[0, 0] = 0
    return np.linalg.solve(X.T @ X + lam * D, X.T @ Y)


def _phi(images):
    return np.asarray(images).reshape(len(images), -1)


def _predict(Phi, w):
    return np.where(np.hstack([np.ones((len(Phi), 1)), Phi]) @ w >= 0, 1, -1)


def _accuracy(Y_hat, Y):
    return float(np.mean(Y_hat == Y))


def _n_trainval():
    from utils import data
    return len(data.pets_arrays("trainval", size=4)[1])


@pytest.fixture(scope="module")
def explorer(pets_root):
    n = _n_trainval()
    order = np.random.default_rng(0).permutation(n)
    return widgets.OlsExplorer(_phi, _ridge, _predict, _accuracy, np.sort(order[n // 5:]), np.sort(order[:n // 5]),
                               sizes=(4, 8, 16, 32), s=8, lam=1.0)


def test_ols_explorer_sliders_refit_and_redraw(explorer):
    before_png, before_text = explorer.image.value, explorer.status.value
    assert before_png[:4] == b"\x89PNG" and "train" in before_text and "validation" in before_text
    explorer.size.value = 32
    assert explorer.image.value != before_png and explorer.status.value != before_text
    assert "d = 1024" in explorer.status.value and "d + 1 > n" in explorer.status.value
    explorer.lam.value = 1e-3  # almost no penalty at d > n: the training set is memorised
    assert re.search(r"train 1\.000", explorer.status.value), explorer.status.value
    png = explorer.image.value
    explorer.lam.value = 1e3
    assert explorer.image.value != png and not re.search(r"train 1\.000", explorer.status.value)


def test_ols_explorer_reports_unfinished_functions(pets_root):
    def todo(*args):
        raise NotImplementedError("fit_ridge: to be written")

    idx = np.arange(_n_trainval())
    explorer = widgets.OlsExplorer(_phi, todo, _predict, _accuracy, idx[100:], idx[:100], sizes=(4, 8), s=4)
    assert "to do: fit_ridge" in explorer.status.value
    png = explorer.image.value
    explorer.size.value = 8  # the image panel still follows s
    assert explorer.image.value != png


def test_ols_explorer_function_shows_a_static_copy_first(pets_root, monkeypatch):
    shown = []
    monkeypatch.setattr(widgets, "display", shown.append)
    idx = np.arange(_n_trainval())
    box = widgets.ols_explorer(_phi, _ridge, _predict, _accuracy, idx[100:], idx[:100], sizes=(4, 8))
    assert len(shown) == 1 and shown[0].data[:4] == b"\x89PNG"
    assert isinstance(box, widgets.ipw.VBox)


# --- notebook 02 ----------------------------------------------------------------

def test_kernel_editor_boxes_presets_and_pet_redraw():
    images = np.random.default_rng(0).uniform(size=(4, 32, 32))
    editor = widgets.KernelEditor(images, np.array([1, -1, 1, -1]))
    assert np.array_equal(editor.kernel, np.array([[1, 0, -1]] * 3))
    png = editor.image.value
    editor.preset.value = "Laplacian"
    assert np.array_equal(editor.kernel, np.array(widgets.KERNEL_PRESETS["Laplacian"])) and editor.image.value != png
    png = editor.image.value
    editor.cells[4].value = 2.0  # typing a number makes the kernel custom and redraws
    assert editor.preset.value == "custom" and editor.kernel[1, 1] == 2.0 and editor.image.value != png
    png = editor.image.value
    editor.pet.value = 3
    assert editor.image.value != png


def test_kernel_editor_shows_the_notes_example_response(monkeypatch):
    drawn = []
    real = widgets.KernelEditor.update

    def spy(self, change=None):
        from scipy.signal import correlate2d
        drawn.append(correlate2d(widgets.note_example(), self.kernel, mode="valid"))
        return real(self, change)

    monkeypatch.setattr(widgets.KernelEditor, "update", spy)
    editor = widgets.KernelEditor(np.zeros((2, 16, 16)))
    assert np.array_equal(drawn[-1], np.array([[0, 30, 30, 0]] * 4))  # the note's §2.1 numbers


def test_kernel_editor_function_shows_a_static_copy_first(monkeypatch):
    shown = []
    monkeypatch.setattr(widgets, "display", shown.append)
    box = widgets.kernel_editor(np.zeros((2, 16, 16)))
    assert len(shown) == 1 and shown[0].data[:4] == b"\x89PNG" and isinstance(box, widgets.ipw.VBox)


# --- notebook 03 ----------------------------------------------------------------

# --- notebook 04 ----------------------------------------------------------------
