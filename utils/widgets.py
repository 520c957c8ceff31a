"""Interactive controls for the note's knobs (ipywidgets), one section per notebook.

Every widget here reacts from cached arrays or features within about a second on
a 2-core CPU, never runs during grading (its notebook cell is tagged
``otter_ignore``) and, in a static export, leaves a static figure behind.
Each public function's docstring names the notebook that introduces it.
"""
from __future__ import annotations

import html
import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

# --- notebook 01: OLS on raw pixels -------------------------------------------

# --- notebook 02: edge filters and logistic regression -------------------------

# --- notebook 03: frozen pre-trained features ----------------------------------

def _png(image: Image.Image, side: int = 320) -> bytes:
    image = image.copy()
    image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def misclassified_browser(load_image, y_true, probs, names=("cat", "dog")):
    """A slider over the test images the classifier gets wrong, most confident mistake first (notebook 03).

    load_image: i -> PIL image of test image i; y_true: (n,) labels 0/1; probs:
    (n, 2) class probabilities. When nothing is wrong, the least confident correct
    answers are shown. Returns a VBox (slider, caption, image); ``box.shown`` lists the indices.
    """
    probs = torch.as_tensor(probs, dtype=torch.float32)
    y_true = torch.as_tensor(y_true)
    confidence, predicted = probs.max(1)
    wrong = torch.nonzero(predicted != y_true).flatten().tolist()
    shown = sorted(wrong, key=lambda i: -float(confidence[i])) or confidence.argsort()[:8].tolist()
    slider = widgets.IntSlider(0, 0, len(shown) - 1, description="image")
    caption, picture = widgets.HTML(), widgets.Image(format="png")

    def show(change=None):
        i = shown[slider.value]
        verdict = "wrong" if i in wrong else "right, but unsure"
        caption.value = (f"<b>test image #{i}</b>: true {names[int(y_true[i])]}, predicted "
                         f"{names[int(predicted[i])]} with probability {float(confidence[i]):.0%} ({verdict})")
        picture.value = _png(load_image(i))

    slider.observe(show, names="value")
    show()
    box = widgets.VBox([widgets.HTML(f"{len(wrong)} of {len(y_true)} test images misclassified"),
                        slider, caption, picture])
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
        raise ValueError(f"could not read {name} as an image ({err}): upload a photo (JPEG, PNG, ...)") from None
    features = backbone.features(backbone.transform(image).unsqueeze(0))
    features = torch.as_tensor(scale(features) if scale else features, dtype=torch.float32)
    probs = torch.softmax(head(features), 1)[0]
    return {"cat": float(probs[0]), "dog": float(probs[1])}


def pet_upload(predict):
    """An upload box: drop a photo of your own pet, see the classifier's cat/dog probabilities (notebook 03).

    predict: (content bytes, file name) -> {"cat": p, "dog": p}, e.g. a
    ``functools.partial`` of :func:`photo_probabilities`. Returns a VBox whose
    ``upload`` is the FileUpload and ``result`` the HTML that shows the answer.
    """
    upload = widgets.FileUpload(accept="image/*", multiple=False, description="your pet's photo")
    result, picture = widgets.HTML("Drop a photo of a cat or a dog here."), widgets.Image(format="png")

    def show(change):
        if not upload.value:
            return
        file = upload.value[-1]
        try:
            probs = predict(bytes(file["content"]), file["name"])
        except ValueError as err:
            result.value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"
            return
        label = max(probs, key=probs.get)
        result.value = (f"<b>{html.escape(file['name'])}</b>: {label} "
                        f"(cat {probs['cat']:.1%}, dog {probs['dog']:.1%})")
        picture.value = _png(Image.open(io.BytesIO(bytes(file["content"]))).convert("RGB"))

    upload.observe(show, names="value")
    box = widgets.VBox([upload, result, picture])
    box.upload, box.result = upload, result
    return box


# --- notebook 04: fine-tuning -------------------------------------------------

def _stage_text(row):
    share = row["trainable"] / row["total"]
    acc = (f"measured test accuracy <b>{row['test_acc']:.3f}</b>" if row.get("test_acc") is not None
           else "not trained in this notebook")
    bar = (f"<div style='background:#ddd;width:300px'><div style='background:#1f77b4;height:10px;"
           f"width:{max(1, round(300 * share))}px'></div></div>")
    return (f"k = {row['k']} stages fine-tuned: <b>{row['trainable']:,}</b> of {row['total']:,} parameters "
            f"trainable ({share:.1%}); {acc}{bar}")


def stages_slider(rows):
    """A slider for the number k of fine-tuned stages (notebook 04): trainable parameters and measured accuracy.

    rows: one dict per k, ``{"k", "trainable", "total", "test_acc"}`` (test_acc None
    where no run was made); nothing trains when the slider moves. Returns a VBox
    whose ``slider`` is the IntSlider and ``info`` the HTML it updates.
    """
    by_k = {row["k"]: row for row in rows}
    slider = widgets.IntSlider(min(by_k), min(by_k), max(by_k), description="k stages")
    info = widgets.HTML()

    def show(change=None):
        info.value = _stage_text(by_k[slider.value])

    slider.observe(show, names="value")
    show()
    box = widgets.VBox([slider, info])
    box.slider, box.info = slider, info
    return box


def stages_figure(rows, title="Fine-tuning the last k stages"):
    """The static version of :func:`stages_slider`: trainable parameters and measured accuracy against k."""
    fig, ax = plt.subplots(figsize=(6, 3))
    ks = [row["k"] for row in rows]
    ax.bar(ks, [row["trainable"] for row in rows], color="tab:blue", alpha=0.6)
    ax.set(yscale="log", xlabel="k (stages fine-tuned)", ylabel="trainable parameters", title=title)
    for row in rows:
        if row.get("test_acc") is not None:
            ax.annotate(f"test {row['test_acc']:.3f}", (row["k"], row["trainable"]), ha="center",
                        xytext=(0, 3), textcoords="offset points", fontsize=8)
    fig.tight_layout()
    return fig
