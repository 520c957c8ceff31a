"""What people read: feedback/<id>.html for the student, report.html for the instructor.

Both come from Jinja2 templates (``templates/*.html.j2``) with autoescape on;
every student-controlled string reaching them was bounded and cleaned in
``verdict``. A failed hidden test shows its hint, never its code.
"""
import base64
import io
import json
import re
import statistics
from pathlib import Path

import jinja2
import markupsafe

from .store import FIXED_HEAD, FIXED_TAIL, STATUSES, atomic_write

ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
                         autoescape=True, undefined=jinja2.StrictUndefined)


CONTEXT = "report_context.json"


def score_line(row, manual=None):
    """The score the student reads: while written points await a reader, the automatic points and what is
    pending ("13 of 13 automatic points; 2 written points not yet graded"), never "13 / 15"."""
    manual = manual or {}
    pending = [q for q in manual if row.get("status") == "graded" and row.get(q, "") == ""]
    if not pending:
        return str(markupsafe.escape(f"score {row.get('total', '')} / {row.get('maximum') or '?'}."))
    written = sum(spec["points"] for spec in manual.values())
    auto_max = _num(row.get("maximum")) - written
    got = _num(row.get("total")) - sum(_num(row.get(q)) for q in manual)
    waiting = sum(manual[q]["points"] for q in pending)
    scored = [q for q in manual if q not in pending]
    extra = (f", and {sum(_num(row.get(q)) for q in scored):g} of {written - waiting:g} written points"
             if scored else "")
    return str(markupsafe.escape(
        f"{got:g} of {auto_max:g} automatic points{extra}; {waiting:g} written point"
        f"{'s' if waiting != 1 else ''} not yet graded."))


def write_feedback(path, row, verdict, manual=None, notes=None):
    """The student's page: scores, each case's hint (a hidden case's is its author's static text), errors.

    ``manual`` ({question: spec}) are the written questions: their 0-point completion checks are not shown (the
    worker cannot evaluate an answer built from the run's numbers); the page says a person reads them."""
    manual = manual or {}
    points = {q: p for q, p in (verdict.questions or {}).items() if q not in manual}
    cases = {q: c for q, c in verdict.cases.items() if q in points}
    errors = verdict.errors[:20]
    notes = notes or {}
    written = [{"question": q, "points": spec["points"], "score": row.get(q, ""), "note": notes.get(q, "")}
               for q, spec in manual.items() if verdict.questions is not None]
    html = ENV.get_template("feedback.html.j2").render(row=row, cases=cases, points=points, errors=errors,
                                                       written=written,
                                                       score=markupsafe.Markup(score_line(row, manual)))
    atomic_write(path, html)


def read_context(out_dir):
    """What the last ``write_report`` was told (warnings, isolation, limits), for a later rewrite."""
    try:
        value = json.loads((Path(out_dir) / CONTEXT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _figures(rows, questions, maxima):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    graded = [r for r in rows if r["status"] == "graded"]
    figs = []
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.hist([100 * _num(r["total"]) / max(_num(r["maximum"]), 1e-9) for r in graded], bins=range(0, 105, 5))
    ax.set(xlabel="score (% of maximum)", ylabel="submissions", title=f"{len(graded)} graded")
    figs.append(("score histogram", _png(fig)))
    if questions:
        fig, ax = plt.subplots(figsize=(6, max(1.5, 0.3 * len(questions))))
        rates = [100 * sum(_num(r.get(q)) >= maxima.get(q, float("inf")) for r in graded) / max(len(graded), 1)
                 for q in questions]
        ax.barh(questions, rates)
        ax.set(xlabel="% of graded submissions with full points", xlim=(0, 100), title="pass rate per question")
        ax.invert_yaxis()
        figs.append(("pass rate per question", _png(fig)))
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.hist([_num(r["seconds"]) for r in rows], bins=20)
    ax.set(xlabel="seconds per submission", ylabel="submissions", title="grading time")
    figs.append(("runtime", _png(fig)))
    plt.close("all")
    return figs


def write_report(out_dir, rows, maxima, warnings=(), isolation="", limits=""):
    """report.html: one section per assignment (summary, histogram, pass rates, runtime, not graded), and the
    review pages of the written questions (``manual.write_reviews``)."""
    from . import manual
    reviews = manual.write_reviews(out_dir, rows)
    atomic_write(Path(out_dir) / CONTEXT, json.dumps({"warnings": list(warnings), "isolation": isolation,
                                                      "limits": limits}, indent=1))
    rows = sorted(rows.values(), key=lambda r: r["id"])
    fixed = set(FIXED_HEAD + FIXED_TAIL)
    sections = []
    for name in sorted({r.get("assignment", "") for r in rows}):
        mine = [r for r in rows if r.get("assignment", "") == name]
        graded = [_num(r["total"]) for r in mine if r["status"] == "graded"]
        qmax = maxima.get(name, {})
        questions = sorted({k for r in mine for k in r if k not in fixed and r.get(k) not in ("", None)})
        full = sum(1 for r in mine if r["status"] == "graded" and _num(r["total"]) >= _num(r["maximum"]) > 0)
        sections.append({
            "name": name, "anchor": re.sub(r"[^A-Za-z0-9_-]", "_", name) or "none", "n": len(mine),
            "graded": len(graded), "full": full, "not_graded": len(mine) - len(graded),
            "mean": f"{statistics.mean(graded):.2f}" if graded else "-",
            "median": f"{statistics.median(graded):g}" if graded else "-",
            "figures": _figures(mine, questions, qmax), "rows": mine,
            "bad": [r for r in mine if r["status"] != "graded"], "flagged": [r for r in mine if r.get("flags")],
            "reviews": [p for p in reviews if p["assignment"] == name]})
    counts = ", ".join(f"{s}: {sum(r['status'] == s for r in rows)}" for s in STATUSES
                       if any(r["status"] == s for r in rows))
    html = ENV.get_template("report.html.j2").render(
        warnings=list(warnings), isolation=isolation, limits=limits, n=len(rows), counts=counts or "none",
        assignments=sections)
    atomic_write(Path(out_dir) / "report.html", html)


def gradescope_results(v, tpl):
    """Gradescope's results.json from the clamped scores: per question a visible test for its public cases and
    one for its hidden cases, ``after_published`` (students see it once the instructor publishes grades).
    A written question claims nothing: one line without a score says it is graded by hand (Gradescope's manually
    graded question of the same name, docs/instructors.md); a line worth 0 would read as "passed". Scores are
    rounded to 2 decimals (otter splits a question's points evenly over its cases: 3 / 7 = 0.428571...)."""
    tests = []
    specs = tpl.manual or {}
    for q, spec in specs.items():
        tests.append({"name": f"{q} (written answer, graded by hand)", "visibility": "visible",
                      "output": f"Worth {spec['points']:g} point(s), scored by a person with the rubric under the "
                                f"question, not by the autograder."})
    for q, (score, possible) in v.questions.items():
        if q in specs:
            continue
        cases = v.cases.get(q, [])
        for hidden in (False, True):
            mine = [c for c in cases if c["hidden"] == hidden]
            if not mine:
                continue
            worth = sum(c["points"] for c in mine)
            got = sum(c["points"] for c in mine if c["passed"])
            lines = [f"{'hidden test' if hidden else c['name']}: {'passed' if c['passed'] else 'failed'}"
                     + (f"\n  {c['hint']}" if not c["passed"] and c["hint"] else "") for c in mine]
            tests.append({"name": f"{q} ({'hidden' if hidden else 'public'} tests)",
                          "score": round(min(got, possible), 2), "max_score": round(min(worth, possible), 2),
                          "visibility": "after_published" if hidden else "visible", "output": "\n".join(lines)})
    return {"tests": tests, "score": round(sum(s for q, (s, _) in v.questions.items() if q not in specs), 2),
            "stdout_visibility": "hidden"}
