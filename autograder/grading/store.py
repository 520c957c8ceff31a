"""What the batch keeps on disk: grades.csv, the lock on --out, and safe reads.

``grades.csv`` is rewritten whole (temp file + ``os.replace``) each time a
submission finishes, so a reader never sees half a row and a restarted batch
finds exactly the rows that were finished. Every cell a spreadsheet could run
as a formula is escaped. ``safe_read`` is how the host opens anything a
sandbox could have touched: no links followed, no FIFOs, bounded size.
"""
import csv
import fcntl
import io
import json
import math
import os
import stat
from pathlib import Path

FIXED_HEAD = ["id", "file", "assignment"]
# sha256: the submission's content; autograder: the fingerprint of the tests and points it was graded with
# (assignment.fingerprint). A resumed batch reuses a row only while both are unchanged.
FIXED_TAIL = ["total", "maximum", "status", "reason", "flags", "seconds", "sha256", "autograder"]
NOTES = Path("manual") / "notes.json"        # the TA's notes on written answers: {id: {question: note}}
STATUSES = ("graded", "timeout", "memory", "processes", "disk", "output", "crashed", "invalid",
            "wrong-assignment")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "|", "%")


class Busy(RuntimeError):
    """Another grader holds the lock on this output folder."""


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


def escape_cell(value):
    """A CSV cell that no spreadsheet runs as a formula (OWASP: prefix a quote)."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text):
    try:
        return math.isfinite(float(text)) and text.strip() == text
    except ValueError:
        return False


def read_rows(csv_path):
    """Finished rows of an earlier (maybe interrupted) run, keyed by id."""
    data = safe_read(csv_path, 64 << 20)
    if data is None:
        return {}
    rows = csv.DictReader(io.StringIO(data.decode("utf-8", "replace")))
    return {row["id"]: row for row in rows if row.get("id")}


def question_columns(rows):
    fixed = set(FIXED_HEAD + FIXED_TAIL)
    return sorted({k for r in rows.values() for k in r if k not in fixed and k is not None})


def write_rows(csv_path, rows):
    """All rows, one column per question seen in any row; atomic, formula-escaped."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, FIXED_HEAD + question_columns(rows) + FIXED_TAIL, restval="",
                            extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for key in sorted(rows):
        writer.writerow({k: escape_cell(v) for k, v in rows[key].items()})
    atomic_write(csv_path, buf.getvalue())


def read_notes(out):
    """The TA's notes on written answers (``merge-manual``'s ``note`` column), ``{id: {question: note}}``."""
    data = safe_read(Path(out) / NOTES, 16 << 20)
    try:
        value = json.loads(data) if data else {}
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): {str(q): str(n) for q, n in v.items()} for k, v in value.items() if isinstance(v, dict)}


def write_notes(out, notes):
    (Path(out) / NOTES).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(Path(out) / NOTES, json.dumps(notes, indent=1, ensure_ascii=False, sort_keys=True))


class OutLock:
    """An exclusive lock on ``<out>/.grading.lock``; a second grader waits ``wait`` s, then refuses."""

    def __init__(self, out, wait=0.0):
        self.path, self.wait, self.fd = Path(out) / ".grading.lock", wait, None

    def __enter__(self):
        import time
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(self.fd)
                    raise Busy(f"another grader is writing to {self.path.parent} (lock {self.path}); "
                               f"wait for it to finish or use another --out") from None
                time.sleep(0.5)
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
