"""RES-06, RES-07, RES-08: the control plane goes away, partly or whole.

kube-apiserver is crashed before it is stopped (``_support.stop_now``):
a graceful stop drains for up to 15 s, and the outage is the point.
RES-08's bound is read from the components' configured leader election
(``election``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from gauntlet import progress
from gauntlet.checks.chaos import _support, election, web, writes
from gauntlet.checks.context import CheckContext, CheckSkipped
from gauntlet.cluster import workloads
from gauntlet.cluster.discovery import NO_CONTROL_PLANE_NODE
from gauntlet.errors import GuaranteeViolated
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.watch import Seen, Watcher

__all__ = [
    "check_apiserver_loss",
    "check_control_plane_blackout",
    "check_leader_failover",
]

COMPONENTS = (
    "kube-scheduler",
    "kube-controller-manager",
    "kube-apiserver",
    "etcd",
)
LEADER_ELECTED = (
    ("kube-scheduler", "kube-scheduler"),
    ("kube-controller-manager", "kube-controller-manager"),
)
"""(Lease in kube-system, component) in the order they are failed over."""
BLACKOUT_S = 20.0
APISERVER_DOWN_S = 8.0
MAX_WRITE_GAP_S = 2.0
TAKEOVER_TIMEOUT_S = 60.0
API_DOWN_TIMEOUT_S = 3.0


def _planes(ctx: CheckContext) -> list[str]:
    planes = sorted(n.name for n in ctx.topology.control_planes)
    if not planes:
        raise CheckSkipped(NO_CONTROL_PLANE_NODE)
    return planes


def check_control_plane_blackout(
    ctx: CheckContext, ledger: FaultLedger, members: int
) -> None:
    """RES-06: with every control-plane component stopped, workload pods
    keep answering through their Service and none restarts.

    Parts: API unavailable, Service keeps answering, pods unchanged.

    Raises:
        GuaranteeViolated: the Service answered less than 95 % of
            requests, a pod restarted or was replaced, or the API still
            accepted a write during the blackout.
    """
    access = ctx.require_nodes("stopping the control plane")
    planes = _planes(ctx)
    placed = web.deploy_web(ctx)
    web.start_service_client(ctx, "web", sorted(set(placed.values()))[0])
    pods = web.pod_snapshot(ctx, "web")
    began = time.time()
    with ThreadPoolExecutor(max_workers=len(planes)) as pool:
        for component in COMPONENTS:
            stop = _stop_now if component == "kube-apiserver" else _stop
            jobs = [
                pool.submit(
                    _support.inject,
                    ledger,
                    f"stop {component} on {node}",
                    kinds.start_component(access, node, component),
                    functools.partial(stop, access, node, component),
                )
                for node in planes
            ]
            for job in jobs:
                job.result()
    dark = time.time()
    api_writable = _writable(ctx)
    time.sleep(BLACKOUT_S)
    ended = time.time()
    _support.restore(ledger)
    restarted = time.time()
    recovery = _support.wait_control_plane_healthy(ctx, members)
    ok, total = web.service_log(ctx, dark, ended)
    after = web.pod_snapshot_synced(ctx, "web", pods)
    ctx.measure(
        "seconds to stop the control plane", dark - began, "s", since=began
    )
    ctx.measure(
        "seconds until the API is back after restart",
        recovery,
        "s",
        since=restarted,
    )
    with ctx.part("API unavailable") as part:
        if api_writable:
            part.finding("the API accepted a write with everything stopped")
    web.judge_service(
        ctx,
        "Service keeps answering",
        ok,
        total,
        "during the blackout",
        "in the blackout",
    )
    with ctx.part("pods unchanged") as part:
        if after != pods:
            part.finding(f"pods changed: {pods} -> {after}")
    ctx.conclude("control plane stopped")


def check_apiserver_loss(
    ctx: CheckContext, ledger: FaultLedger, members: int
) -> None:
    """RES-07: with one kube-apiserver of several down, the API stays
    writable through the others and through the kubeconfig's server.

    The API server is down for ``APISERVER_DOWN_S``: its node starts it
    again itself (the pod backend's exec may run through it), and writes
    are judged over the window the node recorded.

    Parts: writes through the balancer keep succeeding, remaining API
    servers accept writes.

    Raises:
        GuaranteeViolated: writes stopped for more than 2 s, or a
            remaining API server refused a write.
        CheckSkipped: fewer than 2 API servers.
    """
    access = ctx.require_nodes("stopping an API server")
    endpoints = _support.apiserver_urls(ctx)
    if len(endpoints) < 2:
        raise CheckSkipped(f"{len(endpoints)} API server: no HA to test")
    victim = sorted(endpoints)[0]
    lb = {"lb": ctx.cluster.server}
    with writes.recording(ctx, lb, reads=False, pause_s=0.1) as recorder:
        time.sleep(_support.BASELINE_S)
        outage = _support.stop_for(
            ledger,
            access,
            victim,
            "kube-apiserver",
            APISERVER_DOWN_S,
            now=True,
        )
        others = {n: u for n, u in endpoints.items() if n != victim}
        refused = [n for n, url in others.items() if not _writable(ctx, url)]
        ended = _support.outage_over(ctx, ledger, access, outage)
    down, up = _support.fault_window(ended)
    _support.restore(ledger)
    _support.wait_control_plane_healthy(ctx, members)
    stats = writes.write_stats(recorder.ops, down, up)
    with ctx.part("writes through the balancer keep succeeding") as part:
        gap = writes.longest_gap_s(stats, f"with {victim}'s API server down")
        ctx.measure(
            "longest write gap, one API server down",
            gap,
            "s",
            MAX_WRITE_GAP_S,
        )
        ctx.measure("failed writes, one API server down", stats.failed, "")
        if gap > MAX_WRITE_GAP_S:
            part.finding(f"no write succeeded for {gap:.1f}s")
    with ctx.part("remaining API servers accept writes") as part:
        if refused:
            part.finding(f"{', '.join(refused)} refused writes")
    ctx.conclude(f"kube-apiserver on {victim} down")


@dataclass(frozen=True)
class _Failover:
    """What was seen after one lease holder was killed."""

    lease: str
    component: str
    node: str
    stopped: float
    timing: election.ElectionTiming
    taken: Seen | GuaranteeViolated
    moved: bool | GuaranteeViolated


def check_leader_failover(
    ctx: CheckContext, ledger: FaultLedger, members: int
) -> dict[str, float]:
    """RES-08: another scheduler and controller-manager take over their
    Leases within leaseDuration + retryPeriod, as each is configured
    (``election``); work created meanwhile is scheduled and reconciled.
    Returns the takeover seconds per Lease.

    Parts, per component: Lease taken over in time, work moves.

    Raises:
        GuaranteeViolated: a Lease was not taken over in time, or the pod
            or Deployment created meanwhile did not progress.
        CheckSkipped: fewer than 2 control planes.
    """
    access = ctx.require_nodes("stopping leader-elected components")
    planes = _planes(ctx)
    if len(planes) < 2:
        raise CheckSkipped("one control plane: nothing to fail over to")
    argvs = election.component_argvs(access, planes)
    coordination = ctx.cluster.coordination()
    seen: list[_Failover] = []
    with Watcher(coordination.list_namespaced_lease, "kube-system") as watcher:
        timings = {
            lease: election.election_timing(
                argvs.get(component, []),
                election.lease_duration_of(watcher.latest().get(lease)),
            )
            for lease, component in LEADER_ELECTED
        }
        for lease, component in LEADER_ELECTED:
            holder = _holder(watcher.latest()[lease])
            node = holder.split("_", 1)[0]
            stopped = time.time()
            # Killed, as the guarantee says: a graceful stop releases the
            # Lease (kube-scheduler does), which measures nothing.
            _support.inject(
                ledger,
                f"kill and stop {component} on {node} (lease holder)",
                kinds.start_component(access, node, component),
                functools.partial(_support.stop_now, access, node, component),
            )
            progressed = _work_progresses(ctx, component)
            taken = _support.attempt(
                functools.partial(_taken_over, watcher, lease, holder, stopped)
            )
            moved = _support.attempt(progressed)
            if not isinstance(taken, GuaranteeViolated):
                new = _holder(taken.obj).split("_", 1)[0]
                progress.say(f"{lease}: {node} -> {new}")
            seen.append(
                _Failover(
                    lease,
                    component,
                    node,
                    stopped,
                    timings[lease],
                    taken,
                    moved,
                )
            )
    _support.restore(ledger)
    _support.wait_control_plane_healthy(ctx, members)
    takeovers = {}
    for failover in seen:
        takeover = _judge_takeover(ctx, failover)
        if takeover is not None:
            takeovers[failover.lease] = takeover
        with ctx.part(f"work waiting on {failover.component} moves"):
            _support.settle(failover.moved)  # its timeout says what stuck
    ctx.conclude("leader failover")
    return takeovers


def _taken_over(
    watcher: Watcher, lease: str, holder: str, since: float
) -> Seen:
    """The first version of ``lease`` held by another than ``holder``.

    Raises:
        GuaranteeTimeout: none within ``TAKEOVER_TIMEOUT_S``, with the
            Lease's last holder and renewal.
    """

    def other() -> Seen | None:
        return next(
            (
                s
                for s in watcher.history(lease)
                if s.at >= since
                and s.kind != "DELETED"
                and _holder(s.obj) not in ("", holder)
            ),
            None,
        )

    def state() -> str:
        last = watcher.latest().get(lease)
        if last is None:
            return f"Lease {lease} gone"
        renewed = getattr(last.spec, "renew_time", None)
        return f"held by {_holder(last) or 'nobody'}, renewed {renewed}"

    return watcher.wait(
        f"lease {lease} taken over from {holder}",
        other,
        TAKEOVER_TIMEOUT_S,
        0.2,
        state,
    )


def _judge_takeover(ctx: CheckContext, failover: _Failover) -> float | None:
    """RES-08's part for one Lease: taken over within the configured
    bound. Returns the takeover seconds (None: not taken over)."""
    lease, timing = failover.lease, failover.timing
    took: float | None = None
    with ctx.part(f"{lease} Lease taken over in time") as part:
        ctx.evidence(f"{lease} leader election", timing.source)
        took = _support.settle(failover.taken).at - failover.stopped
        bound = timing.takeover_bound_s
        ctx.measure(
            f"{lease} lease takeover", took, "s", bound, since=failover.stopped
        )
        finding = takeover_finding(lease, took, timing)
        if finding:
            part.finding(finding)
    return took


def takeover_finding(
    lease: str, took_s: float, timing: election.ElectionTiming
) -> str | None:
    """A finding when ``lease`` was taken over later than its configured
    leaseDuration + retryPeriod allow."""
    bound = timing.takeover_bound_s
    if took_s <= bound:
        return None
    return (
        f"{lease} taken over after {took_s:.1f}s, bound {bound:.1f}s "
        f"({timing.source})"
    )


def _stop(access: NodeAccess, node: str, component: str) -> None:
    access.stop(node, component)


def _stop_now(access: NodeAccess, node: str, component: str) -> None:
    _support.stop_now(access, node, component)


def _holder(lease: Any) -> str:
    return str(lease.spec.holder_identity or "")


def _work_progresses(ctx: CheckContext, component: str) -> Callable[[], bool]:
    """Create work for ``component`` now; return a check that it moved."""
    core, ns = ctx.cluster.core(), ctx.namespace
    if component == "kube-scheduler":
        manifest = workloads.shell_pod(
            "during-failover", ctx.images.workload, labels={"app": "failover"}
        )
        core.create_namespaced_pod(ns, manifest)  # type: ignore[arg-type]

        def scheduled() -> bool:
            workloads.wait_all_scheduled(core, ns, "failover", 1, 60.0)
            return True

        return scheduled
    name = "reconciled"
    web.deploy_web_async(ctx, name)

    def reconciled() -> bool:
        workloads.wait_deployment_ready(ctx.cluster.apps(), ns, name, 90.0)
        return True

    return reconciled


def _writable(ctx: CheckContext, endpoint: str | None = None) -> bool:
    """One create+delete within 3 s: ``False`` when refused or timed out;
    any other failure raises (``writes.accepts_write``)."""
    return writes.accepts_write(
        ctx, endpoint or ctx.cluster.server, API_DOWN_TIMEOUT_S
    )
