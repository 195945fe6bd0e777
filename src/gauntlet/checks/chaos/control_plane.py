"""RES-06, RES-07, RES-08: the control plane goes away, partly or whole.

kube-apiserver is crashed before it is stopped (``_support.stop_now``):
a graceful stop drains for up to 15 s, and the outage is the point.
"""

from __future__ import annotations

import functools
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gauntlet import progress
from gauntlet.checks.chaos import _support, web, writes
from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.cluster import workloads
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.watch import Watcher

__all__ = [
    "TAKEOVER_BOUND_S",
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
BLACKOUT_S = 20.0
SERVICE_MIN_RATIO = 0.95
APISERVER_DOWN_S = 8.0
MAX_WRITE_GAP_S = 2.0
LEASE_DURATION_S = 15.0
RETRY_PERIOD_S = 2.0
RETRY_JITTER = 1.2
"""client-go waits retryPeriod * (1 + up to 1.2) between tries."""
TAKEOVER_BOUND_S = LEASE_DURATION_S + 2 * RETRY_PERIOD_S * (1 + RETRY_JITTER)
"""leaseDuration + retryPeriod as client-go times them: a standby sees the
last renewal up to one jittered retry late and takes the expired Lease at
its next jittered try (about 24 s; a healthy lab measures 15-18 s)."""
TAKEOVER_TIMEOUT_S = 60.0
API_DOWN_TIMEOUT_S = 3.0


def _planes(ctx: CheckContext) -> list[str]:
    planes = sorted(n.name for n in ctx.topology.control_planes)
    if not planes:
        raise CheckSkipped("no control-plane node is visible (managed)")
    return planes


def check_control_plane_blackout(
    ctx: CheckContext, ledger: FaultLedger, members: int
) -> None:
    """RES-06: with every control-plane component stopped, workload pods
    keep answering through their Service and none restarts.

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
    recovery = _support.wait_control_plane_healthy(ctx, members)
    ok, total = web.service_log(ctx, dark, ended)
    after = web.pod_snapshot_synced(ctx, "web", pods)
    ratio = ok / total if total else 0.0
    ctx.measure("seconds to stop the control plane", dark - began, "s")
    ctx.measure("Service success during the blackout", 100 * ratio, "%")
    ctx.measure("seconds until the API is back after restart", recovery, "s")
    problems = []
    if api_writable:
        problems.append("the API accepted a write with everything stopped")
    if ratio < SERVICE_MIN_RATIO:
        problems.append(
            f"the Service answered {ok} of {total} requests in the blackout"
        )
    if after != pods:
        problems.append(f"pods changed: {pods} -> {after}")
    if problems:
        raise violated("control plane stopped", "; ".join(problems))


def check_apiserver_loss(
    ctx: CheckContext, ledger: FaultLedger, members: int
) -> None:
    """RES-07: with one kube-apiserver of several down, the API stays
    writable through the others and through the kubeconfig's server.

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
        down = _support.inject(
            ledger,
            f"stop kube-apiserver on {victim}",
            kinds.start_component(access, victim, "kube-apiserver"),
            lambda: _support.stop_now(access, victim, "kube-apiserver"),
        )
        others = {n: u for n, u in endpoints.items() if n != victim}
        refused = [n for n, url in others.items() if not _writable(ctx, url)]
        time.sleep(APISERVER_DOWN_S)
        up = time.monotonic()
    _support.restore(ledger)
    _support.wait_control_plane_healthy(ctx, members)
    stats = writes.write_stats(recorder.ops, down, up)
    ctx.measure(
        "longest write gap, one API server down",
        stats.max_gap_s,
        "s",
        MAX_WRITE_GAP_S,
    )
    ctx.measure("failed writes, one API server down", stats.failed, "")
    problems = []
    if stats.max_gap_s > MAX_WRITE_GAP_S:
        problems.append(f"no write succeeded for {stats.max_gap_s:.1f}s")
    if refused:
        problems.append(f"{', '.join(refused)} refused writes")
    if problems:
        raise violated(f"kube-apiserver on {victim} down", "; ".join(problems))


def check_leader_failover(
    ctx: CheckContext, ledger: FaultLedger, members: int
) -> dict[str, float]:
    """RES-08: another scheduler and controller-manager take over their
    Leases within leaseDuration + retryPeriod; work created meanwhile is
    scheduled and reconciled. Returns the takeover seconds per Lease.

    Raises:
        GuaranteeViolated: a Lease was not taken over in time, or the pod
            or Deployment created meanwhile did not progress.
        CheckSkipped: fewer than 2 control planes.
    """
    access = ctx.require_nodes("stopping leader-elected components")
    if len(_planes(ctx)) < 2:
        raise CheckSkipped("one control plane: nothing to fail over to")
    coordination = ctx.cluster.coordination()
    takeovers: dict[str, float] = {}
    problems = []
    with Watcher(coordination.list_namespaced_lease, "kube-system") as watcher:
        for lease, component in (
            ("kube-scheduler", "kube-scheduler"),
            ("kube-controller-manager", "kube-controller-manager"),
        ):
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
            seen = watcher.wait(
                f"lease {lease} taken over",
                lambda lease=lease, holder=holder, since=stopped: next(  # type: ignore[misc]
                    (
                        s
                        for s in watcher.history(lease)
                        if s.at >= since
                        and s.kind != "DELETED"
                        and _holder(s.obj) not in ("", holder)
                    ),
                    None,
                ),
                TAKEOVER_TIMEOUT_S,
                0.2,
            )
            takeovers[lease] = seen.at - stopped
            new = _holder(seen.obj).split("_", 1)[0]
            ctx.measure(f"{lease} lease takeover", takeovers[lease], "s")
            if takeovers[lease] > TAKEOVER_BOUND_S:
                problems.append(
                    f"{lease} taken over after {takeovers[lease]:.1f}s"
                )
            if not progressed():
                problems.append(f"work waiting on {component} never moved")
            progress.say(f"{lease}: {node} -> {new}")
    _support.restore(ledger)
    _support.wait_control_plane_healthy(ctx, members)
    if problems:
        raise violated("leader failover", "; ".join(problems))
    return takeovers


def _stop(access: NodeAccess, node: str, component: str) -> None:
    access.stop(node, component)


def _stop_now(access: NodeAccess, node: str, component: str) -> None:
    _support.stop_now(access, node, component)


def _holder(lease: Any) -> str:
    return str(lease.spec.holder_identity or "")


def _work_progresses(ctx: CheckContext, component: str) -> Any:
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
    """One create+delete within 3 s (``False`` on any failure)."""
    try:
        return writes.writable(
            ctx, endpoint or ctx.cluster.server, API_DOWN_TIMEOUT_S
        )
    except Exception:  # noqa: BLE001 - any failure means not writable
        return False
