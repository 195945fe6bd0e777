"""Last observed states, for the message of a wait that timed out.

A timeout says what it waited for and what it saw last: each pod's node,
phase, readiness and waiting reason; a node's Ready condition, whether it
is cordoned and its taints.
"""

from __future__ import annotations

from typing import Any

from gauntlet.checks.context import CheckContext
from gauntlet.cluster import workloads

__all__ = ["node_state", "pod_state", "pods_state"]


def pods_state(ctx: CheckContext, app: str) -> str:
    """Each pod of ``app``: node, phase, readiness (for a timeout)."""
    pods: list[Any] = workloads.pods_of(ctx.cluster.core(), ctx.namespace, app)
    return ", ".join(pod_state(p) for p in pods) or f"no {app} pod"


def pod_state(pod: Any) -> str:
    status = pod.status
    statuses = status.container_statuses or []
    waiting = [
        str(c.state.waiting.reason)
        for c in statuses
        if c.state is not None and c.state.waiting is not None
    ]
    ready = (
        "ready" if statuses and all(c.ready for c in statuses) else "not ready"
    )
    where = pod.spec.node_name or "unscheduled"
    return f"{pod.metadata.name} on {where} {status.phase} {ready}" + (
        f" ({', '.join(waiting)})" if waiting else ""
    )


def node_state(node: Any) -> str:
    if node is None:
        return "no Node object"
    ready = next(
        (c for c in node.status.conditions or [] if c.type == "Ready"), None
    )
    condition = "Ready missing"
    if ready is not None:
        condition = f"Ready={ready.status}"
        condition += f" ({ready.reason})" if ready.reason else ""
    taints = [t.key for t in node.spec.taints or []]
    return (
        f"{condition}, unschedulable={bool(node.spec.unschedulable)}, "
        f"taints={taints}"
    )
