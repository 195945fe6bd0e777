"""ARCH-07: the scheduler places by resources, selectors and taints.

Four placements are asked for at once, one part each: a pod requesting
more CPU than any node's allocatable (tolerating every taint, so CPU is
the only obstacle) must stay Pending with ``FailedScheduling``
(resources); a pod with a ``kubernetes.io/hostname`` nodeSelector must
land on that untainted worker (selectors); a pod pinned to a tainted node
without a toleration must stay Pending with a ``FailedScheduling`` that
names the taint (taints); a two-replica Deployment with required pod
anti-affinity must land on two different workers (anti-affinity). A part
this cluster's shape cannot show is not applicable, with the reason. A
Deployment whose pods never come says which link broke (no ReplicaSet,
no pods, or pods not scheduled) instead of blaming the scheduler.
"""

from __future__ import annotations

from collections.abc import Callable

from kubernetes import client

from gauntlet import progress
from gauntlet.checks.arch._chain import deployment_chain, why_not_within
from gauntlet.checks.arch._placement import (
    ANTI_AFFINITY,
    HOSTNAME_LABEL,
    RESOURCES,
    SELECTORS,
    SPREAD_REPLICAS,
    TAINTS,
    Placement,
    Plan,
    TestPods,
    resource_problems,
    selector_problems,
    settled,
    shape_gaps,
    spread_problems,
    taint_problems,
)
from gauntlet.checks.context import CheckContext
from gauntlet.cluster import workloads
from gauntlet.errors import GuaranteeTimeout
from gauntlet.observe.watch import (
    KubeObject,
    event_reporter,
    leader_lease_note,
    pod_events,
)

POLL_INTERVAL_S = 0.5
TIMEOUT_S = 30.0
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")
STEP = "scheduler placement"
SCHEDULER = "kube-scheduler"

Judge = Callable[[Placement, TestPods, Plan, str], list[str]]
JUDGES: tuple[tuple[str, Judge], ...] = (
    (RESOURCES, resource_problems),
    (SELECTORS, selector_problems),
    (TAINTS, taint_problems),
    (ANTI_AFFINITY, spread_problems),
)


def check_scheduler_places_pods(ctx: CheckContext) -> None:
    """Requests, nodeSelector, taints and anti-affinity are all enforced.

    Raises:
        GuaranteeViolated: naming each pod placed wrongly and the node it
            got (and whether the default scheduler bound it), or the link
            of the chain that broke when a pod was never placed.
        CheckSkipped: no part could be observed.
    """
    control = {n.name for n in ctx.topology.control_planes}
    plan = _plan(ctx.cluster.core(), control)
    names = TestPods.new()
    gaps = shape_gaps(plan)
    _create(ctx, names, plan, gaps)
    placement, in_time = _wait_placed(ctx, names, plan)
    ctx.evidence(
        "scheduler placement",
        {
            "nodes": placement.nodes,
            "failed_scheduling": placement.failed_scheduling,
            "scheduled_by": placement.scheduled_by,
        },
    )
    late = "" if in_time else leader_lease_note(ctx.cluster, SCHEDULER)
    misplaced = 0
    for name, judge in JUDGES:
        if name in gaps:
            ctx.not_applicable(name, gaps[name])
            continue
        with ctx.part(name) as part:
            if name == ANTI_AFFINITY:
                _spread_arrived(ctx, placement, names.spread, part.finding)
            for text in judge(placement, names, plan, late):
                part.finding(text)
            misplaced += len(part.findings)
    ctx.measure("misplaced pods", misplaced, "pods", 0)
    ctx.conclude(STEP)


def _plan(core: client.CoreV1Api, control: set[str]) -> Plan:
    """Targets from the nodes as they are now (taints change)."""
    listed: KubeObject = core.list_node()
    cpu_m, biggest = 0, ""
    workers, tainted = [], []
    for node in sorted(listed.items, key=lambda n: n.metadata.name):
        name = node.metadata.name
        cpu = (node.status.allocatable or {}).get("cpu", "0")
        cpu_m, biggest = max((cpu_m, biggest), (_millicores(cpu), name))
        taints = _blocking_taints(node)
        if not taints and name not in control:
            workers.append(name)
        elif taints and not node.spec.unschedulable:
            tainted.append((name, taints[0]))
    return Plan(
        request_m=cpu_m + 1000,
        cpu_m=cpu_m,
        biggest=biggest,
        target=workers[-1] if workers else None,
        tainted=tainted[0][0] if tainted else None,
        taint=tainted[0][1] if tainted else "",
        workers=tuple(workers),
        within_s=TIMEOUT_S,
    )


def _blocking_taints(node: KubeObject) -> list[str]:
    return [
        f"{t.key}:{t.effect}"
        for t in (node.spec.taints or [] if node.spec else [])
        if t.effect in BLOCKING_EFFECTS and t.key != UNSCHEDULABLE_TAINT
    ]


def _millicores(quantity: str) -> int:
    if quantity.endswith("m"):
        return int(quantity[:-1])
    return int(float(quantity) * 1000)


def _create(
    ctx: CheckContext, names: TestPods, plan: Plan, gaps: dict[str, str]
) -> None:
    core, ns, image = ctx.cluster.core(), ctx.namespace, ctx.images.workload
    workloads.ensure_service_account(core, ns)
    oversized: KubeObject = workloads.shell_pod(
        names.oversized, image, tolerate_all=True
    )
    oversized["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": f"{plan.request_m}m"}
    }
    core.create_namespaced_pod(ns, oversized)
    pinned = {
        SELECTORS: (names.pinned, plan.target),
        TAINTS: (names.tainted, plan.tainted),
    }
    for part, (pod, node) in pinned.items():
        if part in gaps:
            continue
        body: KubeObject = workloads.shell_pod(pod, image)
        body["spec"]["nodeSelector"] = {HOSTNAME_LABEL: node}
        core.create_namespaced_pod(ns, body)
    if ANTI_AFFINITY not in gaps:
        spread: KubeObject = workloads.web_deployment(
            names.spread, image, replicas=SPREAD_REPLICAS, spread=True
        )
        ctx.cluster.apps().create_namespaced_deployment(ns, spread)


def _observe(ctx: CheckContext, names: TestPods) -> Placement:
    core, ns = ctx.cluster.core(), ctx.namespace
    mine = {names.oversized, names.pinned, names.tainted}
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
                and p.metadata.deletion_timestamp is None
            )
        ),
    )


def _wait_placed(
    ctx: CheckContext, names: TestPods, plan: Plan
) -> tuple[Placement, bool]:
    """The placement once settled, else the last one seen (and False):
    each part then judges what it got."""
    last: list[Placement] = []

    def done() -> Placement | None:
        last[:] = [_observe(ctx, names)]
        return last[0] if settled(last[0], names, plan) else None

    try:
        placed: Placement = progress.wait_until(
            "scheduler placed the test pods",
            done,
            TIMEOUT_S,
            POLL_INTERVAL_S,
            lambda: f"bound {last[0].nodes if last else {}}",
            quiet=True,
        )
    except GuaranteeTimeout:
        return (last[0] if last else _observe(ctx, names)), False
    return placed, True


def _spread_arrived(
    ctx: CheckContext,
    placement: Placement,
    name: str,
    finding: Callable[[str], None],
) -> None:
    """Fewer replicas placed than asked: say which link of the chain
    (Deployment, ReplicaSet, scheduler) broke."""
    placed = [p for p in placement.spread_pods if p in placement.nodes]
    if len(placed) >= SPREAD_REPLICAS:
        return
    chain = deployment_chain(ctx, name, SPREAD_REPLICAS, "scheduled")
    why = why_not_within(ctx, chain, "scheduled", TIMEOUT_S)
    finding(
        f"deployment {name}: "
        + (why or f"{len(placed)} of {SPREAD_REPLICAS} replicas placed")
    )
