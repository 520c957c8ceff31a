"""What graders and students read: grades.csv, feedback pages and report.html.

``grades.csv`` is rewritten whole (temp file + ``os.replace``) each time a
submission finishes, so a reader never sees half a row and a restarted batch
finds exactly the rows that were finished.
"""
import ast
import base64
import csv
import html
import io
import os
import re
from pathlib import Path

FIXED_HEAD = ["id", "assignment"]
FIXED_TAIL = ["total", "maximum", "status", "reason", "seconds"]
STATUSES = ("graded", "timeout", "memory", "crashed", "invalid", "wrong-assignment")


def _atomic_write(path, text):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_rows(csv_path):
    """Finished rows of an earlier (maybe interrupted) run, keyed by id."""
    if not Path(csv_path).exists():
        return {}
    with open(csv_path, newline="", encoding="utf-8") as f:
        return {row["id"]: row for row in csv.DictReader(f)}


def write_rows(csv_path, rows):
    """All rows, one column per question seen in any row; atomic."""
    fixed = set(FIXED_HEAD + FIXED_TAIL)
    questions = sorted({k for r in rows.values() for k in r if k not in fixed})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, FIXED_HEAD + questions + FIXED_TAIL, restval="",
                            lineterminator="\n")
    writer.writeheader()
    for key in sorted(rows):
        writer.writerow(rows[key])
    _atomic_write(csv_path, buf.getvalue())


def hidden_secrets(tests_dir):
    """Source lines and string literals of hidden test cases (to keep out of feedback)."""
    secrets = set()
    for path in sorted(Path(tests_dir).glob("*.py")):
        text = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        public = set()
        for fn in [n for n in tree.body if isinstance(n, ast.FunctionDef)]:
            hidden = any("hidden=True" in ast.unparse(d) for d in fn.decorator_list)
            segment = ast.get_source_segment(text, fn) or ""
            lines = {ln.strip() for ln in segment.splitlines() if len(ln.strip()) >= 12}
            strings = {n.value for n in ast.walk(fn) if isinstance(n, ast.Constant)
                       and isinstance(n.value, str) and len(n.value) >= 12}
            if hidden:
                secrets |= lines | strings
            else:
                public |= lines | strings
        secrets -= public
    return secrets


def leaks(text, secrets):
    return any(s in text for s in secrets)


def redact(text, secrets):
    """Drop every line that contains hidden test content."""
    return "\n".join("[hidden test content removed]" if leaks(line, secrets) else line
                     for line in text.splitlines())


def write_feedback(path, row, questions, public_output, errors, secrets):
    """Student-facing page: status, points per question, public test output and hints."""
    e = html.escape
    rows = "".join(f"<tr><td>{e(q)}</td><td>{s:g} / {p:g}</td></tr>" for q, (s, p) in questions.items())
    errs = "".join(f"<li>{e(redact(x, secrets))}</li>" for x in errors)
    body = f"""<!doctype html><meta charset="utf-8"><title>Feedback {e(row['id'])}</title>
<style>body{{font-family:sans-serif;max-width:50em;margin:2em auto}}pre{{background:#f4f4f4;padding:1em;white-space:pre-wrap}}</style>
<h1>Feedback: {e(row['assignment'] or '?')}</h1>
<p>Submission <b>{e(row['id'])}</b>: status <b>{e(row['status'])}</b>, score {e(str(row['total']))} / {e(str(row['maximum']))}.</p>
<p>{e(redact(row['reason'], secrets))}</p>
<table border=1 cellpadding=4><tr><th>question</th><th>points</th></tr>{rows}</table>
<h2>Public tests (hidden tests are graded too, but not shown)</h2>
<pre>{e(redact(public_output, secrets)) or 'no public test output'}</pre>
{'<h2>Errors raised by your cells</h2><ul>' + errs + '</ul>' if errs else ''}
"""
    _atomic_write(path, body)


def _figure_png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _figures(rows, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    graded = [r for r in rows if r["status"] == "graded"]
    fixed = set(FIXED_HEAD + FIXED_TAIL + ["maxima"])
    questions = sorted({k for r in rows for k in r if k not in fixed})
    figs = {}
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist([float(r["total"]) / max(float(r["maximum"] or 1), 1e-9) * 100 for r in graded],
            bins=range(0, 105, 5))
    ax.set(xlabel="score (% of maximum)", ylabel="submissions", title=f"scores of {len(graded)} graded")
    figs["histogram"] = fig
    fig, ax = plt.subplots(figsize=(6, 3))
    rates = []
    for q in questions:
        vals = [r[q] for r in graded if r.get(q) not in ("", None)]
        full = [r for r in graded if r.get(q) not in ("", None) and float(r[q]) >= _max_of(r, q)]
        rates.append(100 * len(full) / len(vals) if vals else 0)
    ax.bar(questions, rates)
    ax.set(ylabel="% with full points", ylim=(0, 100), title="pass rate per question")
    figs["pass_rate"] = fig
    fig, ax = plt.subplots(figsize=(6, max(2, 0.18 * len(rows))))
    ax.barh([r["id"] for r in rows], [float(r["seconds"] or 0) for r in rows])
    ax.set(xlabel="seconds", title="grading time per submission")
    figs["runtime"] = fig
    for name, fig in figs.items():
        fig.savefig(Path(out_dir) / f"{name}.png", dpi=90, bbox_inches="tight")
    encoded = {k: _figure_png(f) for k, f in figs.items()}
    plt.close("all")
    return encoded


def _max_of(row, question):
    m = re.search(rf"\b{re.escape(question)}=([0-9.]+)", row.get("maxima", ""))
    return float(m.group(1)) if m else float("inf")


def write_report(out_dir, rows, maxima, notes=()):
    """report.html (+ PNGs): score histogram, pass rate per question, runtimes, non-graded list."""
    rows = [dict(r, maxima=" ".join(f"{q}={p:g}" for q, p in maxima.get(r["assignment"], {}).items()))
            for r in sorted(rows.values(), key=lambda r: r["id"])]
    figs = _figures(rows, out_dir)
    e = html.escape
    bad = "".join(f"<tr><td>{e(r['id'])}</td><td>{e(r['status'])}</td><td>{e(r['reason'])}</td></tr>"
                  for r in rows if r["status"] != "graded")
    counts = ", ".join(f"{s}: {sum(r['status'] == s for r in rows)}" for s in STATUSES
                       if any(r["status"] == s for r in rows))
    imgs = "".join(f'<h2>{e(k.replace("_", " "))}</h2><img src="data:image/png;base64,{v}">'
                   for k, v in figs.items())
    note = "".join(f"<p><b>warning:</b> {e(n)}</p>" for n in notes)
    _atomic_write(Path(out_dir) / "report.html", f"""<!doctype html><meta charset="utf-8">
<title>Grading report</title><style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}</style>
<h1>Grading report</h1><p>{len(rows)} submissions ({e(counts)}). Rows: grades.csv.</p>{note}{imgs}
<h2>Not graded</h2><table border=1 cellpadding=4><tr><th>id</th><th>status</th><th>reason</th></tr>{bad}</table>
""")
