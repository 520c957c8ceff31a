"""The course's image files on disk: split lists, decoding, and what is missing or unreadable
(notebook 01).

Shared by :mod:`utils.data` (arrays, the data root) and :mod:`utils.pets` (the torch dataset), which
both read the same files; a module of its own so that neither imports the other's internals.
``utils.data`` re-exports the public names (``data.open_rgb``, ``data.read_list``,
``data.MissingImagesError``...).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

COURSE_SPLITS = (
    Path(__file__).resolve().parent.parent / "data" / "splits"
)  # <split>.txt, official annotation format


class MissingImagesError(FileNotFoundError):
    """A copy of the dataset lacks some images of the course subset."""


class UnreadableImageWarning(UserWarning):
    """Some images could not be decoded and were left out (never relabelled)."""


def open_rgb(path, draft=None) -> Image.Image:
    """Decode one image file as RGB (handles palette, RGBA, grayscale and GIF files)."""
    with Image.open(path) as img:
        if draft and img.format == "JPEG":
            img.draft("RGB", (draft, draft))
        return img.convert("RGB")


_BAD_CACHE: dict = {}


def unreadable(paths: tuple) -> set[str]:
    """Names of files that fail to decode; a cheap reduced-size decode of each file."""
    key = tuple((str(p), stat_key(p)) for p in paths)
    if key not in _BAD_CACHE:
        bad = set()
        for p in paths:
            try:
                open_rgb(p, draft=64)
            except Exception:  # PIL raises OSError, SyntaxError, ValueError... on broken files
                bad.add(p.name)
        _BAD_CACHE[key] = bad
    return _BAD_CACHE[key]


def stat_key(path: Path):
    try:
        st = path.stat()
        return (st.st_size, st.st_mtime_ns)
    except OSError:
        return None


def read_list(ann_file) -> list[tuple[str, int, int]]:
    """(image name, CLASS-ID, SPECIES) per line of an official-format annotation list
    (1-based ids)."""
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
        raise FileNotFoundError(
            f"the course split list {path} is missing: it ships with the course "
            "repository (data/splits/); restore it with git"
        )
    return path


def missing_message(missing, total, split, images) -> str:
    return (
        f"{len(missing)} of the {total} course images of '{split}' are missing from {images} "
        f"(first: {', '.join(missing[:5])}). This copy of Oxford-IIIT Pet is incomplete: delete "
        f"{images.parent} and run `make data` again (on Colab: re-run the setup cell), or set "
        "PTM_DATA to the folder that holds a complete oxford-iiit-pet/."
    )
