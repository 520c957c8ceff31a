"""Interactive controls for the note's knobs (ipywidgets), one section per notebook.

Every widget here reacts from cached arrays or features within about a second on
a 2-core CPU, never runs during grading (its notebook cell is tagged
``otter_ignore``) and, in a static export, leaves a static figure behind.
Each public function's docstring names the notebook that introduces it.
"""

from __future__ import annotations

import base64
import html
import io
import sys

import ipywidgets as ipw
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image, ImageOps, UnidentifiedImageError

from . import data, plots


def _png(fig) -> bytes:
    """Render a figure to PNG bytes (widgets show PNGs: no pyplot state, nothing shown twice)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)
    return buf.getvalue()


WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class LiveOrStill:
    """A live widget and a still image of it in ONE output (a mimebundle), so that only one of them
    shows.

    A frontend with a live kernel (JupyterLab, Notebook, Colab) renders the widget view and ignores
    the PNG; a static renderer (nbconvert's HTML, GitHub), which has no widget state, falls back to
    the PNG. Displaying the still separately would show both in JupyterLab. The view data are those
    ipywidgets 7 (Colab's 7.7.1) and 8 both emit (protocol 2.0, ``model_id``). Attributes not
    starting with ``_`` are the widget's (``shown.slider``); ``widget`` is the widget itself.
    """

    def __init__(self, widget, png: bytes):
        self.widget, self.png = widget, png

    def __getattr__(self, name):
        if name.startswith(
            "_"
        ):  # never the widget's own display hooks (_ipython_display_ in ipywidgets 7)
            raise AttributeError(name)
        return getattr(self.widget, name)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {
            WIDGET_MIME: {"version_major": 2, "version_minor": 0, "model_id": self.widget.model_id},
            "image/png": base64.b64encode(self.png).decode("ascii"),
            "text/plain": (
                f"{type(self.widget).__name__} (a live widget: run the notebook to use it)"
            ),
        }


def with_still(widget, still) -> LiveOrStill:
    """``widget`` with a still for static pages (notebooks 01-04); still: a matplotlib Figure or PNG
    bytes.

    A pyplot figure is closed, so that the inline backend does not show it a second time.
    """
    if isinstance(still, Figure):
        png = _png(still)
        plt.close(still)
    else:
        png = bytes(still)
    return LiveOrStill(widget, png)


def _show(box, image):
    """The live widget with a still of its first setting in the same output (kept by static
    exports)."""
    return with_still(box, image.value)


# --- notebook 01: OLS on raw pixels -------------------------------------------


class OlsExplorer:
    """Notebook 01 (note §1.1, footnote 2): the image side s and the ridge λ as sliders.

    Fits the student's ``fit_ridge`` on the training part of ``trainval`` at side s and shows
    the training and validation accuracy and the weight image (red: towards cat, blue: towards dog,
    the module's signed convention, ``plots.signed_image``).
    Arrays come from ``data.pets_arrays`` (cached), all loaded once at construction, so a move
    of a slider costs one ridge solve and one small figure. Until the student's functions work,
    the status line says what is missing and the figure shows what the classifier sees at s.
    """

    def __init__(
        self,
        phi,
        fit_ridge,
        predict,
        accuracy,
        train_idx,
        val_idx,
        sizes=(4, 8, 12, 16, 24, 32),
        s=16,
        lam=1.0,
        root=None,
    ):
        self.fns = phi, fit_ridge, predict, accuracy
        self.train_idx, self.val_idx = np.asarray(train_idx), np.asarray(val_idx)
        step = int(np.gcd.reduce(np.diff(sorted(sizes)))) if len(sizes) > 1 else 1
        self.arrays = {
            size: data.pets_arrays("trainval", size=size, root=root)
            for size in range(min(sizes), max(sizes) + 1, step)
        }
        self.size = ipw.IntSlider(
            value=s,
            min=min(sizes),
            max=max(sizes),
            step=step,
            description="image side s",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        self.lam = ipw.FloatLogSlider(
            value=lam,
            base=10,
            min=-3,
            max=4,
            step=0.25,
            description="ridge λ",
            continuous_update=False,
            style={"description_width": "initial"},
        )
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
        self.image.value = _png(self.figure())

    def figure(self) -> Figure:
        """The current figure (what the classifier sees; the weights); sets the status line."""
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
            self.status.value = (
                f"s = {s}, d = {s * s}, n = {n} ({cliff}); λ = {self.lam.value:.3g}: "
                f"<b>train {train_acc:.3f}</b>, <b>validation {val_acc:.3f}</b>"
            )
            plots.signed_image(axes[1], w[1:].reshape(s, s), "red > 0: cat, blue < 0: dog")
            axes[1].set_title("weights w[1:]", fontsize=9)
        for ax in axes:
            ax.axis("off")
        return fig


def ols_explorer(
    phi, fit_ridge, predict, accuracy, train_idx, val_idx, sizes=(4, 8, 12, 16, 24, 32), **kwargs
):
    """Notebook 01: the s/λ explorer, with a still of its first setting for exported pages
    (:func:`with_still`)."""
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
        self.preset = ipw.Dropdown(
            options=["custom"] + list(KERNEL_PRESETS), value=preset, description="preset"
        )
        self.pet = ipw.IntSlider(
            value=index,
            min=0,
            max=len(self.images) - 1,
            description="pet #",
            continuous_update=False,
        )
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
        self.image.value = _png(self.figure())

    def figure(self) -> Figure:
        """The three panels for the current kernel and pet."""
        from scipy.signal import correlate2d

        kernel, toy = self.kernel, note_example()
        toy_response = correlate2d(toy, kernel, mode="valid")
        pet = self.images[self.pet.value]
        fig = Figure(figsize=(9.4, 3.0))
        fig.subplots_adjust(left=0.02, right=0.98, bottom=0.08, top=0.88, wspace=0.45)
        axes = fig.subplots(1, 3)
        plots.signed_image(axes[0], toy_response, "red > 0, blue < 0")
        for (i, j), v in np.ndenumerate(toy_response):
            axes[0].text(
                j,
                i,
                f"{v:g}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if abs(v) > 0.6 * np.abs(toy_response).max() else "black",
            )
        axes[0].set_title("response on the note's 6×6 example", fontsize=9)
        name = (
            ""
            if self.labels is None
            else {1: " (cat)", -1: " (dog)"}.get(int(self.labels[self.pet.value]), "")
        )
        axes[1].imshow(pet, cmap="gray", vmin=0, vmax=1)
        axes[1].set_title(f"pet #{self.pet.value}{name}", fontsize=9)
        axes[2].imshow(np.abs(correlate2d(pet, kernel, mode="valid")), cmap="magma")
        axes[2].set_title("|response| on the pet", fontsize=9)
        for ax in axes:
            ax.axis("off")
        fig.text(0.5, 0.0, plots.CREDIT, ha="center", fontsize=6, color="gray")
        return fig


def kernel_editor(images, labels=None, **kwargs):
    """Notebook 02: the 3×3 kernel editor, with a still of its first kernel for exported pages
    (:func:`with_still`)."""
    editor = KernelEditor(images, labels, **kwargs)
    return _show(editor.box, editor.image)


# --- notebook 03: frozen pre-trained features ----------------------------------


def _thumbnail_png(image: Image.Image, side: int = 320) -> bytes:
    """A PNG thumbnail of a PIL image, at most side × side pixels."""
    image = image.copy()
    image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def misclassified_browser(load_image, y_true, probs, names=("cat", "dog"), min_shown=8):
    """A slider over the test images the classifier gets wrong, most confident mistake first
    (notebook 03).

    load_image: i -> PIL image of test image i; y_true: (n,) labels 0/1; probs:
    (n, 2) class probabilities. When fewer than ``min_shown`` are wrong, the least
    confident correct answers follow them, so there is always something to browse.
    Returns a VBox (slider, caption, image); ``box.shown`` lists the indices.
    """
    probs = torch.as_tensor(probs, dtype=torch.float32)
    y_true = torch.as_tensor(y_true)
    confidence, predicted = probs.max(1)
    wrong = torch.nonzero(predicted != y_true).flatten().tolist()
    unsure_right = [i for i in confidence.argsort().tolist() if i not in wrong]
    shown = sorted(wrong, key=lambda i: -float(confidence[i]))  # most confident mistake first
    shown += unsure_right[
        : max(0, min_shown - len(shown))
    ]  # then the least confident right answers
    slider = ipw.IntSlider(0, 0, len(shown) - 1, description="image")
    caption, picture = ipw.HTML(), ipw.Image(format="png")

    def show(change=None):
        i = shown[slider.value]
        verdict = "wrong" if i in wrong else "right, but unsure"
        caption.value = (
            f"<b>test image #{i}</b>: true {names[int(y_true[i])]}, predicted "
            f"{names[int(predicted[i])]} with probability {float(confidence[i]):.0%} ({verdict})"
        )
        picture.value = _thumbnail_png(load_image(i))

    slider.observe(show, names="value")
    show()
    box = ipw.VBox(
        [
            ipw.HTML(f"{len(wrong)} of {len(y_true)} test images misclassified"),
            slider,
            caption,
            picture,
        ]
    )
    box.shown = shown
    return box


@torch.inference_mode()
def photo_probabilities(content: bytes, backbone, head, scale=None, name="the file") -> dict:
    """{"cat": p, "dog": p} for one photo given as the bytes of an image file (notebook 03).

    The photo goes through ``backbone.transform`` and ``backbone.features`` (Φ),
    then ``scale`` (the training split's standardization) and the trained ``head``
    (an nn.Linear(d, 2) on 0 = cat, 1 = dog). Raises ValueError naming the file
    when it is not an image.
    """
    try:
        image = ImageOps.exif_transpose(Image.open(io.BytesIO(bytes(content)))).convert("RGB")
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(
            f"could not read {name} as an image ({err}): upload a photo (JPEG, PNG, ...)"
        ) from None
    features = backbone.features(backbone.transform(image).unsqueeze(0))
    features = torch.as_tensor(scale(features) if scale else features, dtype=torch.float32)
    probs = torch.softmax(head(features), 1)[0]
    return {"cat": float(probs[0]), "dog": float(probs[1])}


def uploaded_files(value) -> list[tuple[str, bytes]]:
    """``[(name, content)]`` of the files in a ``FileUpload.value``, in either ipywidgets' format
    (notebook 03).

    ipywidgets 7 (Colab's 7.7.1): a dict ``{name: {"metadata": {...}, "content": bytes}}``;
    ipywidgets 8: a tuple of dicts
    ``{"name", "type", "size", "content": memoryview, "last_modified"}``."""
    if isinstance(value, dict):
        return [
            (file.get("metadata", {}).get("name", name), bytes(file["content"]))
            for name, file in value.items()
        ]
    return [(file["name"], bytes(file["content"])) for file in value]


def pet_upload(predict):
    """An upload box: drop a photo of your own pet, see the classifier's cat/dog probabilities
    (notebook 03).

    predict: (content bytes, file name) -> {"cat": p, "dog": p}, e.g. a
    ``functools.partial`` of :func:`photo_probabilities`. Returns a VBox whose
    ``upload`` is the FileUpload and ``result`` the HTML that shows the answer.
    Works with ipywidgets 7 and 8 (:func:`uploaded_files`).
    """
    upload = ipw.FileUpload(accept="image/*", multiple=False, description="your pet's photo")
    prompt = "Drop a photo of a cat or a dog here."
    if (
        "google.colab" in sys.modules
    ):  # ipywidgets#3452: on Colab a large file never arrives (the limit: docs/colab.md)
        prompt += " On Colab, use a photo under 1 MB (larger files do not reach the notebook)."
    result, picture = ipw.HTML(prompt), ipw.Image(format="png")

    def show(change):
        files = uploaded_files(upload.value)
        if not files:
            return
        name, content = files[-1]
        try:
            probs = predict(content, name)
        except ValueError as err:
            result.value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"
            return
        label = max(probs, key=probs.get)
        result.value = (
            f"<b>{html.escape(name)}</b>: {label} (cat {probs['cat']:.1%}, dog {probs['dog']:.1%})"
        )
        picture.value = _thumbnail_png(Image.open(io.BytesIO(content)).convert("RGB"))

    upload.observe(show, names="value")
    box = ipw.VBox([upload, result, picture])
    box.upload, box.result = upload, result
    return box


# --- notebook 04: fine-tuning -------------------------------------------------


def stages_figure(rows, title="Fine-tuning the last k stages"):
    """How many stages to fine-tune (notebook 04): trainable parameters against k (a log axis), each
    bar annotated with the accuracies measured for it. rows: one dict per k,
    ``{"k", "trainable", "total"}`` and, where a run was made, ``test_acc`` and optionally
    ``val_acc``."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ks = [row["k"] for row in rows]
    ax.bar(ks, [row["trainable"] for row in rows], color="tab:blue", alpha=0.6)
    ax.set(yscale="log", xlabel="k (stages fine-tuned)", ylabel="trainable parameters", title=title)
    ax.set_xticks(ks)
    ax.set_ylim(
        top=max(row["trainable"] for row in rows) * 30
    )  # room for the labels above the tallest bar
    for row in rows:
        if row.get("test_acc") is not None:
            val = f"val {row['val_acc']:.3f}\n" if row.get("val_acc") is not None else ""
            ax.annotate(
                f"{val}test {row['test_acc']:.3f}",
                (row["k"], row["trainable"]),
                ha="center",
                xytext=(0, 3),
                textcoords="offset points",
                fontsize=8,
            )
    fig.tight_layout()
    return fig
