"""``seccomp``: the filter every sandbox that runs student code gets, read two ways.

- Its program is run here by a small classic-BPF interpreter on made-up system calls: every rule
  answers what the docstring says, whatever the kernel at hand (the other architectures' conventions
  included).
- It is installed in a child process, which then makes the calls for real: the kernel agrees, the
  filter survives ``exec``, and what an answer needs (files, threads, a fork) still works.

The sandbox's own use of it (bubblewrap's ``--seccomp`` and the no-namespaces ``preexec``) is tested
in ``test_sandbox.py``."""

import os
import platform
import struct
import subprocess
import sys

import pytest

from autograder.grading import seccomp

X86_64 = platform.machine() in ("x86_64", "AMD64")
pytestmark = pytest.mark.skipif(not X86_64, reason="the filter is written for x86-64")

AUDIT_ARCH_I386 = 0x40000003
ALLOWED = {
    "read": 0,
    "write": 1,
    "openat": 257,
    "mmap": 9,
    "getpid": 39,
    "execve": 59,
    "futex": 202,
}


def run_filter(nr, arch=seccomp.AUDIT_ARCH_X86_64, args=(0,) * 6):
    """What the filter returns for one system call (``struct seccomp_data``: nr, arch, ip, args)."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *args)
    prog = seccomp.program()
    ins = [struct.unpack("<HBBI", prog[i : i + 8]) for i in range(0, len(prog), 8)]
    pc, acc = 0, 0
    for _ in range(len(ins) + 1):  # classic BPF only jumps forward: one pass is enough
        code, jt, jf, k = ins[pc]
        if code == seccomp.LD_W_ABS:
            acc = struct.unpack_from("<I", data, k)[0]
            pc += 1
        elif code in (seccomp.JEQ_K, seccomp.JGE_K, seccomp.JSET_K):
            taken = {
                seccomp.JEQ_K: acc == k,
                seccomp.JGE_K: acc >= k,
                seccomp.JSET_K: bool(acc & k),
            }[code]
            pc += 1 + (jt if taken else jf)
        elif code == seccomp.RET_K:
            return k
        else:
            raise AssertionError(f"an instruction the filter should not hold: {code:#x}")
    raise AssertionError("the program ran off its end")


def test_the_program_is_a_valid_classic_bpf_program():
    prog = seccomp.program()
    assert len(prog) % 8 == 0 and 0 < len(prog) // 8 < 4096
    last = struct.unpack("<HBBI", prog[-8:])
    assert last[0] == seccomp.RET_K  # every path ends in a return


@pytest.mark.parametrize("name", sorted(seccomp.DENIED))
def test_every_denied_call_answers_eperm(name):
    assert run_filter(seccomp.DENIED[name]) == seccomp.RET_ERRNO | seccomp.EPERM


def test_what_an_answer_needs_is_allowed():
    for name, nr in ALLOWED.items():
        assert run_filter(nr) == seccomp.RET_ALLOW, name
    assert (
        run_filter(seccomp.CLONE, args=(0x3D0F00, 0, 0, 0, 0, 0)) == seccomp.RET_ALLOW
    )  # a thread


def test_new_namespaces_through_clone_are_refused_and_clone3_falls_back():
    for flag in (
        0x10000000,
        0x20000000,
        0x40000000,
        0x00020000,
        0x04000000,
        0x08000000,
        0x02000000,
    ):
        assert run_filter(seccomp.CLONE, args=(flag | 0x11, 0, 0, 0, 0, 0)) == seccomp.RET_ERRNO | 1
    assert run_filter(seccomp.CLONE3) == seccomp.RET_ERRNO | seccomp.ENOSYS


def test_another_calling_convention_kills_the_process():
    assert run_filter(39, arch=AUDIT_ARCH_I386) == seccomp.RET_KILL_PROCESS  # int 0x80
    assert run_filter(39 | seccomp.X32_BIT) == seccomp.RET_KILL_PROCESS  # the x32 ABI
    assert run_filter(seccomp.DENIED["keyctl"] | seccomp.X32_BIT) == seccomp.RET_KILL_PROCESS


CHILD = r"""
import ctypes, errno, os, subprocess, sys, threading
sys.path.insert(0, sys.argv[1])
from autograder.grading import seccomp
seccomp.install(seccomp.program())
libc = ctypes.CDLL(None, use_errno=True)
def call(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
    return "OK" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
got = {
    "keyctl": call(250, 0, -4, 0, 0),             # KEYCTL_GET_KEYRING_ID of the user keyring
    "add_key": call(248, 0, 0, 0, 0, -4),
    "unshare_user": call(272, 0x10000000),
    "ptrace": call(101, 0, 0, 0, 0),
    "getpid": call(39),
}
t = threading.Thread(target=lambda: None); t.start(); t.join()
got["thread"] = "OK"
pid = os.fork()
if pid == 0:
    os._exit(7)
got["fork"] = "OK" if os.waitpid(pid, 0)[1] >> 8 == 7 else "failed"
with open(os.devnull, "w") as f:
    f.write("x")
got["after_exec"] = subprocess.run(
    [sys.executable, "-c", "import ctypes; l = ctypes.CDLL(None, use_errno=True); "
     "print(l.syscall(250, 0, -4, 0, 0), ctypes.get_errno())"],
    capture_output=True, text=True).stdout.split()
print(repr(got))
"""


def test_installed_the_kernel_agrees_and_the_filter_survives_exec():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, root], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    got = eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - the child's repr of a dict of str
    for name in ("keyctl", "add_key", "unshare_user", "ptrace"):
        assert got[name] == "EPERM", got
    assert got["getpid"] == got["thread"] == got["fork"] == "OK", got
    assert got["after_exec"] == ["-1", "1"], got  # -1, EPERM: the exec'd program is filtered too


def test_the_descriptor_bubblewrap_reads_holds_the_program_from_its_start():
    data = seccomp.program()
    fd = seccomp.memfd(data)
    try:
        assert os.get_inheritable(fd)
        assert os.read(fd, len(data) + 1) == data
    finally:
        os.close(fd)
