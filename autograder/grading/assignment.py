"""An assignment as the host reads it from its built autograder zip (trusted): ``Template``.

``load_template`` unpacks a zip of ``autograder/dist`` (the local batch); ``load_folder`` reads an
unpacked one (Gradescope's ``/autograder/source``). Both split otter's tests into the public files
copied into each run sandbox and the hidden lines redacted from anything shown (``static``).
"""

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .. import NOTEBOOKS, solution_path
from . import inputs, manual, static


@dataclass
class Template:
    """An assignment as the host reads it from its built zip (trusted)."""

    name: str
    tests: dict  # {file name: full source}: only ever sent to the judge through stdin
    public: Path  # folder of public-only test files, copied into each run sandbox
    support: list  # [(host path, name)] support files (utils/)
    possible: dict  # {question: points}
    secrets: set  # hidden-test lines and strings, redacted from anything shown
    params: set  # names the tests take as arguments
    config: dict  # otter_config.json without tokens
    given: frozenset = frozenset()  # code cells the course ships (setup cell...): not audited
    files: Path = None  # the zip's files/ folder (utils/): on the judge's path, in every sandbox
    manual: dict = None  # {question: spec} of the written questions (manual.json; manual.py)
    order: tuple = ()  # every question in the notebook's order (the zip's questions.json)

    def fingerprint(self):
        """What a grade depends on in this assignment: its tests (their code and points) and its
        written questions' points. A row graded under another fingerprint is graded again
        (``batch``)."""
        digest = hashlib.sha256()
        for name, source in sorted(self.tests.items()):
            digest.update(f"{name}\0{len(source)}\0".encode() + source.encode())
        specs = {q: s.get("points") for q, s in (self.manual or {}).items()}
        digest.update(json.dumps(specs, sort_keys=True).encode())
        return digest.hexdigest()[:16]

    def maxima(self):
        """{question: points} of every question, the written ones included (rounded: otter's
        split points sum to 2.9999999999999996 or 3.0000000000000004 for 3)."""
        points = {**self.possible, **{q: s["points"] for q, s in (self.manual or {}).items()}}
        rank = {q: i for i, q in enumerate(self.order)}
        ordered = sorted(points, key=lambda q: (rank.get(q, len(rank)), q))  # notebook order
        return {q: round(points[q], 6) for q in ordered}


def _possible(tests):
    from otter.test_files.exception_test import ExceptionTestFile

    out = {}
    for fname, source in sorted(tests.items()):
        tf = ExceptionTestFile.from_string(source, path=fname)
        out[tf.name] = float(tf.possible)
    return out


def _given_cells(stem, dist):
    """The code cells of the built solution and student notebooks (trusted, never audited)."""
    given = set()
    for nb_path in (solution_path(stem, dist), NOTEBOOKS / f"{stem}.ipynb"):
        try:
            nb = json.loads(nb_path.read_text(encoding="utf-8"))
            given |= {src.strip() for _, _, src in inputs.rebuild(nb)[1]}
        except (OSError, ValueError):
            pass
    return frozenset(given)


def load_template(zip_path, dest):
    """Unpack ``zip_path`` into ``dest`` (a 0700 folder) and read it."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(dest)
    given = _given_cells(Path(zip_path).stem, Path(zip_path).parent)
    return load_folder(dest, dest / "public-tests", given)


def load_folder(dest, public, given=None):
    """The assignment in the unpacked autograder zip ``dest`` (Gradescope's /autograder/source)."""
    tests, secrets, params = {}, set(), set()
    public.mkdir(parents=True, exist_ok=True)
    for p in sorted((dest / "tests").glob("*.py")):
        text = p.read_text(encoding="utf-8")
        tests[p.name] = text
        kept, hidden, names = static.split_tests(text)
        (public / p.name).write_text(kept, encoding="utf-8")
        secrets |= hidden
        params |= names
    config_path = dest / "otter_config.json"
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    config.pop("token", None)
    stem = config.get("assignment_name") or dest.name
    if given is None and (dest / "given_cells.json").is_file():
        given = frozenset(json.loads((dest / "given_cells.json").read_text(encoding="utf-8")))
    specs_path = dest / manual.MANIFEST
    specs = json.loads(specs_path.read_text(encoding="utf-8")) if specs_path.is_file() else {}
    order_path = dest / "questions.json"  # written by the build (build.notebook_order)
    order = json.loads(order_path.read_text(encoding="utf-8")) if order_path.is_file() else []
    files = dest / "files"
    support = [(p, p.name) for p in sorted(files.iterdir())] if files.is_dir() else []
    return Template(
        stem,
        tests,
        public,
        support,
        _possible(tests),
        secrets,
        params - {"env", "grading_seed"},
        config,
        given or frozenset(),
        files,
        specs,
        tuple(q for q in order if isinstance(q, str)),
    )
