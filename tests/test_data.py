"""utils.data on the real Oxford-IIIT Pet mirror: counts, labels, quirks, errors, cache."""

import hashlib
import os
import shutil
import time

import numpy as np
import pytest
from conftest import read_split
from PIL import Image

from utils import data


@pytest.mark.parametrize("split", data.SPLITS)
def test_counts_and_labels_match_annotation_files(pets_root, split):
    ids, species = read_split(pets_root, split)
    ds = data.pets_dataset(split)
    assert ds.names == ids
    assert ds.targets == [s - 1 for s in species]  # species 1 cat -> 0, 2 dog -> 1
    X, y = data.pets_arrays(split, size=8)
    assert X.shape == (len(ids), 8, 8) and X.dtype == np.float32
    assert 0.0 <= X.min() and X.max() <= 1.0
    assert y.tolist() == [+1 if s == 1 else -1 for s in species]
    assert 0 < (y == 1).sum() < len(y)  # both classes present


def test_every_image_is_rgb_whatever_its_file(pets_root):
    """The mirror has non-RGB files (RGBA PNG, palette) among the labelled images."""
    ds = data.pets_dataset("trainval")
    odd = [i for i, p in enumerate(ds._images) if Image.open(p).mode != "RGB"]
    odd_test = data.pets_dataset("test")
    odd += [("test", i) for i, p in enumerate(odd_test._images) if Image.open(p).mode != "RGB"]
    assert odd, "the mirror should contain at least one labelled non-RGB image"
    for item in odd:
        dataset, i = (odd_test, item[1]) if isinstance(item, tuple) else (ds, item)
        image, label = dataset[i]
        assert image.mode == "RGB" and label in (0, 1)


def test_unlisted_files_are_never_loaded(pets_root):
    """A GIF saved as .jpg and an unlabelled image sit in images/ but in no list."""
    on_disk = {p.stem for p in (pets_root / "oxford-iiit-pet" / "images").iterdir()}
    listed = set(data.pets_dataset("trainval").names) | set(data.pets_dataset("test").names)
    unlisted = on_disk - listed
    assert unlisted, "the mirror should contain files that no annotation list names"
    gif = [
        s
        for s in unlisted
        if Image.open(pets_root / "oxford-iiit-pet" / "images" / f"{s}.jpg").format == "GIF"
    ]
    assert gif, "the GIF-named-.jpg quirk should be among the unlisted files"


def _copy_root(pets_root, tmp_path):
    """A writable copy of the mirror: annotations copied, images symlinked."""
    src = pets_root / "oxford-iiit-pet"
    dst = tmp_path / "oxford-iiit-pet"
    shutil.copytree(src / "annotations", dst / "annotations")
    (dst / "images").mkdir()
    for p in (src / "images").iterdir():
        (dst / "images" / p.name).symlink_to(p)
    return tmp_path


def test_unreadable_image_is_a_counted_named_warning(pets_root, tmp_path):
    root = _copy_root(pets_root, tmp_path)
    ids, species = read_split(root, "test")
    victim = ids[3]
    path = root / "oxford-iiit-pet" / "images" / f"{victim}.jpg"
    raw = path.read_bytes()
    path.unlink()
    path.write_bytes(raw[: len(raw) // 3])  # a truncated JPEG
    with pytest.warns(data.UnreadableImageWarning, match=rf"1 unreadable image.*{victim}"):
        X, y = data.pets_arrays("test", size=8, root=root)
    expected = [+1 if s == 1 else -1 for i, s in zip(ids, species) if i != victim]
    assert y.tolist() == expected and len(X) == len(ids) - 1


def test_missing_data_error_names_every_place(tmp_path, monkeypatch):
    monkeypatch.setenv("PTM_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setattr(data, "REPO_DATA", tmp_path / "repo-data")
    with pytest.raises(data.DataNotFoundError) as err:
        data.find_root()
    message = str(err.value)
    assert "$PTM_DATA" in message and str(tmp_path / "nowhere") in message
    assert str(tmp_path / "repo-data") in message and "make data" in message
    with pytest.raises(data.DataNotFoundError, match="root argument"):
        data.pets_arrays("test", 8, root=tmp_path / "empty")


def test_root_order_argument_then_env(pets_root, tmp_path, monkeypatch):
    monkeypatch.setenv("PTM_DATA", str(pets_root))
    assert data.find_root() == pets_root
    with pytest.raises(data.DataNotFoundError):  # an explicit argument wins over PTM_DATA
        data.find_root(tmp_path)


def test_arrays_are_cached_by_content(pets_root, tmp_path, monkeypatch):
    monkeypatch.setenv("PTM_CACHE", str(tmp_path / "cache"))
    t0 = time.perf_counter()
    X1, y1 = data.pets_arrays("test", size=12)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    X2, y2 = data.pets_arrays("test", size=12)
    second = time.perf_counter() - t0
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert len(list((tmp_path / "cache" / "arrays").glob("*.pt"))) == 1
    assert second < first / 3, (first, second)
    # changed content -> a new entry, never the stale one
    root = _copy_root(pets_root, tmp_path / "copy")
    ids, _ = read_split(root, "test")
    img = root / "oxford-iiit-pet" / "images" / f"{ids[0]}.jpg"
    flipped = Image.open(img).convert("RGB").transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    img.unlink()
    flipped.save(img, format="JPEG")
    X3, _ = data.pets_arrays("test", size=12, root=root)
    assert len(list((tmp_path / "cache" / "arrays").glob("*.pt"))) == 2
    assert not np.array_equal(X3[0], X1[0]) and np.array_equal(X3[1:], X1[1:])


def test_an_entry_is_computed_once_when_two_need_it_at_the_same_time(tmp_path, monkeypatch):
    """Two notebooks (or test processes) asking for the same features: one computes, the other waits
    and loads."""
    from concurrent.futures import ThreadPoolExecutor

    from utils import cache

    monkeypatch.setenv("PTM_CACHE", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        time.sleep(1.0)  # long enough for the second caller to arrive while the first computes
        return {"X": np.arange(3)}

    with ThreadPoolExecutor(2) as pool:
        results = list(
            pool.map(lambda _: cache.load_or_compute("features", "same", compute), range(2))
        )
    assert len(calls) == 1, "the second caller computed the entry again instead of waiting for it"
    assert all(np.array_equal(r["X"], np.arange(3)) for r in results)
    assert [p.name for p in (tmp_path / "features").glob("*.pt")] == ["same.pt"]


def test_bad_split_and_size_are_clear_errors():
    with pytest.raises(ValueError, match="split must be one of"):
        data.pets_dataset("train")
    with pytest.raises(ValueError, match="positive int"):
        data.pets_arrays("test", size=0)


# --- the course subset, selected by name from any copy -------------------------------------------

EXTRA_PER_BREED = 60  # 37 breeds x 60 = 2,220 extra files, like a full download's other images


@pytest.fixture(scope="module")
def full_download(pets_root, tmp_path_factory):
    """A synthetic full torchvision download: every mirror file hard-linked, plus 2,220 more
    official-style names (<Breed>_<n>.jpg) and official-style lists whose split is not the
    course's."""
    src = pets_root / "oxford-iiit-pet"
    root = tmp_path_factory.mktemp("full-download")
    images = root / "oxford-iiit-pet" / "images"
    images.mkdir(parents=True)
    for p in (src / "images").iterdir():
        os.link(p, images / p.name)
    rows = [
        line
        for line in (src / "annotations" / "list.txt").read_text().splitlines()
        if not line.startswith("#")
    ]
    by_breed = {}
    for line in rows:
        name = line.split()[0]
        by_breed.setdefault(name.rsplit("_", 1)[0], []).append(line.split())
    for breed, entries in by_breed.items():
        for k in range(EXTRA_PER_BREED):
            model = entries[k % len(entries)]
            name = f"{breed}_{1000 + k}"
            os.link(src / "images" / f"{model[0]}.jpg", images / f"{name}.jpg")
            rows.append(" ".join([name] + model[1:]))
    ordered = sorted(
        rows, key=lambda line: hashlib.md5(line.encode()).hexdigest()
    )  # not the course split
    ann = root / "oxford-iiit-pet" / "annotations"
    ann.mkdir()
    header = (
        "#Image CLASS-ID SPECIES BREED ID\n#ID: 1:37 Class ids\n#SPECIES: 1:Cat 2:Dog\n"
        "#BREED ID: 1-25:Cat 1:12:Dog\n"
    )
    (ann / "list.txt").write_text(header + "\n".join(sorted(rows)) + "\n")
    (ann / "trainval.txt").write_text("\n".join(ordered[: len(ordered) // 2]) + "\n")
    (ann / "test.txt").write_text("\n".join(ordered[len(ordered) // 2 :]) + "\n")
    return root


def test_course_subset_is_the_same_on_a_full_download(
    pets_root, full_download, tmp_path, monkeypatch
):
    ann = full_download / "oxford-iiit-pet" / "annotations"
    assert len(list((full_download / "oxford-iiit-pet" / "images").iterdir())) >= 940 + 2000
    official, _ = read_split(full_download, "trainval")
    course, _ = read_split(pets_root, "trainval")
    assert set(course) - set(official), (
        "the synthetic official split should differ from the course split"
    )
    expected = {
        split: data.pets_arrays(split, size=8) for split in data.SPLITS
    }  # the build machines' copy
    monkeypatch.setenv(
        "PTM_CACHE", str(tmp_path / "fresh-cache")
    )  # computed again, never a cache hit
    for split in data.SPLITS:
        ds = data.pets_dataset(split, root=full_download)
        assert ds.names == read_split(pets_root, split)[0]
        X, y = data.pets_arrays(split, size=8, root=full_download)
        assert np.array_equal(X, expected[split][0]) and np.array_equal(y, expected[split][1]), (
            split
        )
    full = data.pets_dataset("trainval", root=full_download, subset="full")
    assert full.names == official and len(full) > len(expected["trainval"][1])
    X_full, y_full = data.pets_arrays("test", size=8, root=full_download, subset="full")
    assert len(y_full) == len(read_split(full_download, "test")[0]) > len(expected["test"][1])
    assert (ann / "trainval.txt").is_file()


def test_missing_course_images_are_counted_and_named(pets_root, tmp_path):
    root = _copy_root(pets_root, tmp_path)
    ids, _ = read_split(pets_root, "test")
    gone = ids[10:17]
    for name in gone:
        (root / "oxford-iiit-pet" / "images" / f"{name}.jpg").unlink()
    with pytest.raises(data.MissingImagesError) as err:
        data.pets_arrays("test", size=8, root=root)
    message = str(err.value)
    assert f"7 of the {len(ids)} course images of 'test' are missing" in message
    assert all(f"{name}.jpg" in message for name in gone[:5]) and gone[5] not in message
    assert "make data" in message
    data.pets_dataset("trainval", root=root)  # the other split is complete: no error


def test_course_counts_read_the_split_lists(pets_root):
    counts = data.course_counts()
    for split in data.SPLITS:
        ids, species = read_split(pets_root, split)
        assert counts[split] == {"n": len(ids), "cat": species.count(1), "dog": species.count(2)}


def test_bad_subset_is_a_clear_error():
    with pytest.raises(ValueError, match="subset must be one of"):
        data.pets_arrays("test", size=8, subset="all")
