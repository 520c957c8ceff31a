"""The built zips are valid Gradescope autograders that run the course's grading service, checked in
a simulated Gradescope layout against the local grader's scores.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once
to build the image, then ``run_autograder`` per submission, and reads
``/autograder/results/results.json``. The sandboxed batch's results are checked
against the same schema in tests/grading/test_batch.py, on the attack batch it grades anyway.
"""

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from grading_fixtures import check_results_schema

from autograder import DIST, check, zip_path
from autograder.build import masters
from autograder.grading import gradescope as entry_point


@pytest.fixture
def built(request):
    """The zip of one master, built first when missing or stale (locked: the other test process may
    build too)."""
    check.ensure_built([request.param])
    return zip_path(request.param)


@pytest.mark.parametrize("built", [m.stem for m in masters()], indirect=True)
def test_zip_is_a_gradescope_autograder(built):
    with zipfile.ZipFile(built) as zf:
        names = set(zf.namelist())
        for required in ("run_autograder", "setup.sh", "run_otter.py", "otter_config.json"):
            assert required in names, f"{built.name} lacks {required}"
        assert names & {"requirements.txt", "environment.yml"}, "no requirements/environment file"
        tests = [n for n in names if n.startswith("tests/") and n.endswith(".py")]
        assert tests, "no tests/ in the zip"
        assert any(n.startswith("files/utils/") for n in names), "support files (utils) missing"
        config = json.loads(zf.read("otter_config.json"))
        run = zf.read("run_autograder").decode()
    assert config["assignment_name"] == built.stem
    assert config.get("lang", "python") == "python" and "token" not in config
    assert (
        run.startswith("#!")
        and "grader/autograder/grading/gradescope.py" in run
        and "run_otter.py" not in run
    )
    assert (
        "grader/autograder/grading/programs/judge.py" in names
        and "grader/autograder/grading/programs/worker.py" in names
    )
    assert "given_cells.json" in names
    setup = zipfile.ZipFile(built).read("setup.sh").decode()
    assert "mamba env create" in setup and setup.rstrip().endswith("chmod o+x /root"), setup[-400:]
    if (
        built.stem != "01_ols_raw_pixels"
    ):  # its written questions, for the review pages and merge-manual
        written = json.loads(zipfile.ZipFile(built).read("manual.json"))
        assert written and all(
            spec["points"] > 0 and spec["rubric"] for spec in written.values()
        ), written
    for t in tests:
        text = zipfile.ZipFile(built).read(t).decode()
        assert "OK_FORMAT = False" in text, f"{t}: tests must be exception-based"


@pytest.mark.slow
def test_otter_run_writes_gradescope_results(tmp_path):
    """Grade the full sample with plain ``otter run`` (what run_autograder calls) and check the
    schema."""
    from autograder.demo import SAMPLES

    stem = "01_ols_raw_pixels"
    check.ensure_built([stem])
    sub = SAMPLES / f"{stem}-full.ipynb"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "otter",
            "run",
            "-a",
            str(DIST / f"{stem}.zip"),
            "-o",
            str(tmp_path),
            str(sub),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    results = json.loads((tmp_path / "results.json").read_text())
    check_results_schema(results)
    scored = [t for t in results["tests"] if "score" in t]
    assert sum(t["score"] for t in scored) == sum(t["max_score"] for t in scored) > 0


# ----------------------------------------------------------------------------- simulated Gradescope
# Gradescope unpacks the zip into /autograder/source, puts the student's upload in
# /autograder/submission and runs run_autograder as root. Here the same layout lies in a temporary
# folder (PTM_AUTOGRADER_ROOT), and the service's own entry point runs as root, without bubblewrap
# when the container (like Gradescope's) has no namespaces: student code as nobody, tests root-only.


def _gradescope_cases():
    import tempfile

    from grading_fixtures import attacks

    from autograder.demo import SAMPLES

    cases = [(m.stem, "full", SAMPLES / f"{m.stem}-full.ipynb") for m in masters()]
    cases.append(("01_ols_raw_pixels", "partial", SAMPLES / "01_ols_raw_pixels-partial.ipynb"))
    built = attacks(Path(tempfile.mkdtemp(prefix="ptm-gs-attacks-")) / "subs")
    cases += [
        ("01_ols_raw_pixels", name, built[name]) for name in ("forger", "judge_attack", "snoop")
    ]
    return cases


def _run_gradescope(root, stem, notebook, namespaces):
    import shutil
    import zipfile

    (root / "submission").mkdir(parents=True)
    with zipfile.ZipFile(zip_path(stem)) as zf:
        zf.extractall(root / "source")
    shutil.copy(notebook, root / "submission" / "upload.ipynb")
    import tempfile

    tmp = Path(
        tempfile.mkdtemp(prefix="ptm-gs-tmp-")
    )  # the entry point's TMPDIR: empty again afterwards
    os.chmod(tmp, 0o755)
    env = {**os.environ, "PTM_AUTOGRADER_ROOT": str(root), "TMPDIR": str(tmp)}
    if not namespaces:
        env["PTM_FORCE_NO_NAMESPACES"] = "1"
    try:
        proc = subprocess.run(
            [sys.executable, str(root / "source/grader/autograder/grading/gradescope.py")],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        left = sorted(p.name for p in tmp.iterdir())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text()), root, left


def test_an_interpreter_out_of_reach_is_named_not_opened(tmp_path):
    """Without namespaces a stage's uid must traverse the folders above the interpreter; the entry
    point names those it cannot (the zip's setup.sh opens /root when the image is built) and changes
    no mode itself."""
    closed = tmp_path / "root"
    prefix = closed / "miniforge3" / "envs" / "otter-env"
    prefix.mkdir(parents=True)
    closed.chmod(0o700)
    above = set(
        entry_point.unreachable_folders({str(tmp_path)})
    )  # pytest's own folders may be 0700
    before = {p: p.stat().st_mode for p in (closed, prefix)}
    assert set(entry_point.unreachable_folders({str(prefix)})) - above == {str(closed)}
    closed.chmod(0o711)
    assert set(entry_point.unreachable_folders({str(prefix)})) - above == set()
    closed.chmod(before[closed])
    assert {p: p.stat().st_mode for p in (closed, prefix)} == before


def _interpreter_modes():
    return {
        str(d): d.stat().st_mode
        for top in {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
        for d in Path(top).parents
    }


@pytest.fixture(scope="module")
def gradescope(tmp_path_factory):
    from concurrent.futures import ThreadPoolExecutor

    check.ensure_built([m.stem for m in masters()])
    cases = _gradescope_cases()
    base = tmp_path_factory.mktemp("gradescope")
    # Gradescope's image has run the zip's setup.sh, which opens traversal (o+x, never read) on the
    # folders above the interpreter (/root there). This machine's image may not have: do what
    # setup.sh does for the runs, and close them again afterwards.
    opened = [Path(p) for p in entry_point.unreachable_folders()]
    for p in opened:
        p.chmod(p.stat().st_mode | stat.S_IXOTH)
    modes = _interpreter_modes()
    try:
        with ThreadPoolExecutor(2) as pool:
            runs = list(
                pool.map(
                    lambda i: _run_gradescope(base / str(i), cases[i][0], cases[i][2], i % 2 == 0),
                    range(len(cases)),
                )
            )
    finally:  # without namespaces the snooping case shares the machine's /dev/shm (docs/grading.md)
        Path("/dev/shm/ptm-attack-marker").unlink(missing_ok=True)
        after = _interpreter_modes()
        for p in opened:
            p.chmod(p.stat().st_mode & ~stat.S_IXOTH)
    assert after == modes, "the entry point left a permission changed outside its folders"
    assert all(not left for *_, left in runs), [
        left for *_, left in runs
    ]  # its temporary folders are gone
    return {(stem, name): (path, *run[:2]) for (stem, name, path), run in zip(cases, runs)}


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="Gradescope runs run_autograder as root")


@needs_root
@pytest.mark.slow
def test_gradescope_scores_match_the_local_grader(gradescope):
    import nbformat
    from notebook_helpers import judge, manual_questions

    for (stem, name), (path, results, _) in gradescope.items():
        check_results_schema(results)
        local = judge(nbformat.read(str(path), as_version=4), stem)
        expected = sum(q["score"] for q in local.values())
        # Gradescope shows 2 decimals (report.gradescope_results rounds: no 1.285714)
        assert results["score"] == round(expected, 2), (stem, name, results["score"], expected)
        assert all(round(t.get("score", 0), 2) == t.get("score", 0) for t in results["tests"])
        if name == "full":
            assert results["score"] == pytest.approx(sum(q["possible"] for q in local.values()))
        # read by a person: one line each without a score (a 0-point line reads "passed")
        written = manual_questions(stem)
        assert {f"{q} (written answer, graded by hand)" for q in written} <= {
            t["name"] for t in results["tests"]
        }
        assert all(
            "score" not in t and "max_score" not in t
            for t in results["tests"]
            if t["name"].split(" ")[0] in written
        )


@needs_root
@pytest.mark.slow
def test_gradescope_results_split_public_and_hidden_and_keep_tests_root_only(gradescope):
    import stat as st

    _, results, root = gradescope[("01_ols_raw_pixels", "partial")]
    names = {t["name"]: t for t in results["tests"]}
    assert (
        "ols_fit (public tests)" in names
        and names["ols_fit (hidden tests)"]["visibility"] == "after_published"
    )
    assert names["ols_fit (public tests)"]["visibility"] == "visible"
    per_test = sum(t.get("score", 0) for t in results["tests"])  # each rounded to 2 decimals
    assert per_test == pytest.approx(results["score"], abs=0.01 * len(results["tests"]))
    for folder in ("source", "results"):
        mode = (root / folder).stat()
        assert mode.st_uid == 0 and not mode.st_mode & (st.S_IRWXG | st.S_IRWXO), folder
    for _, run, _ in gradescope.values():
        assert "def test_" not in json.dumps(run)  # no test code in what students see
