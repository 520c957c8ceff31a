"""utils.widgets: each widget's callbacks driven directly, on real cached data."""

import base64
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
    return widgets.OlsExplorer(
        _phi,
        _ridge,
        _predict,
        _accuracy,
        np.sort(order[n // 5 :]),
        np.sort(order[: n // 5]),
        sizes=(4, 8, 16, 32),
        s=8,
        lam=1.0,
    )


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
    explorer = widgets.OlsExplorer(
        _phi, todo, _predict, _accuracy, idx[100:], idx[:100], sizes=(4, 8), s=4
    )
    assert "to do: fit_ridge" in explorer.status.value
    png = explorer.image.value
    explorer.size.value = 8  # the image panel still follows s
    assert explorer.image.value != png


def _one_output(shown, widget_type):
    """What the notebook's cell shows: ONE mimebundle holding the live view and the PNG still (never
    two outputs)."""
    bundle = shown._repr_mimebundle_()
    assert set(bundle) == {widgets.WIDGET_MIME, "image/png", "text/plain"}, set(bundle)
    view = bundle[widgets.WIDGET_MIME]
    assert view == {"version_major": 2, "version_minor": 0, "model_id": shown.widget.model_id}
    assert base64.b64decode(bundle["image/png"])[:4] == b"\x89PNG"
    assert isinstance(shown.widget, widget_type)
    assert not hasattr(shown, "_ipython_display_"), (
        "the widget's own display hook would show it without the still"
    )


def test_ols_explorer_function_shows_the_still_only_without_a_kernel(pets_root, monkeypatch):
    idx = np.arange(_n_trainval())
    _one_output(
        widgets.ols_explorer(_phi, _ridge, _predict, _accuracy, idx[100:], idx[:100], sizes=(4, 8)),
        widgets.ipw.VBox,
    )


# --- notebook 02 ----------------------------------------------------------------


def test_kernel_editor_boxes_presets_and_pet_redraw():
    images = np.random.default_rng(0).uniform(size=(4, 32, 32))
    editor = widgets.KernelEditor(images, np.array([1, -1, 1, -1]))
    assert np.array_equal(editor.kernel, np.array([[1, 0, -1]] * 3))
    png = editor.image.value
    editor.preset.value = "Laplacian"
    assert (
        np.array_equal(editor.kernel, np.array(widgets.KERNEL_PRESETS["Laplacian"]))
        and editor.image.value != png
    )
    png = editor.image.value
    editor.cells[4].value = 2.0  # typing a number makes the kernel custom and redraws
    assert (
        editor.preset.value == "custom" and editor.kernel[1, 1] == 2.0 and editor.image.value != png
    )
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
    widgets.KernelEditor(np.zeros((2, 16, 16)))
    assert np.array_equal(drawn[-1], np.array([[0, 30, 30, 0]] * 4))  # the note's §2.1 numbers


def test_kernel_editor_function_shows_the_still_only_without_a_kernel():
    _one_output(widgets.kernel_editor(np.zeros((2, 16, 16))), widgets.ipw.VBox)


def test_a_static_page_shows_the_still_and_a_live_page_the_widget():
    """nbconvert's HTML (a static renderer: no widget state saved) shows the PNG, once; the live
    view needs a kernel.

    The output is what IPython's display formatter makes of the cell's value, as a kernel would send
    it."""
    import nbformat
    from IPython.core.formatters import DisplayFormatter
    from nbconvert import HTMLExporter

    still = widgets.Figure(figsize=(1, 1))
    still.subplots().plot([0, 1])
    shown = widgets.with_still(widgets.ipw.IntSlider(3), still)
    data, _ = DisplayFormatter().format(shown)
    assert data[widgets.WIDGET_MIME]["model_id"] == shown.widget.model_id and "image/png" in data
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "shown",
                outputs=[nbformat.v4.new_output("execute_result", data=data, execution_count=1)],
            )
        ]
    )
    page, _ = HTMLExporter().from_notebook_node(nb)
    assert (
        page.count(f"data:image/png;base64,{data['image/png'][:64]}") == 1
        and "widget-view+json" not in page
    )


# --- notebook 03 ----------------------------------------------------------------

import datetime as _dt
import io as _io

import pytest


@pytest.fixture(scope="module")
def lite0_and_head():
    """The offline backbone and a seeded 2-class head on its features (the classifier notebook 03
    trains)."""
    import torch
    from torch import nn

    from utils import models

    backbone = models.load_backbone("efficientnet_lite0")
    torch.manual_seed(0)
    return backbone, nn.Linear(backbone.num_features, 2)


def _jpeg_bytes(image):
    buffer = _io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


MS_2026 = 1767225600000  # 2026-01-01, as the browser sends lastModified (ms since the epoch)


def _uploaded_v8(content, name):
    """FileUpload.value in ipywidgets 8: a tuple of dicts."""
    return (
        {
            "name": name,
            "type": "image/jpeg",
            "size": len(content),
            "content": memoryview(content),
            "last_modified": _dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc),
        },
    )


def _uploaded_v7(content, name):
    """FileUpload.value in ipywidgets 7 (Colab's 7.7.1): a dict keyed by file name."""
    return {
        name: {
            "metadata": {
                "name": name,
                "type": "image/jpeg",
                "size": len(content),
                "lastModified": MS_2026,
            },
            "content": content,
        }
    }


def _choose_file(upload, content, name):
    """What the front end sends when a file is chosen, in the installed ipywidgets' own message
    format."""
    if widgets.ipw.__version__.startswith("7."):
        upload.set_state(
            {
                "metadata": [
                    {
                        "name": name,
                        "type": "image/jpeg",
                        "size": len(content),
                        "lastModified": MS_2026,
                    }
                ],
                "data": [memoryview(content)],
                "_counter": upload._counter + 1,
            }
        )
    else:
        upload.set_state(
            {
                "value": [
                    {
                        "name": name,
                        "type": "image/jpeg",
                        "size": len(content),
                        "content": memoryview(content),
                        "last_modified": MS_2026,
                    }
                ]
            }
        )


def test_photo_probabilities_match_the_dataset_pipeline(pets_root, lite0_and_head):
    """A real pets file, uploaded as bytes, gets the probabilities of the same image through the
    dataset's transform."""
    import torch

    from utils import data, widgets

    backbone, head = lite0_and_head
    ds = data.pets_dataset("test", transform=backbone.transform)
    path = next((pets_root / "oxford-iiit-pet" / "images").glob(f"{ds.names[0]}.jpg"))
    scale = lambda f: (f - 1.0) * 2.0  # noqa: E731
    probs = widgets.photo_probabilities(path.read_bytes(), backbone, head, scale, path.name)
    with torch.inference_mode():
        expected = torch.softmax(head(scale(backbone.features(ds[0][0].unsqueeze(0)))), 1)[0]
    assert set(probs) == {"cat", "dog"} and abs(sum(probs.values()) - 1) < 1e-5
    assert abs(probs["cat"] - float(expected[0])) < 1e-4, (probs, expected)


def test_photo_probabilities_rejects_a_non_image(lite0_and_head):
    from utils import widgets

    with pytest.raises(ValueError, match="notes.txt.*upload a photo"):
        widgets.photo_probabilities(b"not an image at all", *lite0_and_head, name="notes.txt")


@pytest.mark.parametrize("fmt", [_uploaded_v7, _uploaded_v8])
def test_uploaded_files_reads_both_formats_of_the_value(fmt):
    assert widgets.uploaded_files(fmt(b"\xff\xd8 jpeg", "cat.jpg")) == [
        ("cat.jpg", b"\xff\xd8 jpeg")
    ]
    assert widgets.uploaded_files({} if fmt is _uploaded_v7 else ()) == []


def test_pet_upload_shows_the_prediction_and_errors(pets_root):
    from utils import data, widgets

    seen = []

    def predict(content, name):
        seen.append((name, content[:2]))
        return {"cat": 0.25, "dog": 0.75}

    box = widgets.pet_upload(predict)
    before = box.result.value
    image = data.pets_dataset("test")[0][0]
    _choose_file(box.upload, _jpeg_bytes(image), "my dog.jpg")
    assert seen == [("my dog.jpg", b"\xff\xd8")] and box.result.value != before
    assert (
        "dog" in box.result.value
        and "75.0%" in box.result.value
        and "my dog.jpg" in box.result.value
    )

    def refuse(content, name):
        raise ValueError(f"could not read {name} as an image: upload a photo")

    box = widgets.pet_upload(refuse)
    _choose_file(box.upload, b"garbage", "<b>x</b>.txt")
    assert "could not read" in box.result.value and "<b>x</b>" not in box.result.value  # escaped


def test_pet_upload_predicts_a_jpeg_and_names_a_non_image(pets_root, lite0_and_head):
    """The notebook's own wiring (photo_probabilities behind the box), through the front end's
    message."""
    from utils import data, widgets

    backbone, head = lite0_and_head
    box = widgets.pet_upload(
        lambda content, name: widgets.photo_probabilities(content, backbone, head, None, name)
    )
    _choose_file(box.upload, _jpeg_bytes(data.pets_dataset("test")[0][0]), "pet.jpg")
    assert re.search(
        r"<b>pet\.jpg</b>: (cat|dog) \(cat \d+\.\d%, dog \d+\.\d%\)", box.result.value
    ), box.result.value
    _choose_file(box.upload, b"just some notes", "notes.txt")
    assert "could not read notes.txt as an image" in box.result.value


def test_misclassified_browser_slider_changes_the_image(pets_root):
    import torch

    from utils import data, widgets

    ds = data.pets_dataset("test")
    y = torch.tensor(ds.targets[:6])
    probs = torch.stack([1 - y.float(), y.float()], 1) * 0.8 + 0.1  # all right ...
    probs[[1, 4]] = probs[[1, 4]].flip(1)  # ... but two, wrong with 90%
    probs[4] = torch.tensor([0.6, 0.4]) if y[4] == 1 else torch.tensor([0.4, 0.6])
    box = widgets.misclassified_browser(lambda i: ds[i][0], y, probs, min_shown=2)
    assert box.shown == [1, 4], box.shown  # the most confident mistake first
    slider, caption, picture = box.children[1:]
    first = (caption.value, picture.value)
    slider.value = 1
    assert "#4" in caption.value and (caption.value, picture.value) != first
    assert "2 of 6" in box.children[0].value
    one_wrong = probs.clone()
    one_wrong[4] = one_wrong[4].flip(0)  # now only #1 is wrong
    box = widgets.misclassified_browser(lambda i: ds[i][0], y, one_wrong, min_shown=3)
    assert box.shown[0] == 1 and len(box.shown) == 3, box.shown  # a single mistake still browses
    box.children[1].value = 2
    assert "right, but unsure" in box.children[2].value


# --- notebook 04 ----------------------------------------------------------------


def _rows():
    return [
        {"k": 0, "trainable": 2562, "total": 3_400_000, "test_acc": 0.99},
        {"k": 1, "trainable": 400_000, "total": 3_400_000, "test_acc": None},
        {"k": 2, "trainable": 1_200_000, "total": 3_400_000, "test_acc": 0.985},
    ]


def test_stages_figure_labels_each_measured_k():
    from utils import widgets

    fig = widgets.stages_figure(_rows())
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["test 0.990", "test 0.985"]
    rows = [dict(row, val_acc=acc) for row, acc in zip(_rows(), (0.95, None, 0.99))]
    fig = widgets.stages_figure(rows)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["val 0.950\ntest 0.990", "val 0.990\ntest 0.985"]
    assert [int(t) for t in fig.axes[0].get_xticks()] == [0, 1, 2]
