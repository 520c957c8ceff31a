"""Interactive controls for the note's knobs (ipywidgets), one section per notebook.

Every widget here reacts from cached arrays or features within about a second on
a 2-core CPU, never runs during grading (its notebook cell is tagged
``otter_ignore``) and, in a static export, leaves a static figure behind.
Each public function's docstring names the notebook that introduces it.
"""
from __future__ import annotations

import io

import ipywidgets as ipw
from matplotlib.figure import Figure
import numpy as np
from IPython.display import Image as _StaticImage
from IPython.display import display

from . import data


def _png(fig) -> bytes:
    """Render a figure to PNG bytes (widgets show PNGs: no pyplot state, nothing shown twice)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)
    return buf.getvalue()


def _show(box, image):
    """Display a still copy of the first setting (kept by static exports), then return the live widget."""
    display(_StaticImage(data=image.value, format="png"))
    return box

# --- notebook 01: OLS on raw pixels -------------------------------------------

class OlsExplorer:
    """Notebook 01 (note §1.1, footnote 2): the image side s and the ridge λ as sliders.

    Fits the student's ``fit_ridge`` on the training part of ``trainval`` at side s and shows
    the training and validation accuracy and the weight image (blue: towards cat, red: towards dog).
    Arrays come from ``data.pets_arrays`` (cached), all loaded once at construction, so a move
    of a slider costs one ridge solve and one small figure. Until the student's functions work,
    the status line says what is missing and the figure shows what the classifier sees at s.
    """

    def __init__(self, phi, fit_ridge, predict, accuracy, train_idx, val_idx, sizes=(4, 8, 12, 16, 24, 32),
                 s=16, lam=1.0, root=None):
        self.fns = phi, fit_ridge, predict, accuracy
        self.train_idx, self.val_idx = np.asarray(train_idx), np.asarray(val_idx)
        step = int(np.gcd.reduce(np.diff(sorted(sizes)))) if len(sizes) > 1 else 1
        self.arrays = {size: data.pets_arrays("trainval", size=size, root=root)
                       for size in range(min(sizes), max(sizes) + 1, step)}
        self.size = ipw.IntSlider(value=s, min=min(sizes), max=max(sizes), step=step, description="image side s",
                                  continuous_update=False, style={"description_width": "initial"})
        self.lam = ipw.FloatLogSlider(value=lam, base=10, min=-3, max=4, step=0.25, description="ridge λ",
                                      continuous_update=False, style={"description_width": "initial"})
        self.status = ipw.HTML()
        self.image = ipw.Image(format="png")
        self.size.observe(self.update, names="value")
        self.lam.observe(self.update, names="value")
        self.box = ipw.VBox([ipw.HBox([self.size, self.lam]), self.status, self.image])
        self.update()

    def fit(self):
        """(train acc, val acc, w) at the current s and λ, or a 'to do' message string."""
        phi, fit_ridge, predict, accuracy = self.fns
        X, Y = self.arrays[self.size.value]
        tr, va = self.train_idx, self.val_idx
        try:
            P_tr, P_va = phi(X[tr]), phi(X[va])
            w = np.asarray(fit_ridge(P_tr, Y[tr], self.lam.value), dtype=float)
            return accuracy(predict(P_tr, w), Y[tr]), accuracy(predict(P_va, w), Y[va]), w
        except NotImplementedError as todo:
            return f"to do: {todo}"

    def update(self, change=None):
        """Refit at the sliders' values; refresh the status line and the figure."""
        s, n = self.size.value, len(self.train_idx)
        result = self.fit()
        fig = Figure(figsize=(6.4, 3.0))
        fig.subplots_adjust(left=0.02, right=0.9, bottom=0.05, top=0.88, wspace=0.15)
        axes = fig.subplots(1, 2)
        X, Y = self.arrays[s]
        axes[0].imshow(X[self.train_idx[0]], cmap="gray")
        axes[0].set_title(f"what the classifier sees: {s}×{s}", fontsize=9)
        if isinstance(result, str):
            self.status.value = f"s = {s}, d = {s * s}, n = {n}: {result}"
        else:
            train_acc, val_acc, w = result
            cliff = "d + 1 > n: OLS can fit any labelling" if s * s + 1 > n else "d + 1 ≤ n"
            self.status.value = (f"s = {s}, d = {s * s}, n = {n} ({cliff}); λ = {self.lam.value:.3g}: "
                                 f"<b>train {train_acc:.3f}</b>, <b>validation {val_acc:.3f}</b>")
            lim = np.abs(w[1:]).max() or 1.0
            shown = axes[1].imshow(w[1:].reshape(s, s), cmap="RdBu", vmin=-lim, vmax=lim)
            fig.colorbar(shown, ax=axes[1], fraction=0.046, label="blue: cat, red: dog")
            axes[1].set_title("weights w[1:]", fontsize=9)
        for ax in axes:
            ax.axis("off")
        self.image.value = _png(fig)


def ols_explorer(phi, fit_ridge, predict, accuracy, train_idx, val_idx, sizes=(4, 8, 12, 16, 24, 32), **kwargs):
    """Notebook 01: display the s/λ explorer (a still image first, for exported pages); returns the live widget."""
    explorer = OlsExplorer(phi, fit_ridge, predict, accuracy, train_idx, val_idx, sizes, **kwargs)
    return _show(explorer.box, explorer.image)


# --- notebook 02: edge filters and logistic regression -------------------------

KERNEL_PRESETS = {
    "vertical edge": [[1, 0, -1], [1, 0, -1], [1, 0, -1]],
    "horizontal edge": [[1, 1, 1], [0, 0, 0], [-1, -1, -1]],
    "Sobel x": [[1, 0, -1], [2, 0, -2], [1, 0, -1]],
    "Sobel y": [[1, 2, 1], [0, 0, 0], [-1, -2, -1]],
    "Laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "blur": [[1 / 9] * 3] * 3,
}


def note_example() -> np.ndarray:
    """The note's 6×6 example (§2.1): bright (10) left half, dark (0) right half (notebook 02)."""
    image = np.zeros((6, 6))
    image[:, :3] = 10
    return image


class KernelEditor:
    """Notebook 02 (note §2.1): a 3×3 kernel as nine number boxes, plus presets.

    Shows the response ("valid" cross-correlation, as DL libraries compute it) on the note's
    6×6 example, with its numbers, and the absolute response on a chosen pet.
    images: (n, s, s) gray in [0, 1]; labels: ±1 (cat +1).
    """

    def __init__(self, images, labels=None, preset="vertical edge", index=0):
        self.images, self.labels = np.asarray(images, dtype=np.float64), labels
        self.cells = [ipw.FloatText(value=0.0, layout=ipw.Layout(width="64px")) for _ in range(9)]
        self.preset = ipw.Dropdown(options=["custom"] + list(KERNEL_PRESETS), value=preset, description="preset")
        self.pet = ipw.IntSlider(value=index, min=0, max=len(self.images) - 1, description="pet #",
                                 continuous_update=False)
        self.image = ipw.Image(format="png")
        self._quiet = False
        self.set_kernel(KERNEL_PRESETS[preset])
        for cell in self.cells:
            cell.observe(self._edited, names="value")
        self.preset.observe(self._preset_chosen, names="value")
        self.pet.observe(self.update, names="value")
        grid = ipw.GridBox(self.cells, layout=ipw.Layout(grid_template_columns="repeat(3, 70px)"))
        self.box = ipw.VBox([ipw.HBox([grid, ipw.VBox([self.preset, self.pet])]), self.image])
        self.update()

    @property
    def kernel(self) -> np.ndarray:
        """The 3×3 kernel in the boxes."""
        return np.array([cell.value for cell in self.cells], dtype=float).reshape(3, 3)

    def set_kernel(self, kernel):
        """Fill the nine boxes at once (one redraw)."""
        self._quiet = True
        for cell, value in zip(self.cells, np.asarray(kernel, dtype=float).ravel()):
            cell.value = float(value)
        self._quiet = False

    def _edited(self, change):
        if not self._quiet:
            self._quiet = True
            self.preset.value = "custom"
            self._quiet = False
            self.update()

    def _preset_chosen(self, change):
        if not self._quiet and change["new"] in KERNEL_PRESETS:
            self.set_kernel(KERNEL_PRESETS[change["new"]])
            self.update()

    def update(self, change=None):
        """Redraw the three panels for the current kernel and pet."""
        from scipy.signal import correlate2d
        kernel, toy = self.kernel, note_example()
        toy_response = correlate2d(toy, kernel, mode="valid")
        pet = self.images[self.pet.value]
        fig = Figure(figsize=(8.4, 2.9))
        axes = fig.subplots(1, 3)
        axes[0].imshow(toy_response, cmap="RdBu", vmin=-np.abs(toy_response).max() - 1e-9,
                       vmax=np.abs(toy_response).max() + 1e-9)
        for (i, j), v in np.ndenumerate(toy_response):
            axes[0].text(j, i, f"{v:g}", ha="center", va="center", fontsize=8,
                         color="white" if abs(v) > 0.6 * np.abs(toy_response).max() else "black")
        axes[0].set_title("response on the note's 6×6 example", fontsize=9)
        name = "" if self.labels is None else {1: " (cat)", -1: " (dog)"}.get(int(self.labels[self.pet.value]), "")
        axes[1].imshow(pet, cmap="gray", vmin=0, vmax=1)
        axes[1].set_title(f"pet #{self.pet.value}{name}", fontsize=9)
        axes[2].imshow(np.abs(correlate2d(pet, kernel, mode="valid")), cmap="magma")
        axes[2].set_title("|response| on the pet", fontsize=9)
        for ax in axes:
            ax.axis("off")
        fig.text(0.5, 0.0, "Images: Oxford-IIIT Pet (Parkhi et al., CVPR 2012), CC BY-SA 4.0", ha="center",
                 fontsize=6, color="gray")
        self.image.value = _png(fig)


def kernel_editor(images, labels=None, **kwargs):
    """Notebook 02: display the 3×3 kernel editor (a still image first, for exported pages); returns the widget."""
    editor = KernelEditor(images, labels, **kwargs)
    return _show(editor.box, editor.image)


# --- notebook 03: frozen pre-trained features ----------------------------------

# --- notebook 04: fine-tuning -------------------------------------------------
