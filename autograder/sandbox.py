"""Run one submission's grading in an isolated, limited process tree.

Each submission gets a fresh working directory laid out as Gradescope's
``/autograder`` (``source/``, ``submission/``, ``results/``), its own process
group, a wall-clock timeout after which the whole tree is killed, a memory cap
and a cap on the size of every file it writes (its output included).

Linux with bubblewrap (``bwrap``): the sandbox sees only the system and Python
installs (read-only), its own ``/autograder`` (the autograder's ``source``, the
tests and the support files bind-mounted read-only over it), a private ``/tmp``,
no network, and fresh PID/IPC/UTS/user namespaces; nothing else of the disk, so
no other submission, no other assignment's tests, no output folder.
Without bwrap (or when it cannot create namespaces): same layout but copied, a
new session, the limits and the timeout only; ``bwrap_status()`` says why.

Memory cap: ``RLIMIT_DATA`` (private writable memory per process, Linux >= 4.7),
not ``RLIMIT_AS``: importing torch alone reserves ~3.7 GB of address space, so
an address-space cap of 4 GB would fail every honest submission. It is a
per-process cap; a submission that forks many processes can use more.
"""
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DRIVER = Path(__file__).with_name("sandbox_driver.py")


@dataclass
class Limits:
    timeout: float = 600.0       # seconds of wall clock for the whole grading
    memory_gb: float = 4.0       # RLIMIT_DATA per process
    output_mb: float = 16.0      # RLIMIT_FSIZE: largest file the sandbox may write
    tmp_mb: int = 256            # size of the sandbox's private /tmp (bwrap only)


@dataclass
class Outcome:
    kind: str                    # "finished", "timeout", "no-result"
    seconds: float
    driver: dict = None          # what sandbox_driver.py wrote, if anything
    progress: dict = None        # last cell the driver started
    returncode: int = None
    log_tail: str = ""
    modified: list = field(default_factory=list)   # support files changed on disk


def unpack_template(zip_path, dest):
    """Unpack an autograder zip once into ``dest/source``; reused by every submission."""
    dest = Path(dest)
    source = dest / "source"
    if not (source / "otter_config.json").exists():
        shutil.rmtree(dest, ignore_errors=True)
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(source)
        config = source / "otter_config.json"
        settings = json.loads(config.read_text()) if config.exists() else {}
        settings.pop("token", None)    # never let graded code see a Gradescope token
        config.write_text(json.dumps(settings, indent=2))
    return dest


def support_files(template):
    """(host path, path under /autograder) for the tests and every support file."""
    source = Path(template) / "source"
    pairs = [(source / "tests", "submission/tests")]
    files = source / "files"
    if files.is_dir():
        pairs += [(p, f"submission/{p.name}") for p in sorted(files.iterdir())]
    return pairs


@lru_cache(maxsize=None)
def bwrap_status():
    """(True, "") when bubblewrap can sandbox here, else (False, why not)."""
    exe = shutil.which("bwrap")
    if not sys.platform.startswith("linux"):
        return False, f"no bubblewrap on {sys.platform}: process isolation and limits only"
    if exe is None:
        return False, "bubblewrap (bwrap) is not installed: process isolation and limits only"
    probe = subprocess.run([exe, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                            "--proc", "/proc", "--dev", "/dev", "true"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return False, f"bwrap cannot create namespaces here ({probe.stderr.strip()[:200]})"
    return True, ""


def _tree_hash(path):
    out = {}
    for p in sorted(Path(path).rglob("*")):
        if p.is_file():
            out[str(p.relative_to(path))] = p.read_bytes()
    return out


def _modified(pairs, ag):
    """Support paths whose copy in the working directory no longer matches the template."""
    changed = []
    for host, rel in pairs:
        copy = ag / rel
        if host.is_dir():
            same = copy.is_dir() and _tree_hash(host) == _tree_hash(copy)
        else:
            same = copy.is_file() and copy.read_bytes() == host.read_bytes()
        if not same:
            changed.append(rel.replace("submission/", ""))
    return changed


def _layout(workdir, template, nb_name, nb_bytes, copy_support):
    ag = Path(workdir) / "autograder"
    for sub in ("source", "submission", "results"):
        (ag / sub).mkdir(parents=True, exist_ok=True)
    (ag / "submission_metadata.json").write_text("{}")
    (ag / "__init__.py").touch()
    (ag / "submission" / "__init__.py").touch()
    (ag / "submission" / nb_name).write_bytes(nb_bytes)
    src = Path(template) / "source"
    pairs = [(src, "source")] + support_files(template)
    for host, rel in pairs:
        target = ag / rel
        if copy_support:
            if host.is_dir():
                shutil.copytree(host, target, dirs_exist_ok=True)
            else:
                shutil.copy2(host, target)
        elif host.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.touch()
    return ag, pairs


def _bwrap_argv(ag, pairs, limits):
    venv, base = Path(sys.prefix), Path(sys.base_prefix).resolve()
    argv = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--clearenv", "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        argv += ["--ro-bind-try", top, top]
    for p in sorted({venv, base, Path(sys.executable).resolve().parent}):
        argv += ["--ro-bind", str(p), str(p)]
    argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(limits.tmp_mb << 20), "--tmpfs", "/tmp",
             "--bind", str(ag), "/autograder"]
    for host, rel in pairs:
        argv += ["--ro-bind", str(host), f"/autograder/{rel}"]
    argv += ["--ro-bind", str(DRIVER), "/grader/driver.py", "--chdir", "/autograder",
             "--setenv", "HOME", "/tmp", "--setenv", "PATH", f"{venv}/bin:/usr/bin:/bin"]
    return argv + [sys.executable, "/grader/driver.py", "/autograder"]


def _env(home):
    keep = {k: os.environ[k] for k in ("LANG", "LC_ALL", "TZ") if k in os.environ}
    venv = Path(sys.prefix)
    return {**keep, "HOME": str(home), "PATH": f"{venv}/bin:/usr/bin:/bin",
            "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _limiter(limits):
    def apply():
        mem = int(limits.memory_gb * (1 << 30))
        out = int(limits.output_mb * (1 << 20))
        resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))
        resource.setrlimit(resource.RLIMIT_FSIZE, (out, out))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def kill_tree(proc):
    """SIGKILL the process group and every descendant (kernels start their own sessions)."""
    try:
        import psutil
        kids = psutil.Process(proc.pid).children(recursive=True)
    except Exception:  # noqa: BLE001 - psutil missing or process gone
        kids = []
    for p in kids:
        try:
            p.kill()
        except Exception:  # noqa: BLE001
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def run(workdir, template, nb_name, nb_bytes, limits=Limits(), use_bwrap=None):
    """Grade one notebook (bytes) against one unpacked template; returns an ``Outcome``."""
    use_bwrap = bwrap_status()[0] if use_bwrap is None else use_bwrap
    ag, pairs = _layout(workdir, template, nb_name, nb_bytes, copy_support=not use_bwrap)
    env = _env(Path(workdir) / "home")
    (Path(workdir) / "home").mkdir(exist_ok=True)
    if use_bwrap:
        argv = _bwrap_argv(ag, pairs, limits)
    else:
        argv = [sys.executable, str(DRIVER), str(ag)]
    log_path = Path(workdir) / "log.txt"
    start = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, cwd=ag, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_limiter(limits))
        try:
            proc.wait(timeout=limits.timeout)
            kind = "finished"
        except subprocess.TimeoutExpired:
            kind = "timeout"
        kill_tree(proc)   # also removes anything a finished submission left running
    seconds = time.monotonic() - start
    driver = _read_json(ag / "results" / "driver.json")
    if kind == "finished" and driver is None:
        kind = "no-result"
    tail = log_path.read_bytes()[-2000:].decode("utf-8", "replace")
    modified = [] if use_bwrap else _modified(pairs, ag)
    return Outcome(kind, seconds, driver if kind == "finished" else None,
                   _read_json(ag / "results" / "progress.json"), proc.returncode, tail, modified)
