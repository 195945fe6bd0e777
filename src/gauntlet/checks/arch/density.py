"""ARCH-15: pod density limits hold.

Every node's allocatable pod count is measured. Showing that the limit is
enforced means filling a node, which is only reasonable on a node whose
limit is low: on the node with the smallest allocatable count, if it is at
most ``LOW_LIMIT_MAX``, the check creates one pod more than the node has
room for (all pinned there with a nodeSelector, tolerating its taints):
exactly the room must be bound, and the extra pod must stay Pending with
``FailedScheduling`` ("Too many pods"). Without such a node that part
does not apply (by design: filling a node of 110 pods is no test), and
the check says how to set one up (``maxPods``). When placement does not
settle, the finding names the link that broke (pods not created, or
created but not scheduled). The fill pods are deleted (and awaited)
before the check returns, so a second run counts the node's pods from
the same start.
"""

from __future__ import annotations

from dataclasses import dataclass

from gauntlet import progress
from gauntlet.checks.arch._chain import Chain, why_not_within
from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.cluster import workloads
from gauntlet.errors import GuaranteeTimeout
from gauntlet.observe.watch import (
    KubeObject,
    joined,
    leader_lease_note,
    pod_events,
    unique,
)

POLL_INTERVAL_S = 0.5
TIMEOUT_S = 30.0
LOW_LIMIT_MAX = 12
"""Largest pod limit the check fills a node up to."""
HOSTNAME_LABEL = "kubernetes.io/hostname"
TERMINAL_PHASES = ("Succeeded", "Failed")
TOO_MANY_PODS = "Too many pods"
STEP = "pod density limits hold"
REPORTED = "allocatable pods reported"
ENFORCED = "low pod limit enforced"


@dataclass(frozen=True)
class Fill:
    """What became of the pods sent to a node with ``room`` free slots."""

    node: str
    limit: int
    existing: int
    room: int
    bound: tuple[str, ...]
    pending: dict[str, str]
    """Unbound pod -> its FailedScheduling message ("" if none yet)."""
    rejected: dict[str, str]
    """Bound pod the kubelet refused (phase Failed) -> its reason."""


def check_pod_density_limits(ctx: CheckContext) -> None:
    """Allocatable pods are reported; a low limit holds against one more.

    Raises:
        GuaranteeViolated: a node reporting no allocatable pods, more
            pods bound to the node than its limit allows (naming the
            node, limit and pods), or the extra pod not reported as
            FailedScheduling for too many pods.
        CheckSkipped: no node to read.
    """
    limits = _allocatable_pods(ctx)
    ctx.evidence("allocatable pods per node", limits)
    with ctx.part(REPORTED) as part:
        if not limits:
            raise CheckSkipped("no node listed")
        for node, limit in sorted(limits.items()):
            ctx.measure(f"allocatable pods {node}", limit, "pods")
            if limit < 1:
                part.finding(f"{node} reports no allocatable pods")
    low = low_limit_node(limits)
    if low is None:
        smallest = min(((v, k) for k, v in limits.items()), default=None)
        seen = f"{smallest[0]} pods on {smallest[1]}" if smallest else "none"
        ctx.not_applicable(
            ENFORCED,
            f"no node with a low pod limit (smallest: {seen}, filling is "
            f"tried up to {LOW_LIMIT_MAX}); set one with the kubelet's "
            "maxPods to check that the extra pod stays Pending",
        )
    else:
        with ctx.part(ENFORCED):
            _check_limit_holds(ctx, *low)
    ctx.conclude(STEP)


def low_limit_node(limits: dict[str, int]) -> tuple[str, int] | None:
    """The node with the smallest positive limit, if it is low enough to
    fill (at most ``LOW_LIMIT_MAX``)."""
    usable = [(v, k) for k, v in limits.items() if v > 0]
    if not usable:
        return None
    limit, node = min(usable)
    return (node, limit) if limit <= LOW_LIMIT_MAX else None


def _check_limit_holds(ctx: CheckContext, node: str, limit: int) -> None:
    app = unique("fill")
    try:
        fill = _fill(ctx, node, limit, app)
    finally:
        workloads.delete_app_pods(ctx.cluster.core(), ctx.namespace, app)
    ctx.evidence(
        f"filling {node}",
        {
            "limit": fill.limit,
            "existing": fill.existing,
            "bound": list(fill.bound),
            "pending": fill.pending,
            "rejected": fill.rejected,
        },
    )
    over = len(fill.bound) - fill.room
    ctx.measure(f"pods over limit {node}", max(over, 0), "pods", 0)
    problems = []
    if over > 0:
        problems.append(
            f"{len(fill.bound)} test pods bound to {node} with room for "
            f"{fill.room} (limit {limit}, {fill.existing} already there): "
            f"{joined(sorted(fill.bound))}"
        )
    if fill.rejected:
        problems.append(
            f"the kubelet on {node} refused bound pods: "
            + joined(f"{p} ({r})" for p, r in sorted(fill.rejected.items()))
        )
    silent = [p for p, m in fill.pending.items() if TOO_MANY_PODS not in m]
    if silent and not problems:
        problems.append(
            f"pending pods without a '{TOO_MANY_PODS}' FailedScheduling: "
            + joined(f"{p} ({fill.pending[p]!r})" for p in sorted(silent))
        )
    if problems:
        raise violated(f"pod limit of {node} holds", "; ".join(problems))


def _allocatable_pods(ctx: CheckContext) -> dict[str, int]:
    nodes: KubeObject = ctx.cluster.core().list_node()
    return {
        n.metadata.name: int((n.status.allocatable or {}).get("pods", 0))
        for n in nodes.items
    }


def _pods_on(ctx: CheckContext, node: str) -> list[KubeObject]:
    listed: KubeObject = ctx.cluster.core().list_pod_for_all_namespaces(
        field_selector=f"spec.nodeName={node}"
    )
    return [p for p in listed.items if p.status.phase not in TERMINAL_PHASES]


def _fill(ctx: CheckContext, node: str, limit: int, app: str) -> Fill:
    """Send room + 1 pods to ``node``; wait until placement settles."""
    core, ns = ctx.cluster.core(), ctx.namespace
    workloads.ensure_service_account(core, ns)
    existing = len(_pods_on(ctx, node))
    room = max(limit - existing, 0)
    for i in range(room + 1):
        body: KubeObject = workloads.shell_pod(
            f"{app}-{i}",
            ctx.images.workload,
            tolerate_all=True,
            labels={"app": app},
        )
        body["spec"]["nodeSelector"] = {HOSTNAME_LABEL: node}
        core.create_namespaced_pod(ns, body)
    last: list[Fill] = []

    def settled() -> Fill | None:
        pods: list[KubeObject] = workloads.pods_of(core, ns, app)
        events = pod_events(core, ns)
        fill = Fill(
            node=node,
            limit=limit,
            existing=existing,
            room=room,
            bound=tuple(
                sorted(p.metadata.name for p in pods if p.spec.node_name)
            ),
            pending={
                p.metadata.name: _failed_scheduling(
                    events.get(str(p.metadata.uid), [])
                )
                for p in pods
                if not p.spec.node_name
            },
            rejected={
                p.metadata.name: str(p.status.reason or p.status.message)
                for p in pods
                if p.spec.node_name and p.status.phase == "Failed"
            },
        )
        last[:] = [fill]
        if len(fill.bound) > room:  # over: wait for the kubelet's verdict
            decided = _decided(pods)
            return fill if decided else None
        done = len(fill.bound) == room and all(fill.pending.values())
        return fill if done else None

    try:
        fill: Fill = progress.wait_until(
            f"{room} pods bound to {node} and the extra one refused",
            settled,
            TIMEOUT_S,
            POLL_INTERVAL_S,
            lambda: _describe(last[0]) if last else "nothing seen",
            quiet=True,
        )
    except GuaranteeTimeout as exc:
        if last and len(last[0].bound) > room:
            return last[0]  # over the limit; the kubelet never decided
        raise violated(
            f"pod limit of {node} holds",
            f"placement did not settle within {TIMEOUT_S:.0f}s "
            f"({exc.last_state}): "
            + _unsettled(ctx, workloads.pods_of(core, ns, app), room),
        ) from exc
    return fill


def _unsettled(ctx: CheckContext, pods: list[KubeObject], room: int) -> str:
    """Which link broke: pods missing, the pods that fit not scheduled,
    or the extra pod never refused."""
    live = [p for p in pods if p.metadata.deletion_timestamp is None]
    bound = min(sum(1 for p in live if p.spec.node_name), room)
    if len(live) < room + 1:
        chain = Chain(room + 1, len(live), bound, bound)
    else:  # every pod arrived: only the ``room`` that fit must be bound
        chain = Chain(room, room, bound, bound)
    why = why_not_within(ctx, chain, "scheduled", TIMEOUT_S)
    if why is not None:
        return why
    return (
        f"the extra pod got no '{TOO_MANY_PODS}' FailedScheduling: "
        + leader_lease_note(ctx.cluster, "kube-scheduler")
    )


def _decided(pods: list[KubeObject]) -> bool:
    """Every bound pod has left Pending (the kubelet ran or refused it)."""
    return all(p.status.phase != "Pending" for p in pods if p.spec.node_name)


def _failed_scheduling(events: list[KubeObject]) -> str:
    messages = [
        str(e.message) for e in events if e.reason == "FailedScheduling"
    ]
    return messages[-1] if messages else ""


def _describe(fill: Fill) -> str:
    return (
        f"{len(fill.bound)}/{fill.room} bound, {len(fill.pending)} pending"
        f" ({sum(1 for m in fill.pending.values() if m)} with "
        "FailedScheduling)"
    )
