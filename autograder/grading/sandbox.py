"""One stage of one submission in an isolated, limited process tree.

With bubblewrap (the grader runs as root, the normal case on a grading
server): fresh PID/IPC/UTS/network namespaces, a read-only system and Python
(the interpreter's real prefix bound where it lives, so any virtualenv
location works), a private ``/tmp`` and ``/dev/shm``, the work folder as
``/autograder`` (a size-limited tmpfs: the disk quota), ``--die-with-parent``,
and the program started through ``setpriv`` with no capabilities and
``no_new_privs``: student code never runs as root.

Every stage runs as a user of its own (``StageUser``: a uid from a range no
account uses, held with a lock file for as long as the stage lives), so no two
sandboxes share the kernel's per-user state (keyrings, signals, ``/proc``
access, process limits), and under the seccomp filter of ``seccomp.py``
(``--seccomp FD`` in bubblewrap, the stage's ``preexec`` without it). When the
stage ends, every process of its uid is killed, whatever session it moved to.

Limits hold per submission, not per process: a cgroup (v1 ``memory`` and
``pids`` controllers, or v2) holds every process of the stage; without
cgroups the per-process rlimits stay, with a warning.

Results come back through a pipe whose write end only the stage's own
program holds (it is not inherited by the kernel, and the program is not
dumpable, so the student's processes, running as the same user, cannot open
it through /proc). The host buffers it, bounded, and parses nothing until
every process of the stage is dead.
"""

import enum
import fcntl
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from . import seccomp

HERE = Path(__file__).resolve().parent
NOBODY = 65534  # only the probe of bwrap_status runs as nobody; stages get a StageUser each
UID_BASE, UID_COUNT = (
    1_900_000,
    65_536,
)  # stage users: above any account's uid and the usual subuid ranges
UID_LOCKS = Path("/run/ptm-grade-uids")
CGROUP_ROOT = Path("/sys/fs/cgroup")
MAX_CHANNEL = 8 << 20  # bytes the host keeps from a results pipe
LIVE, LIVE_LOCK = set(), threading.Lock()  # stages running now (killed at once on an abort)
STOPPING = threading.Event()


class Isolation(enum.Enum):
    """How a batch isolates student code, resolved once (``batch.Batch``) and passed to every stage.

    ``BUBBLEWRAP``: namespaces, a read-only system, a uid of its own per stage, the seccomp filter.
    ``NO_NAMESPACES`` (``--no-namespaces``, Gradescope's containers): a uid of its own per stage and
    the seccomp filter, without namespaces. ``TRUSTED`` (``--trusted``): no sandbox, the grader's
    own user.
    """

    BUBBLEWRAP = "bubblewrap"
    NO_NAMESPACES = "no-namespaces"
    TRUSTED = "trusted"

    @classmethod
    def of(cls, value):
        """An Isolation from itself or from the older spelling (True: bubblewrap, "nobody",
        False)."""
        if isinstance(value, cls):
            return value
        if value is True:
            return cls.BUBBLEWRAP
        return cls.NO_NAMESPACES if value == "nobody" else cls.TRUSTED

    @property
    def sandboxed(self):
        return self is not Isolation.TRUSTED


def abort_all():
    """Kill every running stage and refuse new ones (the batch is being aborted)."""
    STOPPING.set()
    with LIVE_LOCK:
        for proc in list(LIVE):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


@dataclass
class Limits:
    timeout: float = 600.0  # seconds of wall clock for running the student's cells
    judge_timeout: float = 120.0  # seconds for the judge (tests against the graded definitions)
    memory_gb: float = (
        4.0  # memory of all processes of a stage (cgroup), or per process (fallback);
    )
    pids: int = 256  # processes and threads of a stage; a submission's two stages run at
    # once, each under these limits (so at most twice each per submission)
    disk_mb: int = 512  # size of the work folder (tmpfs) and of /tmp
    output_mb: float = 8.0  # printed output (cells) and raw stdout/stderr


@dataclass
class Outcome:
    kind: str  # "finished" or "timeout"
    seconds: float
    channel: bytes = b""  # what the stage's program wrote to the results pipe (hostile)
    returncode: int = None
    log_tail: str = ""
    breaches: dict = field(default_factory=dict)  # memory/processes/disk/output -> detail
    peak_memory: int = None  # bytes, from the cgroup
    cpu_seconds: float = None  # CPU time of every process of the stage, from the cgroup


def _lock_dir():
    """Root's folder of uid locks (never a link, never another user's)."""
    try:
        UID_LOCKS.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    st = os.lstat(UID_LOCKS)
    if (
        not os.path.isdir(UID_LOCKS)
        or os.path.islink(UID_LOCKS)
        or st.st_uid != os.geteuid()
        or st.st_mode & 0o077
    ):
        raise RuntimeError(f"{UID_LOCKS} is not a private folder of the grader's: remove it")
    return UID_LOCKS


class StageUser:
    """A uid (and gid of the same number) of its own for one stage, never one another running stage
    holds.

    Taken from ``UID_BASE`` … ``UID_BASE + UID_COUNT``, which no account uses (``taken_ids`` is
    checked once), and held by an exclusive lock on ``/run/ptm-grade-uids/<uid>`` until ``release``:
    graders running side by side on one machine (shards, batches) never hand out the same one.
    ``release`` kills every process left with that uid first, so nothing of the stage outlives it.
    """

    def __init__(self):
        folder, start = _lock_dir(), random.randrange(UID_COUNT)
        taken = taken_ids()
        for i in range(UID_COUNT):
            uid = UID_BASE + (start + i) % UID_COUNT
            if uid in taken:
                continue
            fd = os.open(
                folder / str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
            )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = (
                    os.stat(folder / str(uid), follow_symlinks=False).st_ino == os.fstat(fd).st_ino
                )
            except (BlockingIOError, FileNotFoundError):
                held = False
            if not held:  # locked by another, or removed by its holder's release meanwhile
                os.close(fd)
                continue
            self.uid = self.gid = uid
            self.fd, self.path = fd, folder / str(uid)
            return
        raise RuntimeError("no free stage user: every uid of the range is in use")

    def release(self):
        if self.fd is None:
            return
        kill_user(self.uid)
        try:
            os.unlink(self.path)  # while still locked: a grader that opened it sees it gone (above)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


@lru_cache(maxsize=None)
def taken_ids():
    """uids and gids of the machine's accounts and groups in the stage range (none expected)."""
    taken = set()
    for path in ("/etc/passwd", "/etc/group"):
        try:
            for line in Path(path).read_text().splitlines():
                parts = line.split(":")
                if (
                    len(parts) > 2
                    and parts[2].isdigit()
                    and UID_BASE <= int(parts[2]) < UID_BASE + UID_COUNT
                ):
                    taken.add(int(parts[2]))
        except OSError:
            pass
    return frozenset(taken)


def user_pids(uid):
    """Every process whose real or effective uid is ``uid`` (from /proc)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"Uid:"):
                        if uid in {int(x) for x in line.split()[1:3]}:
                            found.append(int(entry.name))
                        break
        except OSError:
            pass
    return found


def kill_user(uid, wait=10.0):
    """SIGKILL every process of ``uid`` until none is left (a stage's daemons, whatever their
    session)."""
    deadline = time.monotonic() + wait
    while (left := user_pids(uid)) and time.monotonic() < deadline:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.02)
    return not user_pids(uid)


@lru_cache(maxsize=None)
def filter_program():
    """The seccomp filter's bytes (``seccomp.program``), or None where it was not written for the
    machine."""
    return seccomp.program()


@lru_cache(maxsize=None)
def bwrap_status():
    """(True, "") when bubblewrap can sandbox as an unprivileged user here, else (False, why
    not)."""
    exe = shutil.which("bwrap")
    if not sys.platform.startswith("linux"):
        return False, f"no bubblewrap on {sys.platform}"
    if exe is None:
        return False, "bubblewrap (bwrap) is not installed (apt-get install bubblewrap)"
    if not shutil.which("setpriv"):
        return False, "setpriv (util-linux) is missing: cannot drop to an unprivileged user"
    if os.geteuid() != 0:
        return False, "the grader is not root, so bwrap cannot start the submission as another user"
    probe = subprocess.run(
        [
            exe,
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--die-with-parent",
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return False, f"bwrap cannot create namespaces here ({probe.stderr.strip()[:200]})"
    return True, ""


class Cgroup:
    """A memory+pids cgroup for one stage (v1 controllers or v2), created and removed as root.

    It also counts the stage's CPU time (v2 ``cpu.stat``; v1 the ``cpuacct``
    controller where it is mounted), for the timings, never for a limit.
    """

    def __init__(self, name, limits):
        self.dirs, self.v2, self.cpu_dir = [], (CGROUP_ROOT / "cgroup.controllers").exists(), None
        mem, pids = int(limits.memory_gb * (1 << 30)), str(limits.pids)
        if self.v2:
            d = CGROUP_ROOT / "ptm-grade" / name
            d.mkdir(parents=True)
            self.dirs = [d]
            (d / "memory.max").write_text(str(mem))
            (d / "memory.swap.max").write_text("0") if (d / "memory.swap.max").exists() else None
            (d / "pids.max").write_text(pids)
            try:  # a CPU share of its own (the cpu controller may not be delegated here)
                (d / "cpu.weight").write_text("100")
            except OSError:
                pass
        else:
            for ctl in ("memory", "pids"):
                d = CGROUP_ROOT / ctl / "ptm-grade" / name
                d.mkdir(parents=True)
                self.dirs.append(d)
            (self.dirs[0] / "memory.limit_in_bytes").write_text(str(mem))
            (self.dirs[1] / "pids.max").write_text(pids)
            try:  # accounting only: a missing cpuacct controller costs the CPU figure, nothing else
                d = CGROUP_ROOT / "cpuacct" / "ptm-grade" / name
                d.mkdir(parents=True)
                self.cpu_dir = d
            except OSError:
                pass
            try:  # a CPU share of its own: a neighbour's many processes cannot starve this stage
                d = CGROUP_ROOT / "cpu" / "ptm-grade" / name
                d.mkdir(parents=True)
                (d / "cpu.shares").write_text("1024")
                self.dirs.append(d)
            except OSError:
                pass

    def join(self):
        """Called in the child before exec: move this process into every controller."""
        for d in self.dirs + ([self.cpu_dir] if self.cpu_dir else []):
            with open(d / "cgroup.procs", "w") as f:
                f.write(str(os.getpid()))

    def cpu_seconds(self):
        """CPU time (user + system) the stage's processes used, or None where the kernel does not
        say."""
        try:
            if self.v2:
                return _kv(self.dirs[0] / "cpu.stat")["usage_usec"] / 1e6
            return int((self.cpu_dir / "cpuacct.usage").read_text()) / 1e9 if self.cpu_dir else None
        except (OSError, KeyError, ValueError):
            return None

    def pids(self):
        found = set()
        for d in self.dirs[:2]:
            try:
                found |= {int(x) for x in (d / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return found

    def kill_all(self, wait=10.0):
        """SIGKILL every process in the cgroup until it is empty (or ``wait`` s passed)."""
        deadline = time.monotonic() + wait
        while (left := self.pids()) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        return not self.pids()

    def breaches(self):
        out = {}
        if self.v2:
            events = _kv(self.dirs[0] / "memory.events")
            if events.get("oom_kill", 0) or events.get("max", 0) and events.get("oom", 0):
                out["memory"] = "the submission's processes together hit the memory limit"
            if _kv(self.dirs[0] / "pids.events").get("max", 0):
                out["processes"] = "the submission tried to start more processes than allowed"
        else:
            if _kv(self.dirs[0] / "memory.oom_control").get("oom_kill", 0):
                out["memory"] = "the submission's processes together hit the memory limit"
            if _kv(self.dirs[1] / "pids.events").get("max", 0):
                out["processes"] = "the submission tried to start more processes than allowed"
        return out

    def cpu_dirs(self):
        return [str(d) for d in self.dirs + ([self.cpu_dir] if self.cpu_dir else [])]

    def peak(self):
        """Most memory the stage used at once, in bytes (None where the kernel does not say)."""
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        try:
            return int((self.dirs[0] / name).read_text())
        except (OSError, ValueError):
            return None

    def remove(self):
        for d in self.dirs + ([self.cpu_dir] if self.cpu_dir else []):
            try:
                d.rmdir()
            except OSError:
                pass


def _kv(path):
    try:
        pairs = (line.split() for line in Path(path).read_text().splitlines())
        return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].isdigit()}
    except OSError:
        return {}


@lru_cache(maxsize=None)
def cgroup_status():
    """(True, "") when per-submission cgroups work here, else (False, why not)."""
    try:
        probe = Cgroup(f"probe-{os.getpid()}", Limits())
        probe.remove()
        return True, ""
    except OSError as e:
        return (
            False,
            f"no writable memory/pids cgroup ({e.strerror}): limits are per process (rlimits)",
        )


def mount_workdir(path, limits):
    """A fresh size-limited tmpfs at ``path`` (the disk quota); False if it cannot be mounted."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    r = subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            f"size={limits.disk_mb}m,mode=0755,nosuid,nodev",
            "ptm-grade",
            str(path),
        ],
        capture_output=True,
    )
    return r.returncode == 0


def unmount_workdir(path, mounted):
    if mounted:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
    shutil.rmtree(path, ignore_errors=True)


def disk_full(path, mounted):
    if not mounted:
        return None
    st = os.statvfs(path)
    free = st.f_bavail * st.f_frsize
    return "the submission filled its disk quota" if free < 2 << 20 else None


def _python():
    """The interpreter inside the sandbox: the virtualenv's own, by its real path."""
    prefix = Path(os.path.realpath(sys.prefix))
    exe = prefix / "bin" / Path(sys.executable).name
    return str(exe if exe.exists() else os.path.realpath(sys.executable))


def bwrap_argv(root, binds, env, argv, limits, uid=NOBODY, seccomp_fd=None):
    """bwrap command line: system read-only, ``root`` as /autograder, ``argv`` run as ``uid``, under
    the seccomp filter read from ``seccomp_fd`` (a number, or a placeholder the judge replaces)."""
    out = [
        "bwrap",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
        "/usr",
        "/usr",
        "--ro-bind",
        "/etc",
        "/etc",
    ]
    if seccomp_fd is not None:
        out += ["--seccomp", str(seccomp_fd)]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        out += ["--ro-bind-try", top, top]
    size = str(limits.disk_mb << 20)
    out += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--perms",
        "1777",
        "--size",
        size,
        "--tmpfs",
        "/dev/shm",
        "--perms",
        "1777",
        "--size",
        size,
        "--tmpfs",
        "/tmp",
    ]
    made = {
        "/",
        "/usr",
        "/etc",
        "/bin",
        "/sbin",
        "/lib",
        "/lib64",
        "/lib32",
        "/proc",
        "/dev",
        "/tmp",
    }

    def parents(path):  # bwrap makes missing parents 0700 as root: nobody could not enter them
        for parent in reversed(Path(path).parents):
            if str(parent) not in made:
                made.add(str(parent))
                out.extend(["--perms", "0755", "--dir", str(parent)])

    for p in sorted(
        {
            os.path.realpath(sys.prefix),
            os.path.realpath(sys.base_prefix),
            os.path.dirname(os.path.realpath(sys.executable)),
        }
    ):
        parents(p)
        out += ["--ro-bind", p, p]
    out += ["--bind", str(root), "/autograder"]
    made.add("/autograder")
    for host, inside in binds:
        parents(inside)
        out += ["--ro-bind", str(host), inside]
    out += ["--chdir", "/autograder/submission", "--clearenv"]
    for k, v in env.items():
        out += ["--setenv", k, v]
    return out + setpriv_argv(argv, uid)


def setpriv_argv(argv, uid=NOBODY):
    """``argv`` started as ``uid``, with no capabilities and no_new_privs (bwrap's last step, or
    alone)."""
    return [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ] + list(argv)


def stage_env(home):
    return {
        "HOME": home,
        "PATH": f"{os.path.realpath(sys.prefix)}/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/mpl",
        "IPYTHONDIR": "/autograder/ipython",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter",
        "JUPYTER_DATA_DIR": "/tmp/jupyter-data",
        "JUPYTER_PLATFORM_DIRS": "1",
        "PTM_CACHE": "/tmp/ptm-cache",
        "PTM_RESULTS": "/tmp/results.json",
    }


def _preexec(limits, cgroup, fallback, program=None):
    def apply():
        os.setsid()
        try:
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except Exception:  # noqa: BLE001 - not Linux
            pass
        if cgroup is not None:
            cgroup.join()
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        disk = limits.disk_mb << 20
        resource.setrlimit(resource.RLIMIT_FSIZE, (disk, disk))
        if (
            fallback
        ):  # no cgroup: per-process memory only (RLIMIT_DATA; torch reserves GBs of address space)
            mem = int(limits.memory_gb * (1 << 30))
            resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))
        if (
            program is not None
        ):  # no bubblewrap: the filter goes on here, before setpriv and the program
            seccomp.install(program)

    return apply


class _Drain(threading.Thread):
    """Reads a pipe to EOF, keeping at most ``keep`` bytes (head) and counting everything."""

    def __init__(self, fd, keep, tail=False):
        super().__init__(daemon=True)
        self.fd, self.keep, self.tail, self.total, self.buf = fd, keep, tail, 0, bytearray()

    def run(self):
        with open(self.fd, "rb", buffering=0, closefd=True) as f:
            while chunk := f.read(1 << 16):
                self.total += len(chunk)
                if self.tail:
                    self.buf = (self.buf + chunk)[-self.keep :]
                elif len(self.buf) < self.keep:
                    self.buf += chunk[: self.keep - len(self.buf)]


def _feed(fd, data):
    def run():
        try:
            with open(fd, "wb", closefd=True) as f:
                f.write(data)
        except OSError:
            pass

    threading.Thread(target=run, daemon=True).start()


def backstop(timeout):
    """The wall-clock limit behind a CPU-time limit: wide, so that a loaded machine never decides a
    status."""
    return 3 * timeout + 60


def run_stage(
    name,
    root,
    binds,
    argv,
    limits,
    timeout,
    isolation,
    stdin=b"",
    use_cgroup=True,
    cancel=None,
    watch=None,
    channel_limit=MAX_CHANNEL,
    extra_cpu=None,
    user=None,
    pass_fds=(),
    wall=None,
):
    """Run ``argv`` (whose last argument gets the results fd) in the sandbox; an ``Outcome``.

    ``root`` is the work folder (already mounted and laid out), ``binds`` the
    read-only (host path, sandbox path) pairs. ``cancel`` (a ``threading.Event``)
    stops the stage early (kind ``"cancelled"``). The stage also stops as soon
    as a limit is hit: its cgroup's memory or processes, or ``watch()`` (polled
    twice a second, e.g. the disk quota) returning something true; the caller
    reads the breach as before. Returns after every process of the stage is dead.

    ``timeout`` counts the CPU time of the stage's processes (its cgroup, plus ``extra_cpu()`` when
    given: the judge's workers), so that a neighbour's load cannot make an honest stage time out;
    the wall clock stops it only at ``backstop(timeout)`` (a stage that sleeps forever). Without
    cgroups it is wall time.
    ``wall`` replaces that wall-clock limit (a judge that waits for the run stage before its hidden
    cases).

    ``isolation`` (an ``Isolation``) says how; ``user`` (a ``StageUser``) is who the program runs as
    in a sandbox, under the seccomp filter; ``pass_fds`` are more descriptors the program inherits.
    """
    if STOPPING.is_set():
        raise RuntimeError("the batch is being aborted")
    cgroup = None
    if use_cgroup and cgroup_status()[0]:
        cgroup = Cgroup(f"{name}-{os.getpid()}-{time.monotonic_ns()}", limits)
    r_res, w_res = os.pipe()
    r_out, w_out = os.pipe()
    r_in, w_in = os.pipe()
    env = stage_env("/autograder/home")
    argv = [_python(), "-I"] + argv + [str(w_res)]
    mode = Isolation.of(isolation)
    uid = user.uid if user is not None else NOBODY
    program = filter_program() if mode.sandboxed else None
    filter_fd = (
        seccomp.memfd(program) if program is not None and mode is Isolation.BUBBLEWRAP else None
    )
    if mode is Isolation.BUBBLEWRAP:
        cmd, cwd, penv = (
            bwrap_argv(root, binds, env, argv, limits, uid, filter_fd),
            "/",
            {"PATH": "/usr/bin:/bin"},
        )
    else:  # no namespaces: the student's code still runs as its own user (Gradescope's containers)
        no_ns = mode is Isolation.NO_NAMESPACES
        cmd, cwd = (setpriv_argv(argv, uid) if no_ns else argv), str(Path(root) / "submission")
        penv = {
            **env,
            "HOME": str(Path(root) / "home"),
            "PTM_CACHE": str(Path(root) / "tmp" / "cache"),
            "PTM_RESULTS": str(Path(root) / "tmp" / "results.json"),
        }
        penv.update(
            {
                k: str(Path(root) / "tmp" / Path(v).name)
                for k, v in env.items()
                if k.startswith(("JUPYTER_", "MPLCONFIG"))
            },
            IPYTHONDIR=str(Path(root) / "ipython"),
        )
        for hostdir, inside in binds:  # no bind mounts: put the support in place as links
            target = Path(root) / inside.replace("/autograder/", "")
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(hostdir)
    start = time.monotonic()
    fds = (w_res, *pass_fds) + ((filter_fd,) if filter_fd is not None else ())
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=penv,
            stdin=r_in,
            stdout=w_out,
            stderr=w_out,
            pass_fds=fds,
            preexec_fn=_preexec(
                limits, cgroup, cgroup is None, program if mode is Isolation.NO_NAMESPACES else None
            ),
        )
    finally:
        for fd in (w_res, w_out, r_in) + ((filter_fd,) if filter_fd is not None else ()):
            os.close(fd)
    with LIVE_LOCK:
        LIVE.add(proc)
    _feed(w_in, stdin)
    channel, log = _Drain(r_res, channel_limit), _Drain(r_out, 4000, tail=True)
    channel.start()
    log.start()
    output_cap, kind, polls, wall_limit = int(limits.output_mb * (1 << 20)), "finished", 0, wall
    while proc.poll() is None:
        if log.total > output_cap:
            kind = "output"
            break
        wall = time.monotonic() - start
        cpu = _cpu_used(cgroup, extra_cpu) if polls % 5 == 0 else None
        limit = (
            wall_limit
            if wall_limit is not None
            else backstop(timeout)
            if cgroup is not None
            else timeout
        )
        if wall > limit or (cpu is not None and cpu > timeout):
            kind = "timeout"
            break
        polls += 1
        if polls % 5 == 0 and (
            (cgroup is not None and cgroup.breaches()) or (watch is not None and watch())
        ):
            break  # a limit was hit: the status is decided, stop the stage now
        if cancel is None:
            time.sleep(0.1)
        elif cancel.wait(0.1):
            kind = "cancelled"
            break
    seconds = time.monotonic() - start
    _kill(proc, cgroup)
    if user is not None:
        kill_user(user.uid)  # whatever the stage left, in any session
    with LIVE_LOCK:
        LIVE.discard(proc)
    channel.join(10)
    log.join(10)
    breaches = cgroup.breaches() if cgroup else {}
    peak = cgroup.peak() if cgroup else None
    cpu = cgroup.cpu_seconds() if cgroup else None
    if kind == "output" or log.total > output_cap:
        breaches["output"] = f"the submission wrote more than {limits.output_mb:g} MB to its output"
        kind = "finished"
    if cgroup:
        cgroup.remove()
    return Outcome(
        kind,
        seconds,
        bytes(channel.buf) if not channel.is_alive() else b"",
        proc.returncode,
        log.buf.decode("utf-8", "replace"),
        breaches,
        peak,
        cpu,
    )


def _cpu_used(cgroup, extra_cpu):
    if cgroup is None:
        return None
    used = cgroup.cpu_seconds()
    if used is None:
        return None
    more = extra_cpu() if extra_cpu is not None else 0.0
    return used + (more or 0.0)


def _kill(proc, cgroup):
    """Kill the stage's whole tree and wait until none of its processes is left."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()
    if cgroup is not None:
        cgroup.kill_all()
    else:
        _kill_session(proc.pid)


def _kill_session(sid):
    """Without a cgroup: every process whose session is the stage's (daemons keep their session)."""
    try:
        import psutil
    except ImportError:
        return
    for _ in range(50):
        left = []
        for p in psutil.process_iter(["pid"]):
            try:
                if os.getsid(p.pid) == sid:
                    left.append(p)
            except (ProcessLookupError, PermissionError, OSError):
                pass
        if not left:
            return
        for p in left:
            try:
                p.kill()
            except Exception:  # noqa: BLE001 - gone already
                pass
        time.sleep(0.05)
