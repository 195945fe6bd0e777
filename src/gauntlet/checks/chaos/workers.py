"""The worker a RES or PART check disturbs, and how it is watched.

Node state is watched (list, then watch from the resourceVersion), so the
NotReady and Ready times are when the API published the change, not when
a poll happened to look. A pod's server process is found on the host by
its container's hostname: the same PID later means the container ran all
along, whatever the API (which may be cut off) says. A node the runner
cannot reach for a while (cut off) samples its own server processes
(``log_servers``), read back afterwards with the node's times mapped
onto the runner's clock (``logged_servers``).
"""

from __future__ import annotations

import math
import secrets
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from gauntlet.checks.chaos import states
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.cluster.workloads import web_command
from gauntlet.errors import ClusterOperationFailed
from gauntlet.nodes.base import NodeAccess, sh_on
from gauntlet.nodes.host_clock import UPTIME, HostClock, timed
from gauntlet.observe.watch import Watcher

__all__ = [
    "NOT_READY_TIMEOUT_S",
    "UNREACHABLE",
    "Sample",
    "log_servers",
    "logged_servers",
    "parse_server_log",
    "pick",
    "ready",
    "servers",
    "serving",
    "since",
    "tainted",
]

NOT_READY_TIMEOUT_S = 120.0
"""How long a node change is awaited (NotReady, the taint, Ready)."""
UNREACHABLE = "node.kubernetes.io/unreachable"
SERVER_PROCESS = PurePosixPath(web_command()[0]).name
"""The web pods' server as the host's process table names it (agnhost)."""
_SERVERS = (
    f"for p in $(pgrep -x {SERVER_PROCESS}); do "
    'echo "$p $(cat /proc/$p/root/etc/hostname 2>/dev/null)"; done'
)
LOG_READ_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Sample:
    """Which pods' servers ran on a node at one moment (runner clock)."""

    at: float
    servers: dict[str, int]
    """Pod name -> PID of its server process."""


def ready(node: Any) -> str:
    """The node's Ready condition status (``missing`` without one)."""
    for cond in node.status.conditions or []:
        if cond.type == "Ready":
            return str(cond.status)
    return "missing"


def tainted(node: Any) -> bool:
    """Whether the node carries the unreachable taint."""
    return any(t.key == UNREACHABLE for t in node.spec.taints or [])


def pick(ctx: CheckContext, placed: dict[str, str]) -> str:
    """The worker to disturb: the last by name that runs one of ``placed``.

    Raises:
        CheckSkipped: fewer than 2 workers, or no pod landed on one.
    """
    workers = sorted(n.name for n in ctx.topology.workers)
    if len(workers) < 2:
        raise CheckSkipped(f"{len(workers)} workers: need 2 to move work")
    hosting = sorted(set(placed.values()) & set(workers))
    if not hosting:
        raise CheckSkipped("no workload pod landed on a worker")
    return hosting[-1]


def servers(
    access: NodeAccess, node: str, pods: Iterable[str]
) -> dict[str, int]:
    """Pod name -> PID of its server process, for ``pods`` on ``node``.

    A container's ``/etc/hostname`` is its pod's name, so this reads the
    host's truth without asking the API.
    """
    return _parse_servers(access.run(node, ["sh", "-c", _SERVERS]).stdout, pods)


def _parse_servers(text: str, pods: Iterable[str]) -> dict[str, int]:
    wanted = set(pods)
    found = {}
    for line in text.splitlines():
        pid, _, name = line.partition(" ")
        if name in wanted and pid.isdigit():
            found[name] = int(pid)
    return dict(sorted(found.items()))


def log_servers(
    access: NodeAccess, node: str, for_s: float, every_s: float
) -> str:
    """Have ``node`` note its server processes every ``every_s`` for
    ``for_s`` seconds in a file of its own (a detached loop that ends by
    itself); return the file's path for ``logged_servers``."""
    path = f"/tmp/kube-gauntlet-servers-{secrets.token_hex(4)}"
    log = shlex.quote(path)
    loop = (
        f"{UPTIME}; end=$(( ${{kg_up%.*}} + {math.ceil(for_s)} ))\n"
        "while :; do\n"
        f'  {UPTIME}; echo "at $kg_up" >> {log}\n'
        f"  {_SERVERS} >> {log}\n"
        '  [ "${kg_up%.*}" -ge "$end" ] && break\n'
        f"  sleep {max(1, round(every_s))}\n"
        "done\n"
    )
    start = (
        f": > {log}; nohup sh -c {shlex.quote(loop)} "
        ">/dev/null 2>&1 </dev/null &"
    )
    proc = access.run(node, ["sh", "-c", start])
    if proc.returncode != 0:
        raise ClusterOperationFailed(
            "start", "a process log", None, f"node {node}: {proc.stderr}"
        )
    return path


def logged_servers(
    access: NodeAccess, node: str, path: str, pods: Iterable[str]
) -> list[Sample]:
    """The samples ``log_servers`` left on ``node`` (then removed), for
    ``pods``, oldest first.

    Raises:
        NodeAccessError: the node does not answer.
    """
    log = shlex.quote(path)
    out, clock = timed(
        sh_on(access, node), f"cat {log}; rm -f {log}", LOG_READ_TIMEOUT_S
    )
    return parse_server_log(out, clock, pods)


def parse_server_log(
    text: str, clock: HostClock, pods: Iterable[str]
) -> list[Sample]:
    """``at <uptime>`` lines, each followed by ``pid name`` lines, then the
    ``now`` line of the read: samples of ``pods`` on the runner's clock."""
    wanted = list(pods)
    samples: list[Sample] = []
    current: tuple[float, list[str]] | None = None
    for line in text.splitlines():
        parts = line.split()
        if parts[:1] not in (["at"], ["now"]):
            if current is not None:
                current[1].append(line)
            continue
        if current is not None:
            servers = _parse_servers("\n".join(current[1]), wanted)
            samples.append(Sample(clock.epoch(current[0]), servers))
        current = (float(parts[1]), []) if parts[0] == "at" else None
    return samples


def serving(access: NodeAccess, node: str, pods: Iterable[str]) -> list[str]:
    """Which of ``pods`` have a server process running on ``node``."""
    return list(servers(access, node, pods))


def since(
    watcher: Watcher,
    node: str,
    start: float,
    test: Callable[[Any], bool],
    what: str,
) -> float:
    """Seconds from ``start`` until the API published ``node`` passing
    ``test`` (``what``, for the message).

    Raises:
        GuaranteeTimeout: not within ``NOT_READY_TIMEOUT_S``, with the
            node's last Ready condition, cordon and taints.
    """
    seen = watcher.wait(
        f"{node} {what}",
        lambda: next(
            (s for s in watcher.history(node) if s.at >= start and test(s.obj)),
            None,
        ),
        NOT_READY_TIMEOUT_S,
        0.2,
        lambda: states.node_state(watcher.latest().get(node)),
    )
    return float(seen.at - start)
