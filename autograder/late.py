"""Late work for ``python -m autograder export``: due dates, extensions, when each file came in, the
penalty.

- **Due dates** per assignment and the **penalty** live in ``course.toml`` (``[late]``: ``per_day``,
  a fraction of the score taken per started day late, ``flat``, a fraction taken once from any late
  file, ``grace_minutes``; ``[due]``: one ISO 8601 date and time, with its UTC offset, per
  assignment). The penalty is ``flat + per_day × days late``, at most the whole score.
- **Extensions** (``--extensions extensions.csv``): ``student_id, assignment`` and either ``due`` (a
  new date and time) or ``days`` (added to the course's due date). A student's id is the roster's
  ``student_id`` or Canvas's user ``ID``.
- **When a file came in** (``--submitted ASSIGNMENT=FILE``): Canvas's own record of one assignment's
  submissions, as its Submissions API returns it (JSON: ``user_id``, ``submitted_at``; with
  ``include[]=submission_history`` every attempt with its attachments' ids) or as a CSV with
  ``submitted_at`` and one of ``attachment_id``, ``user_id`` / ``ID`` or ``file`` (the path in
  ``grades.csv``). A file from Canvas's "Download Submissions" zip is found by the user and
  attachment ids in its name (``smithann_late_1234_5678_01_ols_raw_pixels.ipynb``: user 1234,
  attachment 5678).
- Without a time, a file is late only when Canvas's file name says ``late`` (Canvas's own due date
  and its own extensions decided it), and counts as one started day late.

The penalty is applied to a file's score before the student's best file is chosen.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

CANVAS_NAME = re.compile(
    r"^(?P<key>[^_/]+)(?P<late>_late)?_(?P<user>\d+)_(?P<attachment>\d+)_(?P<name>.+)$",
    re.IGNORECASE,
)
DAY = dt.timedelta(days=1)


class LateError(SystemExit):
    def __init__(self, message):
        super().__init__(f"error: {message}")


def parse_time(text, where) -> dt.datetime:
    """An ISO 8601 date and time with its UTC offset (``Z`` allowed); a LateError names
    ``where``."""
    try:
        value = dt.datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise LateError(
            f"{where}: {text!r} is not a date and time such as 2027-02-01T23:59:00-05:00"
        ) from None
    if value.tzinfo is None:
        raise LateError(
            f"{where}: {text!r} has no UTC offset; write it as 2027-02-01T23:59:00-05:00 (or ...Z)"
        )
    return value


def canvas_ids(shown) -> tuple:
    """(Canvas user id, attachment id) from a downloaded submission's file name, or (None, None)."""
    m = CANVAS_NAME.match(PurePosixPath(str(shown).lstrip("'")).name)
    return (m["user"], m["attachment"]) if m else (None, None)


@dataclass
class Policy:
    due: dict = field(default_factory=dict)  # {assignment: datetime}
    per_day: float = 0.0
    flat: float = 0.0
    grace: dt.timedelta = dt.timedelta(0)
    extensions: dict = field(default_factory=dict)  # {(student key, assignment): datetime}

    @property
    def penalises(self) -> bool:
        return bool(self.per_day or self.flat)

    def due_for(self, student, assignment):
        """The due date of ``assignment`` for ``student`` (a roster Student): an extension's, else
        the course's."""
        for key in (student.student_id, student.canvas_id):
            if key and (key, assignment) in self.extensions:
                return self.extensions[(key, assignment)]
        return self.due.get(assignment)

    def fraction(self, days) -> float:
        """The share of the score a file ``days`` started days late loses (0 when on time)."""
        return 0.0 if not days else min(1.0, self.flat + self.per_day * days)

    def describe(self) -> str:
        parts = [
            f"{self.per_day:.0%} per started day" if self.per_day else "",
            f"{self.flat:.0%} once" if self.flat else "",
        ]
        text = " plus ".join(p for p in parts if p) or "no penalty"
        grace = f", {self.grace.total_seconds() / 60:g} minutes' grace" if self.grace else ""
        return f"{text} (at most the whole score){grace}" if self.penalises else text + grace


def _fraction(value, where):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise LateError(
            f"{where} must be a fraction of the score, e.g. 0.1; got {value!r}"
        ) from None
    if not 0 <= value <= 1:
        raise LateError(f"{where} must lie in [0, 1], got {value}")
    return value


def load_policy(course_toml=None, extensions=None, flat=None) -> Policy:
    """The course's late policy from ``course.toml`` (``[late]``, ``[due]``), with ``extensions`` (a
    CSV) and a ``flat`` fraction given on the command line (``--late-penalty``, which replaces
    ``[late]``)."""
    config = {}
    if course_toml is not None and Path(course_toml).is_file():
        try:
            config = tomllib.loads(Path(course_toml).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise LateError(f"{course_toml}: {err}") from None
    late = config.get("late", {})
    unknown = set(late) - {"per_day", "flat", "grace_minutes"}
    if unknown:
        raise LateError(
            f"{course_toml} [late]: unknown key(s) {', '.join(sorted(unknown))}; "
            "the keys are per_day, flat, grace_minutes"
        )
    policy = Policy(
        per_day=_fraction(late.get("per_day", 0), "[late] per_day"),
        flat=_fraction(late.get("flat", 0), "[late] flat"),
        grace=dt.timedelta(minutes=float(late.get("grace_minutes", 0))),
    )
    if flat is not None:
        policy.per_day, policy.flat = 0.0, _fraction(flat, "--late-penalty")
    policy.due = {
        name: parse_time(when, f"{course_toml} [due] {name}")
        for name, when in config.get("due", {}).items()
    }
    if extensions is not None:
        policy.extensions = read_extensions(extensions, policy.due)
    return policy


def _csv_rows(path, what):
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise LateError(f"{what} {path} cannot be read as UTF-8 text: {err}") from None
    reader = csv.DictReader(io.StringIO(text))
    reader.fieldnames = [h.strip().lower() for h in reader.fieldnames or []]
    return reader


def read_extensions(path, due) -> dict:
    """``{(student id, assignment): new due date}`` from ``student_id,assignment,due`` or
    ``...,days`` rows."""
    reader = _csv_rows(path, "extensions file")
    head = set(reader.fieldnames)
    if not {"student_id", "assignment"} <= head or not head & {"due", "days"}:
        raise LateError(
            f"extensions file {path}: the header is student_id,assignment and due or days, "
            f"got {','.join(reader.fieldnames)}"
        )
    out = {}
    for line, row in enumerate(reader, start=2):
        sid, name = (row.get("student_id") or "").strip(), (row.get("assignment") or "").strip()
        where = f"extensions file {path} line {line}"
        if not sid or not name:
            raise LateError(f"{where}: empty student_id or assignment")
        if (row.get("due") or "").strip():
            out[(sid, name)] = parse_time(row["due"], where)
        else:
            if name not in due:
                raise LateError(
                    f"{where}: {name} has no due date in course.toml [due] to add days to"
                )
            try:
                out[(sid, name)] = due[name] + float(row["days"]) * DAY
            except (TypeError, ValueError):
                raise LateError(
                    f"{where}: days must be a number, got {row.get('days')!r}"
                ) from None
    return out


def read_submitted(path) -> dict:
    """``{key: submitted_at}`` from Canvas's submissions record of one assignment (see the module's
    docstring); keys are ``("attachment", id)``, ``("user", id)`` (the latest attempt) and
    ``("file", path)``."""
    path = Path(path)
    times = {}

    def note(key, when, where):
        value = parse_time(when, where)
        if key[0] != "user" or key not in times or value > times[key]:
            times[key] = value

    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise LateError(f"submissions file {path} is not JSON: {err}") from None
        for sub in data.get("submissions", []) if isinstance(data, dict) else data:
            attempts = sub.get("submission_history") or [sub]
            for attempt in attempts:
                if not attempt.get("submitted_at"):
                    continue
                where = f"submissions file {path}, user {sub.get('user_id')}"
                note(("user", str(sub.get("user_id"))), attempt["submitted_at"], where)
                for attachment in attempt.get("attachments") or []:
                    note(("attachment", str(attachment.get("id"))), attempt["submitted_at"], where)
        return times
    reader = _csv_rows(path, "submissions file")
    keys = [k for k in ("attachment_id", "user_id", "id", "file") if k in reader.fieldnames]
    if "submitted_at" not in reader.fieldnames or not keys:
        raise LateError(
            f"submissions file {path}: the header needs submitted_at and one of attachment_id, "
            f"user_id (or Canvas's ID) or file; got {','.join(reader.fieldnames)}"
        )
    for line, row in enumerate(reader, start=2):
        if not (row.get("submitted_at") or "").strip():
            continue
        for k in keys:
            if (row.get(k) or "").strip():
                kind = {"attachment_id": "attachment", "id": "user", "user_id": "user"}.get(
                    k, "file"
                )
                note(
                    (kind, row[k].strip()),
                    row["submitted_at"],
                    f"submissions file {path} line {line}",
                )
    return times


def submitted_at(shown, times):
    """When the file ``shown`` (its path in ``grades.csv``) came in, from ``times``
    (read_submitted), or None."""
    shown = str(shown).lstrip("'")
    user, attachment = canvas_ids(shown)
    for key in (("file", shown), ("attachment", attachment), ("user", user)):
        if key[1] is not None and key in times:
            return times[key]
    return None


def days_late(when, due, grace=dt.timedelta(0)):
    """Started days between ``due`` and ``when`` (0 when within the grace period or on time)."""
    if when is None or due is None or when <= due + grace:
        return 0
    return math.ceil((when - due) / DAY)
