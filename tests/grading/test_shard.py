"""Grading beyond one machine: ``grade --shard I/N`` in separate processes, then ``merge``.

One batch of 14 submissions (two real notebook-01 submissions that run in the grader, the rest
refused cheaply on the host: empty, corrupted, another assignment, a zip of two notebooks) is graded
three times over as shards 1/3, 2/3 and 3/3, each its own ``python -m autograder grade`` process,
and once whole, at the same time. The merge of the shards must equal the whole batch: every row's
scores, status and reason, every feedback page and every Gradescope results file.
"""
import copy
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from autograder import REPO, check
from autograder.demo import answer_ids, fill, pair
from autograder.grading import inputs, shard, store

STEM = "01_ols_raw_pixels"
SHARDS = 3
SLOW = pytest.mark.slow     # the tests on the graded batch: four grader processes, two real notebooks graded twice


def _nb(path, nb):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")


def batch_of_submissions(dest):
    student, solution = pair(STEM)
    _nb(dest / "section-a" / "ana.ipynb", fill(student, solution, answer_ids(student)[:3]))   # partly right
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:                                                     # grader.export zip
        zf.writestr(f"{STEM}.ipynb", json.dumps(student))
    (dest / "ben.zip").write_bytes(buf.getvalue())
    for name in ("cleo", "dev", "section-a/eli", "名前", "=HYPERLINK(1)"):
        (dest / f"{name}.ipynb").parent.mkdir(parents=True, exist_ok=True)
        (dest / f"{name}.ipynb").write_bytes(b"")                                               # empty: invalid
    for name in ("fay", "section-b/gus", "hal"):
        (dest / f"{name}.ipynb").parent.mkdir(parents=True, exist_ok=True)
        (dest / f"{name}.ipynb").write_text(json.dumps(student)[:300])                         # corrupted
    for name in ("ivy", "section-b/jon", "kai"):
        other = copy.deepcopy(student)
        other["metadata"]["otter"]["assignment_name"] = "not-this-course"                       # wrong assignment
        _nb(dest / f"{name}.ipynb", other)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:                                                     # two notebooks: invalid
        zf.writestr("a.ipynb", "{}")
        zf.writestr("b.ipynb", "{}")
    (dest / "lea.zip").write_bytes(buf.getvalue())
    return dest


def _grader(subs, out, *extra):
    return subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out), "--jobs", "1",
                             "--trusted", "--no-sandbox", "--timeout", "300", *extra],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    check.ensure_built([STEM])
    root = tmp_path_factory.mktemp("shards")
    subs = batch_of_submissions(root / "subs")
    procs = {"whole": _grader(subs, root / "whole")}
    procs.update({i: _grader(subs, root / f"shard-{i}", "--shard", f"{i}/{SHARDS}") for i in range(1, SHARDS + 1)})
    logs = {k: p.communicate(timeout=900)[0] for k, p in procs.items()}
    for k, p in procs.items():
        assert p.returncode == 0, (k, logs[k][-3000:])
    shard_dirs = [root / f"shard-{i}" for i in range(1, SHARDS + 1)]
    assert shard.main([str(d) for d in shard_dirs] + ["--out", str(root / "merged")]) == 0
    return root, subs, shard_dirs


def _comparable(rows):
    return {sid: {k: v for k, v in r.items() if k != "seconds"} for sid, r in rows.items()}


@SLOW
def test_merged_shards_equal_one_machine(graded):
    root, subs, shard_dirs = graded
    whole = store.read_rows(root / "whole" / "grades.csv")
    merged = store.read_rows(root / "merged" / "grades.csv")
    assert len(whole) == 14 and _comparable(merged) == _comparable(whole)
    statuses = sorted(r["status"] for r in whole.values())
    assert statuses.count("graded") == 2 and "invalid" in statuses and "wrong-assignment" in statuses
    ana = next(r for r in merged.values() if r["file"].endswith("ana.ipynb"))
    assert float(ana["total"]) > 0                                              # a real score went through
    header = (root / "merged" / "grades.csv").read_text().splitlines()[0]
    assert header == (root / "whole" / "grades.csv").read_text().splitlines()[0]
    for sub in ("feedback", "results"):
        names = sorted(p.name for p in (root / "whole" / sub).iterdir())
        assert names == sorted(p.name for p in (root / "merged" / sub).iterdir()) and names
        for name in names:
            assert (root / "merged" / sub / name).read_bytes() == (root / "whole" / sub / name).read_bytes(), name
    counts = re.compile(r"\d+ submissions \([^)]*\)")
    assert counts.search((root / "merged" / "report.html").read_text()).group() == \
        counts.search((root / "whole" / "report.html").read_text()).group()
    assert set(json.loads((root / "merged" / "timings.json").read_text())) == \
        set(json.loads((root / "whole" / "timings.json").read_text()))


@SLOW
def test_each_shard_grades_a_disjoint_stable_part(graded):
    root, subs, shard_dirs = graded
    parts = [set(store.read_rows(d / "grades.csv")) for d in shard_dirs]
    assert all(parts) and sum(map(len, parts)) == 14 and len(set().union(*parts)) == 14
    for i, part in enumerate(parts, 1):       # the split is the hash of the id alone, not of positions
        assert part == {sid for sid, _, _ in inputs.collect([subs]) if shard.owner(sid, SHARDS) == i}


@SLOW
def test_a_missing_or_duplicated_shard_is_an_error_that_names_it(graded):
    root, _, (one, two, three) = graded
    out = root / "bad-merge"
    with pytest.raises(SystemExit, match=r"shard 2/3 missing \(given: 1/3 in .*shard-1, 3/3 in .*shard-3\)"):
        shard.merge([one, three], out)
    with pytest.raises(SystemExit, match=r"shard 1/3 is given twice: .*shard-1, .*shard-1"):
        shard.merge([one, two, three, one], out)
    with pytest.raises(SystemExit, match=r"shard folder .*nowhere does not exist"):
        shard.merge([one, two, root / "nowhere"], out)
    with pytest.raises(SystemExit, match=r"subs is not a shard folder \(no shard.json\)"):
        shard.merge([one, two, root / "subs"], out)
    assert not (out / "grades.csv").exists()


@SLOW
def test_an_unfinished_shard_is_refused_by_name(graded, tmp_path):
    root, _, (one, two, three) = graded
    cut = tmp_path / "shard-2"
    shutil.copytree(two, cut)
    rows = store.read_rows(cut / "grades.csv")
    dropped = sorted(rows)[0]
    store.write_rows(cut / "grades.csv", {k: v for k, v in rows.items() if k != dropped})
    with pytest.raises(SystemExit, match=rf"shard 2/3 \(.*shard-2\) is unfinished: 1 of its {len(rows)} .*{dropped}"):
        shard.merge([one, cut, three], tmp_path / "out")


@SLOW
def test_a_shard_folder_keeps_its_split(graded, tmp_path):
    root, subs, (one, _, _) = graded
    with pytest.raises(SystemExit, match=r"holds shard 1/3, not 2/3"):
        shard.select(inputs.collect([subs]), (2, 3), one)
    with pytest.raises(SystemExit, match=r"holds shard 1/3 of a sharded batch"):
        shard.select(inputs.collect([subs]), None, one)
    with pytest.raises(SystemExit, match=r"another set of submissions"):
        shard.select(inputs.collect([subs])[:-1], (1, 3), one)
    with pytest.raises(SystemExit, match=r"whole \(unsharded\) batch"):
        shard.select(inputs.collect([subs]), (1, 3), root / "whole")


@pytest.mark.parametrize("spec", ["0/3", "4/3", "3", "a/b", "1/0"])
def test_a_bad_shard_spec_is_a_usage_error(spec, capsys):
    from autograder.grading import batch
    with pytest.raises(SystemExit):
        batch.parse_args(["subs", "--out", "x", "--shard", spec])
    assert "--shard" in capsys.readouterr().err


def test_the_split_is_roughly_even():
    counts = [0] * 8
    for k in range(4000):
        counts[shard.owner(f"student-{k}/{STEM}", 8) - 1] += 1
    assert min(counts) > 400 and max(counts) < 600, counts
