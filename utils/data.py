"""Cats and dogs from the Oxford-IIIT Pet dataset (introduced in notebook 01).

The images are read with ``torchvision.datasets.OxfordIIITPet`` and
``target_types="binary-category"`` (torchvision's labels: 0 = cat, 1 = dog).
The module works on a fixed **course subset**: the 938 labelled images listed,
with their trainval/test split, in ``data/splits/{trainval,test}.txt`` (official
annotation format). They are picked by file name from whatever copy of the
dataset is present (the build machines' copy, a full torchvision download,
Colab), so every student sees the same images and the same numbers.
``subset="full"`` opts into every image of the copy's own (official) split.

Nothing here downloads: the data root is found in this order

1. the ``root`` argument,
2. the environment variable ``PTM_DATA`` (the folder that holds ``oxford-iiit-pet/``),
3. the repository's ``data/`` folder, where ``make data`` downloads it.

Dataset: O. M. Parkhi, A. Vedaldi, A. Zisserman, C. V. Jawahar, "Cats and Dogs",
IEEE CVPR 2012. Images under CC BY-SA 4.0; copyright stays with their owners.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps

if TYPE_CHECKING:  # the class itself is imported only where images are read
    from .pets import PetsBinary

from . import cache
from .images import (
    MissingImagesError,
    UnreadableImageWarning,  # noqa: F401 (public here)
    course_list,
    missing_message,
    read_list,
    stat_key,
)

REPO_DATA = Path(__file__).resolve().parent.parent / "data"
SPLITS = ("trainval", "test")
SUBSETS = ("course", "full")
CAT, DOG = +1, -1  # the note's convention for OLS: y = +1 cat, -1 dog
_FOLDER = "oxford-iiit-pet"
_GET_DATA = (
    "run `make data` (downloads into data/) or set PTM_DATA to the folder that contains "
    "oxford-iiit-pet/"
)


class DataNotFoundError(FileNotFoundError):
    """No Oxford-IIIT Pet data in any of the places looked at."""


def _has_pets(folder: Path) -> bool:
    base = folder / _FOLDER
    return (base / "images").is_dir() and (base / "annotations" / "trainval.txt").is_file()


def find_root(root=None) -> Path:
    """Return the folder that contains ``oxford-iiit-pet/`` (notebook 01).

    Looks at ``root`` alone when it is given; otherwise at ``$PTM_DATA`` (when
    set), then at the repo's ``data/``. The error names every place looked at.
    """
    if root is not None:
        places = [("the root argument", Path(root))]
    else:
        places = [("$PTM_DATA", Path(os.environ["PTM_DATA"]))] if os.environ.get("PTM_DATA") else []
        places.append(("the repo's data/ folder", REPO_DATA))
    for _, folder in places:
        if _has_pets(folder.expanduser()):
            return folder.expanduser().resolve()
    looked = "; ".join(f"{why}: {folder / _FOLDER}" for why, folder in places)
    raise DataNotFoundError(
        f"no Oxford-IIIT Pet data found (looked in {looked}). To get it, {_GET_DATA}."
    )


def course_counts() -> dict[str, dict[str, int]]:
    """Size of the course subset per split, read from its lists:
    ``{"trainval": {"n", "cat", "dog"}, ...}``.

    Needs no image (used by ``make demo`` and the notebooks' text)."""
    counts = {}
    for split in SPLITS:
        species = [s for _, _, s in read_list(course_list(split))]
        counts[split] = {"n": len(species), "cat": species.count(1), "dog": species.count(2)}
    return counts


def check_course(root=None) -> Path:
    """The data root, once every course image of both splits is there (else
    :class:`MissingImagesError`).

    Cheap (file names only); the setup cell uses it to say whether the data is ready."""
    found = find_root(root)
    images = found / _FOLDER / "images"
    for split in SPLITS:
        names = [f"{name}.jpg" for name, _, _ in read_list(course_list(split))]
        missing = [n for n in names if not (images / n).is_file()]
        if missing:
            raise MissingImagesError(missing_message(missing, len(names), split, images))
    return found


def _check_subset(split, subset):
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if subset not in SUBSETS:
        raise ValueError(
            f"subset must be one of {SUBSETS} ('course': the course's images, the same "
            f"everywhere; 'full': every image of the official split), got {subset!r}"
        )


def pets_dataset(
    split="trainval", transform=None, root=None, draft=None, subset="course"
) -> "PetsBinary":
    """Torch dataset of (image, label) with label 0 = cat, 1 = dog (notebooks 03-04).

    ``transform`` is usually a backbone's own preprocessing, e.g.
    ``models.load_backbone().transform``, giving float32 tensors (3, 224, 224).
    ``subset="course"`` (default) gives the course subset; ``"full"`` every image of
    the official ``split`` in the copy found (larger and slower: for the curious).
    """
    _check_subset(split, subset)
    from .pets import PetsBinary  # torchvision's import (seconds of CPU) only where images are read

    return PetsBinary(find_root(root), split=split, transform=transform, draft=draft, subset=subset)


_HASH_CACHE: dict = {}


def content_hash(dataset: "PetsBinary") -> str:
    """SHA-256 of the split's annotation list and the bytes of every image in it."""
    ann = Path(dataset.ann_file)
    memo = (str(ann), stat_key(ann)) + tuple((str(p), stat_key(p)) for p in dataset._images)
    if memo not in _HASH_CACHE:
        _HASH_CACHE[memo] = _hash_files(ann, dataset._images)
    return _HASH_CACHE[memo]


def _hash_files(ann: Path, images) -> str:
    h = hashlib.sha256()
    h.update(ann.read_bytes())
    for path in images:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _to_gray_square(img: Image.Image, size: int) -> np.ndarray:
    """Centre-crop to a square, resize to size x size, grayscale in [0, 1]."""
    img = ImageOps.fit(img, (size, size), Image.Resampling.BILINEAR)
    return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


def pets_arrays(split="trainval", size=16, root=None, subset="course"):
    """Grayscale s x s images and ±1 labels as NumPy arrays (notebook 01, note §1.1).

    Returns ``X``: float32 array of shape (n, s, s) with values in [0, 1], and
    ``y``: int64 array of shape (n,), +1 for a cat and -1 for a dog.
    Cached on disk under a key made from the images' content, so a second
    call with the same split and size is fast. ``subset`` as in :func:`pets_dataset`.
    """
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(
            f"size must be a positive int (the side s of an s x s image), got {size!r}"
        )
    _check_subset(split, subset)
    ds = pets_dataset(split, root=root, draft=max(2 * size, 32), subset=subset)
    key = cache.key("pets_arrays-v1", content_hash(ds), split, int(size))

    def compute():
        X = np.stack([_to_gray_square(ds.load_rgb(i), size) for i in range(len(ds))])
        y = np.where(np.asarray(ds.targets) == 0, CAT, DOG).astype(np.int64)
        return {"X": X, "y": y}

    arrays = cache.load_or_compute("arrays", key, compute)
    return arrays["X"], arrays["y"]


def breed_of(name: str) -> str:
    """The breed in an Oxford-IIIT Pet image name: ``"american_bulldog_12"``
    -> ``"american_bulldog"``."""
    return name.rsplit("_", 1)[0]


def breeds(split="trainval") -> list[str]:
    """The breed of every image of the course ``split``, in the order of :func:`pets_arrays`
    (notebook 01).

    Read from the course list alone (no image): the same order as ``pets_arrays(split)``'s rows and
    ``pets_dataset(split)``'s items."""
    _check_subset(split, "course")
    return [breed_of(name) for name, _, _ in read_list(course_list(split))]


def composition() -> list[dict]:
    """How many images each breed holds in each split of the course subset (notebook 01).

    One dict per breed, the largest first:
    ``{"breed", "species" ("cat"/"dog"), "trainval", "test"}``."""
    rows = {}
    for split in SPLITS:
        for name, _, species in read_list(course_list(split)):
            row = rows.setdefault(
                breed_of(name),
                {
                    "breed": breed_of(name),
                    "species": ("cat", "dog")[species - 1],
                    **{s: 0 for s in SPLITS},
                },
            )
            row[split] += 1
    return sorted(rows.values(), key=lambda r: (-(r["trainval"] + r["test"]), r["breed"]))


def big_breeds() -> list[str]:
    """The breeds that hold far more images than the others: more than twice the median count
    (notebook 01).

    Computed from :func:`composition`; empty when every breed has about as many images."""
    totals = [r["trainval"] + r["test"] for r in composition()]
    median = float(np.median(totals))
    return [r["breed"] for r in composition() if r["trainval"] + r["test"] > 2 * median]


def breed_groups(split="trainval") -> np.ndarray:
    """For every image of ``split`` (order of :func:`pets_arrays`), its group: ``"N big breeds"`` or
    ``"M other breeds"`` (:func:`big_breeds`). str array of shape (n,), for per-group accuracies
    (notebooks 01-03)."""
    big = set(big_breeds())
    n_other = len(composition()) - len(big)
    names = (f"{len(big)} big breeds", f"{n_other} other breeds")
    return np.array([names[0] if b in big else names[1] for b in breeds(split)])
