"""Start, enter and stop one lab node (its namespaces and its PID 1)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gauntlet.errors import LabError
from gauntlet.lab import sh, supervisor_client
from gauntlet.lab.paths import NodePaths
from gauntlet.lab.topology import LabNode

START_TIMEOUT_S = 20.0


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except (OSError, ValueError):
        return []


def init_pid(np: NodePaths) -> int | None:
    """Host PID of the node's PID 1, if it is alive."""
    try:
        pid = int(np.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if b"gauntlet.lab.nodeinit" in cmdline else None


def start_node(node: LabNode, np: NodePaths) -> int:
    """Launch the node's PID 1 in fresh pid/mount/uts namespaces."""
    existing = init_pid(np)
    if existing is not None:
        return existing
    log = (np.logs / "nodeinit.log").open("ab")
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (src, env.get("PYTHONPATH", "")) if p
    )
    argv = [
        "nsenter",
        f"--net=/run/netns/{node.netns}",
        "unshare",
        "--pid",
        "--fork",
        "--mount",
        "--uts",
        "--mount-proc",
        "--propagation",
        "private",
        sys.executable,
        "-m",
        "gauntlet.lab.nodeinit",
        str(np.config),
    ]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        kids = _children(proc.pid)
        if kids and np.socket.exists():
            np.pid_file.write_text(f"{kids[0]}\n")
            return kids[0]
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise LabError(
        f"node {node.name} did not start; see {np.logs / 'nodeinit.log'}"
    )


def stop_nodes(nodes: list[NodePaths], timeout_s: float = 15.0) -> None:
    """Ask every supervisor to stop at once, then end what is left."""
    pids = {np: pid for np in nodes if (pid := init_pid(np)) is not None}
    for np in pids:
        with contextlib.suppress(LabError):
            supervisor_client.call(np.socket, "shutdown", timeout_s=5)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(
        init_pid(np) is not None for np in pids
    ):
        time.sleep(0.2)
    for np, pid in pids.items():
        if init_pid(np) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def node_exec(
    pid: int, argv: list[str], timeout_s: float = 60.0, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside a node: its mounts, hostname, network and PIDs."""
    return sh.run(
        ["nsenter", "-t", str(pid), "-m", "-u", "-n", "-p", "--", *argv],
        check=check,
        timeout_s=timeout_s,
    )
