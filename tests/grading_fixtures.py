"""Attack and robustness submissions built from the real notebook 01, for tests/test_grade.py.

``attacks(dest)`` writes every case into ``dest`` and returns {case: path}.
Each case is bounded (memory under 1.5 GB, a fork bomb stopped by a small
pids cap, sleeps instead of busy loops, floods of a few MB) so that grading
them all at once stays cheap on a shared machine; the cases that hit a limit
come before the setup cell, so that their stage stops before its imports.
"""
import copy
import json
import os
from pathlib import Path

from autograder.demo import answer_ids, fill, pair

STEM = "01_ols_raw_pixels"
OTHER = "02_logistic_regression_edges"
MARKER = "987.654"          # `sleep 987.654`: a daemon the batch must kill
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def check_results_schema(results):
    """Gradescope's results.json: a tests list, each with name/output/visibility, numeric scores."""
    assert isinstance(results.get("tests"), list) and results["tests"]
    for t in results["tests"]:
        assert isinstance(t["name"], str) and isinstance(t.get("output", ""), str)
        assert t.get("visibility", "visible") in VISIBILITY
        if "score" in t or "max_score" in t:
            assert isinstance(t["score"], (int, float)) and isinstance(t["max_score"], (int, float))
            assert 0 <= t["score"] <= t["max_score"]
        if "status" in t:
            assert t["status"] in ("passed", "failed")
    if "score" in results:
        assert isinstance(results["score"], (int, float))
    assert results.get("stdout_visibility", "hidden") in VISIBILITY


def _write(path, nb):
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
    return Path(path)


def _code(source, tags=()):
    return {"cell_type": "code", "id": None, "metadata": {"tags": list(tags)}, "execution_count": None,
            "outputs": [], "source": source}


def _with(nb, source, after=0):
    """``nb`` with a code cell holding ``source`` inserted after its first answer cell (+after)."""
    nb = copy.deepcopy(nb)
    first = next(i for i, c in enumerate(nb["cells"]) if c.get("id") == answer_ids(nb)[0])
    cell = _code(source)
    cell["id"] = f"attack-{len(nb['cells'])}"
    nb["cells"].insert(first + 1 + after, cell)
    return nb


def _first(nb, source):
    """``nb`` with a code cell holding ``source`` before its first code cell (the setup cell)."""
    nb = copy.deepcopy(nb)
    first = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
    cell = _code(source)
    cell["id"] = f"attack-{len(nb['cells'])}"
    nb["cells"].insert(first, cell)
    return nb


FORGER = r'''%%bash
# forge every results file a grader might read, and block the grader's own writes
for d in /autograder/results ../results results . /tmp; do
  mkdir -p "$d" 2>/dev/null
  echo '{"ok": true, "questions": {"ols_fit": {"score": 1000, "possible": 3}}}' > "$d/driver.json" 2>/dev/null
  echo '{"tests": [{"name": "ols_fit", "score": 99, "max_score": 3}]}' > "$d/results.json" 2>/dev/null
  mkdir -p "$d/driver.json.tmp" 2>/dev/null; mkfifo "$d/fifo.json" 2>/dev/null; ln -s /dev/zero "$d/zero.json" 2>/dev/null
done
(setsid sh -c 'while true; do echo "{\"score\": 99}" > /tmp/late.json; sleep 987.654; done' > /dev/null 2>&1 &)
echo forged
'''

KERNEL_PATCH = '''import base64, importlib, sys
code = base64.b64decode({payload!r}).decode()
exec(code)
'''
PATCH_SOURCE = '''
import importlib, sys
mod = importlib.import_module("otter.test_files.abstract_test")
mod.TestFile.score = property(lambda self: self.possible)
mod.TestFile.grade = property(lambda self: 1.0)
sys.setprofile(lambda frame, event, arg: None)
import os
if os.fork() == 0:
    os.setsid()
    os.execv("/bin/sleep", ["sleep", "987.654"])
'''

SNOOP = r'''import glob, os, urllib.request
found = []
found.append(f"uid={os.getuid()}")
def can(p, mode="r"):
    try:
        open(p, mode).close(); return "open"
    except OSError as e:
        return "denied"
found.append("shadow=" + can("/etc/shadow"))
hidden = [p for p in glob.glob("/**/*.py", recursive=False) + glob.glob("tests/*.py") + glob.glob("../**/*.py", recursive=True)
          if "hidden=True" in open(p, errors="replace").read()] if True else []
found.append(f"hidden_files={len(hidden)}")
found.append("utils=" + can("utils/data.py", "a"))
others = (glob.glob("/tmp/ptm-grade-*") + glob.glob("/work/wt-*") + glob.glob("/work/*/auto" + "grader/dist/*.zip")
          + glob.glob("/root/*") + glob.glob(os.path.join("/", "auto" + "grader", "runs", "*")))
found.append(f"others={len(others)}")
try:
    urllib.request.urlopen("http://10.0.0.1:80/", timeout=2); found.append("net=open")
except OSError as e:
    found.append("net=denied" if "unreachable" in str(e).lower() else "net=" + type(e).__name__)
open("/dev/shm/ptm-attack-marker", "w").write("x")
found.append("env=" + ",".join(sorted(k for k in os.environ if k.startswith(("PTM_OUT", "SSH", "AWS", "GRADER")))))
class_name = "X" * 5000 + "".join(found)
raise type(class_name, (Exception,), {})("REPORT " + " ".join(found) + " " + "m" * 5000)
'''

JUDGE_ATTACK = '''def predict(Phi, w):
    import sys
    frame = sys._getframe(1)
    raise Exception(repr(frame.f_code.co_consts) + repr(frame.f_globals.keys()))
'''


def attacks(dest, stem=STEM, other=OTHER):
    """Every case of the attack batch; returns {case: path}."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    student, solution = pair(stem)
    full, ids = fill(student, solution), answer_ids(student)
    cases = {}

    def put(name, nb, sub=""):
        (dest / sub).mkdir(parents=True, exist_ok=True)
        cases[name] = _write(dest / sub / f"{name}.ipynb", nb)

    put("full", full)
    put("partial", fill(student, solution, ids[: (len(ids) + 1) // 2]))
    honest = _with(full, 'print(grader.check("ols_fit"))\ndisplay(grader.check("ols_phi"))\n'
                         'from utils import results\nprint("results cache:", results.__file__, "results.json")\n'
                         'grader.check("ols_mc")\n')
    put("honest_check", honest)
    import base64
    forger = _with(_with(student, FORGER), KERNEL_PATCH.format(payload=base64.b64encode(PATCH_SOURCE.encode()).decode()))
    put("forger", forger)
    put("snoop", _with(full, SNOOP))
    judge = copy.deepcopy(full)
    last_predict = next(c for c in judge["cells"] if "def predict" in "".join(c["source"]))
    last_predict["source"] = JUDGE_ATTACK
    put("judge_attack", judge)
    # the limit cases come before the setup cell: the limit is hit before its imports, and the stage stops there
    put("memory_children", _first(student, "import os, time\nkids = []\nfor i in range(4):\n    pid = os.fork()\n"
                                          "    if pid == 0:\n        blob = b'x' * (400 << 20)\n        time.sleep(20)\n"
                                          "        os._exit(0)\n    kids.append(pid)\nfor p in kids:\n    os.waitpid(p, 0)\n"))
    put("fork_bomb", _first(student, "import os, time\nfor i in range(400):\n    if os.fork() == 0:\n"
                                    "        time.sleep(20)\n        os._exit(0)\n"))
    put("disk_fill", _first(student, "chunk = b'x' * (1 << 20)\nwith open('fill.bin', 'wb') as f:\n"
                                    "    for i in range(400):\n        f.write(chunk)\n"))
    put("print_flood", _first(student, "line = 'y' * 999\nfor i in range(6000):\n    print(line)\n"))
    put("fd_flood", _first(student, "import os\nfor i in range(6000):\n    os.write(1, b'z' * 1000 + b'\\n')\n"))
    put("sleep_loop", _with(full, "import time\nwhile True:\n    time.sleep(1)\n"))
    odd = copy.deepcopy(fill(student, solution, ids[: (len(ids) + 1) // 2]))
    odd["metadata"]["kernelspec"] = "python3"
    for i, c in enumerate(odd["cells"]):
        c["id"] = ["list", "id"] if i % 2 else "dup"
    odd["nbformat_minor"] = 4
    put("odd_shapes", odd)
    # cheap cases: the host refuses them before any sandbox starts
    bad = copy.deepcopy(full)
    bad["cells"][3]["metadata"] = ["not", "a", "dict"]
    put("metadata_list", bad)
    bad = copy.deepcopy(full)
    bad["cells"][3]["source"] = [1, 2, 3]
    put("source_ints", bad)
    (dest / "deep_json.ipynb").write_text(json.dumps(full)[:-1] + ', "deep": ' + "[" * 100000 + "]" * 100000 + "}")
    cases["deep_json"] = dest / "deep_json.ipynb"
    put("huge_cell", _with(full, "x = 1\n" + "# " + "h" * (2 << 20) + "\n"))
    victim = dest.parent / "victim"
    victim.mkdir(exist_ok=True)
    (victim / "keep.txt").write_text("keep")
    for name, assignment in (("assignment_path", str(victim)), ("assignment_dotdot", "../../" + victim.name)):
        nb = copy.deepcopy(full)
        nb["metadata"]["otter"]["assignment_name"] = assignment
        put(name, nb)
    other_student, other_solution = pair(other)
    put("other_assignment", fill(other_student, other_solution))
    for sub in ("a", "b"):
        (dest / sub).mkdir(exist_ok=True)
        (dest / sub / "hw.ipynb").write_bytes(b"")
        cases[f"{sub}/hw"] = dest / sub / "hw.ipynb"
    for name in ("名前", "名字", "=HYPERLINK(1)"):
        (dest / f"{name}.ipynb").write_bytes(b"")
        cases[name] = dest / f"{name}.ipynb"
    (dest / "corrupted.ipynb").write_text(json.dumps(full)[:200])
    cases["corrupted"] = dest / "corrupted.ipynb"
    # the host's reading: a 600 KB cell of chained assignments (a quadratic closure once) and 15 MB of code
    put("chained", _with(full, " = ".join(f"v{i}" for i in range(60000)) + " = 1\n"))
    flood = copy.deepcopy(full)
    flood["cells"] += [_code("x = 1\n" + "#" * ((1 << 20) - 100) + "\n") for _ in range(15)]
    put("code_flood", flood)
    os.mkfifo(dest / "fifo.ipynb")
    (dest / "zero.ipynb").symlink_to("/dev/zero")
    (dest / "folder.ipynb").mkdir()
    cases["fifo"], cases["zero"], cases["folder"] = dest / "fifo.ipynb", dest / "zero.ipynb", dest / "folder.ipynb"
    return cases
