"""``python -m autograder similarity SUBMISSIONS... --out DIR``: pairs of submissions far more \
alike than the class.

For each assignment, the code each student wrote is compared with every other student's, with
copydetect's winnowed fingerprints of the tokenized code (names, strings and comments do not
count, so renaming variables does not hide a copy). Only student-written code is compared: code
cells left as they are in the student notebook (``notebooks/<assignment>.ipynb``) are dropped and
the starter code's fingerprints are passed to copydetect as boilerplate, so the given signatures,
docstrings and demo cells never make two students look alike.

A pair is flagged when its similarity is far above the class's typical similarity: at least
``--min-z`` robust z-scores (median and MAD over all pairs of the assignment) above the median, and
at least ``--min-score`` in absolute terms. Independent solutions of the same small functions are
alike to some degree; the robust z-score measures "alike" against this class, not against zero.

Submissions are found and read by the grading service's input layer (``grading/inputs.py``), so
each has the id ``grade`` gives it (from its own path: ``alice/01_ols_raw_pixels`` in the one
folder per student layout) and its path. Two byte-identical notebooks are always flagged,
whatever the class looks like.

Writes ``DIR/similarity.html`` (identical notebooks, flagged pairs side by side, copied passages
highlighted; rendered by the grading service's one Jinja2 environment with autoescape on),
``DIR/similarity.csv`` (every pair, with both files; cells escaped as every CSV of the project)
and ``DIR/similarity.json`` (every pair, the statistics and the submissions that were not
compared). A flag is a reason to read two submissions, never a verdict.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from copydetect import CodeFingerprint, compare_files, defaults
from copydetect.utils import filter_code, get_token_coverage

from . import NOTEBOOKS
from .grading import inputs, report, store

MIN_Z = 3.5  # robust z-score above the class median that flags a pair
MIN_SCORE = 0.5  # ... and the least similarity (fraction of own code shared) that does
MIN_SPREAD = 0.05  # floor for the MAD scale: a class of near-identical scores flags nothing tiny
MIN_TOKENS = 40  # own code shorter than this (tokenized characters) is not compared
MAX_ID_CHARS = 80  # student-controlled names are bounded ...
MAX_CODE_CHARS = 12000  # ... and so is the code shown on the page
TEMPLATE = "similarity.html.j2"
CELL_SEPARATOR = "\n\n# ----- next cell -----\n\n"


@dataclass
class Work:
    """One submission's own code for one assignment."""

    id: str
    assignment: str
    code: str
    fingerprint: CodeFingerprint = field(repr=False, default=None)
    file: str = ""  # the path as given (inputs.collect's shown path)
    sha256: str = ""  # of the notebook's bytes: byte-identical notebooks are always flagged


def safe_text(text: str, limit: int) -> str:
    """Student-controlled text for a page or a CSV cell: ``store.printable``, kept as a block (the
    page escapes it with Jinja2's autoescape, the CSV with ``store.escape_cell``)."""
    return store.printable(text, limit, one_line=False)


# --- reading submissions --------------------------------------------------------------------------
def collect(paths):
    """(id, path, shown path) of every submission under ``paths``, as ``grade`` finds and names
    them."""
    for raw in paths:
        if not Path(raw).exists():
            raise FileNotFoundError(
                f"submission {str(raw)!r} does not exist; pass notebooks, zips or folders"
            )
    try:
        return inputs.collect(paths)
    except ValueError as error:  # two files with one id
        raise FileNotFoundError(str(error)) from None


def read_notebook(sub_id, path, shown=None):
    """(notebook dict, sha256 of its bytes) read with the grading service's bounds; ValueError says
    why not."""
    sub, data = inputs.read(sub_id, path, shown)
    if sub.problem:
        raise ValueError(sub.problem)
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError(f"not a notebook: {str(error)[:120]}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("not a Jupyter notebook (no cell list)")
    return nb, hashlib.sha256(data).hexdigest()


def code_cells(nb: dict) -> list[str]:
    """The source of each code cell, as text."""
    cells = []
    for cell in nb.get("cells", []):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            cells.append("".join(source) if isinstance(source, list) else str(source))
    return cells


def assignment_of(nb: dict, default: str | None) -> str | None:
    return inputs.assignment_of(nb) or default


def own_cells(nb: dict, starter_cells: set[str]) -> list[str]:
    """The code cells a student changed or added (cells equal to the starter's are dropped)."""
    return [src for src in code_cells(nb) if src.strip() and src.strip() not in starter_cells]


# --- comparing ------------------------------------------------------------------------------------
def fingerprint(cells: list[str], boilerplate=frozenset()) -> CodeFingerprint:
    """copydetect's fingerprint of ``cells`` joined, without boilerplate hashes and without the
    k-grams that straddle two cells (artefacts of joining them, which would make two untouched cells
    look new)."""
    k = defaults.NOISE_THRESHOLD
    code = CELL_SEPARATOR.join(cells)
    print_ = CodeFingerprint(
        "code.py", k, defaults.GUARANTEE_THRESHOLD - k + 1, language="python", fp=io.StringIO(code)
    )
    lengths = [len(filter_code(cell, "code.py", "python")[0]) for cell in cells]
    bounds = (
        np.cumsum(lengths)[:-1]
        if sum(lengths) == len(print_.filtered_code)
        else np.array([], dtype=int)
    )

    def straddles(start):
        after = np.searchsorted(bounds, start, side="right")
        return after < len(bounds) and bounds[after] < start + k

    kept = {}
    for value, starts in print_.hash_idx.items():
        if value not in boilerplate:
            starts = [j for j in starts if not straddles(j)]
            if starts:
                kept[value] = starts
    print_.hash_idx, print_.hashes = kept, set(kept)
    print_.token_coverage = get_token_coverage(kept, k, len(print_.filtered_code))
    return print_


def starter(assignment: str, notebooks: Path):
    """(starter cells, boilerplate fingerprints) from the student notebook of ``assignment``."""
    path = notebooks / f"{assignment}.ipynb"
    if not path.exists():
        raise FileNotFoundError(
            f"no student notebook {path} for assignment {assignment!r}; run "
            "`python -m autograder build` or pass --notebooks DIR"
        )
    cells = code_cells(json.loads(path.read_text()))
    return {c.strip() for c in cells}, frozenset(fingerprint(cells).hashes)


def compare(a: Work, b: Work) -> dict:
    """Similarity of two submissions: the larger of the two shared fractions, and the copied
    slices."""
    _, (sim_a, sim_b), (slices_a, slices_b) = compare_files(a.fingerprint, b.fingerprint)
    return {
        "a": a.id,
        "b": b.id,
        "similarity_a": float(sim_a),
        "similarity_b": float(sim_b),
        "score": float(max(sim_a, sim_b)),
        "slices": (slices_a, slices_b),
    }


def robust_threshold(scores, min_z=MIN_Z, min_score=MIN_SCORE):
    """(median, scale, threshold) of a class's pair scores: median + min_z robust SDs, at least
    min_score."""
    median = statistics.median(scores) if scores else 0.0
    mad = statistics.median([abs(s - median) for s in scores]) if scores else 0.0
    scale = max(1.4826 * mad, MIN_SPREAD)
    return median, scale, max(median + min_z * scale, min_score)


def analyse(works: list[Work], min_z=MIN_Z, min_score=MIN_SCORE) -> dict:
    """Every pair of one assignment's submissions, scored, with the class statistics and the flags
    (a pair of byte-identical notebooks is always flagged)."""
    pairs = [compare(a, b) for a, b in itertools.combinations(works, 2)]
    files = {w.id: w for w in works}
    median, scale, threshold = robust_threshold([p["score"] for p in pairs], min_z, min_score)
    for p in pairs:
        a, b = files[p["a"]], files[p["b"]]
        p["a_file"], p["b_file"] = a.file, b.file
        p["identical"] = bool(a.sha256) and a.sha256 == b.sha256
        p["z"] = (p["score"] - median) / scale
        p["flagged"] = p["score"] >= threshold or p["identical"]
    pairs.sort(key=lambda p: -p["score"])
    return {
        "submissions": len(works),
        "pairs": pairs,
        "median": median,
        "scale": scale,
        "threshold": threshold,
    }


def load_works(submissions, notebooks: Path, default_assignment=None):
    """(works by assignment, skipped [(id, reason)]) for a list of (id, path, shown path)."""
    by_assignment, skipped, starters = {}, [], {}
    for sid, path, shown in submissions:
        try:
            nb, digest = read_notebook(sid, path, shown)
        except ValueError as error:
            skipped.append((sid, f"unreadable: {error}"))
            continue
        assignment = assignment_of(nb, default_assignment)
        if assignment is None:
            skipped.append(
                (sid, "no otter assignment name in the notebook's metadata; pass --assignment")
            )
            continue
        if assignment not in starters:
            starters[assignment] = starter(assignment, notebooks)
        cells, boilerplate = starters[assignment]
        own = own_cells(nb, cells)
        print_ = fingerprint(own, boilerplate)
        if print_.token_coverage < MIN_TOKENS:
            skipped.append(
                (sid, f"too little own code to compare ({int(print_.token_coverage)} tokens)")
            )
            continue
        work = Work(sid, assignment, print_.raw_code, print_, file=str(shown), sha256=digest)
        by_assignment.setdefault(assignment, []).append(work)
    return by_assignment, skipped


# --- writing --------------------------------------------------------------------------------------
def segments(code: str, slices) -> list[tuple[str, bool]]:
    """``code`` cut into (text, copied?) pieces along copydetect's slices, bounded to
    MAX_CODE_CHARS."""
    pieces, at = [], 0
    for start, end in zip(*slices) if len(slices) == 2 and len(slices[0]) else []:
        start, end = int(start), int(end)
        if start > at:
            pieces.append((code[at:start], False))
        pieces.append((code[start:end], True))
        at = max(at, end)
    pieces.append((code[at:], False))
    out, budget = [], MAX_CODE_CHARS
    for text, copied in pieces:
        if budget <= 0:
            out.append(("\n… (truncated)", False))
            break
        out.append((safe_text(text[:budget], budget), copied))
        budget -= len(text)
    return [p for p in out if p[0]]


def _shown(p):
    """A pair with its ids and files made safe for the page."""
    return dict(
        p,
        a_id=safe_text(p["a"], MAX_ID_CHARS),
        b_id=safe_text(p["b"], MAX_ID_CHARS),
        a_path=safe_text(p["a_file"], 300),
        b_path=safe_text(p["b_file"], 300),
    )


def write_report(results: dict, skipped, out: Path, works_by_id: dict) -> dict:
    """Write similarity.html/.csv/.json into ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    sections = []
    for assignment, res in sorted(results.items()):
        flagged = [
            dict(
                _shown(p),
                a_code=segments(works_by_id[p["a"]].code, p["slices"][0]),
                b_code=segments(works_by_id[p["b"]].code, p["slices"][1]),
            )
            for p in res["pairs"]
            if p["flagged"]
        ]
        sections.append(
            {
                "assignment": assignment,
                **{k: res[k] for k in ("submissions", "median", "scale", "threshold")},
                "n_pairs": len(res["pairs"]),
                "flagged": flagged,
                "identical": [_shown(p) for p in res["pairs"] if p["identical"]],
                "top": [_shown(p) for p in res["pairs"][:10]],
            }
        )
    html = report.ENV.get_template(TEMPLATE).render(
        sections=sections,
        skipped=[(safe_text(s, MAX_ID_CHARS), safe_text(r, 300)) for s, r in skipped],
        min_z=MIN_Z,
        min_score=MIN_SCORE,
    )
    paths = {
        "html": out / "similarity.html",
        "csv": out / "similarity.csv",
        "json": out / "similarity.json",
    }
    store.atomic_write(paths["html"], html)
    columns = [
        "assignment",
        "a",
        "b",
        "score",
        "similarity_a",
        "similarity_b",
        "z",
        "flagged",
        "identical",
        "a_file",
        "b_file",
    ]
    lines = [columns]
    for assignment, res in sorted(results.items()):
        for p in res["pairs"]:
            lines.append(
                [
                    assignment,
                    safe_text(p["a"], MAX_ID_CHARS),
                    safe_text(p["b"], MAX_ID_CHARS),
                    f"{p['score']:.3f}",
                    f"{p['similarity_a']:.3f}",
                    f"{p['similarity_b']:.3f}",
                    f"{p['z']:.2f}",
                    p["flagged"],
                    p["identical"],
                    safe_text(p["a_file"], 300),
                    safe_text(p["b_file"], 300),
                ]
            )
    store.write_csv(paths["csv"], lines)
    summary = {
        assignment: {
            **{k: res[k] for k in ("submissions", "median", "scale", "threshold")},
            "pairs": [{k: v for k, v in p.items() if k != "slices"} for p in res["pairs"]],
        }
        for assignment, res in sorted(results.items())
    }
    store.write_json(
        paths["json"],
        {
            "assignments": summary,
            "skipped": [list(s) for s in skipped],
            "min_z": MIN_Z,
            "min_score": MIN_SCORE,
        },
    )
    return paths


def run(
    submissions,
    out: Path,
    notebooks: Path = NOTEBOOKS,
    assignment=None,
    min_z=MIN_Z,
    min_score=MIN_SCORE,
):
    """Compare ``submissions`` (paths) and write the report into ``out``; returns (results, skipped,
    paths)."""
    by_assignment, skipped = load_works(collect(submissions), Path(notebooks), assignment)
    results = {name: analyse(works, min_z, min_score) for name, works in by_assignment.items()}
    works_by_id = {w.id: w for works in by_assignment.values() for w in works}
    return results, skipped, write_report(results, skipped, Path(out), works_by_id)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m autograder similarity", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "submissions", nargs="+", help="notebooks, grader.export zips, or folders of them"
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="folder for similarity.html/.csv/.json"
    )
    parser.add_argument(
        "--notebooks",
        type=Path,
        default=NOTEBOOKS,
        help="folder of the student notebooks (the starter code); default: %(default)s",
    )
    parser.add_argument("--assignment", help="assignment of notebooks without otter metadata")
    parser.add_argument(
        "--min-z", type=float, default=MIN_Z, help="robust z-score that flags a pair (%(default)s)"
    )
    parser.add_argument(
        "--min-score",
        type=float,
        default=MIN_SCORE,
        help="least similarity that flags a pair (%(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        results, skipped, paths = run(
            args.submissions, args.out, args.notebooks, args.assignment, args.min_z, args.min_score
        )
    except FileNotFoundError as error:
        print(f"similarity: {error}", file=sys.stderr)
        return 2
    for assignment, res in sorted(results.items()):
        flagged = [p for p in res["pairs"] if p["flagged"]]
        print(
            f"{assignment}: {res['submissions']} submissions, {len(res['pairs'])} pairs, median "
            f"{res['median']:.2f}, threshold {res['threshold']:.2f}, {len(flagged)} flagged"
        )
        for p in flagged:
            same = ", byte-identical notebooks" if p["identical"] else ""
            print(f"  {p['a']} ~ {p['b']}: {p['score']:.2f} (z = {p['z']:.1f}{same})")
    for sid, reason in skipped:
        print(f"not compared: {sid}: {reason}")
    print(f"report: {paths['html']}")
    return 0
