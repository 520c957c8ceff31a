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

import numpy as np
from PIL import Image, ImageOps

from . import cache

REPO_DATA = Path(__file__).resolve().parent.parent / "data"
COURSE_SPLITS = REPO_DATA / "splits"  # the course subset: <split>.txt, official annotation format
SPLITS = ("trainval", "test")
SUBSETS = ("course", "full")
CAT, DOG = +1, -1  # the note's convention for OLS: y = +1 cat, -1 dog
_FOLDER = "oxford-iiit-pet"
_GET_DATA = "run `make data` (downloads into data/) or set PTM_DATA to the folder that contains oxford-iiit-pet/"


class DataNotFoundError(FileNotFoundError):
    """No Oxford-IIIT Pet data in any of the places looked at."""


class MissingImagesError(FileNotFoundError):
    """A copy of the dataset lacks some images of the course subset."""


class UnreadableImageWarning(UserWarning):
    """Some images could not be decoded and were left out (never relabelled)."""


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
    raise DataNotFoundError(f"no Oxford-IIIT Pet data found (looked in {looked}). To get it, {_GET_DATA}.")


def open_rgb(path, draft=None) -> Image.Image:
    """Decode one image file as RGB (handles palette, RGBA, grayscale and GIF files)."""
    with Image.open(path) as img:
        if draft and img.format == "JPEG":
            img.draft("RGB", (draft, draft))
        return img.convert("RGB")


_BAD_CACHE: dict = {}


def _unreadable(paths: tuple) -> set[str]:
    """Names of files that fail to decode; a cheap reduced-size decode of each file."""
    key = tuple((str(p), _stat_key(p)) for p in paths)
    if key not in _BAD_CACHE:
        bad = set()
        for p in paths:
            try:
                open_rgb(p, draft=64)
            except Exception:  # PIL raises OSError, SyntaxError, ValueError... on broken files
                bad.add(p.name)
        _BAD_CACHE[key] = bad
    return _BAD_CACHE[key]


def _stat_key(path: Path):
    try:
        st = path.stat()
        return (st.st_size, st.st_mtime_ns)
    except OSError:
        return None


def read_list(ann_file) -> list[tuple[str, int, int]]:
    """(image name, CLASS-ID, SPECIES) per line of an official-format annotation list (1-based ids)."""
    rows = []
    for line in Path(ann_file).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, class_id, species = line.split()[:3]
            rows.append((name, int(class_id), int(species)))
    return rows


def course_list(split: str) -> Path:
    """The course subset's annotation list for ``split`` (``data/splits/<split>.txt``)."""
    path = COURSE_SPLITS / f"{split}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"the course split list {path} is missing: it ships with the course "
                                "repository (data/splits/); restore it with git")
    return path


def course_counts() -> dict[str, dict[str, int]]:
    """Size of the course subset per split, read from its lists: ``{"trainval": {"n", "cat", "dog"}, ...}``.

    Needs no image (used by ``make demo`` and the notebooks' text)."""
    counts = {}
    for split in SPLITS:
        species = [s for _, _, s in read_list(course_list(split))]
        counts[split] = {"n": len(species), "cat": species.count(1), "dog": species.count(2)}
    return counts


def check_course(root=None) -> Path:
    """The data root, once every course image of both splits is there (else :class:`MissingImagesError`).

    Cheap (file names only); the setup cell uses it to say whether the data is ready."""
    found = find_root(root)
    images = found / _FOLDER / "images"
    for split in SPLITS:
        names = [f"{name}.jpg" for name, _, _ in read_list(course_list(split))]
        missing = [n for n in names if not (images / n).is_file()]
        if missing:
            raise MissingImagesError(_missing_message(missing, len(names), split, images))
    return found


def _missing_message(missing, total, split, images) -> str:
    return (f"{len(missing)} of the {total} course images of '{split}' are missing from {images} "
            f"(first: {', '.join(missing[:5])}). This copy of Oxford-IIIT Pet is incomplete: delete "
            f"{images.parent} and run `make data` again (on Colab: re-run the setup cell), or set "
            "PTM_DATA to the folder that holds a complete oxford-iiit-pet/.")


def _check_subset(split, subset):
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS} ('course': the course's images, the same "
                         f"everywhere; 'full': every image of the official split), got {subset!r}")


def pets_dataset(split="trainval", transform=None, root=None, draft=None, subset="course") -> "PetsBinary":
    """Torch dataset of (image, label) with label 0 = cat, 1 = dog (notebooks 03-04).

    ``transform`` is usually a backbone's own preprocessing, e.g.
    ``models.load_backbone().transform``, giving float32 tensors (3, 224, 224).
    ``subset="course"`` (default) gives the course subset; ``"full"`` every image of
    the official ``split`` in the copy found (larger and slower: for the curious).
    """
    _check_subset(split, subset)
    from .pets import PetsBinary   # torchvision's import (2-3 s) only where images are read
    return PetsBinary(find_root(root), split=split, transform=transform, draft=draft, subset=subset)


_HASH_CACHE: dict = {}


def content_hash(dataset: "PetsBinary") -> str:
    """SHA-256 of the split's annotation list and the bytes of every image in it."""
    ann = Path(dataset.ann_file)
    memo = (str(ann), _stat_key(ann)) + tuple((str(p), _stat_key(p)) for p in dataset._images)
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
        raise ValueError(f"size must be a positive int (the side s of an s x s image), got {size!r}")
    _check_subset(split, subset)
    ds = pets_dataset(split, root=root, draft=max(2 * size, 32), subset=subset)
    key = cache.key("pets_arrays-v1", content_hash(ds), split, int(size))

    def compute():
        X = np.stack([_to_gray_square(ds.load_rgb(i), size) for i in range(len(ds))])
        y = np.where(np.asarray(ds.targets) == 0, CAT, DOG).astype(np.int64)
        return {"X": X, "y": y}

    arrays = cache.load_or_compute("arrays", key, compute)
    return arrays["X"], arrays["y"]
