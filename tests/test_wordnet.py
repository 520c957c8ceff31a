"""utils.wordnet on the real WordNet 3.0 files (Debian's wordnet-base, installed by .ci/run):
ImageNet's ids."""

import os
import zipfile

import pytest

from utils import wordnet


@pytest.fixture(scope="module")
def wn():
    try:
        return wordnet.load()
    except wordnet.WordNetUnavailable as err:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{err} (.ci/run installs wordnet-base)")
        pytest.skip(f"{err}; CI fails here instead of skipping")


def test_imagenet_classes_are_their_synsets(wn):
    """torchvision's category names map to ImageNet's own WordNet ids (n + offset), e.g. tabby
    n02123045."""
    ids = {
        "tabby": 2123045,
        "Egyptian cat": 2124075,
        "beagle": 2088364,
        "Persian cat": 2123394,
        "golden retriever": 2099601,
    }
    assert {name: wn.imagenet_synset(name) for name in ids} == ids
    assert wn.imagenet_synset("no such thing here") is None


def test_hypernym_path_climbs_to_entity(wn):
    path = [wn.lemmas(o)[0] for o in wn.path(wn.imagenet_synset("beagle"))]
    assert path[0] == "beagle" and path[-1] == "entity"
    assert path.index("dog") < path.index("mammal") < path.index("animal") < path.index("organism")
    tabby = wn.imagenet_synset("tabby")
    assert (
        "fabric" not in wn.gloss(tabby)
        and wn.under(tabby, "domestic cat")
        and not wn.under(tabby, "dog")
    )


def test_nltk_zip_is_read_like_a_folder(wn, tmp_path, monkeypatch):
    """nltk.download('wordnet') leaves corpora/wordnet.zip: the same files inside a zip."""
    src = wordnet.DEBIAN if wordnet._read(wordnet.DEBIAN) else None
    if src is None:
        pytest.skip("the zip case is built from Debian's folder, absent here")
    (tmp_path / "corpora").mkdir()
    with zipfile.ZipFile(tmp_path / "corpora" / "wordnet.zip", "w") as z:
        for f in wordnet._FILES:
            z.write(src / f, f"wordnet/{f}")
    monkeypatch.delenv("WORDNET_DIR", raising=False)
    monkeypatch.setattr(wordnet, "DEBIAN", tmp_path / "none")
    monkeypatch.setattr(wordnet, "NLTK_DIRS", (tmp_path,))
    zipped = wordnet.load()
    assert zipped.source.endswith("wordnet.zip") and zipped.imagenet_synset("beagle") == 2088364


def test_missing_wordnet_says_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("WORDNET_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(wordnet, "DEBIAN", tmp_path / "debian")
    monkeypatch.setattr(wordnet, "NLTK_DIRS", (tmp_path / "nltk",))
    monkeypatch.setattr(wordnet, "_nltk_download", lambda: False)  # as offline, or without NLTK
    with pytest.raises(wordnet.WordNetUnavailable) as err:
        wordnet.load(fetch=True)
    assert str(tmp_path / "empty") in str(err.value) and "wordnet-base" in str(err.value)
    assert "nltk.download('wordnet')" in str(err.value)


def test_imagenet_classes_counted_by_their_ids(wn):
    """Issue 27 §4: ILSVRC-2012 has 118 dog classes and 5 domestic-cat classes; matching by name
    found 116 and 4."""
    ids = wordnet.imagenet_ids()
    assert (
        len(ids) == len(set(ids)) == 1000 and ids[281] == 2123045 and ids[162] == 2088364
    )  # tabby, beagle
    assert sum(wn.under(o, "dog") for o in ids) == 118
    cats = [wn.lemmas(o)[0] for o in ids if wn.under(o, "domestic cat")]
    assert cats == ["tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"], cats
