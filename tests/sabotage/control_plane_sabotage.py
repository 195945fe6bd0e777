"""Sabotage tools for the RES checks: control-plane components restarted
with flags that break a resilience promise. Each registers its undo on
the caller's ``restore`` stack (LIFO, also on failure)."""

from __future__ import annotations

import contextlib
import signal

from arch_sabotage import wait_leader_renewing

from gauntlet.checks.chaos import _support
from gauntlet.checks.context import CheckContext
from gauntlet.cluster.client import Cluster
from gauntlet.lab.access import LabNodeAccess

LEADER_ELECTED = ("kube-scheduler", "kube-controller-manager")


def control_planes(faults: LabNodeAccess) -> list[str]:
    topo = faults.lab.topology()
    assert topo is not None
    return [n.name for n in topo.control_planes]


def set_flags_on_control_planes(
    faults: LabNodeAccess,
    cluster: Cluster,
    check: CheckContext,
    component: str,
    flags: dict[str, str | None],
    restore: contextlib.ExitStack,
) -> None:
    """Restart ``component`` on every control plane with ``flags``; the
    undo restores each argv, then waits until the control plane works."""
    restore.callback(_settled, cluster, check, component)  # runs last
    for node in control_planes(faults):
        if component == "kube-apiserver":  # a graceful stop drains 15 s
            faults.kill(node, component, signal.SIGKILL)
        old = faults.set_flags(node, component, flags)
        restore.callback(faults.set_argv, node, component, old)
    _settled(cluster, check, component)


def wait_settled(cluster: Cluster, check: CheckContext) -> None:
    """Both elected components renew a lease and the control plane works:
    what a test leaves behind after disturbing the API servers."""
    for component in LEADER_ELECTED:
        wait_leader_renewing(cluster, component)
    _support.wait_control_plane_healthy(check, 3)


def _settled(cluster: Cluster, check: CheckContext, component: str) -> None:
    if component in LEADER_ELECTED:
        wait_leader_renewing(cluster, component)
    _support.wait_control_plane_healthy(check, 3)
