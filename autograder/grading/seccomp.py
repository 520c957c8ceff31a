"""The seccomp filter of every sandbox that runs student code (run stages and workers): system calls
no answer needs.

A classic BPF program, assembled here by hand (about 120 instructions, no dependency): the kernel
runs it on every system call of the stage's processes and their children, for good (it survives
``exec`` and cannot be removed). It answers ``EPERM`` for

* the kernel keyrings (``add_key``, ``request_key``, ``keyctl``): the one per-user store no
  namespace isolates, through which a worker could hand a hidden case's values to its run stage or
  to a later grading;
* other processes' memory and descriptors (``ptrace``, ``process_vm_readv``/``writev``,
  ``pidfd_getfd``);
* new namespaces (``unshare``, ``setns``, ``clone`` with a ``CLONE_NEW*`` flag; ``clone3``, whose
  flags a classic filter cannot read, answers ``ENOSYS`` so that the C library falls back to
  ``clone``), mounts and the new mount API, ``pivot_root``;
* kernel interfaces with a record of privilege escalations or none of an answer's business: ``bpf``,
  ``perf_event_open``, ``userfaultfd``, ``io_uring_*``, modules, ``kexec``, ``reboot``, swap,
  clocks, host and domain names, ``syslog``, ``acct``, quotas, file handles, ``fanotify``,
  ``iopl``/``ioperm``, ``vhangup``;
* any other architecture's calling convention (a 32-bit ``int 0x80`` or the x32 ABI): the process is
  killed.

Why by hand: libseccomp's Python bindings are not in the course's virtual environment (Debian's
``python3-seccomp`` is built for Debian's own interpreter, PyPI's ``pyseccomp`` is a ctypes wrapper
around the same ``libseccomp.so``, a dependency for ~40 rules); a deny list of fixed numbers is
short enough to read and is tested by calling each rule (``tests/grading/test_sandbox.py``). Only
x86-64 numbers are here: on any other machine ``program()`` returns None and the batch says so in
its warnings.

bubblewrap installs it (``--seccomp FD``) just before it starts the stage's program; without
namespaces the stage's own ``preexec`` installs it (``install``), after ``no_new_privs``.
"""

import ctypes
import os
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_BIT = 0x40000000
CLONE_NAMESPACES = 0x7E020000  # CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET

DENIED = {  # x86-64 system call numbers (asm/unistd_64.h)
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "pidfd_getfd": 438,
    "unshare": 272,
    "setns": 308,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "kexec_load": 246,
    "kexec_file_load": 320,
    "reboot": 169,
    "swapon": 167,
    "swapoff": 168,
    "settimeofday": 164,
    "clock_settime": 227,
    "adjtimex": 159,
    "clock_adjtime": 305,
    "sethostname": 170,
    "setdomainname": 171,
    "syslog": 103,
    "acct": 163,
    "quotactl": 179,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "lookup_dcookie": 212,
    "fanotify_init": 300,
    "iopl": 172,
    "ioperm": 173,
    "vhangup": 153,
}
CLONE, CLONE3 = 56, 435
EPERM, ENOSYS = 1, 38

# classic BPF opcodes
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
RET_ALLOW, RET_KILL_PROCESS, RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000


def _op(code, k, jt=0, jf=0):
    return struct.pack("<HBBI", code, jt, jf, k)


def program():
    """The filter as the bytes of a ``struct sock_filter`` array, or None on a machine it was not
    written for."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    ins = [
        _op(LD_W_ABS, 4),  # the architecture
        _op(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        _op(RET_K, RET_KILL_PROCESS),
        _op(LD_W_ABS, 0),  # the system call's number
        _op(JGE_K, X32_BIT, 0, 1),
        _op(RET_K, RET_KILL_PROCESS),
    ]
    for nr in sorted(DENIED.values()):
        ins += [_op(JEQ_K, nr, 0, 1), _op(RET_K, RET_ERRNO | EPERM)]
    ins += [
        _op(JEQ_K, CLONE3, 0, 1),
        _op(RET_K, RET_ERRNO | ENOSYS),
        _op(JEQ_K, CLONE, 0, 3),
        _op(LD_W_ABS, 16),  # clone's flags (the low half of its first argument)
        _op(JSET_K, CLONE_NAMESPACES, 0, 1),
        _op(RET_K, RET_ERRNO | EPERM),
        _op(RET_K, RET_ALLOW),
    ]
    return b"".join(ins)


def memfd(data):
    """A descriptor holding ``data`` from its start (what ``bwrap --seccomp FD`` reads),
    inheritable."""
    fd = os.memfd_create("ptm-seccomp", 0)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    os.set_inheritable(fd, True)
    return fd


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(data):
    """Install the filter ``data`` in this process (and everything it starts): no_new_privs, then
    the filter. Meant for a ``preexec_fn``; raises OSError when the kernel refuses."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    buf = ctypes.create_string_buffer(data, len(data))
    prog = _SockFprog(len(data) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
