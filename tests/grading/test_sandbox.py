"""No two sandboxes share a uid or kernel state (issue 29 §1, §5): each stage runs as a user of its
own, under the seccomp filter, and the judge's hidden cases wait for the run stage to end.

Every test here starts real stages (``sandbox.run_stage``) the way the batch does, as root; the ones
that need bubblewrap say so. Each owns its temporary folder and the processes it starts.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from autograder.grading import batch, sandbox, seccomp, stages

ROOT_ONLY = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"),
    reason="stages run as users of their own only when the grader is root",
)
MODES = [
    pytest.param(sandbox.Isolation.NO_NAMESPACES, id="no-namespaces"),
    pytest.param(
        sandbox.Isolation.BUBBLEWRAP,
        id="bubblewrap",
        marks=pytest.mark.skipif(
            not sandbox.bwrap_status()[0], reason=f"no bubblewrap: {sandbox.bwrap_status()[1]}"
        ),
    ),
]

PROBE = r"""
import ctypes, errno, json, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def call(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return errno.errorcode.get(ctypes.get_errno(), "OK") if r == -1 else "OK"

out = {"uid": os.getuid(), "gid": os.getgid()}
key = ctypes.create_string_buffer(b"ptm-secret"), ctypes.create_string_buffer(b"user")
out["add_key"] = call(248, ctypes.addressof(key[1]), ctypes.addressof(key[0]),
                      ctypes.addressof(key[0]), 10,
                      -4)    # KEY_SPEC_USER_KEYRING
out["request_key"] = call(249, ctypes.addressof(key[1]), ctypes.addressof(key[0]), 0, -4)
out["keyctl"] = call(250, 0, -4, 0)        # KEYCTL_GET_KEYRING_ID of the user keyring
out["unshare_user"] = call(272, 0x10000000)
out["clone_newuser"] = call(56, 0x10000000 | 17, 0, 0, 0, 0)
out["clone3"] = call(435, 0, 0)
out["ptrace"] = call(101, 16, 1, 0, 0)     # PTRACE_ATTACH to init
out["bpf"] = call(321, 0, 0, 0)
out["userfaultfd"] = call(323, 0)
out["io_uring_setup"] = call(425, 1, 0)
out["getpid"] = call(39)
status = open("/proc/self/status").read()
out["seccomp"] = [l.split()[1] for l in status.splitlines() if l.startswith("Seccomp:")]
if sys.argv[1] == "daemon":  # a process that leaves the stage's session and would outlive it
    if os.fork() == 0:
        os.setsid()
        time.sleep(300)
        os._exit(0)
os.write(int(sys.argv[-1]), json.dumps(out).encode())
"""


@pytest.fixture
def open_tmp():
    """A temporary folder other users may enter (pytest's own are root's alone), removed
    afterwards."""
    path = Path(tempfile.mkdtemp(prefix="ptm-test-sandbox-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def probe(tmp_path, mode, name="probe", arg="plain", user=None):
    root = tmp_path / name
    root.mkdir()
    script = root / "probe.py"
    script.write_text(PROBE)
    os.chmod(root, 0o755)
    os.chmod(script, 0o644)
    (root / "submission").mkdir()
    if user is not None:
        stages.hand_over(root, ["submission"], user.uid)
    if mode is sandbox.Isolation.BUBBLEWRAP:
        argv, binds = ["/grader/probe.py", arg], [(script, "/grader/probe.py")]
    else:
        argv, binds = [str(script), arg], []
    outcome = sandbox.run_stage(
        "run", root, binds, argv, sandbox.Limits(), 60, mode, user=user, use_cgroup=False
    )
    assert outcome.channel, outcome.log_tail
    return json.loads(outcome.channel)


@ROOT_ONLY
@pytest.mark.parametrize("mode", MODES)
def test_the_filter_denies_keyrings_namespaces_and_the_rest(open_tmp, mode):
    if sandbox.filter_program() is None:
        pytest.skip("the seccomp filter is written for x86-64")
    with sandbox.StageUser() as user:
        got = probe(open_tmp, mode, user=user)
    assert got["seccomp"] == ["2"], got  # a filter is installed (mode 2)
    for name in (
        "add_key",
        "request_key",
        "keyctl",
        "unshare_user",
        "clone_newuser",
        "ptrace",
        "bpf",
        "userfaultfd",
        "io_uring_setup",
    ):
        assert got[name] == "EPERM", (name, got)
    assert got["clone3"] == "ENOSYS" and got["getpid"] == "OK"


@ROOT_ONLY
@pytest.mark.parametrize("mode", MODES)
def test_every_stage_runs_as_a_user_of_its_own_and_leaves_nothing(open_tmp, mode):
    users = [sandbox.StageUser() for _ in range(3)]
    got = [None] * 3

    def run(i):
        got[i] = probe(open_tmp, mode, f"s{i}", "daemon", users[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    uids = [g["uid"] for g in got]
    assert uids == [u.uid for u in users] and len(set(uids)) == 3, got
    assert all(sandbox.UID_BASE <= uid < sandbox.UID_BASE + sandbox.UID_COUNT for uid in uids)
    assert sandbox.NOBODY not in uids and all(g["gid"] == g["uid"] for g in got)
    for u in users:  # the daemon that left the stage's session died with the stage
        assert sandbox.user_pids(u.uid) == [], u.uid
        u.release()


def test_a_uid_is_never_handed_out_twice_at_once():
    if os.geteuid() != 0:
        pytest.skip("needs root's lock folder")
    held = [sandbox.StageUser() for _ in range(20)]
    try:
        assert len({u.uid for u in held}) == 20
        code = (
            "from autograder.grading import sandbox\nimport sys\n"
            "print(sandbox.StageUser().uid)"
        )  # another grader process on the same machine
        others = {
            int(
                subprocess.run(
                    [sys.executable, "-c", code],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=Path(__file__).resolve().parents[2],
                ).stdout
            )
            for _ in range(5)
        }
        assert not others & {u.uid for u in held}
        assert not sandbox.taken_ids(), "an account's uid lies in the stage range"
    finally:
        for u in held:
            u.release()


@ROOT_ONLY
@pytest.mark.parametrize("mode", MODES)
def test_a_key_written_by_one_sandbox_is_invisible_to_every_other_and_gone(open_tmp, mode):
    """The keyring is the per-user store no namespace isolates: nothing can be written there, and
    the stage's uid holds no key afterwards (/proc/key-users lists every uid that owns one)."""
    if sandbox.filter_program() is None:
        pytest.skip("the seccomp filter is written for x86-64")
    with sandbox.StageUser() as writer, sandbox.StageUser() as reader:
        wrote = probe(open_tmp, mode, "writer", user=writer)
        read = probe(open_tmp, mode, "reader", user=reader)
        owners = {
            int(line.split(":")[0]) for line in Path("/proc/key-users").read_text().splitlines()
        }
    assert (
        wrote["add_key"] == "EPERM" and read["request_key"] == "EPERM" and read["keyctl"] == "EPERM"
    )
    assert writer.uid not in owners and reader.uid not in owners


@ROOT_ONLY
def test_links_planted_while_a_run_folder_is_laid_out_reach_nothing(open_tmp):
    tmp_path = open_tmp
    """Another stage's user tries, the whole time root lays out and hands over a run folder, to
    plant links in it pointing at a file of root's; root must write and chown through none of
    them."""
    decoy = tmp_path / "decoy"
    decoy.write_text("root's file\n")
    os.chmod(tmp_path, 0o755)
    root = tmp_path / "run"
    root.mkdir()
    os.chmod(root, 0o755)
    planter = tmp_path / "plant.py"
    planter.write_text(
        "import os, sys, time\nroot, decoy = sys.argv[1], sys.argv[2]\n"
        "end = time.time() + 4\nmade = 0\n"
        "while time.time() < end:\n"
        "    for d in ('', 'submission', 'home', 'tmp', 'submission/tests'):\n"
        "        for name in ('n.ipynb', 'utils', 'x'):\n"
        "            try:\n"
        "                os.symlink(decoy, os.path.join(root, d, name)); made += 1\n"
        "            except OSError:\n"
        "                pass\n"
        "print(made)\n"
    )
    os.chmod(planter, 0o644)
    with sandbox.StageUser() as attacker, sandbox.StageUser() as owner:
        proc = subprocess.Popen(
            sandbox.setpriv_argv(
                [sys.executable, "-I", str(planter), str(root), str(decoy)], attacker.uid
            ),
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(20):  # lay out, write, hand over: again and again while the attacker tries
            for d in ("submission", "home", "tmp", "ipython"):
                shutil.rmtree(root / d, ignore_errors=True)
            stages.layout(root)
            (root / "submission" / "n.ipynb").write_text("{}")
            (root / "submission" / "tests").mkdir()
            (root / "submission" / "tests" / "t.py").write_text("")
            stages.hand_over(root, ["submission", "home", "tmp"], owner.uid)
            time.sleep(0.1)
        made = int(proc.communicate(timeout=30)[0])
    assert made == 0
    st = os.stat(decoy)
    assert (st.st_uid, decoy.read_text()) == (0, "root's file\n")
    assert (
        os.stat(root / "submission").st_uid == owner.uid
        and os.stat(root / "submission").st_mode & 0o777 == 0o700
    )


def test_the_filter_is_the_program_documented():
    data = seccomp.program()
    if data is None:
        pytest.skip("the seccomp filter is written for x86-64")
    assert len(data) % 8 == 0 and len(data) // 8 < 4096
    numbers = {
        int.from_bytes(data[i + 4 : i + 8], "little")
        for i in range(0, len(data), 8)
        if data[i] == 0x15
    }
    assert set(seccomp.DENIED.values()) <= numbers and {seccomp.CLONE, seccomp.CLONE3} <= numbers


@pytest.mark.slow
def test_hidden_cases_wait_for_the_run_stage(tmp_path):
    """The judge's hidden cases start only once the run stage has ended: a worker that logs the
    inputs it is given shows every hidden input arriving after the gate opened, every public one
    before."""
    from notebook_helpers import template

    tpl = template("01_ols_raw_pixels")
    log = tmp_path / "calls.log"
    definitions = [
        (
            1,
            "import numpy as np\nimport time\n"
            "def predict(Phi, w):\n"
            f"    with open({str(log)!r}, 'a') as f:\n"
            "        f.write(f'{time.time()} {np.shape(Phi)}\\n')\n"
            "    return np.where(np.c_[np.ones(len(Phi)), Phi] @ w >= 0, 1, -1)\n",
        )
    ]
    b = batch.Batch(tmp_path / "out", use_bwrap=False, trusted=True, templates={tpl.name: tpl})
    try:
        ran, opened = threading.Event(), []

        # well after the public cases called predict, as a slow run stage would
        def run_stage_ends():
            deadline = time.time() + 300
            while time.time() < deadline and not (log.exists() and "(3, 2)" in log.read_text()):
                time.sleep(0.1)
            time.sleep(3)
            opened.append(time.time())
            ran.set()

        threading.Thread(target=run_stage_ends, daemon=True).start()
        sub = type("Sub", (), {"id": "s"})()
        outcome = stages.judge(b, sub, tpl, definitions, ran=ran)
    finally:
        batch._remove_work(b.work)
    assert outcome.kind == "finished", outcome.log_tail
    calls = [
        (float(t), shape)
        for t, shape in (line.split(" ", 1) for line in log.read_text().splitlines())
    ]
    public = [t for t, shape in calls if shape.strip() == "(3, 2)"]
    hidden = [t for t, shape in calls if shape.strip() == "(2, 2)"]
    assert public and hidden
    assert max(public) < opened[0] <= min(hidden)


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv"
)
def test_a_batch_without_the_filter_says_so(tmp_path, monkeypatch):
    """Where seccomp.py has no system call numbers (not x86-64), the batch still grades, as a user
    of its own per stage, and its warnings (report.html, warnings.txt) say that no filter is
    installed."""
    monkeypatch.setattr(sandbox, "filter_program", lambda: None)
    b = batch.Batch(tmp_path / "out", use_bwrap=False, nobody=True)
    try:
        assert any("no seccomp filter" in w for w in b.warnings), b.warnings
    finally:
        batch._remove_work(b.work)
    monkeypatch.undo()
    b = batch.Batch(tmp_path / "out2", use_bwrap=False, nobody=True)
    try:
        if sandbox.filter_program() is not None:
            assert not any("no seccomp filter" in w for w in b.warnings), b.warnings
    finally:
        batch._remove_work(b.work)
