"""``python -m autograder export GRADES_DIR... --roster roster.csv --out DIR [--canvas]``: grades \
by student.

``grades.csv`` has one row per submission file. The roster says whose each one is: either Canvas's
own gradebook export (Grades → Export: ``Student, ID, SIS User ID, SIS Login ID, Section, …``;
Canvas puts the ``ID`` in every downloaded submission's file name,
``smithann_late_1234_5678_01.ipynb`` for user 1234), or a ``roster.csv`` (``student_id``, ``name``,
``email``, ``submission``; optional ``section``, ``sis_login_id``, ``canvas_id``) whose
``submission`` is the student's folder or file name as it lies in the submissions folder, or the
name key Canvas puts in front of downloaded files (``smithann``).

Late work (due dates, extensions, when each file came in, the penalty) is :mod:`autograder.late`'s;
the penalty is applied to each file's score before a student's best file is chosen.

DIR receives, per run:

- ``canvas.csv`` (with ``--canvas``): Canvas's gradebook import:
  ``Student, ID, SIS User ID, SIS Login ID, Section``, one column per assignment, and the
  ``Points Possible`` row; a blank cell leaves Canvas's grade alone;
- ``grades_by_student.csv``: the same table for any other LMS or spreadsheet;
- ``students/<student id>.csv``: one plain CSV per student (assignment, file, status, score, late,
  reason);
- ``report.html``: submissions no roster row claims, students without a submission, students with
  two, late files, and rows that need a person (a grader crash, a withheld score, a written answer
  not scored yet: ``python -m autograder merge-manual`` first).

Every cell goes through ``store.escape_cell`` (no spreadsheet formula from a name or a file name).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import late as late_work
from .grading import manual, store
from .grading.report import ENV  # the one Jinja2 environment (autoescape, strict)

REQUIRED = ("student_id", "name", "email", "submission")
OPTIONAL = ("section", "sis_login_id", "canvas_id")
CANVAS_HEAD = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_TEST_STUDENT = "Student, Test"  # Canvas's "Student View" user, in every gradebook export
POINTS_POSSIBLE = (
    "    Points Possible"  # Canvas's own label of its second row (four leading spaces)
)
REVIEW = "crashed"  # a grader failure: never a score for the student
REPO_TOML = Path(__file__).resolve().parent.parent / "course.toml"


class RosterError(SystemExit):
    def __init__(self, message):
        super().__init__(f"error: {message}")


@dataclass
class Student:
    student_id: str
    name: str
    email: str
    submission: str
    section: str = ""
    sis_login_id: str = ""
    canvas_id: str = ""
    line: int = 0


@dataclass
class Match:
    """One grades.csv row, with whose it is and whether it came late."""

    row: dict
    folder: str
    assignment: str
    student: Student | None = None
    late: bool = False
    submitted: object = None  # when it came in (datetime), where the LMS said so
    days_late: int = 0  # started days after the student's due date
    penalty: float = 0.0  # the fraction of its score the late policy takes
    why: str = ""  # why it matched no student
    pending: list = field(
        default_factory=list
    )  # written answers no person has scored yet (merge-manual)


@dataclass
class Export:
    students: list
    assignments: dict  # {assignment: points possible}
    best: dict = field(default_factory=dict)  # {(student_id, assignment): Match}
    unmatched: list = field(default_factory=list)
    duplicates: list = field(
        default_factory=list
    )  # (student, assignment, kept Match, [other Matches])
    missing: dict = field(default_factory=dict)  # {assignment: [Student]}


def _canvas_key(name):
    """The name key Canvas puts in front of a downloaded file: the sortable name, lower case,
    letters only."""
    return re.sub(r"[^\w]|_", "", unicodedata.normalize("NFC", name).casefold())


def read_canvas_gradebook(path, rows):
    """The students of Canvas's gradebook export (``rows``: its header first); ``ID`` is Canvas's
    user id."""
    header = [h.strip() for h in rows[0]]
    at = {h: header.index(h) for h in CANVAS_HEAD if h in header}
    if set(at) < {"Student", "ID"}:
        raise RosterError(
            f"roster {path}: a Canvas gradebook export needs its Student and ID columns"
        )
    students, keys = [], {}
    for line, cells in enumerate(rows[1:], start=2):
        cell = lambda h: (
            unicodedata.normalize("NFC", cells[at[h]]).strip()
            if h in at and at[h] < len(cells)
            else ""
        )
        if (
            not cell("ID") or cell("Student") == CANVAS_TEST_STUDENT
        ):  # Points Possible, posting rows, test user
            continue
        if not cell("ID").isdigit():
            raise RosterError(
                f"roster {path} line {line}: Canvas's ID must be a number, got {cell('ID')!r}"
            )
        s = Student(
            student_id=cell("SIS User ID") or cell("ID"),
            name=cell("Student"),
            email="",
            submission=_canvas_key(cell("Student")),
            section=cell("Section"),
            sis_login_id=cell("SIS Login ID"),
            canvas_id=cell("ID"),
            line=line,
        )
        keys.setdefault(s.submission, []).append(s)
        students.append(s)
    for (
        same
    ) in keys.values():  # two "Smith, John": only Canvas's ID in the file name tells them apart
        if len(same) > 1:
            for s in same:
                s.submission = ""
    if len({s.student_id for s in students}) != len(students):
        raise RosterError(f"roster {path}: a student id is given twice")
    if not students:
        raise RosterError(f"roster {path} (a Canvas gradebook export) lists no student")
    return students


def read_roster(path):
    """The roster's students, in file order; a RosterError names the line and column of any problem.

    Canvas's own gradebook export (its header starts ``Student,ID``) is read as it is."""
    data = store.safe_read(path, 16 << 20)
    if data is None:
        raise RosterError(f"roster {path} is missing, not a regular file, or over 16 MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise RosterError(
            f"roster {path} is not UTF-8 (byte {e.start}): save it as CSV UTF-8"
        ) from None
    rows = list(csv.reader(io.StringIO(text)))
    if rows and [h.strip() for h in rows[0][:2]] == CANVAS_HEAD[:2]:
        return read_canvas_gradebook(path, rows)
    reader = iter(rows)
    header = [unicodedata.normalize("NFKC", h).strip().lower() for h in next(reader, [])]
    lacking = [c for c in REQUIRED if c not in header]
    unknown = [h for h in header if h not in REQUIRED + OPTIONAL]
    if lacking or unknown or len(set(header)) != len(header):
        raise RosterError(
            f"roster {path}: bad header {header}: "
            + "; ".join(
                filter(
                    None,
                    [
                        lacking and f"missing column(s) {', '.join(lacking)}",
                        unknown and f"unknown column(s) {', '.join(unknown)}",
                        len(set(header)) != len(header) and "a column is named twice",
                    ],
                )
            )
            + f". The header is {','.join(REQUIRED)} (required) and any of {','.join(OPTIONAL)}"
        )
    students, by_id, by_sub = [], {}, {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise RosterError(
                f"roster {path} line {line}: {len(cells)} cells, the header has {len(header)}"
            )
        values = {h: unicodedata.normalize("NFC", c).strip() for h, c in zip(header, cells)}
        for col in ("student_id", "submission"):
            if not values[col]:
                raise RosterError(f"roster {path} line {line}: empty {col}")
        s = Student(**values, line=line)
        if s.student_id in by_id:
            raise RosterError(
                f"roster {path} line {line}: student_id {s.student_id!r} is already on line "
                f"{by_id[s.student_id].line}: one row per student"
            )
        key = s.submission.casefold()
        if key in by_sub:
            raise RosterError(
                f"roster {path} line {line}: submission {s.submission!r} is already "
                f"{by_sub[key].student_id}'s (line {by_sub[key].line}): "
                "each name must be one student's"
            )
        by_id[s.student_id], by_sub[key] = s, s
        students.append(s)
    if not students:
        raise RosterError(f"roster {path} has a header but no student")
    return students


def keys_of(shown):
    """The names a roster's ``submission`` may give for a submission at ``shown`` (casefolded)."""
    p = PurePosixPath(str(shown).lstrip("'").replace("\\", "/"))
    keys = {p.name, p.stem, p.stem.split("_")[0]}
    if len(p.parts) > 1:
        keys.add(p.parts[0])
    return {unicodedata.normalize("NFC", k).casefold() for k in keys if k}


def is_late(shown):
    """Canvas marks a file handed in after its due date with a ``late`` field in its downloaded
    name."""
    return any(
        tok.casefold() == "late"
        for part in PurePosixPath(str(shown)).parts
        for tok in re.split(r"[_\s.-]", part)
    )


def _num(value):
    return store.number(value, None)


def load_grades(folders, submitted=None):
    """[Match] of every row of every ``<folder>/grades.csv``; a row without an assignment takes its
    folder's only one.

    ``submitted``: ``{assignment: times}`` (:func:`late.read_submitted`), when each file came in."""
    submitted = submitted or {}
    matches = []
    for folder in map(Path, folders):
        if not (folder / "grades.csv").is_file():
            raise RosterError(
                f"{folder} holds no grades.csv: give the --out folder of `grade` or `merge`"
            )
        rows = store.read_rows(folder / "grades.csv")
        written = store.manifests(folder)
        named = {r.get("assignment") for r in rows.values() if r.get("assignment")}
        for row in rows.values():
            name = row.get("assignment") or (next(iter(named)) if len(named) == 1 else "")
            shown = row.get("file", "")
            matches.append(
                Match(
                    row,
                    str(folder),
                    name,
                    late=is_late(shown),
                    submitted=late_work.submitted_at(shown, submitted.get(name, {})),
                    pending=manual.pending(row, written.get(name, {})),
                )
            )
    return matches


def _rank(m):
    """How a submission competes with the same student's others for one assignment: graded first,
    then its score after the late penalty, then on time before late."""
    return (
        m.row.get("status") == "graded",
        (_num(m.row.get("total")) or 0.0) * (1.0 - m.penalty),
        not m.late,
    )


def judge_lateness(m, policy):
    """Set ``m.late``, ``m.days_late`` and ``m.penalty`` from the student's due date and when ``m``
    came in; without a time (or a due date), Canvas's ``late`` in the file name decides, as one
    started day."""
    due = policy.due_for(m.student, m.assignment)
    if m.submitted is not None and due is not None:
        m.days_late = late_work.days_late(m.submitted, due, policy.grace)
        m.late = m.days_late > 0
    else:
        m.days_late = 1 if m.late else 0
    m.penalty = policy.fraction(m.days_late)


def match(students, matches, policy=None):
    """Attribute every row to a student; the best row per (student, assignment), after the late
    penalty, counts; the rest are listed."""
    policy = policy or late_work.Policy()
    by_key = {s.submission.casefold(): s for s in students if s.submission}
    by_canvas = {s.canvas_id: s for s in students if s.canvas_id}
    out = Export(students, {})
    claimed = {}
    for m in matches:
        if m.assignment:
            top = _num(m.row.get("maximum"))
            if top is not None:
                out.assignments[m.assignment] = max(top, out.assignments.get(m.assignment, 0.0))
            else:
                out.assignments.setdefault(m.assignment, None)
        user, _ = late_work.canvas_ids(m.row.get("file", ""))
        if user in by_canvas:  # Canvas's user id in its file name: no name can beat it
            owners = {by_canvas[user].student_id: by_canvas[user]}
        else:
            owners = {
                by_key[k].student_id: by_key[k]
                for k in keys_of(m.row.get("file", ""))
                if k in by_key
            }
        if len(owners) != 1:
            m.why = (
                "no roster row names it"
                if not owners
                else f"several roster rows name it ({', '.join(sorted(owners))})"
            )
            out.unmatched.append(m)
            continue
        if not m.assignment:
            m.why = (
                "its assignment is unknown (an unreadable file in a folder of several assignments)"
            )
            m.student = next(iter(owners.values()))
            out.unmatched.append(m)
            continue
        m.student = next(iter(owners.values()))
        judge_lateness(m, policy)
        claimed.setdefault((m.student.student_id, m.assignment), []).append(m)
    for (sid, name), ms in claimed.items():
        ms = sorted(ms, key=lambda m: (_rank(m), m.row.get("id", "")), reverse=True)
        out.best[(sid, name)] = ms[0]
        if len(ms) > 1:
            out.duplicates.append((ms[0].student, name, ms[0], ms[1:]))
    for name in sorted(out.assignments):
        out.missing[name] = [s for s in students if (s.student_id, name) not in out.best]
    return out


def score(m):
    """The gradebook cell of a submission: its points (less the late penalty), or "" where a person
    must look."""
    if m is None or m.row.get("status") == REVIEW or m.row.get("flags") or m.pending:
        return ""
    total = (_num(m.row.get("total")) or 0.0) * (1.0 - m.penalty)
    return f"{round(total, 2):g}"


def _columns(export, headings):
    return [headings.get(a, a) for a in sorted(export.assignments)]


def canvas_rows(export, headings, missing_zero=False):
    names = sorted(export.assignments)
    rows = [
        CANVAS_HEAD + _columns(export, headings),
        [POINTS_POSSIBLE, "", "", "", ""]
        + [
            f"{export.assignments[a]:g}" if export.assignments[a] is not None else "" for a in names
        ],
    ]
    for s in export.students:
        cells = [score(export.best.get((s.student_id, a))) for a in names]
        if missing_zero:
            cells = [
                "0" if (s.student_id, a) not in export.best else c for a, c in zip(names, cells)
            ]
        rows.append([s.name, s.canvas_id, s.student_id, s.sis_login_id, s.section] + cells)
    return rows


def student_rows(export, s):
    rows = [
        [
            "student_id",
            "name",
            "email",
            "assignment",
            "file",
            "status",
            "score",
            "maximum",
            "late",
            "submitted",
            "days_late",
            "penalty",
            "reason",
        ]
    ]
    for a in sorted(export.assignments):
        m = export.best.get((s.student_id, a))
        if m is None:
            rows.append(
                [
                    s.student_id,
                    s.name,
                    s.email,
                    a,
                    "",
                    "missing",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "no submission",
                ]
            )
        else:
            rows.append(
                [
                    s.student_id,
                    s.name,
                    s.email,
                    a,
                    m.row.get("file", ""),
                    m.row.get("status", ""),
                    score(m),
                    m.row.get("maximum", ""),
                    "yes" if m.late else "no",
                    m.submitted.isoformat() if m.submitted else "",
                    str(m.days_late) if m.late else "",
                    f"{m.penalty:g}" if m.late else "",
                    m.row.get("reason", ""),
                ]
            )
    return rows


def write_csv(path, rows):
    store.write_csv(path, rows, keep=(POINTS_POSSIBLE,))


def file_name(student_id, used):
    """A safe, unique file name for a student's CSV (ids are the roster's, so they may hold any
    character)."""
    base = (
        re.sub(r"[^A-Za-z0-9_.-]+", "_", unicodedata.normalize("NFKC", student_id)).strip("._")[:60]
        or "student"
    )
    if base != student_id or base.casefold() in used:
        base = f"{base}-{hashlib.sha256(student_id.encode()).hexdigest()[:8]}"
    used.add(base.casefold())
    return f"{base}.csv"


def export(
    folders,
    roster,
    out,
    canvas=False,
    headings=None,
    late_penalty=None,
    missing_zero=False,
    *,
    policy=None,
    submitted=None,
):
    """Write the export into ``out``; returns the Export (who matched, who is missing).

    ``policy``: the late policy (:func:`late.load_policy`; default none, or a flat
    ``late_penalty``); ``submitted``: ``{assignment: times}`` of :func:`late.read_submitted`."""
    if policy is None:
        policy = late_work.Policy(flat=late_penalty or 0.0)
    students = read_roster(roster)
    result = match(students, load_grades(folders, submitted), policy)
    out = Path(out)
    (out / "students").mkdir(parents=True, exist_ok=True)
    headings = headings or {}
    table = canvas_rows(result, headings, missing_zero)
    if canvas:
        write_csv(out / "canvas.csv", table)
    write_csv(
        out / "grades_by_student.csv",
        [["student_id", "name", "email", "section"] + _columns(result, headings)]
        + [[s.student_id, s.name, s.email, s.section] + r[5:] for s, r in zip(students, table[2:])],
    )
    used = set()
    for s in students:
        write_csv(out / "students" / file_name(s.student_id, used), student_rows(result, s))
    late = sorted(
        (m for m in result.best.values() if m.late),
        key=lambda m: (m.assignment, m.student.student_id),
    )
    review = sorted(
        (m for m in result.best.values() if score(m) == ""),
        key=lambda m: (m.assignment, m.student.student_id),
    )
    html = ENV.get_template("export_report.html.j2").render(
        result=result,
        late=late,
        review=review,
        policy=policy,
        canvas=canvas,
        folders=list(map(str, folders)),
    )
    store.atomic_write(out / "report.html", html)
    return result


def _heading(text):
    name, sep, heading = text.partition("=")
    if not sep or not name or not heading:
        raise argparse.ArgumentTypeError(
            f"--column must be ASSIGNMENT=HEADING (e.g. '01_ols_raw_pixels=Notebook 1 "
            f"(4711)'), got {text!r}"
        )
    return name, heading


def _fraction(text):
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(
            f"--late-penalty is a fraction of the score in [0, 1], got {text}"
        )
    return value


def _submitted(text):
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(
            f"--submitted must be ASSIGNMENT=FILE (Canvas's submissions of that "
            f"assignment, .json or .csv), got {text!r}"
        )
    return name, path


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m autograder export", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "grades", nargs="+", help="folders holding grades.csv (the --out of grade or merge)"
    )
    p.add_argument(
        "--roster", required=True, help="roster.csv: student_id,name,email,submission[,section,...]"
    )
    p.add_argument(
        "--out",
        required=True,
        help="folder for canvas.csv, grades_by_student.csv, students/, report.html",
    )
    p.add_argument(
        "--canvas", action="store_true", help="write canvas.csv, Canvas's gradebook import"
    )
    p.add_argument(
        "--column",
        type=_heading,
        action="append",
        default=[],
        metavar="ASSIGNMENT=HEADING",
        help="the Canvas column of an assignment, e.g. its existing 'Notebook 1 (4711)' "
        "(default: its name)",
    )
    p.add_argument(
        "--course",
        default=str(REPO_TOML),
        metavar="course.toml",
        help="due dates ([due]) and the late penalty ([late]) (default: the repository's "
        "course.toml)",
    )
    p.add_argument(
        "--extensions",
        metavar="CSV",
        help="student_id,assignment,due (or days): per-student due dates",
    )
    p.add_argument(
        "--submitted",
        type=_submitted,
        action="append",
        default=[],
        metavar="ASSIGNMENT=FILE",
        help="when each file came in: Canvas's submissions of ASSIGNMENT (API JSON, or a CSV with "
        "submitted_at and attachment_id, user_id/ID or file)",
    )
    p.add_argument(
        "--late-penalty",
        type=_fraction,
        default=None,
        help="a flat fraction taken off a late file's score, replacing course.toml's [late]",
    )
    p.add_argument(
        "--missing-zero",
        action="store_true",
        help="0 for a student without a submission (default: blank, which leaves Canvas's "
        "grade as it is)",
    )
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    policy = late_work.load_policy(args.course, args.extensions, args.late_penalty)
    times = {}
    for name, path in args.submitted:
        times.setdefault(name, {}).update(late_work.read_submitted(path))
    result = export(
        args.grades,
        args.roster,
        args.out,
        args.canvas,
        dict(args.column),
        None,
        args.missing_zero,
        policy=policy,
        submitted=times,
    )
    missing = sum(len(v) for v in result.missing.values())
    print(
        f"{len(result.students)} students, {len(result.best)} submissions counted, "
        f"{len(result.unmatched)} unmatched, {missing} missing, "
        f"{len(result.duplicates)} students with several: {Path(args.out) / 'report.html'}"
    )
    return 0
