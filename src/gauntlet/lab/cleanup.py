"""Find and remove everything a lab left on the host, even after a crash.

Works from names alone (netns prefix, cgroup prefix, process command lines,
mount sources), so it needs no record of what ``up`` did.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

from gauntlet.lab import network, sh
from gauntlet.lab.paths import LabPaths
from gauntlet.lab.topology import CGROUP_PREFIX

CGROUP_FS = Path("/sys/fs/cgroup")
_MARKERS = (b"gauntlet.lab.nodeinit", b"gauntlet.lab.lb")


def lab_processes() -> list[int]:
    """Host PIDs of lab node inits and the lab's load balancer."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if any(m in cmd for m in _MARKERS):
            found.append(int(entry.name))
    return found


def kill_processes(timeout_s: float = 10.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in lab_processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout_s
        while lab_processes() and time.monotonic() < deadline:
            time.sleep(0.2)


def lab_cgroups() -> list[Path]:
    """Every cgroup directory under a lab node's cgroup root."""
    found: list[Path] = []
    if not CGROUP_FS.is_dir():
        return found
    for hierarchy in CGROUP_FS.iterdir():
        with contextlib.suppress(OSError):
            for root in hierarchy.glob(f"{CGROUP_PREFIX}*"):
                if root.is_dir():
                    found += [p for p in root.rglob("*") if p.is_dir()]
                    found.append(root)
    return found


def remove_cgroups(timeout_s: float = 15.0) -> list[Path]:
    """rmdir lab cgroups deepest first; return the ones that stayed."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = sorted(lab_cgroups(), key=lambda p: len(p.parts), reverse=True)
        for path in left:
            with contextlib.suppress(OSError):
                path.rmdir()
        left = lab_cgroups()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def lab_mounts(paths: LabPaths) -> list[str]:
    """Host mount points that belong to the lab (netns files, state)."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        if point.startswith("/run/netns/" + "kg-") or point.startswith(
            str(paths.root)
        ):
            found.append(point)
    return found


def remove_created_dirs(paths: LabPaths) -> None:
    """Remove host mount-point directories that ``up`` had to create."""
    try:
        created = json.loads(paths.created_dirs.read_text())
    except (OSError, ValueError):
        return
    for d in sorted(created, key=len, reverse=True):
        with contextlib.suppress(OSError):
            Path(d).rmdir()


def remove_everything(paths: LabPaths) -> list[str]:
    """Tear down a lab from whatever state; return what could not go."""
    kill_processes()
    for point in lab_mounts(paths):
        sh.run(["umount", "-l", point], check=False)
    network.teardown()
    problems = [f"cgroup {p}" for p in remove_cgroups()]
    remove_created_dirs(paths)
    if paths.root.exists():
        sh.run(["rm", "-rf", "--one-file-system", str(paths.root)], check=False)
    problems += [f"process {p}" for p in lab_processes()]
    problems += [f"netns {n}" for n in network.lab_netns()]
    problems += [f"mount {m}" for m in lab_mounts(paths)]
    return problems
