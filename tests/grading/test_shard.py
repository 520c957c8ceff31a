"""Grading beyond one machine: ``grade --shard I/N`` in separate processes, then ``merge``.

One batch of 15 submissions (two real notebook-01 submissions and notebook 02's full sample, with
written answers, that run in the grader, the rest refused cheaply on the host: empty, corrupted,
another assignment, a zip of two notebooks) is graded three times over as shards 1/3, 2/3 and 3/3,
each its own ``python -m autograder grade`` process, and once whole, at the same time. The merge of
the shards must equal the whole batch: every row's scores, status and reason, every feedback page,
every Gradescope results file and the report; and so must both after the same ``merge-manual``.
"""

import copy
import csv
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from autograder import REPO, check
from autograder.demo import SAMPLES, answer_ids, fill, pair
from autograder.grading import inputs, manual, shard, store

STEM = "01_ols_raw_pixels"
WRITTEN = "02_logistic_regression_edges"
SHARDS = 3
SLOW = (
    pytest.mark.slow
)  # the tests on the graded batch: four grader processes, two real notebooks graded twice


def _nb(path, nb):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")


def batch_of_submissions(dest):
    student, solution = pair(STEM)
    _nb(
        dest / "section-a" / "ana.ipynb", fill(student, solution, answer_ids(student)[:3])
    )  # partly right
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # grader.export zip
        zf.writestr(f"{STEM}.ipynb", json.dumps(student))
    (dest / "ben.zip").write_bytes(buf.getvalue())
    for name in ("cleo", "dev", "section-a/eli", "名前", "=HYPERLINK(1)"):
        (dest / f"{name}.ipynb").parent.mkdir(parents=True, exist_ok=True)
        (dest / f"{name}.ipynb").write_bytes(b"")  # empty: invalid
    for name in ("fay", "section-b/gus", "hal"):
        (dest / f"{name}.ipynb").parent.mkdir(parents=True, exist_ok=True)
        (dest / f"{name}.ipynb").write_text(json.dumps(student)[:300])  # corrupted
    for name in ("ivy", "section-b/jon", "kai"):
        other = copy.deepcopy(student)
        other["metadata"]["otter"]["assignment_name"] = "not-this-course"  # wrong assignment
        _nb(dest / f"{name}.ipynb", other)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # two notebooks: invalid
        zf.writestr("a.ipynb", "{}")
        zf.writestr("b.ipynb", "{}")
    (dest / "lea.zip").write_bytes(buf.getvalue())
    shutil.copy(
        SAMPLES / f"{WRITTEN}-full.ipynb", dest / "section-b" / "mia.ipynb"
    )  # written answers
    return dest


def _grader(subs, out, *extra):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(subs),
            "--out",
            str(out),
            "--jobs",
            "1",
            "--trusted",
            "--no-sandbox",
            "--timeout",
            "300",
            "--judge-timeout",
            "900",
            *extra,
        ],  # a call's limit: equal scores on a loaded machine
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    check.ensure_built([STEM, WRITTEN])
    root = tmp_path_factory.mktemp("shards")
    subs = batch_of_submissions(root / "subs")
    procs = {"whole": _grader(subs, root / "whole")}
    procs.update(
        {
            i: _grader(subs, root / f"shard-{i}", "--shard", f"{i}/{SHARDS}")
            for i in range(1, SHARDS + 1)
        }
    )
    logs = {k: p.communicate(timeout=1800)[0] for k, p in procs.items()}
    for k, p in procs.items():
        assert p.returncode == 0, (k, logs[k][-3000:])
    shard_dirs = [root / f"shard-{i}" for i in range(1, SHARDS + 1)]
    assert shard.main([str(d) for d in shard_dirs] + ["--out", str(root / "merged")]) == 0
    return root, subs, shard_dirs


def _comparable(rows):
    return {sid: {k: v for k, v in r.items() if k != "seconds"} for sid, r in rows.items()}


def _untimed(html):
    """report.html without what the clock decides: the runtime figure and each row's seconds."""
    html = re.sub(r'<div class="timing">.*?</table></div></div>', "", html, flags=re.S)
    return re.sub(r'<td class="seconds">[^<]*</td>', "", html)


def assert_same_pages(merged, whole):
    """Every row but its seconds, every feedback, results and review file, and the report."""
    assert _comparable(store.read_rows(merged / "grades.csv")) == _comparable(
        store.read_rows(whole / "grades.csv")
    )
    for sub in ("feedback", "results", "review"):
        names = sorted(p.name for p in (whole / sub).iterdir())
        assert names == sorted(p.name for p in (merged / sub).iterdir()) and names
        for name in names:
            assert (merged / sub / name).read_bytes() == (whole / sub / name).read_bytes(), name
    report = (merged / "report.html").read_text()
    assert (
        report.count('<div class="timing">')
        == (whole / "report.html").read_text().count('<div class="timing">')
        > 0
    )
    assert _untimed(report) == _untimed((whole / "report.html").read_text())


@SLOW
def test_merged_shards_equal_one_machine(graded):
    root, subs, shard_dirs = graded
    whole = store.read_rows(root / "whole" / "grades.csv")
    merged = store.read_rows(root / "merged" / "grades.csv")
    assert len(whole) == 15 and _comparable(merged) == _comparable(whole)
    statuses = sorted(r["status"] for r in whole.values())
    assert (
        statuses.count("graded") == 3 and "invalid" in statuses and "wrong-assignment" in statuses
    )
    ana = next(r for r in merged.values() if r["file"].endswith("ana.ipynb"))
    assert float(ana["total"]) > 0  # a real score went through
    header = (root / "merged" / "grades.csv").read_text().splitlines()[0]
    assert header == (root / "whole" / "grades.csv").read_text().splitlines()[0]
    assert_same_pages(root / "merged", root / "whole")
    assert store.maxima(root / "merged") == store.maxima(root / "whole")
    counts = re.compile(r"\d+ submissions \([^)]*\)")
    assert (
        counts.search((root / "merged" / "report.html").read_text()).group()
        == counts.search((root / "whole" / "report.html").read_text()).group()
    )
    assert set(json.loads((root / "merged" / "timings.json").read_text())) == set(
        json.loads((root / "whole" / "timings.json").read_text())
    )


@SLOW
def test_each_shard_grades_a_disjoint_stable_part(graded):
    root, subs, shard_dirs = graded
    parts = [set(store.read_rows(d / "grades.csv")) for d in shard_dirs]
    assert all(parts) and sum(map(len, parts)) == 15 and len(set().union(*parts)) == 15
    for i, part in enumerate(parts, 1):  # the split is the hash of the id alone, not of positions
        assert part == {
            sid for sid, _, _ in inputs.collect([subs]) if shard.owner(sid, SHARDS) == i
        }


@SLOW
def test_a_missing_or_duplicated_shard_is_an_error_that_names_it(graded):
    root, _, (one, two, three) = graded
    out = root / "bad-merge"
    with pytest.raises(
        SystemExit, match=r"shard 2/3 missing \(given: 1/3 in .*shard-1, 3/3 in .*shard-3\)"
    ):
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
    with pytest.raises(
        SystemExit,
        match=rf"shard 2/3 \(.*shard-2\) is unfinished: 1 of its {len(rows)} .*{dropped}",
    ):
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


@SLOW
def test_after_the_same_merge_manual_the_merged_folder_still_equals_one_machine(graded, tmp_path):
    root, _, _ = graded
    whole, merged = (shutil.copytree(root / name, tmp_path / name) for name in ("whole", "merged"))
    template = list(csv.DictReader(io.StringIO((whole / "review" / manual.TEMPLATE).read_text())))
    assert template and {line["assignment"] for line in template} == {WRITTEN}
    for line in template:  # the TA scores every answer, half its points
        line["score"] = f"{float(line['max_points']) / 2:g}"
    scores = tmp_path / "scores.csv"
    with open(scores, "w", newline="") as f:
        writer = csv.DictWriter(f, manual.HEADER)
        writer.writeheader()
        writer.writerows(template)
    for folder in (whole, merged):
        assert manual.main([str(folder), str(scores)]) == 0
    mia = next(
        r for r in store.read_rows(whole / "grades.csv").values() if r["file"].endswith("mia.ipynb")
    )
    assert all(mia[line["question"]] == line["score"] for line in template)
    assert_same_pages(merged, whole)
    page = (merged / "feedback" / f"{mia['id']}.html").read_text()
    assert f"score {mia['total']} / {mia['maximum']}" in page  # rendered again, with the new total
