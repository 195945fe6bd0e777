"""The worker a RES or PART check disturbs, and how it is watched.

Node state is watched (list, then watch from the resourceVersion), so the
NotReady and Ready times are when the API published the change, not when
a poll happened to look. A pod's server process is found on the host by
its container's hostname: the same PID later means the container ran all
along, whatever the API (which may be cut off) says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import PurePosixPath
from typing import Any

from gauntlet.checks.chaos import states
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.cluster.workloads import web_command
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.watch import Watcher

__all__ = [
    "NOT_READY_TIMEOUT_S",
    "UNREACHABLE",
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
    script = (
        f"for p in $(pgrep -x {SERVER_PROCESS}); do "
        'echo "$p $(cat /proc/$p/root/etc/hostname 2>/dev/null)"; done'
    )
    wanted = set(pods)
    found = {}
    for line in access.run(node, ["sh", "-c", script]).stdout.splitlines():
        pid, _, name = line.partition(" ")
        if name in wanted and pid.isdigit():
            found[name] = int(pid)
    return dict(sorted(found.items()))


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
