"""A pytest plugin that measures each test group's wall and CPU time (docs/performance.md).

    PYTHONPATH=tools python -m pytest -p group_times ...   # build/group-times.json, and a table

``$GROUP_TIMES`` names the JSON file; ``$GROUP_TIMES_LOG``, a file that gets one line per test as
it ends.

CPU time is that of the pytest process and every process under it (kernels, JupyterLab and
Chromium, graders), read from /proc before and after each test (setup and teardown included):
what the test costs the machine, whatever else runs on it, where wall time grows with the load.
A process that leaves the tree (a daemon that re-parents itself) takes its time with it. Groups
are ``conftest.group_of``'s.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
_times: dict = {}


def _tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and its live descendants, with the children each has reaped."""
    parent, cpu = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        cpu[int(entry)] = sum(int(f) for f in fields[11:15]) / TICK  # utime stime cutime cstime
    total, todo = 0.0, [root]
    children: dict = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo += children.get(pid, [])
    return total


def pytest_runtest_protocol(item, nextitem):
    item._group_times_start = (time.monotonic(), _tree_cpu(os.getpid()))


def pytest_runtest_makereport(item, call):
    if call.when == "teardown" and hasattr(item, "_group_times_start"):
        wall0, cpu0 = item._group_times_start
        _times[item.nodeid] = (time.monotonic() - wall0, _tree_cpu(os.getpid()) - cpu0)
        log = os.environ.get(
            "GROUP_TIMES_LOG"
        )  # one line per test as it ends (a run stopped early keeps them)
        if log:
            with open(log, "a") as f:
                f.write(
                    json.dumps(
                        {
                            "test": item.nodeid,
                            "wall_s": round(_times[item.nodeid][0], 2),
                            "cpu_s": round(_times[item.nodeid][1], 2),
                            "load": os.getloadavg(),
                        }
                    )
                    + "\n"
                )


def pytest_sessionfinish(session):
    try:
        from conftest import group_of
    except ImportError:  # another project layout: one group per module

        def group_of(nodeid):
            return nodeid.split("::")[0]

    groups: dict = {}
    for nodeid, (wall, cpu) in _times.items():
        g = groups.setdefault(group_of(nodeid), {"tests": 0, "wall_s": 0.0, "cpu_s": 0.0})
        g["tests"] += 1
        g["wall_s"] += wall
        g["cpu_s"] += cpu
    name = os.environ.get("GROUP_TIMES", "build/group-times.json")
    if os.environ.get("PYTEST_XDIST_WORKER"):  # one file per test process
        name = name.replace(".json", f"-{os.environ['PYTEST_XDIST_WORKER']}.json")
    Path(name).parent.mkdir(parents=True, exist_ok=True)
    Path(name).write_text(
        json.dumps({"groups": groups, "tests": _times, "load": os.getloadavg()}, indent=1)
    )
    rows = sorted(groups.items(), key=lambda kv: -kv[1]["cpu_s"])
    print("\ngroup times (wall s, CPU s of the process tree):")
    for group, g in rows:
        print(f"  {g['wall_s']:8.1f} {g['cpu_s']:8.1f}  {g['tests']:3d}  {group}")
