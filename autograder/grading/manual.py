"""Written answers read by people: ``python -m autograder merge-manual GRADES_DIR SCORES.csv``.

The six written questions (predictions and explanations) are otter *manual* questions
(``manual: true`` in the master's ``# BEGIN QUESTION`` cell). Their tests are worth 0 points: they
are the student's completion check (``grader.check``), never a score. A person scores the answer
with the rubric the master shows the student.

- **build** (``manifest``): each autograder zip holds ``manual.json``: per manual question its
  points, prompt, rubric, the answer cells (ids and the stub the student was given) and the cells
  whose printed output the reader needs (the rubric cell's ``metadata.manual.printed``: the cells
  that printed the numbers the answer is about).
- **grade** (``extract``, in the analysis subprocess): from the submitted notebook's own saved
  outputs, the answer cell's source and output and the printed output of those cells (what *this*
  student's run printed). The batch writes them to ``answers/<id>.json``; the manual column of
  ``grades.csv`` stays empty (awaiting a reader), or 0 when the answer cell is still the stub it was
  given (the completion gate: nothing to read). ``maximum`` counts the manual points; ``total``
  counts only what was scored.
- **review** (``report.render_reviews``): ``review/<question>.html``, one page per written question
  with every student's answer beside the rubric and the printed numbers (all student text escaped by
  Jinja2), and ``review/scores_template.csv``:
  ``id, file, assignment, question, max_points, score, note``.
- **merge** (``merge``): the TA's filled CSV into ``grades.csv`` (atomic); then every page
  (feedback, Gradescope's results, review pages, ``report.html``) is rendered again from the files
  (``report``). Every problem of the CSV is reported at once and nothing is written; a re-run with a
  corrected CSV replaces the earlier scores (totals are recomputed from the columns, never
  incremented). An empty score cell leaves that answer as it is. ``python -m autograder export``
  then reads the merged totals; it leaves the gradebook cell blank while a written answer of the
  submission is unscored.
"""

import argparse
import csv
import io
import math
import re
import sys
from pathlib import Path

import yaml

from . import report, store

MANIFEST = "manual.json"  # in the autograder zip
LIMIT = 8000  # characters kept of an answer or of one cell's printed output
TEMPLATE = store.SCORES_TEMPLATE  # review/scores_template.csv: the TA fills it (report writes it)
HEADER = store.SCORES_HEADER


# ------------------------------------------------------- build: the manifest of a master


def _src(cell):
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else str(s)


def _markdown(text):
    return re.sub(r"<!--.*?-->", "", text, flags=re.S).strip()


def manifest(master, student):
    """{question: spec} of the manual questions of ``master`` (the otter master, a dict) as
    ``student`` (the built student notebook, a dict) hands them out."""
    by_id = {c.get("id"): c for c in student["cells"]}
    out, current, block = {}, None, None
    for cell in master["cells"]:
        text = _src(cell)
        if cell["cell_type"] == "raw":
            first = text.split("\n", 1)[0].strip()
            if first == "# BEGIN QUESTION":
                config = yaml.safe_load(text) or {}
                current = None
                if config.get("manual"):
                    current = out.setdefault(
                        config["name"],
                        {
                            "points": float(config.get("points") or 0),
                            "prompt": "",
                            "rubric": "",
                            "answer_ids": [],
                            "stub": [],
                            "answer_names": [],
                            "printed": [],
                        },
                    )
            elif first == "# END QUESTION":
                current = None
            elif first.startswith("# BEGIN "):
                block = first[len("# BEGIN ") :]
            elif first.startswith("# END "):
                block = None
            continue
        if current is None:
            continue
        meta = cell.get("metadata", {}).get("manual")
        if cell["cell_type"] == "markdown" and meta:
            current["rubric"] = _markdown(text)
            printed = [
                {"id": i, "source": _src(by_id[i])} for i in meta.get("printed", []) if i in by_id
            ]
            if len(printed) != len(meta.get("printed", [])):
                raise ValueError(
                    f"{meta.get('question')}: a printed cell of {meta.get('printed')} is not "
                    f"in the student notebook"
                )
            current["printed"] = printed
        elif cell["cell_type"] == "markdown" and block is None:
            current["prompt"] = (current["prompt"] + "\n\n" + _markdown(text)).strip()
        elif cell["cell_type"] == "code" and block == "SOLUTION":
            current["answer_ids"].append(cell["id"])
            current["stub"].append(_src(by_id[cell["id"]]).strip())
            current["answer_names"] += sorted(
                set(re.findall(r"^([A-Za-z_]\w*)\s*=", _src(by_id[cell["id"]]), re.M))
            )
    missing = [q for q, spec in out.items() if not spec["rubric"] or not spec["answer_ids"]]
    if missing:
        raise ValueError(
            f"manual question(s) {missing} need a rubric cell (metadata.manual) and a solution cell"
        )
    return out


# ------------------------------------------------------- grade: what a submission wrote and printed


def _text(value):
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def clean_block(text, limit=LIMIT):
    """Student text kept as a block (indentation and line breaks), printable, bounded; Jinja2
    escapes it."""
    return store.printable(text, limit, one_line=False)


def _is_stub(source, spec):
    """True when the answer cell is as handed out: the stub itself, or every answer name still set
    to ``...``."""
    import ast

    if source.strip() in {s.strip() for s in spec["stub"]} or not source.strip():
        return True
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    values = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id in spec["answer_names"] for t in node.targets)
    ]
    empty = lambda v: (
        isinstance(v, ast.Constant) and (v.value is Ellipsis or v.value in ("...", ""))
    )
    handed_out = lambda v: (
        empty(v) or isinstance(v, ast.Dict) and bool(v.values) and all(map(empty, v.values))
    )
    return bool(values) and all(map(handed_out, values))


def output_text(cell):
    """The text a code cell printed or displayed (stream, text/plain, errors), bounded and
    cleaned."""
    outputs = cell.get("outputs") if isinstance(cell, dict) else None
    parts, size = [], 0
    for o in outputs if isinstance(outputs, list) else []:
        if not isinstance(o, dict):
            continue
        kind = o.get("output_type")
        if kind == "stream":
            part = _text(o.get("text"))
        elif kind in ("execute_result", "display_data"):
            data = o.get("data")
            part = _text(data.get("text/plain")) + "\n" if isinstance(data, dict) else ""
        elif kind == "error":
            part = f"{_text(o.get('ename'))}: {_text(o.get('evalue'))}\n"
        else:
            continue
        parts.append(part[: LIMIT + 1])
        size += len(part)
        if size > LIMIT:
            break
    return clean_block("".join(parts))


def _find(cells, cell_id, source):
    """The student's copy of a course cell: same id, else the same source."""
    for c in cells:
        if c.get("id") == cell_id:
            return c
    for c in cells:
        if c.get("cell_type") == "code" and _src(c).strip() == source.strip():
            return c
    return None


def _answer_cell(cells, spec):
    for cell_id in spec["answer_ids"]:
        c = next(
            (c for c in cells if c.get("id") == cell_id and c.get("cell_type") == "code"), None
        )
        if c is not None:
            return c
    names = "|".join(map(re.escape, spec["answer_names"]))
    if not names:
        return None
    found = [
        c
        for c in cells
        if c.get("cell_type") == "code" and re.search(rf"^(?:{names})\s*=", _src(c), re.M)
    ]
    return found[-1] if found else None


def extract(nb, specs):
    """{question: {answer, output, answered, printed: [{source, output, found}]}} from a notebook
    dict."""
    cells = [c for c in nb.get("cells", []) if isinstance(c, dict)] if isinstance(nb, dict) else []
    out = {}
    for q, spec in specs.items():
        cell = _answer_cell(cells, spec)
        answer = _src(cell) if cell is not None else ""
        printed = []
        for p in spec["printed"]:
            c = _find(cells, p["id"], p["source"])
            printed.append(
                {
                    "source": clean_block(p["source"], 2000),
                    "output": output_text(c) if c is not None else "",
                    "found": c is not None,
                }
            )
        out[q] = {
            "answer": clean_block(answer),
            "output": output_text(cell) if cell is not None else "",
            "answered": cell is not None and not _is_stub(answer, spec),
            "printed": printed,
        }
    return out


def sanitize(got, specs):
    """The analysis subprocess's answers (data a hostile notebook shaped), reduced to known
    questions and bounded strings."""
    got = got if isinstance(got, dict) else {}
    out = {}
    for q, spec in specs.items():
        a = got.get(q) if isinstance(got.get(q), dict) else {}
        printed = a.get("printed") if isinstance(a.get("printed"), list) else []
        out[q] = {
            "answer": clean_block(a.get("answer", "")),
            "output": clean_block(a.get("output", "")),
            "answered": a.get("answered") is True,
            "printed": [
                {
                    "source": clean_block(p.get("source", ""), 2000),
                    "output": clean_block(p.get("output", "")),
                    "found": p.get("found") is True,
                }
                for p in printed[: len(spec["printed"])]
                if isinstance(p, dict)
            ],
        }
    return out


def keep_scores(row, old, specs):
    """A regraded row of the same file keeps what a person gave its written answers (and its total
    counts them): the TA's scores survive a regrade."""
    for q in specs:
        if old.get(q, "") != "":
            row[q] = old[q]
    retotal(row)


def fill_row(row, specs, answers):
    """The manual columns of a graded row: empty (awaiting a reader) or 0 (no answer); maximum
    counts them."""
    for q, spec in specs.items():
        row[q] = "" if answers.get(q, {}).get("answered") else "0"
    row["maximum"] = (
        f"{store.number(row.get('maximum')) + sum(s['points'] for s in specs.values()):g}"
    )


# ------------------------------------------------------- merge: the TA's scores into grades.csv


class ScoresError(SystemExit):
    def __init__(self, message):
        super().__init__(f"error: {message}")


def read_scores(path, rows, specs_by_assignment):
    """{(id, question): score or None} from the TA's CSV; every problem at once, as a
    ScoresError."""
    data = store.safe_read(path, 16 << 20)
    if data is None:
        raise ScoresError(f"scores file {path} is missing, not a regular file, or over 16 MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ScoresError(
            f"scores file {path} is not UTF-8 (byte {e.start}): save it as CSV UTF-8"
        ) from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    lacking = [c for c in ("id", "question", "score") if c not in header]
    if lacking:
        raise ScoresError(
            f"scores file {path}: the header {header} lacks {', '.join(lacking)}; start from "
            f"review/{TEMPLATE} (columns {','.join(HEADER)})"
        )
    col = {h: i for i, h in enumerate(header)}
    problems, scores, seen = [], {}, {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) < len(header):
            problems.append(f"line {line}: {len(cells)} cells, the header has {len(header)}")
            continue
        sid, q, raw = (cells[col[c]].strip().removeprefix("'") for c in ("id", "question", "score"))
        where = f"line {line} ({sid!r}, {q!r})"
        row = rows.get(sid)
        if row is None:
            problems.append(
                f"{where}: unknown submission id {sid!r}: it is not in grades.csv (the id "
                f"column of grades.csv or of review/{TEMPLATE})"
            )
            continue
        specs = specs_by_assignment.get(row.get("assignment", ""), {})
        if q not in specs:
            problems.append(
                f"{where}: {q!r} is not a written question of "
                f"{row.get('assignment') or 'its assignment'}"
                f" (written questions: {', '.join(specs) or 'none'})"
            )
            continue
        if (sid, q) in seen:
            problems.append(
                f"{where}: duplicate row: {sid} {q} is already scored on line {seen[sid, q]}"
            )
            continue
        seen[sid, q] = line
        if raw == "":
            continue  # not scored yet: left as it is
        try:
            score = float(raw)
        except ValueError:
            problems.append(f"{where}: score {raw!r} is not a number")
            continue
        top = specs[q]["points"]
        if not math.isfinite(score) or score < 0 or score > top:
            problems.append(f"{where}: score {raw} is outside 0..{top:g} (the question's points)")
            continue
        if row.get("status") != "graded":
            problems.append(
                f"{where}: the submission was not graded ({row.get('status')}: "
                f"{row.get('reason', '')[:80]}); grade it again before scoring its written answers"
            )
            continue
        scores[sid, q] = score
    if problems:
        shown = "\n  ".join(problems[:30]) + (
            f"\n  … and {len(problems) - 30} more" if len(problems) > 30 else ""
        )
        raise ScoresError(f"{path}: {len(problems)} problem(s), nothing was merged:\n  {shown}")
    return scores


def retotal(row):
    """total = the sum of the row's question columns (auto and scored manual): recomputed, never
    incremented."""
    fixed = set(store.FIXED_HEAD + store.FIXED_TAIL)
    row["total"] = (
        f"{sum(store.number(v) for k, v in row.items() if k not in fixed and k is not None):g}"
    )


def merge(grades, scores_csv):
    """Merge the TA's scores into ``grades`` (a ``grade`` or ``merge`` --out folder); returns
    (changed, scored)."""
    grades = Path(grades)
    if not (grades / "grades.csv").is_file():
        raise ScoresError(
            f"{grades} holds no grades.csv: give the --out folder of `grade` or `merge`"
        )
    specs_by_assignment = store.manifests(grades)
    if not specs_by_assignment:
        raise ScoresError(
            f"{grades} has no written questions (no manual/*.json): grade with autograder zips "
            f"built from masters with manual questions"
        )
    with store.OutLock(grades):
        rows = store.read_rows(grades / "grades.csv")
        scores = read_scores(scores_csv, rows, specs_by_assignment)
        notes = store.read_notes(grades)
        changed = 0
        for (sid, q), score in scores.items():
            new = f"{score:g}"
            changed += rows[sid].get(q) != new
            rows[sid][q] = new
        for (sid, q), note in read_notes_column(scores_csv, set(scores)).items():
            if note:
                notes.setdefault(sid, {})[q] = note
            else:
                notes.get(sid, {}).pop(q, None)
        store.write_notes(grades, notes)
        for row in rows.values():
            if row.get("status") == "graded":
                retotal(row)
        store.write_rows(grades / "grades.csv", rows)
        report.render_all(grades)  # every page again from the files: the new scores and totals
    return changed, len(scores)


def read_notes_column(path, scored):
    """{(id, question): note} of the TA's CSV for the rows ``read_scores`` accepted with a score."""
    text = store.safe_read(path, 16 << 20).decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if "note" not in header:
        return {}
    col = {h: i for i, h in enumerate(header)}
    notes = {}
    for cells in reader:
        if len(cells) < len(header):
            continue
        key = tuple(cells[col[c]].strip().removeprefix("'") for c in ("id", "question"))
        if key in scored:
            notes[key] = " ".join(cells[col["note"]].removeprefix("'").split())[:2000]
    return notes


def pending(row, specs):
    """The written questions of a graded row that no person has scored yet."""
    return [q for q in specs if row.get("status") == "graded" and row.get(q, "") == ""]


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m autograder merge-manual", description=__doc__.split("\n")[0]
    )
    p.add_argument("grades", help="the --out folder of grade (or merge) that wrote review/")
    p.add_argument("scores", help=f"the TA's CSV (start from <grades>/review/{TEMPLATE})")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    changed, scored = merge(args.grades, args.scores)
    rows = store.read_rows(Path(args.grades) / "grades.csv")
    left = sum(
        len(pending(r, s))
        for a, s in store.manifests(args.grades).items()
        for r in rows.values()
        if r.get("assignment") == a
    )
    print(
        f"merged {scored} score(s) ({changed} changed) into {Path(args.grades) / 'grades.csv'}; "
        f"{left} written answer(s) still unscored"
    )
    return 0
