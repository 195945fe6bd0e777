"""RES-09 and RES-10: the planned disruptions, drain and leave-and-join.

Availability is measured twice: the Deployment's ``availableReplicas`` as
the API published it (watched, so every version counts) and the success
rate of a client pod on a node that stays, which fetches through the
Service every 0.5 s.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import Any

from kubernetes import utils
from kubernetes.client.exceptions import ApiException

from gauntlet import progress
from gauntlet.checks.chaos import _support, states, web
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.cluster import drain, workloads
from gauntlet.errors import GuaranteeViolated
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.watch import Seen, Watcher

__all__ = [
    "DRAIN_TIMEOUT_S",
    "READY_BOUND_S",
    "REGISTER_TIMEOUT_S",
    "check_drain_respects_budgets",
    "check_leave_and_join",
    "fewest_available",
    "rejoin_finding",
]

REPLICAS = 3
MIN_AVAILABLE = 2
DRAIN_TIMEOUT_S = 120.0
MOVE_TIMEOUT_S = 60.0
REGISTER_TIMEOUT_S = 90.0
"""How long the check waits from the kubelet's start to its node Ready
again (longer than the bound, so a slow join is measured, not lost)."""
READY_BOUND_S = 60.0
"""kube-controller-manager's default ``--node-startup-grace-period``
(1m): how long the control plane itself lets a starting node go without
reporting before it marks it unhealthy, so a joining node must be Ready
by then. The lab measures about 10-20 s."""
PIN_TIMEOUT_S = 60.0
GONE_TIMEOUT_S = 30.0
LEAVE_S = GONE_TIMEOUT_S + 15.0
"""How long the worker's kubelet stays stopped: its Node is deleted and
seen gone meanwhile; then the node starts the kubelet itself."""
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

    Parts: drain finishes, budget holds, Service keeps answering, pods
    run elsewhere.

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
        moved = None
        if result.complete:
            moved = _support.attempt(functools.partial(_moved, ctx, victim))
        ended = time.time()
        versions = watch.history("web")
    budget = _budget_state(ctx)
    ok, total = web.service_log(ctx, began, ended)
    _support.restore(ledger)
    ctx.measure("seconds to drain the worker", result.seconds, "s", since=began)
    ctx.measure("evictions refused by the budget", result.refused, "")
    with ctx.part("drain finishes") as part:
        if not result.complete:
            part.finding(
                f"drain did not finish within {timeout_s:.0f}s: "
                f"{', '.join(result.remaining)} still there after "
                f"{result.refused} refused evictions ({budget})"
            )
    with ctx.part("budget holds") as part:
        lowest = fewest_available(versions, began, ended)
        ctx.measure("fewest available replicas during the drain", lowest, "")
        if lowest < MIN_AVAILABLE:
            part.finding(
                f"only {lowest} of {REPLICAS} replicas available during the "
                f"drain (budget minAvailable {MIN_AVAILABLE})"
            )
    web.judge_service(
        ctx,
        "Service keeps answering",
        ok,
        total,
        "during the drain",
        "during the drain",
    )
    with ctx.part("pods run elsewhere"):
        if moved is None:
            raise CheckSkipped("the drain did not finish: no move to await")
        _support.settle(moved)
    ctx.conclude(f"draining {victim}")


def fewest_available(
    versions: Sequence[Seen], began: float, ended: float
) -> int:
    """The fewest ``availableReplicas`` a watched Deployment published in
    ``[began, ended]``, counting the version in force at ``began``: a
    window without a change still had that state.

    Raises:
        CheckSkipped: the watch never saw the Deployment by ``ended``.
    """
    before = [v for v in versions if v.at < began]
    seen = before[-1:] + [v for v in versions if began <= v.at <= ended]
    if not seen:
        raise CheckSkipped("the watch never saw the Deployment")
    return min(
        0 if v.kind == "DELETED" else int(v.obj.status.available_replicas or 0)
        for v in seen
    )


def check_leave_and_join(
    ctx: CheckContext,
    ledger: FaultLedger,
    register_timeout_s: float = REGISTER_TIMEOUT_S,
) -> None:
    """RES-10: a worker is drained, stopped and deleted, then its kubelet
    starts again: the node registers, turns Ready and takes a pod, while
    the workload elsewhere keeps answering.

    The kubelet is stopped for ``LEAVE_S`` and its node starts it again
    itself (the pod backend cannot reach a node without its kubelet);
    Ready is timed from the moment the node did.

    Parts: Ready in time after joining (``READY_BOUND_S``), schedulable
    again, no downtime elsewhere.

    Raises:
        GuaranteeViolated: the node did not come back Ready in time and
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
        gone = _support.outage(
            ledger,
            victim,
            "kubelet",
            LEAVE_S,
            f"stop kubelet on {victim} for {LEAVE_S:g}s and delete its Node",
            kinds.start_component(access, victim, "kubelet"),
            lambda: _leave(ctx, access, victim),
        )
        # The node starts its kubelet again itself: the join is timed
        # from the moment it did.
        started = _support.outage_over(ctx, ledger, access, gone).ended_at
        ready = _support.attempt(
            functools.partial(
                _ready_after, nodes, victim, started, register_timeout_s
            )
        )
        pinned: float | GuaranteeViolated | None = None
        if not isinstance(ready, GuaranteeViolated):
            _label(ctx, victim, roles)
            pinned = _support.attempt(
                functools.partial(_pin_pod, ctx, victim, nodes)
            )
        ended = time.time()
    ok, total = web.service_log(ctx, began, ended)
    _support.restore(ledger)
    with ctx.part("Ready in time after joining") as part:
        seconds = _support.settle(ready)
        ctx.measure(
            "seconds from kubelet start to Ready",
            seconds,
            "s",
            READY_BOUND_S,
            since=started,
        )
        finding = rejoin_finding(victim, seconds)
        if finding:
            part.finding(finding)
    with ctx.part("schedulable again"):
        if pinned is None:
            raise CheckSkipped(f"{victim} never turned Ready: no pod to pin")
        seconds = _support.settle(pinned)
        ctx.measure("seconds to run a pod on the rejoined node", seconds, "s")
    with ctx.part("no downtime elsewhere") as part:
        if total:
            ratio = 100 * ok / total
            ctx.measure(
                "Service success while the worker left and joined", ratio, "%"
            )
        finding = web.service_finding(ok, total, f"on {stays}")
        if finding:
            part.finding(finding)
    ctx.conclude(f"{victim} left and joined")


def rejoin_finding(node: str, seconds: float) -> str | None:
    """A finding when ``node`` turned Ready later than ``READY_BOUND_S``
    after its kubelet started."""
    if seconds <= READY_BOUND_S:
        return None
    return (
        f"{node} turned Ready {seconds:.0f}s after its kubelet's start "
        f"(bound {READY_BOUND_S:.0f}s, the node startup grace period)"
    )


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


def _web_pods(ctx: CheckContext) -> dict[str, str]:
    """web pod -> node, of the pods whose container is ready."""
    pods: list[Any] = workloads.pods_of(
        ctx.cluster.core(), ctx.namespace, "web"
    )
    return {
        str(p.metadata.name): str(p.spec.node_name)
        for p in pods
        if any(c.ready for c in p.status.container_statuses or [])
    }


def _moved(ctx: CheckContext, victim: str) -> dict[str, str]:
    """web pods once all ``REPLICAS`` are ready off ``victim``.

    Raises:
        GuaranteeTimeout: not within ``MOVE_TIMEOUT_S``, with each web
            pod's node, phase and readiness.
    """

    def settled() -> dict[str, str] | None:
        placed = _web_pods(ctx)
        if len(placed) == REPLICAS and victim not in placed.values():
            return placed
        return None

    found: dict[str, str] = progress.wait_until(
        f"{REPLICAS} web pods ready off {victim}",
        settled,
        MOVE_TIMEOUT_S,
        1.0,
        functools.partial(states.pods_state, ctx, "web"),
        quiet=True,
    )
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
    """Stop the kubelet for ``LEAVE_S``, delete the Node, wait until it
    is gone."""
    core = ctx.cluster.core()
    access.stop(victim, "kubelet", for_s=LEAVE_S)
    core.delete_node(victim)

    def gone() -> bool:
        try:
            core.read_node(victim)
        except ApiException as exc:
            if exc.status == 404:
                return True
            raise  # kept by wait_until as the last observed state
        return False

    progress.wait_until(f"node {victim} deleted", gone, GONE_TIMEOUT_S, 0.5)


def _ready_after(
    nodes: Watcher, victim: str, started: float, timeout_s: float
) -> float:
    """Seconds from ``started`` until the API published ``victim`` Ready.

    Raises:
        GuaranteeTimeout: not within ``timeout_s``, with the node's last
            conditions (or that no Node object exists).
    """

    def ready() -> float | None:
        for seen in nodes.history(victim):
            if (
                seen.at >= started
                and seen.kind != "DELETED"
                and workloads.node_is_ready(seen.obj)
            ):
                return seen.at - started
        return None

    return float(
        nodes.wait(
            f"{victim} registered and Ready after its kubelet's start",
            ready,
            timeout_s,
            0.5,
            lambda: states.node_state(nodes.latest().get(victim)),
        )
    )


def _label(ctx: CheckContext, node: str, labels: dict[str, str]) -> None:
    """Role labels are the admin's (a kubelet may not set them): as an
    admin joining a node would, put them back."""
    if labels:
        ctx.cluster.core().patch_node(node, {"metadata": {"labels": labels}})


def _pin_pod(ctx: CheckContext, node: str, nodes: Watcher) -> float:
    """Seconds until a pod that may only run on ``node`` runs there.

    Raises:
        GuaranteeTimeout: not within ``PIN_TIMEOUT_S``, with the pod's
            phase and the node's conditions.
    """
    core = ctx.cluster.core()
    manifest = workloads.shell_pod("pinned", ctx.images.workload)
    manifest["spec"]["nodeSelector"] = {"kubernetes.io/hostname": node}
    start = time.monotonic()
    core.create_namespaced_pod(ctx.namespace, manifest)  # type: ignore[arg-type]

    def running() -> bool:
        pod: Any = core.read_namespaced_pod("pinned", ctx.namespace)
        return bool(pod.status.phase == "Running")

    def state() -> str:
        pod = core.read_namespaced_pod("pinned", ctx.namespace)
        seen = nodes.latest().get(node)
        return f"{states.pod_state(pod)}; {states.node_state(seen)}"

    progress.wait_until(
        f"a pod pinned to {node} running",
        running,
        PIN_TIMEOUT_S,
        1.0,
        state,
        quiet=True,
    )
    return time.monotonic() - start
