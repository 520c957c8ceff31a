"""ImageNet's classes are WordNet noun synsets: find one and walk up its hypernyms
(notebook 03, note §2.2).

ImageNet (Deng et al., CVPR 2009) is organised by the WordNet noun hierarchy: every category is a
synset (a set of synonyms with one meaning), and "is a kind of" links (hypernyms) lead from "beagle"
up to "entity". This module reads the Princeton WordNet 3.0 database files (``index.noun``,
``data.noun``) with the standard library, from the first place that has them:

1. the folder in ``$WORDNET_DIR``;
2. Debian/Ubuntu's ``wordnet-base`` package (``/usr/share/wordnet``;
   ``apt-get install wordnet-base``);
3. NLTK's data folders (``~/nltk_data/corpora/wordnet`` or ``wordnet.zip``, and NLTK's other
   standard places), where ``nltk.download("wordnet")`` puts it.

``load(fetch=True)`` runs ``nltk.download("wordnet")`` (into ``~/nltk_data``) once when none has it
and NLTK is installed (Colab ships it).
Nothing else here downloads. :class:`WordNetUnavailable` says where it looked and how to get the
files.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

DEBIAN = Path("/usr/share/wordnet")
NLTK_DIRS = (
    Path.home() / "nltk_data",
    Path("/usr/share/nltk_data"),
    Path("/usr/local/share/nltk_data"),
    Path("/usr/lib/nltk_data"),
    Path("/usr/local/lib/nltk_data"),
    Path(sys.prefix) / "nltk_data",
    Path(sys.prefix) / "share" / "nltk_data",
    Path(sys.prefix) / "lib" / "nltk_data",
)  # nltk.data.path
_FILES = ("index.noun", "data.noun")


class WordNetUnavailable(LookupError):
    """No WordNet 3.0 database files were found."""


class WordNet:
    """The noun part of WordNet, read from its database files. Synsets are named by their byte
    offset in ``data.noun`` (ImageNet's ids are the same number: ``n02088364`` is offset 2088364,
    "beagle")."""

    def __init__(self, index_noun: bytes, data_noun: bytes, source: str):
        self.source, self._data = source, data_noun
        self._index = {}
        for line in index_noun.decode().splitlines():
            if line and not line.startswith(" "):  # the licence header lines start with two spaces
                fields = line.split()
                self._index[fields[0]] = [int(f) for f in fields[-int(fields[2]) :]]

    def synsets(self, name: str) -> list[int]:
        """Offsets of the noun synsets of ``name`` ("Egyptian cat" or "egyptian_cat"), most frequent
        sense first."""
        return list(self._index.get(name.strip().lower().replace(" ", "_"), []))

    def _record(self, offset: int) -> list[str]:
        end = self._data.index(b"\n", offset)
        head, _, gloss = self._data[offset:end].decode().partition(" | ")
        return head.split() + ["|", gloss]

    def lemmas(self, offset: int) -> list[str]:
        """The words of a synset: ``["beagle"]``."""
        fields = self._record(offset)
        return [fields[4 + 2 * i].replace("_", " ") for i in range(int(fields[3], 16))]

    def gloss(self, offset: int) -> str:
        """The synset's definition."""
        return self._record(offset)[-1]

    def hypernyms(self, offset: int) -> list[int]:
        """Offsets of the synsets it "is a kind of" (``@``) or "is an instance of" (``@i``)."""
        fields = self._record(offset)
        at = 4 + 2 * int(fields[3], 16)
        ptrs = [fields[at + 1 + 4 * i : at + 5 + 4 * i] for i in range(int(fields[at]))]
        return [int(p[1]) for p in ptrs if p[0] in ("@", "@i") and p[2] == "n"]

    def path(self, offset: int) -> list[int]:
        """From the synset up to the root ("entity"), following the first hypernym at each step."""
        path = [offset]
        while (up := self.hypernyms(path[-1])) and up[0] not in path:
            path.append(up[0])
        return path

    def under(self, offset: int, ancestor: str) -> bool:
        """Whether ``ancestor`` (a word, e.g. "dog") names a synset on any hypernym path of
        ``offset``."""
        targets, todo, seen = set(self.synsets(ancestor)), [offset], set()
        while todo:
            o = todo.pop()
            if o in targets:
                return True
            if o not in seen:
                seen.add(o)
                todo.extend(self.hypernyms(o))
        return False

    def imagenet_synset(self, category: str, within: str = "organism") -> int | None:
        """The synset of an ImageNet category name: its first sense under ``within`` (a "tabby" is a
        cat, not a fabric), else its first sense; ``None`` when WordNet has no such noun."""
        senses = self.synsets(category)
        return next((o for o in senses if self.under(o, within)), senses[0] if senses else None)


def imagenet_ids() -> list[int]:
    """ILSVRC-2012's 1000 classes as WordNet offsets, in the class order of the course's models
    (ImageNet's own sorted ids: class 281 is ``n02123045``, "tabby"), from timm's copy of ImageNet's
    list (notebook 03).

    Matching by id, not by name, finds every class: some ImageNet names are not a WordNet noun as
    written, and some name another sense first.
    """
    from timm.data import ImageNetInfo

    return [int(wnid[1:]) for wnid in ImageNetInfo().label_names()]


def _folders():
    if os.environ.get("WORDNET_DIR"):
        yield Path(os.environ["WORDNET_DIR"]).expanduser()
    yield DEBIAN
    for base in NLTK_DIRS:
        yield base / "corpora" / "wordnet"
        yield base / "corpora" / "wordnet.zip"


def _read(place: Path):
    """(index.noun, data.noun) bytes from a folder or an NLTK zip, or None."""
    if place.is_dir() and all((place / f).is_file() for f in _FILES):
        return tuple((place / f).read_bytes() for f in _FILES)
    if place.suffix == ".zip" and place.is_file():
        with zipfile.ZipFile(place) as z:
            names = {Path(n).name: n for n in z.namelist()}
            if all(f in names for f in _FILES):
                return tuple(z.read(names[f]) for f in _FILES)
    return None


def _nltk_download() -> bool:
    try:
        import nltk
    except ImportError:
        return False
    try:
        return bool(
            nltk.download("wordnet", download_dir=str(NLTK_DIRS[0]), quiet=True)
        )  # where _folders looks
    except Exception:  # no internet, a read-only home...: the caller says what to do
        return False


def load(fetch: bool = False) -> WordNet:
    """WordNet's nouns from the first place that has them (see the module docstring); with
    ``fetch``, let NLTK download them once when none has. Raises :class:`WordNetUnavailable` naming
    the places and the fixes."""
    for attempt in (0, 1):
        for place in _folders():
            found = _read(place)
            if found:
                return WordNet(*found, source=str(place))
        if attempt or not fetch or not _nltk_download():
            break
    looked = ", ".join(str(p) for p in _folders())
    raise WordNetUnavailable(
        f"WordNet 3.0 was not found (looked in {looked}). To get it: "
        "`apt-get install wordnet-base` (Debian, Ubuntu), or `pip install nltk` and then "
        "python -c \"import nltk; nltk.download('wordnet')\" (needs the "
        "internet once), or set WORDNET_DIR to a folder holding index.noun and data.noun."
    )
