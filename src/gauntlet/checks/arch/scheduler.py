"""ARCH-07: the scheduler places by resources, selectors and taints.

Three placements are asked for at once: a pod requesting more CPU than
any node's allocatable (tolerating every taint, so CPU is the only
obstacle) must stay Pending with ``FailedScheduling``; a pod with a
``kubernetes.io/hostname`` nodeSelector must land on that worker; a
two-replica Deployment with required pod anti-affinity must land on two
different workers.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes import client

from gauntlet import progress
from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.cluster import workloads
from gauntlet.errors import GuaranteeTimeout
from gauntlet.observe.watch import (
    KubeObject,
    event_reporter,
    joined,
    leader_lease_note,
    pod_events,
    unique,
)

POLL_INTERVAL_S = 0.5
TIMEOUT_S = 30.0
HOSTNAME_LABEL = "kubernetes.io/hostname"
OVERSIZED = "oversized"
PINNED = "pinned"
SPREAD = "spread"
STEP = "scheduler placement"


@dataclass(frozen=True)
class Placement:
    """What the scheduler did with the check's pods."""

    nodes: dict[str, str]
    """Pod -> node for every bound pod."""
    failed_scheduling: dict[str, str]
    """Pod -> message of its latest FailedScheduling event."""
    scheduled_by: dict[str, str]
    """Pod -> reporter of its Scheduled event."""
    spread_pods: tuple[str, ...]


@dataclass(frozen=True)
class TestPods:
    """This run's pod names (unique, so a re-run in one namespace works)."""

    oversized: str
    pinned: str
    spread: str
    """The Deployment's name and ``app`` label."""

    @classmethod
    def new(cls) -> TestPods:
        tag = unique("sched")
        return cls(f"{tag}-{OVERSIZED}", f"{tag}-{PINNED}", f"{tag}-{SPREAD}")


def check_scheduler_places_pods(ctx: CheckContext) -> None:
    """Requests, nodeSelector and anti-affinity are all enforced.

    Raises:
        GuaranteeViolated: naming each pod placed wrongly and the node it
            got (and whether the default scheduler bound it), or the
            scheduler's leader lease when nothing is placed in time.
        CheckSkipped: fewer than two schedulable workers.
    """
    workers = sorted(n.name for n in ctx.topology.workers)
    if len(workers) < 2:
        raise CheckSkipped(
            f"needs two workers for selector and anti-affinity, found "
            f"{len(workers)}"
        )
    target = workers[-1]
    cpu_m, biggest = _largest_allocatable_cpu(ctx.cluster.core())
    request_m = cpu_m + 1000
    names = TestPods.new()
    _create(ctx, names, target, request_m)
    placement = _wait_placed(ctx, names)
    ctx.evidence(
        "scheduler placement",
        {
            "nodes": placement.nodes,
            "failed_scheduling": placement.failed_scheduling,
            "scheduled_by": placement.scheduled_by,
        },
    )
    problems = _oversized_problems(
        placement, names.oversized, request_m, cpu_m, biggest
    )
    problems += _pinned_problems(placement, names.pinned, target)
    problems += _spread_problems(placement, set(workers))
    ctx.measure("misplaced pods", len(problems), "pods", 0)
    if problems:
        raise violated(STEP, "; ".join(problems))


def _largest_allocatable_cpu(core: client.CoreV1Api) -> tuple[int, str]:
    best = (0, "")
    nodes: KubeObject = core.list_node()
    for node in nodes.items:
        cpu = (node.status.allocatable or {}).get("cpu", "0")
        best = max(best, (_millicores(cpu), node.metadata.name))
    return best


def _millicores(quantity: str) -> int:
    if quantity.endswith("m"):
        return int(quantity[:-1])
    return int(float(quantity) * 1000)


def _create(
    ctx: CheckContext, names: TestPods, target: str, request_m: int
) -> None:
    core, ns, image = ctx.cluster.core(), ctx.namespace, ctx.images.workload
    workloads.ensure_service_account(core, ns)
    oversized: KubeObject = workloads.shell_pod(
        names.oversized, image, tolerate_all=True
    )
    oversized["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": f"{request_m}m"}
    }
    pinned: KubeObject = workloads.shell_pod(names.pinned, image)
    pinned["spec"]["nodeSelector"] = {HOSTNAME_LABEL: target}
    core.create_namespaced_pod(ns, oversized)
    core.create_namespaced_pod(ns, pinned)
    spread: KubeObject = workloads.web_deployment(
        names.spread, image, replicas=2, spread=True
    )
    ctx.cluster.apps().create_namespaced_deployment(ns, spread)


def _observe(ctx: CheckContext, names: TestPods) -> Placement:
    core, ns = ctx.cluster.core(), ctx.namespace
    mine = {names.oversized, names.pinned}
    listed: KubeObject = core.list_namespaced_pod(ns)
    pods = [
        p
        for p in listed.items
        if p.metadata.name in mine
        or (p.metadata.labels or {}).get("app") == names.spread
    ]
    events = pod_events(core, ns)
    failed: dict[str, str] = {}
    scheduled_by: dict[str, str] = {}
    for pod in pods:
        for event in events.get(pod.metadata.uid, []):
            if event.reason == "FailedScheduling":
                failed[pod.metadata.name] = str(event.message)
            elif event.reason == "Scheduled":
                scheduled_by[pod.metadata.name] = event_reporter(event)[0]
    return Placement(
        nodes={
            p.metadata.name: p.spec.node_name for p in pods if p.spec.node_name
        },
        failed_scheduling=failed,
        scheduled_by=scheduled_by,
        spread_pods=tuple(
            sorted(
                p.metadata.name
                for p in pods
                if (p.metadata.labels or {}).get("app") == names.spread
            )
        ),
    )


def _settled(placement: Placement, names: TestPods) -> bool:
    oversized = (
        names.oversized in placement.nodes
        or names.oversized in placement.failed_scheduling
    )
    spread = [p for p in placement.spread_pods if p in placement.nodes]
    return oversized and names.pinned in placement.nodes and len(spread) >= 2


def _wait_placed(ctx: CheckContext, names: TestPods) -> Placement:
    last: list[Placement] = []

    def settled() -> Placement | None:
        last[:] = [_observe(ctx, names)]
        return last[0] if _settled(last[0], names) else None

    def describe() -> str:
        seen = last[0] if last else None
        return f"bound {seen.nodes if seen else {}}"

    try:
        placed: Placement = progress.wait_until(
            "scheduler placed the test pods",
            settled,
            TIMEOUT_S,
            POLL_INTERVAL_S,
            describe,
            quiet=True,
        )
    except GuaranteeTimeout as exc:
        raise violated(
            STEP,
            f"pods not placed within {TIMEOUT_S:.0f}s ({exc.last_state}): "
            f"{leader_lease_note(ctx.cluster, 'kube-scheduler')}",
        ) from exc
    return placed


def _binder(placement: Placement, pod: str) -> str:
    by = placement.scheduled_by.get(pod)
    return f"by {by}" if by else "with no Scheduled event from any scheduler"


def _oversized_problems(
    placement: Placement, pod: str, request_m: int, cpu_m: int, biggest: str
) -> list[str]:
    node = placement.nodes.get(pod)
    if node:
        return [
            f"pod {pod} requesting {request_m}m cpu (largest allocatable "
            f"{cpu_m}m on {biggest}) was bound to {node} "
            f"{_binder(placement, pod)}"
        ]
    message = placement.failed_scheduling.get(pod, "")
    if "Insufficient cpu" not in message:
        return [
            f"pod {pod} is Pending but its FailedScheduling does not "
            f"blame cpu: {message!r}"
        ]
    return []


def _pinned_problems(placement: Placement, pod: str, target: str) -> list[str]:
    node = placement.nodes.get(pod)
    if node != target:
        return [
            f"pod {pod} with nodeSelector {HOSTNAME_LABEL}={target} "
            f"landed on {node} {_binder(placement, pod)}"
        ]
    return []


def _spread_problems(placement: Placement, workers: set[str]) -> list[str]:
    placed = {
        p: placement.nodes[p]
        for p in placement.spread_pods
        if p in placement.nodes
    }
    nodes = list(placed.values())
    problems = []
    if len(set(nodes)) < len(nodes):
        problems.append(
            "anti-affinity replicas share a node: "
            + joined(
                f"{p} on {n} {_binder(placement, p)}"
                for p, n in sorted(placed.items())
            )
        )
    off = sorted(f"{p} on {n}" for p, n in placed.items() if n not in workers)
    if off:
        problems.append("replicas off the workers: " + joined(off))
    return problems
