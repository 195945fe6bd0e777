"""ARCH-07's judgement of a placement: pure, so it is unit-tested.

What the scheduler did with the check's pods (``Placement``) is judged
per part against what this cluster's shape allows (``Plan``): resources,
selectors, taints and anti-affinity each yield their findings, and a
part the shape cannot show (no tainted node, fewer than two workers) is
named with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from gauntlet.observe.watch import joined, unique

__all__ = [
    "ANTI_AFFINITY",
    "HOSTNAME_LABEL",
    "RESOURCES",
    "SELECTORS",
    "SPREAD_REPLICAS",
    "TAINTS",
    "Placement",
    "Plan",
    "TestPods",
    "resource_problems",
    "selector_problems",
    "settled",
    "shape_gaps",
    "spread_problems",
    "taint_problems",
]

HOSTNAME_LABEL = "kubernetes.io/hostname"
SPREAD_REPLICAS = 2
RESOURCES = "resources"
SELECTORS = "selectors"
TAINTS = "taints"
ANTI_AFFINITY = "anti-affinity"


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
    tainted: str
    spread: str
    """The Deployment's name and ``app`` label."""

    @classmethod
    def new(cls) -> TestPods:
        tag = unique("sched")
        pods = ("oversized", "pinned", "tainted", "spread")
        return cls(*(f"{tag}-{pod}" for pod in pods))


@dataclass(frozen=True)
class Plan:
    """Where each test pod should (or must not) go on this cluster."""

    request_m: int
    cpu_m: int
    biggest: str
    """The node with the largest allocatable CPU."""
    target: str | None
    """The untainted worker the nodeSelector pod is pinned to."""
    tainted: str | None
    """A node with a NoSchedule/NoExecute taint (not cordoned)."""
    taint: str
    """That taint, ``key:effect``."""
    workers: tuple[str, ...]
    """Untainted workers (anti-affinity needs two)."""
    within_s: float
    """How long the scheduler was given."""


def shape_gaps(plan: Plan) -> dict[str, str]:
    """Part -> why this cluster's shape cannot show it."""
    gaps = {}
    if plan.target is None:
        gaps[SELECTORS] = "no untainted worker to pin a pod to"
    if plan.tainted is None:
        gaps[TAINTS] = "no node has a NoSchedule or NoExecute taint"
    if len(plan.workers) < SPREAD_REPLICAS:
        gaps[ANTI_AFFINITY] = (
            f"needs {SPREAD_REPLICAS} untainted workers, found "
            f"{len(plan.workers)}"
        )
    return gaps


def settled(placement: Placement, names: TestPods, plan: Plan) -> bool:
    """Every pod the plan created was bound or refused by the scheduler."""

    def decided(pod: str) -> bool:
        return pod in placement.nodes or pod in placement.failed_scheduling

    gaps = shape_gaps(plan)
    spread = [p for p in placement.spread_pods if p in placement.nodes]
    return (
        decided(names.oversized)
        and (SELECTORS in gaps or names.pinned in placement.nodes)
        and (TAINTS in gaps or decided(names.tainted))
        and (ANTI_AFFINITY in gaps or len(spread) >= SPREAD_REPLICAS)
    )


def resource_problems(
    seen: Placement, names: TestPods, plan: Plan, late: str
) -> list[str]:
    """The oversized pod must stay Pending, refused for cpu."""
    pod = names.oversized
    node = seen.nodes.get(pod)
    if node:
        return [
            f"pod {pod} requesting {plan.request_m}m cpu (largest allocatable "
            f"{plan.cpu_m}m on {plan.biggest}) was bound to {node} "
            f"{_binder(seen, pod)}"
        ]
    return _refusal_problems(seen, pod, plan, late, "Insufficient cpu", "cpu")


def selector_problems(
    seen: Placement, names: TestPods, plan: Plan, late: str
) -> list[str]:
    """The pinned pod must land on its node."""
    pod, target = names.pinned, plan.target
    node = seen.nodes.get(pod)
    selector = f"nodeSelector {HOSTNAME_LABEL}={target}"
    if node is None:
        why = seen.failed_scheduling.get(pod)
        detail = f"FailedScheduling {why!r}" if why else late
        return [
            f"pod {pod} with {selector} not bound within "
            f"{plan.within_s:.0f}s: {detail}"
        ]
    if node != target:
        by = _binder(seen, pod)
        return [f"pod {pod} with {selector} landed on {node} {by}"]
    return []


def taint_problems(
    seen: Placement, names: TestPods, plan: Plan, late: str
) -> list[str]:
    """The pod pinned to a tainted node, not tolerating it, stays
    Pending, refused for the taint."""
    pod = names.tainted
    node = seen.nodes.get(pod)
    if node:
        return [
            f"pod {pod} pinned to {plan.tainted} without tolerating its "
            f"taint {plan.taint} was bound to {node} {_binder(seen, pod)}"
        ]
    return _refusal_problems(
        seen, pod, plan, late, "taint", f"the taint of {plan.tainted}"
    )


def spread_problems(
    seen: Placement, names: TestPods, plan: Plan, late: str
) -> list[str]:
    """Placed replicas must be on different untainted workers (whether
    they were all created is the chain's question, asked by the check)."""
    placed = {p: seen.nodes[p] for p in seen.spread_pods if p in seen.nodes}
    problems = []
    nodes = list(placed.values())
    if len(set(nodes)) < len(nodes):
        problems.append(
            "anti-affinity replicas share a node: "
            + joined(
                f"{p} on {n} {_binder(seen, p)}"
                for p, n in sorted(placed.items())
            )
        )
    off = sorted(
        f"{p} on {n}" for p, n in placed.items() if n not in plan.workers
    )
    if off:
        problems.append("replicas off the workers: " + joined(off))
    return problems


def _refusal_problems(
    seen: Placement, pod: str, plan: Plan, late: str, needle: str, what: str
) -> list[str]:
    if pod not in seen.failed_scheduling:
        return [
            f"pod {pod} neither bound nor refused with FailedScheduling "
            f"within {plan.within_s:.0f}s: {late}"
        ]
    message = seen.failed_scheduling[pod]
    if needle not in message:
        return [
            f"pod {pod} is Pending but its FailedScheduling does not "
            f"blame {what}: {message!r}"
        ]
    return []


def _binder(placement: Placement, pod: str) -> str:
    by = placement.scheduled_by.get(pod)
    return f"by {by}" if by else "with no Scheduled event from any scheduler"
