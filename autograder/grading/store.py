"""THE ``--out`` folder of ``grade``, ``merge`` and ``merge-manual``: every path, every format.

Every other module asks this one where a file lies and how it reads; nothing else spells the layout:

- ``grades.csv``: one row per submission, the commit point: rewritten whole (temp file and
  ``os.replace``) each time a submission finishes, so a reader never sees half a row and a
  restarted batch finds exactly the finished rows;
- ``maxima.json``: {assignment: {question: points}}, written by the batch from the built zip
  (the written questions included), never rebuilt from a file derived from it;
- ``manual/<assignment>.json``: the written questions' specs (the zip's ``manual.json``);
- ``verdicts/<id>.json``: what the grader decided (status, reason, each question's score and
  possible points, each test case, the errors the cells raised, the review flags);
- ``answers/<id>.json``: the written answers and the outputs printed beside them;
- ``report_context.json``: the isolation, the limits and the warnings of the batch;
- ``timings.json``, ``warnings.txt``; ``shard.json`` (a shard), ``merged.json`` (a merge);
- what ``report`` renders from all of the above: ``feedback/<id>.html``,
  ``results/<id>.json`` (Gradescope's), ``review/``, ``report.html``;
- ``.grading.lock``: one grader at a time.

One escaping for every CSV the project writes (``escape_cell``: a cell a spreadsheet would run as
a formula gets a leading quote), one cleaning of text a student controls (``printable``), one reader
of our own JSON (``read_json``), one number parser (``number``). ``safe_read`` is how the host
opens anything a sandbox could have touched: no links followed, no FIFOs, bounded size.
"""

import csv
import fcntl
import io
import json
import math
import os
import re
import stat
import time
import unicodedata
from pathlib import Path

FIXED_HEAD = ["id", "file", "assignment"]
# sha256: the submission's content; autograder: the fingerprint of the tests and points it was
# graded with (assignment.fingerprint). A resumed batch reuses a row only while both are unchanged.
FIXED_TAIL = ["total", "maximum", "status", "reason", "flags", "seconds", "sha256", "autograder"]
NOTES = Path("manual") / "notes.json"  # the TA's notes on written answers: {id: {question: note}}
STATUSES = (
    "graded", "timeout", "memory", "processes", "disk", "output", "crashed", "invalid",
    "wrong-assignment",
)  # fmt: skip
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "|", "%")

GRADES = "grades.csv"
MAXIMA = "maxima.json"
CONTEXT = "report_context.json"
TIMINGS = "timings.json"
WARNINGS = "warnings.txt"
REPORT = "report.html"
SHARD = "shard.json"
MERGED = "merged.json"
LOCK = ".grading.lock"
REVIEW = "review"
MANUAL = "manual"
SCORES_TEMPLATE = "scores_template.csv"  # in review/: the TA's scores of the written answers
SCORES_HEADER = ["id", "file", "assignment", "question", "max_points", "score", "note"]
# per submission: folder -> suffix of <folder>/<id><suffix>
PER_SUBMISSION = {
    "verdicts": ".json",
    "answers": ".json",
    "results": ".json",
    "feedback": ".html",
}
JSON_LIMIT = 64 << 20


class Busy(RuntimeError):
    """Another grader holds the lock on this output folder."""


# ------------------------------------------------------------------ paths


def path(out, name):
    """A file of the folder itself (``GRADES``, ``MAXIMA``, ...)."""
    return Path(out) / name


def entry(out, folder, sub_id):
    """The file of submission ``sub_id`` in ``folder`` (one of ``PER_SUBMISSION``)."""
    return Path(out) / folder / f"{sub_id}{PER_SUBMISSION[folder]}"


def make_folders(out):
    for folder in PER_SUBMISSION:
        (Path(out) / folder).mkdir(parents=True, exist_ok=True)


# ------------------------------------------------------------------ reading and writing


def atomic_write(path, text):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def safe_read(path, limit):
    """Bytes of a regular file, at most ``limit`` (None if absent, a link, a FIFO or too big)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, limit + 1)
        return None if len(data) > limit else data
    finally:
        os.close(fd)


def read_json(path, limit=JSON_LIMIT):
    """Our own earlier JSON object, or {} when absent, unreadable or not an object."""
    data = safe_read(path, limit)
    try:
        value = json.loads(data) if data else {}
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def write_json(path, value, sort_keys=False):
    """``value`` as JSON, atomically (its folder made if needed)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(value, indent=1, ensure_ascii=False, sort_keys=sort_keys))


def number(value, default=0.0):
    """A finite float from a cell or a JSON value, else ``default``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


# ------------------------------------------------------------------ text a student controls

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # terminal colours and cursor moves
REDACTED = "[hidden test content removed]"


def printable(text, limit=200, secrets=(), one_line=True):
    """The one cleaning of text a student controls, before a page, a CSV cell, a log or a reason
    shows it: printable and bounded (``limit`` characters, the last an ellipsis), a line holding a
    hidden test's text (``secrets``) replaced. ``one_line``: a reason or a hint, with runs of blanks
    collapsed; otherwise a block (an answer, a listing) that keeps its line breaks and indentation.
    Pages escape the result with Jinja2's autoescape and CSV files with :func:`escape_cell`: this
    function makes text readable, not safe for HTML."""
    text = ANSI.sub("", str(text)).replace("\r\n", "\n")
    if one_line or secrets:  # compatibility forms (full-width letters...) cannot hide a secret
        text = unicodedata.normalize("NFKC", text)
    if not one_line:
        text = text.replace("\t", "    ")
    text = "".join(ch if ch.isprintable() or (ch == "\n" and not one_line) else " " for ch in text)
    if one_line:
        text = re.sub(r"[ \t]+", " ", text).strip()
    if secrets:
        text = "\n".join(
            REDACTED if any(s in line for s in secrets) else line for line in text.split("\n")
        )
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------ CSV


def escape_cell(value):
    """A CSV cell that no spreadsheet runs as a formula (OWASP: prefix a quote).

    A cell that starts with a quote gets one more, so ``unescape_cell`` gives back every value."""
    text = "" if value is None else str(value)
    if text.startswith("'") or text.startswith(FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def unescape_cell(text):
    """The value ``escape_cell`` escaped."""
    return text[1:] if text.startswith("'") else text


def _is_number(text):
    try:
        return math.isfinite(float(text)) and text.strip() == text
    except ValueError:
        return False


def csv_text(lines, keep=()):
    """CSV text of ``lines`` (lists of cells), every cell escaped but those in ``keep``.

    Lines end in CRLF (RFC 4180), so that a cell holding a carriage return is quoted too."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for line in lines:
        writer.writerow([c if c in keep else escape_cell(c) for c in line])
    return buf.getvalue()


def write_csv(path, lines, keep=()):
    """``lines`` into ``path`` atomically, every cell escaped (``csv_text``)."""
    atomic_write(path, csv_text(lines, keep))


def read_rows(csv_path):
    """Finished rows of an earlier (maybe interrupted) run, keyed by id."""
    data = safe_read(csv_path, 64 << 20)
    if data is None:
        return {}
    reader = csv.DictReader(io.StringIO(data.decode("utf-8", "replace")))
    rows = [{k: v if k is None else unescape_cell(v or "") for k, v in r.items()} for r in reader]
    return {row["id"]: row for row in rows if row.get("id")}


def question_columns(rows, order=()):
    """The question columns of ``rows``: those of ``order`` (the notebooks' order) first, in it,
    then any other, sorted."""
    fixed = set(FIXED_HEAD + FIXED_TAIL)
    seen = {k for r in rows.values() for k in r if k not in fixed and k is not None}
    rank = {q: i for i, q in enumerate(dict.fromkeys(order))}
    return sorted(seen, key=lambda q: (rank.get(q, len(rank)), q))


def question_order(out):
    """Every question of ``out``'s assignments, by assignment name (``01_...`` before ``02_...``),
    each in its notebook's order (``maxima.json`` keeps it)."""
    known = maxima(out)
    return [q for name in sorted(known) for q in known[name]]


def write_rows(csv_path, rows):
    """All rows, one column per question seen in any row, in the notebooks' order; atomic,
    formula-escaped."""
    order = question_order(Path(csv_path).parent)
    header = FIXED_HEAD + question_columns(rows, order) + FIXED_TAIL
    lines = [header] + [[rows[key].get(k, "") for k in header] for key in sorted(rows)]
    write_csv(csv_path, lines)


def rows(out):
    """The rows of ``out/grades.csv`` by id."""
    return read_rows(path(out, GRADES))


def save_rows(out, rows_by_id):
    write_rows(path(out, GRADES), rows_by_id)


# ------------------------------------------------------------------ what the batch knows


def maxima(out):
    """{assignment: {question: points}} as the batch read them from the built zips."""
    return {
        name: {q: number(p) for q, p in qs.items()}
        for name, qs in read_json(path(out, MAXIMA)).items()
        if isinstance(qs, dict)
    }


def save_maxima(out, assignment, points):
    """Record ``assignment``'s {question: points} (called under the lock on ``out``)."""
    known = maxima(out)
    known[assignment] = dict(points)
    write_json(path(out, MAXIMA), known)


def manifests(out):
    """{assignment: {question: spec}} of the written questions, saved by ``grade``."""
    found = {}
    for p in sorted((Path(out) / MANUAL).glob("*.json")):
        specs = read_json(p, 4 << 20)
        if specs:
            found[p.stem] = specs
    return found


def save_manifest(out, assignment, specs):
    write_json(Path(out) / MANUAL / f"{assignment}.json", specs)


def verdict(out, sub_id):
    """What the grader decided for ``sub_id`` (``save_verdict``), or {}."""
    return read_json(entry(out, "verdicts", sub_id))


def save_verdict(out, sub_id, v):
    """``v`` (a ``verdict.Verdict``) as data: questions as {question: [score, possible]}."""
    questions = None
    if v.questions is not None:
        questions = {q: [s, p] for q, (s, p) in v.questions.items()}
    data = {
        "status": v.status,
        "reason": v.reason,
        "questions": questions,
        "cases": v.cases,
        "errors": v.errors,
        "flags": v.flags,
    }
    write_json(entry(out, "verdicts", sub_id), data)


def answers(out, sub_id):
    return read_json(entry(out, "answers", sub_id), 8 << 20)


def save_answers(out, sub_id, value):
    write_json(entry(out, "answers", sub_id), value)


def context(out):
    """The isolation, limits and warnings of the batch that wrote ``out``."""
    return read_json(path(out, CONTEXT))


def save_context(out, warnings=(), isolation="", limits=""):
    value = {"warnings": list(warnings), "isolation": isolation, "limits": limits}
    write_json(path(out, CONTEXT), value)


def timings(out):
    return read_json(path(out, TIMINGS), 16 << 20)


def save_timings(out, value):
    write_json(path(out, TIMINGS), value, sort_keys=True)


def warnings(out):
    text = (safe_read(path(out, WARNINGS), 1 << 20) or b"").decode("utf-8", "replace")
    return [w for w in text.splitlines() if w]


def save_warnings(out, lines):
    atomic_write(path(out, WARNINGS), "".join(w + "\n" for w in lines))


# ------------------------------------------------------------------ the lock


def read_notes(out):
    """The TA's notes on written answers (``merge-manual``'s ``note`` column),
    ``{id: {question: note}}``."""
    data = safe_read(Path(out) / NOTES, 16 << 20)
    try:
        value = json.loads(data) if data else {}
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {
        str(k): {str(q): str(n) for q, n in v.items()}
        for k, v in value.items()
        if isinstance(v, dict)
    }


def write_notes(out, notes):
    (Path(out) / NOTES).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(Path(out) / NOTES, json.dumps(notes, indent=1, ensure_ascii=False, sort_keys=True))


class OutLock:
    """An exclusive lock on ``<out>/.grading.lock``; a second grader waits ``wait`` s, then
    refuses."""

    def __init__(self, out, wait=0.0):
        self.path, self.wait, self.fd = path(out, LOCK), wait, None

    def __enter__(self):
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        self.fd = os.open(self.path, flags, 0o600)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(self.fd)
                    raise Busy(
                        f"another grader is writing to {self.path.parent} (lock {self.path}); "
                        f"wait for it to finish or use another --out"
                    ) from None
                time.sleep(0.5)
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
