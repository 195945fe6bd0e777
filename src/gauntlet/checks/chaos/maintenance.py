"""RES-09 and RES-10: the planned disruptions, drain and leave-and-join.

Availability is measured twice: the Deployment's ``availableReplicas`` as
the API published it (watched, so every version counts) and the success
rate of a client pod on a node that stays, which fetches through the
Service every 0.5 s.
"""

from __future__ import annotations

import time
from typing import Any

from kubernetes import utils
from kubernetes.client.exceptions import ApiException

from gauntlet import progress
from gauntlet.checks.chaos import _support, web
from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.cluster import drain, workloads
from gauntlet.errors import GuaranteeTimeout
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.watch import Watcher

__all__ = [
    "DRAIN_TIMEOUT_S",
    "REGISTER_TIMEOUT_S",
    "check_drain_respects_budgets",
    "check_leave_and_join",
]

REPLICAS = 3
MIN_AVAILABLE = 2
DRAIN_TIMEOUT_S = 120.0
MOVE_TIMEOUT_S = 60.0
SERVICE_MIN_RATIO = 0.95
REGISTER_TIMEOUT_S = 90.0
"""From the kubelet's start to its node Ready again."""
PIN_TIMEOUT_S = 60.0
GONE_TIMEOUT_S = 30.0
ROLE_PREFIX = "node-role.kubernetes.io/"


def _workers(ctx: CheckContext) -> list[str]:
    workers = sorted(n.name for n in ctx.topology.workers)
    if len(workers) < 2:
        raise CheckSkipped(f"{len(workers)} workers: need 2 to move work")
    return workers


def _most_loaded(placed: dict[str, str], workers: list[str]) -> str:
    """The worker running the most of ``placed`` (ties: the last name)."""
    return max(workers, key=lambda w: (list(placed.values()).count(w), w))


def check_drain_respects_budgets(
    ctx: CheckContext,
    ledger: FaultLedger,
    timeout_s: float = DRAIN_TIMEOUT_S,
) -> None:
    """RES-09: draining the worker that runs most of a 3-replica
    Deployment guarded by ``minAvailable: 2`` never drops below 2
    available replicas, keeps its Service answering and moves the pods.

    Raises:
        GuaranteeViolated: the drain did not finish, the budget was
            broken, the Service failed, or the pods did not move.
        CheckSkipped: fewer than 2 workers.
    """
    workers = _workers(ctx)
    web.deploy_web(ctx, replicas=REPLICAS, spread=False)
    utils.create_from_dict(  # type: ignore[no-untyped-call]
        ctx.cluster.api,
        workloads.disruption_budget("web", MIN_AVAILABLE),
        namespace=ctx.namespace,
    )
    placed = _web_pods(ctx)
    victim = _most_loaded(placed, workers)
    stays = next(w for w in workers if w != victim)
    web.start_service_client(ctx, "web", stays)
    apps = ctx.cluster.apps()
    with Watcher(apps.list_namespaced_deployment, ctx.namespace) as watch:
        began = time.time()
        result = _cordon_and_drain(ctx, ledger, victim, timeout_s)
        moved = _moved(ctx, victim) if result.complete else None
        ended = time.time()
        available = [
            int(s.obj.status.available_replicas or 0)
            for s in watch.history("web")
            if began <= s.at <= ended
        ]
    budget = _budget_state(ctx)
    ok, total = web.service_log(ctx, began, ended)
    _support.restore(ledger)
    lowest = min(available, default=REPLICAS)
    ratio = ok / total if total else 0.0
    ctx.measure("seconds to drain the worker", result.seconds, "s")
    ctx.measure("evictions refused by the budget", result.refused, "")
    ctx.measure("fewest available replicas during the drain", lowest, "")
    ctx.measure("Service success during the drain", 100 * ratio, "%")
    problems = []
    if not result.complete:
        problems.append(
            f"drain did not finish within {timeout_s:.0f}s: "
            f"{', '.join(result.remaining)} still there after "
            f"{result.refused} refused evictions ({budget})"
        )
    if lowest < MIN_AVAILABLE:
        problems.append(
            f"only {lowest} of {REPLICAS} replicas available during the drain"
            f" (budget minAvailable {MIN_AVAILABLE})"
        )
    if ratio < SERVICE_MIN_RATIO:
        problems.append(
            f"the Service answered {ok} of {total} requests during the drain"
        )
    if result.complete and moved is None:
        problems.append(
            f"web pods did not run elsewhere within {MOVE_TIMEOUT_S:.0f}s: "
            f"{_web_pods(ctx, ready=False)}"
        )
    if problems:
        raise violated(f"draining {victim}", "; ".join(problems))


def check_leave_and_join(
    ctx: CheckContext,
    ledger: FaultLedger,
    register_timeout_s: float = REGISTER_TIMEOUT_S,
) -> None:
    """RES-10: a worker is drained, stopped and deleted, then its kubelet
    starts again: the node registers, turns Ready and takes a pod, while
    the workload elsewhere keeps answering.

    Raises:
        GuaranteeViolated: the node did not come back Ready and
            schedulable, or the Service failed meanwhile.
        CheckSkipped: fewer than 2 workers or no node access.
    """
    access = ctx.require_nodes("removing a worker")
    workers = _workers(ctx)
    core = ctx.cluster.core()
    placed = web.deploy_web(ctx)
    victim = _most_loaded(placed, workers)
    stays = next(w for w in workers if w != victim)
    web.start_service_client(ctx, "web", stays)
    before: Any = core.read_node(victim)
    roles = {
        k: v
        for k, v in (before.metadata.labels or {}).items()
        if k.startswith(ROLE_PREFIX)
    }
    with Watcher(core.list_node) as nodes:
        began = time.time()
        _cordon_and_drain(ctx, ledger, victim, DRAIN_TIMEOUT_S)
        _support.inject(
            ledger,
            f"stop kubelet on {victim} and delete its Node",
            kinds.start_component(access, victim, "kubelet"),
            lambda: _leave(ctx, access, victim),
        )
        started = time.time()
        access.start(victim, "kubelet")
        ready = _ready_after(nodes, victim, started, register_timeout_s)
        pinned = None
        if ready is not None:
            _label(ctx, victim, roles)
            pinned = _pin_pod(ctx, victim)
        ended = time.time()
        node = nodes.latest().get(victim)
    ok, total = web.service_log(ctx, began, ended)
    _support.restore(ledger)
    ratio = ok / total if total else 0.0
    ctx.measure(
        "Service success while the worker left and joined", 100 * ratio, "%"
    )
    problems = []
    if ready is None:
        problems.append(
            f"{victim} did not register and turn Ready within "
            f"{register_timeout_s:.0f}s of its kubelet's start "
            f"({_node_state(node)})"
        )
    else:
        ctx.measure("seconds from kubelet start to Ready", ready, "s")
        if pinned is None:
            problems.append(
                f"a pod pinned to {victim} did not run within "
                f"{PIN_TIMEOUT_S:.0f}s ({_node_state(node)})"
            )
        else:
            ctx.measure(
                "seconds to run a pod on the rejoined node", pinned, "s"
            )
    if ratio < SERVICE_MIN_RATIO:
        problems.append(
            f"the Service answered {ok} of {total} requests on {stays}"
        )
    if problems:
        raise violated(f"{victim} left and joined", "; ".join(problems))


# -- steps --------------------------------------------------------------------


def _cordon_and_drain(
    ctx: CheckContext, ledger: FaultLedger, node: str, timeout_s: float
) -> drain.DrainResult:
    """Cordon (undone by the ledger) and drain ``node``."""
    core = ctx.cluster.core()
    _support.inject(
        ledger,
        f"cordon {node}",
        kinds.uncordon(ctx.cluster, node),
        lambda: drain.cordon(core, node),
    )
    return drain.drain(core, node, timeout_s)


def _web_pods(ctx: CheckContext, ready: bool = True) -> dict[str, str]:
    """web pod -> node (with ``ready``, only pods whose container is)."""
    pods: list[Any] = workloads.pods_of(
        ctx.cluster.core(), ctx.namespace, "web"
    )
    return {
        str(p.metadata.name): str(p.spec.node_name)
        for p in pods
        if not ready or any(c.ready for c in p.status.container_statuses or [])
    }


def _moved(ctx: CheckContext, victim: str) -> dict[str, str] | None:
    """web pods once all ``REPLICAS`` are ready off ``victim``."""

    def settled() -> dict[str, str] | None:
        placed = _web_pods(ctx)
        if len(placed) == REPLICAS and victim not in placed.values():
            return placed
        return None

    try:
        found: dict[str, str] = progress.wait_until(
            "web pods ready elsewhere", settled, MOVE_TIMEOUT_S, 1.0, quiet=True
        )
    except GuaranteeTimeout:  # reported by the caller
        return None
    return found


def _budget_state(ctx: CheckContext) -> str:
    """What the budget allowed, for the message."""
    try:
        pdb: Any = ctx.cluster.policy().read_namespaced_pod_disruption_budget(
            "web", ctx.namespace
        )
    except ApiException as exc:
        return f"budget unreadable: {exc.status} {exc.reason}"
    status = pdb.status
    if status is None or status.observed_generation is None:
        return "budget web never processed by the disruption controller"
    return (
        f"budget web allows {status.disruptions_allowed} disruptions, "
        f"{status.current_healthy} of {status.desired_healthy} healthy"
    )


def _leave(ctx: CheckContext, access: NodeAccess, victim: str) -> None:
    """Stop the kubelet, delete the Node, wait until it is gone."""
    core = ctx.cluster.core()
    access.stop(victim, "kubelet")
    core.delete_node(victim)

    def gone() -> bool:
        try:
            core.read_node(victim)
        except ApiException as exc:
            return bool(exc.status == 404)
        return False

    progress.wait_until(f"node {victim} deleted", gone, GONE_TIMEOUT_S, 0.5)


def _ready_after(
    nodes: Watcher, victim: str, started: float, timeout_s: float
) -> float | None:
    def ready() -> float | None:
        for seen in nodes.history(victim):
            if (
                seen.at >= started
                and seen.kind != "DELETED"
                and workloads.node_is_ready(seen.obj)
            ):
                return seen.at - started
        return None

    try:
        return float(nodes.wait(f"{victim} Ready again", ready, timeout_s, 0.5))
    except GuaranteeTimeout:  # reported by the caller
        return None


def _label(ctx: CheckContext, node: str, labels: dict[str, str]) -> None:
    """Role labels are the admin's (a kubelet may not set them): as an
    admin joining a node would, put them back."""
    if labels:
        ctx.cluster.core().patch_node(node, {"metadata": {"labels": labels}})


def _pin_pod(ctx: CheckContext, node: str) -> float | None:
    """Seconds until a pod that may only run on ``node`` runs there."""
    core = ctx.cluster.core()
    manifest = workloads.shell_pod("pinned", ctx.images.workload)
    manifest["spec"]["nodeSelector"] = {"kubernetes.io/hostname": node}
    start = time.monotonic()
    core.create_namespaced_pod(ctx.namespace, manifest)  # type: ignore[arg-type]
    try:
        workloads.wait_pod_running(core, ctx.namespace, "pinned", PIN_TIMEOUT_S)
    except GuaranteeTimeout:  # reported by the caller
        return None
    return time.monotonic() - start


def _node_state(node: Any) -> str:
    if node is None:
        return "no Node object"
    conditions = {c.type: c.status for c in node.status.conditions or []}
    taints = [t.key for t in node.spec.taints or []]
    return (
        f"Ready={conditions.get('Ready', 'missing')}, "
        f"unschedulable={bool(node.spec.unschedulable)}, taints={taints}"
    )
