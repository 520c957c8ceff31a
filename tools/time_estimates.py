"""Each notebook's "Estimated time", derived instead of guessed: reading + questions + the cells' \
run time.

    python tools/time_estimates.py          # recompute from the notebooks; rewrite docs and intros
    python tools/time_estimates.py --executed build/notebooks
                                            # also take new run times from executed copies
    python tools/time_estimates.py --check  # exit 1 when an intro or the docs are out of date

Three parts, per notebook:

* **reading**: the words a student reads (whitespace-separated tokens of the student notebook's
  markdown, and of its code cells except the setup cell), at :data:`WPM` words per minute: the
  average silent reading rate of English non-fiction in the meta-analysis of M. Brysbaert, "How many
  words do we read per minute? A review and meta-analysis of reading rate", *Journal of Memory and
  Language* 109 (2019) 104047, doi:10.1016/j.jml.2019.104047. Technical text with formulas and code
  is read more slowly, so this part is a lower bound.
* **questions**: minutes per graded question by its type (:data:`MINUTES`: the course's planning
  assumptions, not measurements), the type read from the master (:func:`question_type`).
* **running**: the seconds the cells took in an executed copy of the solution (nbclient's per-cell
  ``execution`` timestamps), on an empty feature cache: what a student's first run costs; or ``make
  bench-full``'s cold runs (``--bench build/bench.json``). Recorded in ``docs/time-estimates.json``
  with where each figure comes from, so that later runs of this tool need no execution; pass
  ``--executed DIR`` (``make demo`` writes ``build/notebooks/``) or ``--bench FILE`` to measure
  again.

**Observed reads** replace the derivation where they exist: a person new to the notebook (a TA, a
pilot student) timed from the first cell to the closing check with every question attempted,
recorded with ``--observed STEM MINUTES WHO`` (WHO: who, when, where, e.g. "TA pilot, 2027-01-12,
Colab CPU"). A notebook with observed reads gets their median in its intro; the derived parts stay
on the page beside it, for comparison.

The total is rounded **up** to the next half hour (:func:`rounded_hours`). That rounded figure is
the only number written into a notebook (its intro: "about N hours", with a pointer to
``docs/time-estimates.md``): it is a planning estimate derived by this tool, and every measured part
(words, seconds) stays in the docs. ``tests/test_time_estimates.py`` fails when an intro or the docs
differ from what this tool derives now (after an edit of the prose or a new question, run this tool,
then ``python -m autograder build``).
"""

from __future__ import annotations

import argparse
import ast
import datetime as _dt
import json
import math
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS, NOTEBOOKS = REPO / "solutions", REPO / "notebooks"
RECORD, PAGE = REPO / "docs" / "time-estimates.json", REPO / "docs" / "time-estimates.md"

# words per minute, silent reading of English non-fiction (Brysbaert 2019, see the module docstring)
WPM = 238
# minutes per graded question, by type: planning assumptions, stated in docs/time-estimates.md
MINUTES = {
    # write a function from its docstring and signature, run its public check, fix it
    "function": 10,
    "value": 6,  # compute or design one value from earlier results (a filter, a max, a kernel)
    "written": 6,  # a prediction or explanation in a few sentences, citing printed numbers
    "choice": 3,  # pick among given options (multiple choice, a table of named strategies)
}
INTRO = re.compile(r"\*\*Estimated time:\*\* (?:about )?[\d.]+ \w+(?: \([^)]*\))?\.")
STEMS = sorted(p.stem for p in SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def reading_words(stem: str) -> dict:
    """{"prose", "code"}: the words of the student notebook's markdown, and of its code cells after
    the setup cell."""
    cells = _cells(NOTEBOOKS / f"{stem}.ipynb")
    code = [c for c in cells if c["cell_type"] == "code"][1:]
    return {
        "prose": sum(len(_source(c).split()) for c in cells if c["cell_type"] == "markdown"),
        "code": sum(len(_source(c).split()) for c in code),
    }


def _solution_code(text: str) -> str:
    """The solution's code: otter's markers and the prompt string dropped."""
    text = re.sub(r'""" # BEGIN PROMPT.*?""" # END PROMPT', "", text, flags=re.S)
    return "\n".join(
        line for line in text.splitlines() if not re.match(r"\s*# (BEGIN|END) SOLUTION", line)
    )


def question_type(config: str, solution: str) -> str:
    """ "function", "value", "written" or "choice", from a question's config and its solution cell's
    code.

    A function definition is "function"; an otter manual question, or an answer holding a text of 10
    words or more, is "written"; answers that are only literals or named constants are "choice";
    anything computed is "value".
    """
    code = _solution_code(solution)
    tree = ast.parse(code)
    if any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(tree)):
        return "function"
    texts = [
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]
    if re.search(r"^manual:\s*true", config, re.M | re.I) or any(
        len(t.split()) >= 10 for t in texts
    ):
        return "written"
    values = [n.value for n in ast.walk(tree) if isinstance(n, ast.Assign)]
    literal = (
        ast.Constant,
        ast.Name,
        ast.Dict,
        ast.Tuple,
        ast.List,
        ast.Set,
        ast.Load,
        ast.UnaryOp,
        ast.USub,
    )
    if values and all(isinstance(n, literal) for v in values for n in ast.walk(v)):
        return "choice"
    return "value"


def questions(stem: str) -> dict:
    """{question name: type} for every question of the master, in order."""
    cells, found = _cells(SOLUTIONS / f"{stem}.ipynb"), {}
    for i, cell in enumerate(cells):
        text = _source(cell)
        if cell["cell_type"] == "raw" and text.startswith("# BEGIN QUESTION"):
            name = re.search(r"^name:\s*(\S+)", text, re.M).group(1)
            end = next(
                j for j in range(i, len(cells)) if _source(cells[j]).startswith("# END QUESTION")
            )
            body = cells[i + 1 : end]
            start = next(
                (k for k, c in enumerate(body) if _source(c).startswith("# BEGIN SOLUTION")), None
            )
            solution = (
                next((_source(c) for c in body[start + 1 :] if c["cell_type"] == "code"), "")
                if start is not None
                else ""
            )
            found[name] = question_type(text, solution)
    return found


def run_seconds(executed: Path) -> float:
    """Seconds the code cells of an executed notebook took (nbclient's ``execution`` metadata, input
    to reply)."""

    def stamp(text):
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))

    total, timed, code = 0.0, 0, 0
    for cell in _cells(executed):
        times = cell.get("metadata", {}).get("execution", {})
        code += cell["cell_type"] == "code" and bool("".join(cell["source"]).strip())
        if (
            cell["cell_type"] == "code"
            and "iopub.execute_input" in times
            and "shell.execute_reply" in times
        ):
            total += (
                stamp(times["shell.execute_reply"]) - stamp(times["iopub.execute_input"])
            ).total_seconds()
            timed += 1
    if not timed:
        raise SystemExit(
            f"{executed} has no cell timings: execute it with nbclient (make demo) first"
        )
    if timed < code:
        raise SystemExit(
            f"{executed}: only {timed} of {code} code cells ran: the run stopped early; "
            "run it again"
        )
    return total


def rounded_hours(minutes: float) -> float:
    """The total rounded up to the next half hour (at least half an hour)."""
    return max(0.5, math.ceil(minutes / 30) / 2)


def hours_text(hours: float) -> str:
    return f"about {hours:g} hour" + ("" if hours == 1 else "s")


def estimate(stem: str, seconds: float, observed=()) -> dict:
    """Every part of ``stem``'s estimate (minutes), from its notebooks now and the recorded run
    ``seconds``; with ``observed`` reads ([{"minutes", "who"}]), the hours come from their median
    instead of the derived total."""
    words, types = reading_words(stem), questions(stem)
    parts = {
        "reading": (words["prose"] + words["code"]) / WPM,
        "questions": sum(MINUTES[t] for t in types.values()),
        "running": seconds / 60,
    }
    total = sum(parts.values())
    reads = sorted(float(r["minutes"]) for r in observed)
    median = (reads[(len(reads) - 1) // 2] + reads[len(reads) // 2]) / 2 if reads else None
    return {
        "words": words,
        "questions": types,
        "run_seconds": round(seconds, 1),
        "minutes": {k: round(v, 1) for k, v in parts.items()},
        "total_minutes": round(total, 1),
        "observed_median": median,
        "hours": rounded_hours(total if median is None else median),
    }


def intro_text(hours: float, observed=False) -> str:
    """The sentence each intro carries (the only figure in it is the tool's rounded estimate)."""
    if observed:
        return (
            f"**Estimated time:** {hours_text(hours)} (the median of timed reads by people new to "
            "the notebook, recorded in the\ncourse's `docs/time-estimates.md`)."
        )
    return (
        f"**Estimated time:** {hours_text(hours)} (reading, the questions and the cells' run time, "
        "as the course's\n`tools/time_estimates.py` derives them in its `docs/time-estimates.md`)."
    )


def intro_for(entry: dict) -> str:
    return intro_text(entry["hours"], entry.get("observed_median") is not None)


def intro_estimate(stem: str) -> str | None:
    """The "Estimated time" sentence of the master's intro, or None."""
    for cell in _cells(SOLUTIONS / f"{stem}.ipynb"):
        if cell["cell_type"] == "markdown" and INTRO.search(_source(cell)):
            return INTRO.search(_source(cell)).group(0)
    return None


def write_intro(stem: str, entry: dict) -> bool:
    """Replace the master's "Estimated time" sentence with :func:`intro_for` ``entry``; True when it
    changed."""
    path = SOLUTIONS / f"{stem}.ipynb"
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        text = _source(cell)
        if cell["cell_type"] == "markdown" and INTRO.search(text):
            new = INTRO.sub(intro_for(entry).replace("\\", "\\\\"), text, count=1)
            if new == text:
                return False
            lines = new.split("\n")
            cell["source"] = [line + "\n" for line in lines[:-1]] + (
                [lines[-1]] if lines[-1] else []
            )
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            return True
    raise SystemExit(f"{path}: no '**Estimated time:**' sentence in its markdown")


def page(record: dict) -> str:
    """docs/time-estimates.md from the record."""
    rows = [
        "| notebook | prose words | code words | reading (min) | questions (types) | "
        "questions (min) | run (s) | total (min) | observed reads (min) | intro says |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | --- |",
    ]
    observed = record.get("observed", {})
    for stem, e in record["notebooks"].items():
        counts = {}
        for t in e["questions"].values():
            counts[t] = counts.get(t, 0) + 1
        kinds = ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
        reads = ", ".join(f"{float(r['minutes']):g}" for r in observed.get(stem, [])) or "none yet"
        rows.append(
            f"| `{stem}` | {e['words']['prose']} | {e['words']['code']} | "
            f"{e['minutes']['reading']} | {kinds} | "
            f"{e['minutes']['questions']} | {e['run_seconds']} | {e['total_minutes']} | {reads} | "
            f"{hours_text(e['hours'])} |"
        )
    total = sum(e["total_minutes"] for e in record["notebooks"].values())
    minutes = ", ".join(f"{t} {m}" for t, m in MINUTES.items())
    sources = "\n".join(
        f"  - `{stem}`: {record['run_source'].get(stem, 'not recorded')}."
        for stem in record["notebooks"]
    )
    reads = (
        "\n".join(
            f"  - `{stem}`: {float(r['minutes']):g} min, {r['who']}."
            for stem in record["notebooks"]
            for r in observed.get(stem, [])
        )
        or "  - none recorded yet: every intro's figure is derived."
    )
    return f"""# Time estimates

Generated by `.venv/bin/python tools/time_estimates.py` from the notebooks and `time-estimates.json`; do not edit by hand.
Each notebook's intro says the rounded figure of the last column, and `tests/test_time_estimates.py` fails when it
differs from what the tool derives from the current notebooks.

{chr(10).join(rows)}

The whole module: {total:.0f} minutes, {hours_text(rounded_hours(total))} (the sum rounded once; the intros' figures,
each rounded up on its own, add up to {sum(e["hours"] for e in record["notebooks"].values()):g} hours). Not counted: looking at
the figures, playing with the widgets, and re-running cells while debugging.

**How each part is obtained.**

- **Reading**: whitespace-separated words of the student notebook's markdown and of its code cells (the setup cell
  left out), at {WPM} words per minute, the average silent reading rate of English non-fiction in M. Brysbaert,
  ["How many words do we read per minute? A review and meta-analysis of reading
  rate"](https://doi.org/10.1016/j.jml.2019.104047), *Journal of Memory and Language* 109 (2019) 104047. Text with
  formulas and code is read more slowly, so this part is a lower bound.
- **Questions**: minutes per graded question by type ({minutes}), a planning assumption of the course, not a
  measurement. The type comes from the master: a function to write, a value to compute, a written answer
  (prediction, explanation, or an otter manual question), or a choice among given options.
- **Run time**: the seconds the solution's cells took on an empty feature cache (a student's first run); a second
  run is faster (cached features). Where each figure comes from:
{sources}

**Observed reads.** The derivation above is a model; a timed read is a measurement, and replaces it. Ask someone new
to the notebook (a TA, a pilot student) to work through it as a student would, from the first cell to the closing
check with every question attempted, and note the minutes. Record each read with
`.venv/bin/python tools/time_estimates.py --observed STEM MINUTES "who, date, machine"`, then `.venv/bin/python -m autograder build`: a
notebook with observed reads gets their median in its intro. Recorded so far:
{reads}

**Rounding, and the rule "no measured number in the prose".** The total is rounded up to the next half hour, and only
that rounded planning figure goes into the intro ("about N hours"), with a pointer to this page; the measured parts
(words, seconds) stay here. After editing a notebook's prose or adding a question, run
`.venv/bin/python tools/time_estimates.py` (it rewrites this page and the intros) and `.venv/bin/python -m autograder build`; pass
`--executed build/notebooks` after `make demo` to measure the run times again.
"""  # noqa: E501


def derive(record: dict) -> dict:
    """The record recomputed from the notebooks now, with its recorded run seconds."""
    observed = record.get("observed", {})
    return {
        **record,
        "notebooks": {
            stem: estimate(stem, record["run_seconds"][stem], observed.get(stem, ()))
            for stem in STEMS
        },
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--executed", type=Path, help="folder of executed notebooks (<stem>.ipynb) to time again"
    )
    parser.add_argument(
        "--bench", type=Path, help="build/bench.json of make bench-full: its cold notebook runs"
    )
    parser.add_argument(
        "--given",
        nargs=3,
        action="append",
        default=[],
        metavar=("STEM", "SECONDS", "SOURCE"),
        help="a run time measured elsewhere, with where it comes from (e.g. docs/performance.md)",
    )
    parser.add_argument(
        "--observed",
        nargs=3,
        action="append",
        default=[],
        metavar=("STEM", "MINUTES", "WHO"),
        help="a timed read by a person new to the notebook: minutes, and who/when/where",
    )
    parser.add_argument(
        "stems", nargs="*", help="with --executed or --bench: only these notebooks (default: all)"
    )
    parser.add_argument(
        "--check", action="store_true", help="only check; exit 1 when something is out of date"
    )
    args = parser.parse_args(argv)
    record = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    record.setdefault("run_seconds", {})
    record.setdefault("run_source", {})
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    for stem in (args.stems or STEMS) if (args.executed or args.bench) else ():
        if args.executed:
            seconds = run_seconds(args.executed / f"{stem}.ipynb")
            source = (
                f"executed with nbclient, empty feature cache, {_dt.date.today().isoformat()}, a "
                f"{os.cpu_count()}-core CPU machine at load average {load:.0f}"
            )
        else:
            bench = json.loads(args.bench.read_text())
            seconds = bench["notebook_seconds"][stem]["cold"]
            when = _dt.date.fromtimestamp(args.bench.stat().st_mtime).isoformat()
            source = (
                f"make bench-full (`notebook_seconds.{stem}.cold`: the whole notebook, "
                "kernel start included), "
                f"{when}, {bench.get('machine', {}).get('cpus', '?')} CPUs"
            )
        record["run_seconds"][stem], record["run_source"][stem] = round(seconds, 1), source
    for stem, seconds, source in args.given:
        record["run_seconds"][stem], record["run_source"][stem] = round(float(seconds), 1), source
    for stem, minutes, who in args.observed:
        if stem not in STEMS:
            raise SystemExit(f"--observed: no notebook {stem!r} (one of {', '.join(STEMS)})")
        try:
            minutes = float(minutes)
        except ValueError:
            raise SystemExit(
                f"--observed: MINUTES must be a number of minutes, not {minutes!r}"
            ) from None
        if not 0 < minutes < 24 * 60 or not who.strip():
            raise SystemExit(
                "--observed: MINUTES must be between 0 and a day, "
                "and WHO must say who, when and where"
            )
        record.setdefault("observed", {}).setdefault(stem, []).append(
            {"minutes": minutes, "who": who.strip()}
        )
    missing = [s for s in STEMS if s not in record.get("run_seconds", {})]
    if missing:
        raise SystemExit(
            f"no run time recorded for {missing}: pass --executed DIR "
            "(make demo writes build/notebooks)"
        )
    record = derive(record)
    stale = [s for s in STEMS if intro_estimate(s) != intro_for(record["notebooks"][s])]
    if args.check:
        recorded = json.loads(RECORD.read_text()) if RECORD.exists() else {}
        if stale or recorded != record or not PAGE.exists() or PAGE.read_text() != page(record):
            print(
                f"out of date: intros {stale}, docs {'ok' if recorded == record else 'stale'}; "
                "run .venv/bin/python tools/time_estimates.py",
                file=sys.stderr,
            )
            return 1
        return 0
    RECORD.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    PAGE.write_text(page(record))
    changed = [s for s in STEMS if write_intro(s, record["notebooks"][s])]
    for stem, e in record["notebooks"].items():
        print(f"{stem}: {e['total_minutes']:.0f} min -> {hours_text(e['hours'])}")
    if changed:
        print(f"intros rewritten: {changed}; now run python -m autograder build")
    return 0


if __name__ == "__main__":
    sys.exit(main())
