"""Grading by attack: every property of autograder/grading is tested by a submission that tries to
break it.

The attack batch (``tests/fixtures/grading_fixtures.attacks``, built from the real
notebook 01) is graded ONCE, with ``--jobs 2``, small limits (1.2 GB memory,
128 processes, 128 MB disk, 4 MB output) and a module-scoped fixture; each
test asserts the score, the status and the feedback of one case.
"""

import base64
import codecs
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from grading_fixtures import MARKER, STEM, attacks, check_results_schema
from notebook_helpers import template

from autograder import REPO, check, zip_path
from autograder.grading import assignment, batch, inputs, sandbox, store

needs_sandbox = pytest.mark.skipif(not sandbox.bwrap_status()[0], reason=sandbox.bwrap_status()[1])


@pytest.fixture(scope="module")
def dist():
    check.ensure_built([STEM])  # locked: the other worker of `make test` may be building too
    return zip_path(STEM).parent


LOOP_TIMEOUT = (
    10  # CPU seconds: the looping case sleeps forever, so the wall-clock backstop stops it
)


@pytest.fixture(scope="module")
def grading_tmp():
    """The temporary folder of this module's gradings (their ``ptm-grade-*`` work folders), which
    the test owns: other gradings on the machine (the other test process, a TA) keep theirs in the
    system's. World-traversable like /tmp, so that student code run as nobody reaches its own
    folders in it."""
    folder = Path(tempfile.mkdtemp(prefix="ptm-test-attacks-"))
    folder.chmod(0o755)
    yield folder
    subprocess.run(["rm", "-rf", "--one-file-system", str(folder)], check=False)


@pytest.fixture(scope="module")
def graded(dist, grading_tmp, tmp_path_factory):
    """(cases, out dir, rows by case, secrets) of the attack batch graded once.

    The looping case is graded at the same time by a second grader, under a
    short time limit that only it needs: the batch's own limit (100 s) stays wide
    enough for the honest cases on a loaded 2-core machine.
    """
    root = tmp_path_factory.mktemp("attacks")
    Path("/dev/shm/ptm-attack-marker").unlink(
        missing_ok=True
    )  # (without namespaces /dev/shm is shared)
    cases = attacks(root / "subs")
    loop = root / "loop" / cases["sleep_loop"].name
    loop.parent.mkdir()
    cases["sleep_loop"] = cases["sleep_loop"].replace(loop)
    looping = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(loop.parent),
            "--out",
            str(root / "loop-out"),
            "--jobs",
            "1",
            "--timeout",
            str(LOOP_TIMEOUT),
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(grading_tmp)},
    )
    out = root / "out"
    saved, tempfile.tempdir = tempfile.tempdir, str(grading_tmp)  # (tempfile reads TMPDIR once)
    try:
        assert (
            batch.main(
                [
                    str(root / "subs"),
                    "--out",
                    str(out),
                    "--jobs",
                    "2",
                    "--timeout",
                    "100",
                    "--judge-timeout",
                    "60",
                    "--memory",
                    "1.2",
                    "--pids",
                    "128",
                    "--disk",
                    "128",
                    "--output",
                    "4",
                ]
            )
            == 0
        )
    finally:
        tempfile.tempdir = saved
        _, err = looping.communicate(timeout=600)
    assert looping.returncode == 0, err[-2000:]
    rows = store.read_rows(out / "grades.csv")
    by_file = {r["file"]: r for r in rows.values()}
    by_case = {
        name: by_file.get(str(path.relative_to(root / "subs")))
        for name, path in cases.items()
        if name != "sleep_loop"
    }
    (by_case["sleep_loop"],) = store.read_rows(root / "loop-out" / "grades.csv").values()
    tpl = assignment.load_template(zip_path(STEM), tmp_path_factory.mktemp("tpl"))
    return cases, out, by_case, tpl.secrets


def feedback(out, row):
    return (out / "feedback" / f"{row['id']}.html").read_text()


pytestmark = [pytest.mark.slow, needs_sandbox]


def test_honest_submissions_score_what_they_earn(graded):
    _, out, rows, _ = graded
    assert (
        rows["full"]["status"] == "graded"
        and rows["full"]["total"] == rows["full"]["maximum"] == "11"
    )
    assert rows["partial"]["status"] == "graded" and rows["partial"]["total"] == "7", rows[
        "partial"
    ]
    page = feedback(out, rows["partial"])
    assert "hidden test" in page and "failed" in page
    assert "ols_mc_answer must be one of" in page  # a public test's hint


def test_batch_results_follow_gradescopes_schema(graded):
    _, out, rows, _ = graded
    for case in ("full", "partial", "other_assignment"):
        results = json.loads((out / "results" / f"{rows[case]['id']}.json").read_text())
        check_results_schema(results)
        assert results["score"] == float(rows[case]["total"]), (case, results["score"])


def test_each_stage_of_each_submission_is_timed(graded):
    _, out, rows, _ = graded
    timings = json.loads((out / "timings.json").read_text())
    full = timings[rows["full"]["id"]]
    assert (
        set(full) == {"run", "judge"}
        and full["run"]["seconds"] > 0
        and full["judge"]["seconds"] > 0
    )
    if sandbox.cgroup_status()[0]:
        assert full["run"]["peak_mb"] > 0 and full["judge"]["peak_mb"] > 0
    assert set(timings[rows["fork_bomb"]["id"]]) == {
        "run"
    }  # a limit decided: the judge did not count


def test_honest_use_of_grader_check_is_never_flagged(graded):
    _, _, rows, _ = graded
    row = rows["honest_check"]
    assert (row["status"], row["total"], row["flags"]) == ("graded", "11", ""), row


def test_forged_results_files_daemons_and_kernel_patches_give_nothing(graded):
    _, out, rows, _ = graded
    row = rows["forger"]
    assert row["status"] == "graded" and row["total"] == "0"  # the flags advise; the tests decide
    assert (
        "shell command touches grader files" in row["flags"] and "run time (exec)" in row["flags"]
    )
    assert "flagged for review" in row["reason"]
    html = (out / "report.html").read_text()
    assert "Flagged for review" in html and row["id"] in html.split("Flagged for review")[1]
    alive = subprocess.run(
        ["pgrep", "-f", f"sleep {MARKER}"], capture_output=True, text=True
    ).stdout
    assert not alive.strip(), "a daemon of the submission survived the batch"


def test_sandbox_runs_as_a_user_of_its_own_sees_no_tests_nor_others(graded):
    _, out, rows, secrets = graded
    row = rows["snoop"]
    assert (row["status"], row["total"], row["flags"]) == ("graded", "11", ""), (
        row
    )  # no spelling to flag
    page = feedback(out, row)
    errors = page[page.index("Errors raised by your cells") :]
    report = errors[errors.index("REPORT") :].split("<")[0]
    for fact in (
        "shadow=denied",
        "hidden_files=0",
        "utils=denied",
        "others=0",
        "net=denied",
        "env=",
    ):
        assert fact in report, report
    uid = int(
        report.split("uid=")[1].split()[0].rstrip(",;")
    )  # a stage user, never nobody (issue 29 §1)
    assert sandbox.UID_BASE <= uid < sandbox.UID_BASE + sandbox.UID_COUNT, report
    assert "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX" not in page  # exception names are bounded
    assert "m" * 300 not in page  # messages too
    assert not Path("/dev/shm/ptm-attack-marker").exists()


def test_hidden_tests_never_reach_any_feedback(graded):
    _, out, rows, secrets = graded
    assert secrets
    encoded = (
        set(secrets)
        | {base64.b64encode(s.encode()).decode()[:40] for s in secrets}
        | {codecs.encode(s, "rot13") for s in secrets}
    )
    for page in (out / "feedback").glob("*.html"):
        text = page.read_text()
        assert not [s for s in encoded if s in text], page.name
    assert "def test_" not in (out / "report.html").read_text()


def test_code_run_by_the_judge_cannot_read_the_test(graded):
    _, out, rows, _ = graded
    row = rows["judge_attack"]
    assert (
        row["status"] == "graded" and row["flags"] == ""
    )  # nothing to flag: it simply finds nothing
    page = feedback(out, row)
    hidden = [item for item in page.split("<li") if "hidden test:" in item and "failed" in item]
    assert hidden and all("f_globals" not in item and "co_consts" not in item for item in hidden), (
        hidden
    )
    assert "test_headless" not in page and "def test_" not in page


def test_chained_assignments_and_floods_of_code_are_rows_not_hangs(graded):
    _, _, rows, _ = graded
    assert rows["chained"]["status"] == "graded" and rows["chained"]["total"] == "11", rows[
        "chained"
    ]
    assert (
        rows["code_flood"]["status"] == "invalid" and "MB of code" in rows["code_flood"]["reason"]
    )


@pytest.mark.parametrize(
    "case, status, words",
    [
        ("memory_children", "memory", "memory limit"),
        ("fork_bomb", "processes", "processes"),
        ("disk_fill", "disk", "disk quota"),
        ("print_flood", "output", "4 MB"),
        ("fd_flood", "output", "4 MB"),
        ("sleep_loop", "timeout", "time limit"),
    ],
)
def test_limits_hold_per_submission(graded, case, status, words):
    _, _, rows, _ = graded
    row = rows[case]
    assert row["status"] == status, row
    assert words in row["reason"] and "\n" not in row["reason"] and row["total"] == "0"
    if case == "sleep_loop":
        assert f"time limit {LOOP_TIMEOUT} s" in row["reason"], row
        assert float(row["seconds"]) < sandbox.backstop(LOOP_TIMEOUT) + 30, row


def test_each_notebook_is_graded_against_its_own_built_assignment(graded):
    _, out, rows, _ = graded
    row = rows["other_assignment"]
    assert (row["assignment"], row["status"]) == ("02_logistic_regression_edges", "graded"), row
    written = template(
        row["assignment"]
    ).manual  # read by a person: counted in maximum, not scored yet
    assert written and all(row[q] == "" for q in written), row
    assert float(row["maximum"]) > 0 and float(row["total"]) == float(row["maximum"]) - sum(
        s["points"] for s in written.values()
    ), row  # its own questions, full marks on every automatic one
    assert float(row["edges_conv"]) > 0 and row["ols_fit"] == ""
    assert '<section id="02_logistic_regression_edges">' in (out / "report.html").read_text()


def test_odd_but_valid_notebook_shapes_are_graded(graded):
    _, _, rows, _ = graded
    assert rows["odd_shapes"]["status"] == "graded" and rows["odd_shapes"]["total"] == "7"


@pytest.mark.parametrize(
    "case, words",
    [
        ("metadata_list", "metadata must be an object"),
        ("source_ints", "source must be text"),
        ("deep_json", "nested deeper"),
        ("huge_cell", "over the limit"),
        ("corrupted", "invalid JSON"),
        ("a/hw", "empty"),
        ("名前", "empty"),
    ],
)
def test_malformed_notebooks_get_their_own_row(graded, case, words):
    _, _, rows, _ = graded
    assert rows[case]["status"] == "invalid" and words in rows[case]["reason"], rows[case]


def test_assignment_names_are_never_paths(graded):
    cases, _, rows, _ = graded
    for case in ("assignment_path", "assignment_dotdot"):
        assert rows[case]["status"] == "wrong-assignment", rows[case]
        assert "not one of the built autograders" in rows[case]["reason"]
    victim = cases["assignment_path"].parent.parent / "victim"
    assert [p.name for p in victim.iterdir()] == ["keep.txt"]


def test_ids_are_unique_stable_and_keep_the_file(graded):
    cases, out, rows, _ = graded
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    ids = [r["id"] for r in table]
    assert (
        len(ids) == len(set(ids)) == len(cases) - 1
    )  # (sleep_loop is graded apart, with its own limit)
    assert "sleep_loop" not in ids
    odd = {r["file"]: r for r in table if r["file"] in ("fifo.ipynb", "zero.ipynb", "folder.ipynb")}
    assert set(odd) == {"fifo.ipynb", "zero.ipynb", "folder.ipynb"} and all(
        r["status"] == "invalid" for r in odd.values()
    )
    assert rows["a/hw"]["id"] != rows["b/hw"]["id"] and rows["名前"]["id"] != rows["名字"]["id"]
    again = {sid for sid, _, _ in inputs.collect([cases["full"].parent])}
    assert set(ids) == again
    formula = next(r for r in table if "HYPERLINK" in r["file"])
    assert formula["file"].startswith("'=")


def test_report_links_every_row_and_shows_isolation(graded, grading_tmp):
    _, out, rows, _ = graded
    html = (out / "report.html").read_text()
    assert "bubblewrap sandbox" in html and "1.2 GB memory (cgroup)" in html
    for r in store.read_rows(out / "grades.csv").values():
        assert f"feedback/{r['id']}.html" in html
    assert not list(grading_tmp.glob("ptm-grade-*/templates")), "a grader left hidden tests behind"


def _grade_a_loop(tmp_path):
    """Start ``python -m autograder grade`` on one looping submission; return (grader, its kernels)
    once the submission's kernel runs. Only this grader's own processes are counted: other gradings
    may run too."""
    sub = tmp_path / "subs"
    sub.mkdir()
    (sub / "loop.ipynb").write_bytes(attacks(tmp_path / "all")["sleep_loop"].read_bytes())
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograder", "grade", str(sub), "--out", str(tmp_path / "out")],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Waits for the kernel to start, however slow a busy machine makes it; the submission loops
    # forever, so the grader ending first (or a backstop of 600 s) means it never started.
    deadline = time.monotonic() + 600
    kernels = []
    while not kernels and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
        kernels = _kernels_of(proc.pid)
    assert kernels, f"the submission never started (grader exit {proc.poll()})"
    return proc, kernels, {k.uids().real for k in kernels} - {0}


def _alive(processes, timeout=60):
    """Those of ``processes`` still running once each has ended or ``timeout`` s passed (a
    backstop only)."""
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    running = []
    for p in alive:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                running.append(p)
        except psutil.NoSuchProcess:
            pass
    return running


def _of_users(uids):
    """Every process left under the stage users ``uids`` (each stage runs as a user of its own, so
    a process the submission forked away from its kernel still counts)."""
    return [pid for uid in uids for pid in sandbox.user_pids(uid)]


def test_kill_9_of_the_grader_kills_the_submission(dist, tmp_path):
    proc, kernels, uids = _grade_a_loop(tmp_path)
    proc.kill()
    proc.wait()
    assert not _alive(kernels), "the submission outlived its grader"
    assert not _of_users(uids), "a process of the submission's user outlived its grader"
    batch.sweep_stale()
    assert not [
        d
        for d in Path(tempfile.gettempdir()).glob(f"{batch.WORK_PREFIX}*")
        if batch.work_owner(d) == proc.pid
    ]


def _kernels_of(pid):
    """The kernel drivers (the sandboxed ``driver.py`` running the submission) among ``pid``'s
    descendants."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if any(arg.endswith("driver.py") for arg in child.cmdline()):
                found.append(child)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def test_sigterm_aborts_without_leaving_tests_or_processes(dist, tmp_path):
    proc, kernels, uids = _grade_a_loop(tmp_path)
    proc.terminate()
    assert proc.wait(timeout=300) != 0  # a backstop: the wait ends when the grader does
    assert not _alive(kernels)
    assert not _of_users(uids)
    assert not [
        d
        for d in Path(tempfile.gettempdir()).glob(f"{batch.WORK_PREFIX}*")
        if batch.work_owner(d) == proc.pid
    ]


# ----------------------------------------------------------------- the batch without a notebook run


def test_no_sandbox_refuses_unless_trusted(tmp_path):
    with pytest.raises(SystemExit, match="--trusted"):
        batch.grade([str(tmp_path)], tmp_path / "out", use_bwrap=False)
    rows = batch.grade([str(tmp_path)], tmp_path / "out", use_bwrap=False, trusted=True, quiet=True)
    assert rows == {} and "--trusted" in (tmp_path / "out" / "warnings.txt").read_text()
    assert "--trusted" in (tmp_path / "out" / "report.html").read_text()


def test_stale_work_folders_are_swept_and_a_live_graders_are_kept(tmp_path):
    root = Path(tempfile.gettempdir())
    dead = root / f"{batch.WORK_PREFIX}999999999-stale-test"
    unnamed = root / f"{batch.WORK_PREFIX}stale-test"  # no owner in its name
    for d in (dead, unnamed):
        (d / "templates").mkdir(parents=True, exist_ok=True)
    # just made by a live grader, nothing written in it yet: a concurrent grader's sweep must keep
    # it (CI's shards once removed one between its mkdtemp and its owner file)
    live = Path(tempfile.mkdtemp(prefix=f"{batch.WORK_PREFIX}{os.getpid()}-"))
    try:
        batch.sweep_stale()
        assert not dead.exists() and not unnamed.exists()
        assert live.is_dir() and batch.work_owner(live) == os.getpid()
    finally:
        shutil.rmtree(live, ignore_errors=True)


def test_interrupted_batch_resumes_without_losing_or_duplicating(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("a", "b", "c"):
        (subs / f"{name}.ipynb").write_text("{")  # invalid: graded on the host, no sandbox
    rows = batch.grade([str(subs)], tmp_path / "out", use_bwrap=False, trusted=True, quiet=True)
    kept = {k: v for k, v in rows.items() if k != "b"}
    store.write_rows(tmp_path / "out" / "grades.csv", kept)  # as if killed before b finished
    again = batch.grade([str(subs)], tmp_path / "out", use_bwrap=False, trusted=True, quiet=True)
    assert set(again) == {"a", "b", "c"} and again["a"] == rows["a"]
    ids = [
        line.split(",")[0]
        for line in (tmp_path / "out" / "grades.csv").read_text().splitlines()[1:]
    ]
    assert sorted(ids) == ["a", "b", "c"]


def test_resume_reuses_a_row_only_for_the_same_path_and_content(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "alice.ipynb").write_text("{")
    first = batch.grade([str(subs)], tmp_path / "out", use_bwrap=False, trusted=True, quiet=True)
    (subs / "alice.zip").write_bytes(b"not a zip")  # a second file of alice's: a row of its own
    (subs / "alice.ipynb").write_text("")  # and her notebook changed
    again = batch.grade([str(subs)], tmp_path / "out", use_bwrap=False, trusted=True, quiet=True)
    assert set(again) == {"alice", "alice.zip"}
    assert "empty" in again["alice"]["reason"] and "invalid JSON" in first["alice"]["reason"]
    assert again["alice"]["sha256"] != first["alice"]["sha256"]


def test_pipes_folders_and_links_named_like_submissions_get_their_own_invalid_row(tmp_path):
    import os

    subs = tmp_path / "subs"
    subs.mkdir()
    os.mkfifo(subs / "fifo.ipynb")
    (subs / "folder.ipynb").mkdir()
    (subs / "folder.ipynb" / "inside.ipynb").write_text("{}")
    (subs / "zero.ipynb").symlink_to("/dev/zero")
    rows = batch.grade([str(subs)], tmp_path / "out", use_bwrap=False, trusted=True, quiet=True)
    assert set(rows) == {"fifo", "folder", "zero"}
    assert all(r["status"] == "invalid" for r in rows.values())
    assert "folder named like a notebook" in rows["folder"]["reason"]
    assert (
        "not a regular file" in rows["fifo"]["reason"]
        and "not a regular file" in rows["zero"]["reason"]
    )
