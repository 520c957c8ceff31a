"""From what came back (hostile data) to a status, a one-line reason and clamped scores.

Everything a sandbox produced is parsed here with limits: a bounded number of
JSON lines of bounded length, known question names only (from the host's own
reading of the built zip), scores clamped to ``[0, possible]`` with the
possible points taken from the host's reading, never from the sandbox.
Student-controlled text (exception names and messages, printed output) is
stripped of control characters, bounded, and redacted of hidden-test content.
"""

import json
import re
from dataclasses import dataclass, field

from . import store

MAX_EVENTS = 5000
LIMIT_STATUSES = ("memory", "processes", "disk", "output")


@dataclass
class Verdict:
    status: str
    reason: str
    questions: dict = None  # {question: (score, possible)} or None when not graded
    cases: dict = field(default_factory=dict)  # {question: [case dicts]} for the feedback page
    errors: list = field(default_factory=list)  # "cell N raised X: msg" lines for the feedback page
    flags: list = field(default_factory=list)  # audit findings


clean = store.printable  # the one cleaning of student text (store.py)


def name_of(text):
    """An exception class name as an identifier of at most 40 characters."""
    return re.sub(r"[^A-Za-z0-9_.]", "", str(text))[:40] or "an exception"


def events(channel):
    """The driver's JSON-line events, bounded; malformed lines are dropped."""
    out = []
    for line in channel.splitlines()[:MAX_EVENTS]:
        try:
            e = json.loads(line[:70000])
        except (ValueError, RecursionError):
            continue
        if isinstance(e, dict) and isinstance(e.get("event"), str):
            out.append(e)
    return out


def judged(channel, possible, secrets):
    """({question: (score, possible)}, {question: cases}) from the judge's output, or None."""
    try:
        data = json.loads(channel.decode("utf-8", "replace")) if channel else None
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("questions"), dict):
        return None
    questions, cases = {}, {}
    for q, maximum in possible.items():
        entry = data["questions"].get(q)
        entry = entry if isinstance(entry, dict) else {}
        questions[q] = (min(max(store.number(entry.get("score")), 0.0), maximum), maximum)
        raw = entry.get("cases") if isinstance(entry.get("cases"), list) else []
        cases[q] = [
            {
                "name": clean(c.get("name", ""), 80),
                "hidden": bool(c.get("hidden", True)),
                "passed": c.get("passed") is True,
                "hint": clean(c.get("hint", ""), 300, secrets, False),
                "points": min(max(store.number(c.get("points")), 0.0), maximum),
                "kind": c.get("kind")
                if c.get("kind") in ("assert", "raised", "lost", "wire")
                else "",
            }
            for c in raw[:50]
            if isinstance(c, dict)
        ]
    return questions, cases


def where(cells, number):
    """'cell N (`first line`)' from the host's own copy of the notebook."""
    src = next((s for n, _, s in cells if n == number), None)
    if src is None:
        return "an unknown cell"
    first = next((ln.strip() for ln in src.splitlines() if ln.strip()), "")
    return f"cell {number} (`{clean(first, 60)}`)"


def stage_one(outcome, cells, secrets, limits):
    """(Verdict for a stage that did not finish cleanly, or None; errors; events)."""
    evs = events(outcome.channel)
    started = [
        e.get("cell") for e in evs if e.get("event") == "start" and isinstance(e.get("cell"), int)
    ]
    at = where(cells, started[-1]) if started else "the start"
    errors = []
    for e in evs:
        if (
            e.get("event") == "cell"
            and isinstance(e.get("error"), dict)
            and isinstance(e.get("cell"), int)
        ):
            err = e["error"]
            errors.append(
                (
                    e["cell"],
                    f"{where(cells, e['cell'])} raised {name_of(err.get('ename'))}: "
                    f"{clean(err.get('evalue', ''), 200, secrets)}",
                )
            )
    if any(e.get("event") == "limit" and e.get("what") == "output" for e in evs):
        outcome.breaches.setdefault(
            "output", f"the submission printed more than {limits.output_mb:g} MB"
        )
    for status in LIMIT_STATUSES:
        if status in outcome.breaches:
            limit = {
                "memory": f"{limits.memory_gb:g} GB",
                "processes": f"{limits.pids} processes",
                "disk": f"{limits.disk_mb} MB",
                "output": f"{limits.output_mb:g} MB",
            }[status]
            when = (
                f"while running {at}" if status == "output" else f"(the last cell started was {at})"
            )
            return (
                Verdict(
                    status,
                    f"{outcome.breaches[status]} (limit {limit}) {when}; not graded",
                    errors=[x for _, x in errors],
                ),
                errors,
                evs,
            )
    if outcome.kind == "timeout":
        used = "" if outcome.cpu_seconds is None else f", {outcome.cpu_seconds:.0f} s of CPU"
        return (
            Verdict(
                "timeout",
                f"stopped after {outcome.seconds:.0f} s{used} (time limit {limits.timeout:g} s "
                f"{_clock(outcome)}) while running {at}; infinite loop?",
                errors=[x for _, x in errors],
            ),
            errors,
            evs,
        )
    if any(e.get("event") == "died" for e in evs):
        return (
            Verdict(
                "crashed",
                f"the Python kernel died while running {at} (os._exit, a fatal signal or a crash)",
                errors=[x for _, x in errors],
            ),
            errors,
            evs,
        )
    if not any(e.get("event") == "done" for e in evs):
        failed = next((e.get("error") for e in evs if e.get("event") == "failed"), None)
        tail = clean(failed or (outcome.log_tail.strip().splitlines() or ["no output"])[-1], 150)
        return (
            Verdict(
                "crashed",
                f"the notebook runner ended without finishing (exit {outcome.returncode}) "
                f"while running {at}: {tail}",
                errors=[x for _, x in errors],
            ),
            errors,
            evs,
        )
    return None, errors, evs


def _clock(outcome):
    return "of CPU time" if outcome.cpu_seconds is not None else "of wall-clock time"


def review_flags(cases, written, questions):
    """A failed 0-point case of an auto-graded question is a "how it was computed" check (issue 29
    §4): what the judge cannot verify from returned values earns no points, and its failure asks a
    person to look at points the question earned anyway. Only where the check itself fired (its
    assertion), not where the function raised or is missing, and only beside points: a question that
    earned none (an unanswered multiple-choice letter, a missing function) has nothing for a person
    to confirm.
    ``questions``: {question: (score, possible)}, as :func:`judged` gives."""
    return [
        f"{q}: {clean(c.get('hint', ''), 120)}"
        for q, rows in cases.items()
        if q not in written and questions.get(q, (0.0, 0.0))[0] > 0
        for c in rows
        if not c.get("passed") and not c.get("points") and c.get("kind") == "assert"
    ]


def decide(run, judge, cells, tpl, flags, limits):
    """The Verdict of a submission from its two stages (``judge`` None when stage one failed)."""
    early, errors, _ = stage_one(run, cells, tpl.secrets, limits)
    if early is not None:
        early.flags = flags
        return early
    lines = [x for _, x in sorted(errors)]
    for status in LIMIT_STATUSES:
        if status in judge.breaches:
            return Verdict(
                status,
                f"{judge.breaches[status]} while the tests called the graded functions; not graded",
                errors=lines,
                flags=flags,
            )
    if judge.kind == "timeout":
        return Verdict(
            "timeout",
            f"the tests of the graded functions ran over {limits.judge_timeout:g} s "
            f"{_clock(judge)}; not graded",
            errors=lines,
            flags=flags,
        )
    got = judged(judge.channel, tpl.possible, tpl.secrets)
    if got is None:
        tail = clean((judge.log_tail.strip().splitlines() or ["no output"])[-1], 150, tpl.secrets)
        return Verdict(
            "crashed",
            f"the judge ended without a result (exit {judge.returncode}): {tail}",
            errors=lines,
            flags=flags,
        )
    questions, cases = got
    flags = flags + review_flags(cases, tpl.manual or {}, questions)
    reason = ""
    if errors:
        reason = f"{len(errors)} cell(s) raised errors: " + "; ".join(
            clean(x, 100) for x in lines[:3]
        )
    if flags:  # advice for the reviewer, never a verdict: the score stands
        reason = (
            reason + "; " if reason else ""
        ) + f"flagged for review: {clean('; '.join(flags), 200)}"
    return Verdict("graded", reason, questions, cases, lines, flags)
