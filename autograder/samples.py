"""Sample submissions made from the real notebooks, and the demo's grading step.

``make_samples()`` writes, for every built notebook, three submissions into
``autograder/samples/`` (small, committed): ``<stem>-full.ipynb`` (every answer
cell from the solution), ``<stem>-partial.ipynb`` (the first half of them) and
``<stem>-broken.ipynb`` (all answers, the last one with a syntax error).
``bad_submissions()`` writes the robustness cases the tests grade (not
committed). ``grade_samples()`` is what ``make demo`` calls.
"""
import copy
import json
from pathlib import Path

from . import BUILD, DIST, NOTEBOOKS

SAMPLES = Path(__file__).with_name("samples")
ANSWER_TAG = "otter_answer_cell"


def _read(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _write(path, nb):
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return Path(path)


def answer_ids(student):
    """Ids of the student's answer cells, in notebook order."""
    return [c["id"] for c in student["cells"] if ANSWER_TAG in c.get("metadata", {}).get("tags", [])]


def fill(student, solution, ids=None):
    """The student notebook with the answer cells in ``ids`` (default all) taken from the solution."""
    nb = copy.deepcopy(student)
    sources = {c.get("id"): c["source"] for c in solution["cells"]}
    wanted = set(answer_ids(student) if ids is None else ids)
    for cell in nb["cells"]:
        if cell.get("id") in wanted and cell.get("id") in sources:
            cell["source"] = sources[cell["id"]]
    return nb


def _cell(nb, cid):
    return next(c for c in nb["cells"] if c.get("id") == cid)


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _pair(stem, dist=DIST, notebooks=NOTEBOOKS):
    return _read(Path(notebooks) / f"{stem}.ipynb"), _read(Path(dist) / f"{stem}-solution.ipynb")


def make_samples(dest=SAMPLES, dist=DIST, notebooks=NOTEBOOKS):
    """Full, partial and broken submission of every built notebook; returns the paths."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for zip_path in sorted(Path(dist).glob("*.zip")):
        stem = zip_path.stem
        if not (Path(notebooks) / f"{stem}.ipynb").exists():
            continue
        student, solution = _pair(stem, dist, notebooks)
        ids = answer_ids(student)
        broken = fill(student, solution)
        last = _cell(broken, ids[-1])
        last["source"] = _source(last).rstrip() + "\n  this is not python (\n"
        paths += [_write(dest / f"{stem}-full.ipynb", fill(student, solution)),
                  _write(dest / f"{stem}-partial.ipynb", fill(student, solution, ids[: (len(ids) + 1) // 2])),
                  _write(dest / f"{stem}-broken.ipynb", broken)]
    return paths


def _with_cell(nb, after_id, source):
    """Insert a code cell with ``source`` after the cell ``after_id``."""
    nb = copy.deepcopy(nb)
    i = next(k for k, c in enumerate(nb["cells"]) if c.get("id") == after_id)
    nb["cells"].insert(i + 1, {"cell_type": "code", "id": f"bad-{i}", "metadata": {},
                               "execution_count": None, "outputs": [], "source": source})
    return nb


def bad_submissions(dest, stem="01_ols_raw_pixels", other="02_logistic_regression_edges",
                    dist=DIST, notebooks=NOTEBOOKS):
    """Robustness cases built from the real notebook ``stem``; returns {case: path}.

    Each case documents the answer cell it breaks (``last`` = the last answer
    cell, whose question is the only one that should lose points).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    student, solution = _pair(stem, dist, notebooks)
    full = fill(student, solution)
    ids = answer_ids(student)
    first, last = ids[0], ids[-1]
    cases = {}

    def put(name, nb):
        cases[name] = _write(dest / f"{name}.ipynb", nb)

    put("full", full)
    nb = copy.deepcopy(full)
    _cell(nb, last)["source"] = _source(_cell(nb, last)).replace("=", "= (", 1)
    put("syntax_error", nb)
    put("infinite_loop", _with_cell(full, first, "while True:\n    pass\n"))
    put("os_exit", _with_cell(full, first, "import os\nos._exit(3)\n"))
    put("sys_exit", _with_cell(full, first, "import sys\nsys.exit('bye')\n"))
    put("memory_bomb", _with_cell(full, first, "blob = b'x' * (16 * 1024 ** 3)\n"))
    nb = copy.deepcopy(full)
    nb["cells"] = [c for c in nb["cells"] if c.get("id") != last]
    put("deleted_cell", nb)
    nb = copy.deepcopy(full)
    src = _source(_cell(nb, last))
    name = src.split("=")[0].strip()
    _cell(nb, last)["source"] = src.replace(name, name + "_renamed")
    put("renamed_cell", nb)
    nb = copy.deepcopy(full)
    _cell(nb, last)["source"] = f"{name} = 3.0\n{name}\n"
    put("wrong_type", nb)
    put("huge_output", _with_cell(full, first, "for i in range(60000):\n    print('x' * 99)\n"))
    blank = copy.deepcopy(student)
    put("replace_check", _with_cell(blank, first, "import otter\ngrader.check = lambda *a, **k: None\n"
                                    "otter.Notebook.check = lambda *a, **k: None\n"))
    put("fake_results", _with_cell(blank, first, "import json\nfake = {'tests': [{'name': 'q', 'score': 99, 'max_score': 1}]}\n"
                                   "for p in ('results.json', '../results/results.json'):\n"
                                   "    try:\n        open(p, 'w').write(json.dumps(fake))\n"
                                   "    except OSError as e:\n        print(e)\n"))
    put("read_hidden", _with_cell(full, first, "import glob\nfor p in glob.glob('te' + 'sts/*.py'):\n"
                                  "    print(open(p).read())\n"))
    put("edit_support", _with_cell(full, first, "import glob\nfor p in glob.glob('ut' + 'ils/*.py') + glob.glob('te' + 'sts/*.py'):\n"
                                   "    open(p, 'w').write('')\n"))
    (dest / "corrupted.ipynb").write_text(json.dumps(full)[: len(json.dumps(full)) // 2])
    (dest / "empty.ipynb").write_bytes(b"")
    (dest / "not_a_notebook.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (dest / "json_not_notebook.ipynb").write_text('{"hello": "world"}')
    for n in ("corrupted", "empty", "not_a_notebook", "json_not_notebook"):
        cases[n] = dest / f"{n}.ipynb"
    other_student, other_solution = _pair(other, dist, notebooks)
    put("other_assignment", fill(other_student, other_solution))
    return cases


def grade_samples(out=None, jobs=2):
    """Grade ``autograder/samples`` into ``build/grading``; returns the report's path (``make demo``)."""
    from . import grade
    import shutil
    out = Path(out or BUILD / "grading")
    shutil.rmtree(out, ignore_errors=True)   # a demo grades afresh; `grade` itself resumes
    if not any(SAMPLES.glob("*.ipynb")):
        make_samples()
    grade.grade([str(SAMPLES)], out, jobs=jobs)
    return out / "report.html"


def main(argv=None):
    for p in make_samples():
        print(p)
    return 0


if __name__ == "__main__":
    main()
