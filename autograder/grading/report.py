"""What people read, rendered from the data on disk (``store``) with ONE Jinja2 environment.

- ``feedback/<id>.html``: the student's page: scores, each case's hint (a hidden case's is its
  author's static text, never its code), the written answers' state, the errors of the cells;
- ``results/<id>.json``: Gradescope's results: per question a visible test for its public cases
  and an ``after_published`` one for its hidden cases; a written question claims nothing;
- ``review/<question>.html`` and ``review/scores_template.csv``: the written answers beside the
  rubric, for the TA (``manual``);
- ``report.html``: per assignment a summary, every figure with its numbers in a table beside it,
  the rows, what was not graded and what was flagged.

Each page is a function of files ``store`` owns (``grades.csv``, ``verdicts/``, ``answers/``,
``manual/``, ``maxima.json``, ``report_context.json``): ``render_submission`` as a submission
finishes, ``render_report`` at the end of a batch, ``render_all`` after ``merge`` and
``merge-manual``. So a merged folder reads exactly as a one-machine batch's, and a page is never
patched. Templates (``templates/*.j2`` here and ``autograder/templates/``) have autoescape on;
every student-controlled string reaching them was bounded and cleaned in ``verdict``/``manual``.
"""

import base64
import io
import re
import statistics
from pathlib import Path

import jinja2
import markupsafe

from . import store

HERE = Path(__file__).resolve().parent
ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader([HERE / "templates", HERE.parent / "templates"]),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
SCORE_BINS = range(0, 105, 5)  # % of the maximum


# ------------------------------------------------------------------ one submission


def _in_order(questions, order):
    """``questions`` ({question: ...}) in the notebook's ``order``, the others after, sorted."""
    rank = {q: i for i, q in enumerate(order or ())}
    return {q: questions[q] for q in sorted(questions, key=lambda q: (rank.get(q, len(rank)), q))}


def score_line(row, manual=None):
    """The score the student reads: while written points await a reader, the automatic points and
    what is pending ("13 of 13 automatic points; 2 written points not yet graded"), never
    "13 / 15"."""
    manual = manual or {}
    num = store.number
    pending = [q for q in manual if row.get("status") == "graded" and row.get(q, "") == ""]
    if not pending:
        return str(
            markupsafe.escape(f"score {row.get('total', '')} / {row.get('maximum') or '?'}.")
        )
    written = sum(spec["points"] for spec in manual.values())
    auto_max = num(row.get("maximum")) - written
    got = num(row.get("total")) - sum(num(row.get(q)) for q in manual)
    waiting = sum(manual[q]["points"] for q in pending)
    scored = [q for q in manual if q not in pending]
    extra = ""
    if scored:
        extra = (
            f", and {sum(num(row.get(q)) for q in scored):g} of {written - waiting:g} "
            f"written points"
        )
    plural = "s" if waiting != 1 else ""
    return str(markupsafe.escape(
        f"{got:g} of {auto_max:g} automatic points{extra}; {waiting:g} written point{plural} "
        f"not yet graded."
    ))  # fmt: skip


def feedback_html(row, data, specs, notes=None, order=()):
    """The student's page from its row, its verdict (``store.verdict``), the written specs and
    the TA's notes on them (``store.read_notes``), its questions in the notebook's ``order``."""
    questions = data.get("questions")
    if questions is not None:
        questions = _in_order(questions, order)
    points = {q: tuple(sp) for q, sp in (questions or {}).items() if q not in specs}
    cases = {q: (data.get("cases") or {})[q] for q in points if q in (data.get("cases") or {})}
    notes = notes or {}
    written = []
    if questions is not None:
        written = [
            {"question": q, "points": spec["points"], "score": row.get(q, ""),
             "note": notes.get(q, "")}
            for q, spec in specs.items()
        ]  # fmt: skip
    return ENV.get_template("feedback.html.j2").render(
        row=row, cases=cases, points=points, errors=(data.get("errors") or [])[:20],
        written=written, score=markupsafe.Markup(score_line(row, specs)),
    )  # fmt: skip


def _case_lines(mine):
    lines = []
    for c in mine:
        name = "hidden test" if c["hidden"] else c["name"]
        line = f"{name}: {'passed' if c['passed'] else 'failed'}"
        if not c["passed"] and c["hint"]:
            line += f"\n  {c['hint']}"
        lines.append(line)
    return "\n".join(lines)


def gradescope_results(data, specs, row=None, notes=None, order=()):
    """Gradescope's results.json from a graded verdict's clamped scores (``store.verdict``).

    Per question a visible test for its public cases and one for its hidden cases,
    ``after_published`` (students see it once the instructor publishes grades). A written
    question claims nothing until a person scored it: one line without a score says it is graded
    by hand (Gradescope's manually graded question of the same name, docs/instructors.md; a line
    worth 0 would read as "passed"); once ``merge-manual`` scored it (``row``), the line carries
    that score and the TA's note. Scores are rounded to 2 decimals (otter splits a question's
    points evenly over its cases: 3 / 7 = 0.428571...)."""
    row, notes = row or {}, notes or {}
    tests, written = [], 0.0
    for q, spec in specs.items():
        line = {"name": f"{q} (written answer, graded by hand)", "visibility": "visible"}
        if row.get(q, "") != "":
            written += store.number(row[q])
            note = f" Note: {notes[q]}" if notes.get(q) else ""
            line.update(
                score=round(store.number(row[q]), 2), max_score=round(float(spec["points"]), 2),
                output=f"Scored by a person with the rubric: {row[q]} / {spec['points']:g}.{note}",
            )  # fmt: skip
        else:
            line["output"] = (
                f"Worth {spec['points']:g} point(s), scored by a person with the rubric under the "
                f"question, not by the autograder."
            )
        tests.append(line)
    questions = {q: tuple(sp) for q, sp in _in_order(data["questions"], order).items()}
    for q, (_, possible) in questions.items():
        if q in specs:
            continue
        cases = (data.get("cases") or {}).get(q, [])
        for hidden in (False, True):
            mine = [c for c in cases if c["hidden"] == hidden]
            if not mine:
                continue
            worth = sum(c["points"] for c in mine)
            got = sum(c["points"] for c in mine if c["passed"])
            tests.append({
                "name": f"{q} ({'hidden' if hidden else 'public'} tests)",
                "score": round(min(got, possible), 2),
                "max_score": round(min(worth, possible), 2),
                "visibility": "after_published" if hidden else "visible",
                "output": _case_lines(mine),
            })  # fmt: skip
    score = sum(s for q, (s, _) in questions.items() if q not in specs) + written
    return {"tests": tests, "score": round(score, 2), "stdout_visibility": "hidden"}


def render_submission(out, row, specs=None):
    """``feedback/<id>.html`` and (graded) ``results/<id>.json`` of ``row`` from ``out``'s files.

    A row without a saved verdict (graded by an older grader) keeps the pages it has."""
    sid = row["id"]
    data = store.verdict(out, sid)
    if not data:
        return
    if specs is None:
        specs = store.manifests(out).get(row.get("assignment", ""), {})
    notes = store.read_notes(out).get(sid, {})
    order = list(store.maxima(out).get(row.get("assignment", ""), {}))  # the notebook's order
    page = feedback_html(row, data, specs, notes, order)
    store.atomic_write(store.entry(out, "feedback", sid), page)
    results = store.entry(out, "results", sid)
    if data.get("questions") is not None:
        store.write_json(results, gradescope_results(data, specs, row, notes, order))
    else:
        results.unlink(missing_ok=True)


# ------------------------------------------------------------------ the written answers


NO_ANSWER = "no answer written (the cell is as it was handed out): 0 without a reader"
NOT_READ = (
    "its answers were not read (graded before the written questions existed?): grade it again"
)


def _template_line(row, assignment, question, spec, answer):
    """The scores template's line of one graded answer: score empty (for the TA) or 0 with why."""
    if answer.get("answered"):
        score, note = "", ""
    elif answer:
        score, note = "0", NO_ANSWER
    else:
        score, note = "", NOT_READ
    points = f"{spec['points']:g}"
    return [row["id"], row.get("file", ""), assignment, question, points, score, note]


def _rubric_html(text):
    import mistune

    # the master's own text, escaped first; as a plain str, or mistune's own tags would be escaped
    # too
    return markupsafe.Markup(mistune.html(str(markupsafe.escape(text))))


def render_reviews(out, rows):
    """``review/<question>.html`` per written question and ``review/scores_template.csv``."""
    out = Path(out)
    pages, template = [], [store.SCORES_HEADER]
    notes = store.read_notes(out)
    for assignment, specs in sorted(store.manifests(out).items()):
        mine = sorted(
            (r for r in rows.values() if r.get("assignment") == assignment), key=lambda r: r["id"]
        )
        if not mine:
            continue
        answers = {r["id"]: store.answers(out, r["id"]) for r in mine}
        (out / store.REVIEW).mkdir(exist_ok=True)
        for q, spec in specs.items():
            entries = []
            for r in mine:
                a = answers[r["id"]].get(q, {})
                graded = r.get("status") == "graded"
                note = notes.get(r["id"], {}).get(q, "")
                entries.append(
                    {"row": r, "graded": graded, "answer": a, "score": r.get(q, ""), "note": note}
                )
                if graded:
                    line = _template_line(r, assignment, q, spec, a)
                    if r.get(q, "") != "" and (a.get("answered") or note):  # the TA's own, merged
                        line[5], line[6] = r[q], note
                    template.append(line)
            scored = sum(1 for e in entries if e["graded"] and e["score"] != "")
            graded = sum(e["graded"] for e in entries)
            html = ENV.get_template("review.html.j2").render(
                question=q, assignment=assignment, spec=spec, rubric=_rubric_html(spec["rubric"]),
                entries=entries, scored=scored, graded=graded,
            )  # fmt: skip
            store.atomic_write(out / store.REVIEW / f"{q}.html", html)
            pages.append({
                "question": q, "assignment": assignment, "href": f"{store.REVIEW}/{q}.html",
                "points": spec["points"], "graded": graded, "scored": scored,
            })  # fmt: skip
    if pages:
        store.write_csv(out / store.REVIEW / store.SCORES_TEMPLATE, template)
    return pages


# ------------------------------------------------------------------ report.html


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def pass_rates(rows, questions, maxima):
    """[(question, points, full, graded, %)]: graded rows with every point of the question."""
    graded = [r for r in rows if r["status"] == "graded"]
    table = []
    for q in questions:
        top = maxima.get(q)
        full = sum(top is not None and store.number(r.get(q)) >= top - 1e-9 for r in graded)
        rate = 100 * full / len(graded) if graded else 0.0
        table.append((q, "?" if top is None else f"{top:g}", full, len(graded), f"{rate:.0f}"))
    return table


def score_bins(rows):
    """[(range, count)] of the graded rows' scores in % of their maximum, in 5-point bins."""
    percents = [
        100 * store.number(r["total"]) / max(store.number(r["maximum"]), 1e-9)
        for r in rows
        if r["status"] == "graded"
    ]
    edges = list(SCORE_BINS)
    counts = []
    for lo, hi in zip(edges, edges[1:]):
        last = hi == edges[-1]
        n = sum(lo <= p < hi or (last and p >= hi) for p in percents)
        if n:
            counts.append((f"{lo}-{hi}%", n))
    return percents, counts


def runtime_table(rows):
    seconds = sorted(store.number(r.get("seconds")) for r in rows)
    if not seconds:
        return seconds, []
    stats = [("fastest", seconds[0]), ("median", statistics.median(seconds))]
    stats += [("slowest", seconds[-1]), ("total", sum(seconds))]
    return seconds, [(name, f"{value:.1f}") for name, value in stats]


def _figures(rows, questions, maxima):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = []
    percents, bins = score_bins(rows)
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.hist(percents, bins=SCORE_BINS)
    ax.set(xlabel="score (% of maximum)", ylabel="submissions", title=f"{len(percents)} graded")
    figs.append({"title": "score histogram", "kind": "histogram", "png": _png(fig), "timing": False,
                 "head": ["score", "submissions"], "rows": bins})  # fmt: skip
    if questions:
        rates = pass_rates(rows, questions, maxima)
        fig, ax = plt.subplots(figsize=(6, max(1.5, 0.3 * len(questions))))
        ax.barh(questions, [float(r[4]) for r in rates])
        ax.set(xlabel="% of graded submissions with full points", xlim=(0, 100),
               title="pass rate per question")  # fmt: skip
        ax.invert_yaxis()
        figs.append({"title": "pass rate per question", "kind": "bar chart", "png": _png(fig),
                     "timing": False, "head": ["question", "points", "full points", "graded", "%"],
                     "rows": rates})  # fmt: skip
    seconds, stats = runtime_table(rows)
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.hist(seconds, bins=20)
    ax.set(xlabel="seconds per submission", ylabel="submissions", title="grading time")
    figs.append({"title": "runtime", "kind": "histogram", "png": _png(fig), "timing": True,
                 "head": ["seconds per submission", ""], "rows": stats})  # fmt: skip
    plt.close("all")
    return figs


def _section(name, mine, maxima, reviews):
    fixed = set(store.FIXED_HEAD + store.FIXED_TAIL)
    graded = [store.number(r["total"]) for r in mine if r["status"] == "graded"]
    seen = {k for r in mine for k in r if k not in fixed and r.get(k) not in ("", None)}
    rank = {q: i for i, q in enumerate(maxima)}  # maxima.json keeps the notebook's order
    questions = sorted(seen | set(maxima), key=lambda q: (rank.get(q, len(rank)), q))
    full = sum(
        1
        for r in mine
        if r["status"] == "graded" and store.number(r["total"]) >= store.number(r["maximum"]) > 0
    )
    return {
        "name": name,
        "anchor": re.sub(r"[^A-Za-z0-9_-]", "_", name) or "none",
        "n": len(mine),
        "graded": len(graded),
        "full": full,
        "not_graded": len(mine) - len(graded),
        "mean": f"{statistics.mean(graded):.2f}" if graded else "-",
        "median": f"{statistics.median(graded):g}" if graded else "-",
        "figures": _figures(mine, questions if graded else [], maxima),
        "rows": mine,
        "bad": [r for r in mine if r["status"] != "graded"],
        "flagged": [r for r in mine if r.get("flags")],
        "reviews": [p for p in reviews if p["assignment"] == name],
    }


def render_report(out):
    """``report.html`` and the review pages, from ``out``'s files alone."""
    rows_by_id = store.rows(out)
    reviews = render_reviews(out, rows_by_id)
    maxima, context = store.maxima(out), store.context(out)
    rows = sorted(rows_by_id.values(), key=lambda r: r["id"])
    names = sorted({r.get("assignment", "") for r in rows})
    sections = [
        _section(n, [r for r in rows if r.get("assignment", "") == n], maxima.get(n, {}), reviews)
        for n in names
    ]
    counts = ", ".join(
        f"{s}: {sum(r['status'] == s for r in rows)}"
        for s in store.STATUSES
        if any(r["status"] == s for r in rows)
    )
    html = ENV.get_template("report.html.j2").render(
        warnings=list(context.get("warnings", [])), isolation=context.get("isolation", ""),
        limits=context.get("limits", ""), n=len(rows), counts=counts or "none",
        assignments=sections,
    )  # fmt: skip
    store.atomic_write(store.path(out, store.REPORT), html)


def render_all(out):
    """Every page of ``out`` again from its files: after ``merge`` and ``merge-manual``."""
    specs = store.manifests(out)
    for row in store.rows(out).values():
        render_submission(out, row, specs.get(row.get("assignment", ""), {}))
    render_report(out)
