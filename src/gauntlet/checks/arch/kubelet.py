"""ARCH-10: the kubelet runs pods and reports.

Three observations share one window: a container whose liveness probe
always fails must be restarted (``restartCount`` grows; the time from
running to the first restart is measured); a pod with a ConfigMap volume
and an emptyDir shared by two containers must see the ConfigMap's value
and share a file through the emptyDir; and every node's Lease in
``kube-node-lease`` must be renewed about every 10 s (renewals watched for
``LEASE_WINDOW_S``; the longest gap, counting the time since the last
renewal, must stay within ``LEASE_RENEW_BOUND_S``). Each is a part; no
node to watch is no evidence of renewals, so that part is then
unobserved, never a pass.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise

from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.cluster import workloads
from gauntlet.cluster.pod_exec import exec_in_pod
from gauntlet.errors import GuaranteeTimeout
from gauntlet.observe.watch import (
    KubeObject,
    Watcher,
    joined,
    node_lease_note,
    unique,
)

POLL_INTERVAL_S = 0.2
TIMEOUT_S = 60.0
"""Bound for the test pods to run."""
PROBE_DELAY_S = 3
"""The probe's initialDelaySeconds: the pod is seen running first."""
RESTART_BOUND_S = 20.0
LEASE_WINDOW_S = 25.0
"""Longest the node Leases are watched (from ``watch_node_leases``)."""
LEASE_RENEWALS = 3
"""Distinct renewTimes to see per node (the listed one counts): two
renewal intervals, about 20 s with the kubelet's 10 s default."""
LEASE_RENEW_BOUND_S = 15.0
NODE_LEASE_NAMESPACE = "kube-node-lease"
CONFIG_KEY = "greeting"
STEP = "the kubelet runs pods and reports"
LIVENESS = "liveness restart"
VOLUMES = "volumes"
LEASES = "node lease renewal"


@dataclass(frozen=True)
class ProbedPod:
    """The pod whose liveness probe always fails, once running."""

    name: str
    node: str
    running_at: float
    """Wall time its container was first seen running."""


def check_kubelet_runs_pods_and_reports(ctx: CheckContext) -> None:
    """Liveness restarts, volumes mount, node Leases are renewed.

    Raises:
        GuaranteeViolated: naming the pod and node whose container is not
            restarted, the volume that is not mounted or shared, or the
            nodes whose Lease renewals lag (with the gap seen).
        CheckSkipped: no part could be observed.
    """
    with watch_node_leases(ctx) as leases:
        with ctx.part(LIVENESS):
            probed = start_failing_liveness_pod(ctx)
            check_liveness_restarts(ctx, probed)
        with ctx.part(VOLUMES):
            check_volumes_mounted(ctx)
        with ctx.part(LEASES):
            check_node_leases_renewed(ctx, leases)
    ctx.conclude(STEP)


def watch_node_leases(ctx: CheckContext) -> Watcher:
    """A watcher on the node Leases (enter it to start the window)."""
    return Watcher(
        ctx.cluster.coordination().list_namespaced_lease,
        NODE_LEASE_NAMESPACE,
    )


def start_failing_liveness_pod(
    ctx: CheckContext, probe_delay_s: int = PROBE_DELAY_S
) -> ProbedPod:
    """Start a pod whose liveness probe never passes; wait until it runs.

    ``probe_delay_s`` lets a caller break the node before the first probe.
    """
    core, ns, name = ctx.cluster.core(), ctx.namespace, unique("liveness")
    workloads.ensure_service_account(core, ns)
    body: KubeObject = workloads.shell_pod(name, ctx.images.workload)
    spec = body["spec"]
    spec["restartPolicy"] = "Always"
    spec["terminationGracePeriodSeconds"] = 1
    spec["containers"][0]["livenessProbe"] = {
        "exec": {"command": ["cat", "/tmp/never-there"]},
        "initialDelaySeconds": probe_delay_s,
        "periodSeconds": 1,
        "failureThreshold": 1,
    }
    core.create_namespaced_pod(ns, body)
    pod: KubeObject = workloads.wait_pod_running(core, ns, name, TIMEOUT_S)
    return ProbedPod(name, str(pod.spec.node_name), time.time())


def check_liveness_restarts(ctx: CheckContext, probed: ProbedPod) -> float:
    """Seconds from running to the first restart by the kubelet."""
    core, ns = ctx.cluster.core(), ctx.namespace
    with Watcher(
        core.list_namespaced_pod,
        ns,
        field_selector=f"metadata.name={probed.name}",
    ) as pods:
        try:
            seen = pods.wait(
                f"restart of {probed.name}",
                lambda: pods.first(probed.name, _restarted),
                RESTART_BOUND_S,
                POLL_INTERVAL_S,
                lambda: _restart_state(pods, probed.name),
            )
        except GuaranteeTimeout as exc:
            raise violated(
                "failing liveness probe restarts the container",
                f"{probed.name} on {probed.node}: no restart within "
                f"{RESTART_BOUND_S:.0f}s ({exc.last_state}); "
                f"{node_lease_note(ctx.cluster, probed.node)}",
            ) from exc
    return ctx.measure(
        "liveness restart",
        max(0.0, seen.at - probed.running_at),
        "s",
        RESTART_BOUND_S,
    )


def check_volumes_mounted(ctx: CheckContext) -> None:
    """A ConfigMap volume is readable; an emptyDir is shared by containers."""
    core, ns, name = ctx.cluster.core(), ctx.namespace, unique("volumes")
    workloads.ensure_service_account(core, ns)
    value = secrets.token_hex(8)
    config_map: KubeObject = {
        "metadata": {"name": name},
        "data": {CONFIG_KEY: value},
    }
    core.create_namespaced_config_map(ns, config_map)
    body: KubeObject = _volumes_pod(ctx, name)
    core.create_namespaced_pod(ns, body)
    pod: KubeObject = workloads.wait_pod_running(core, ns, name, TIMEOUT_S)
    where = f"{name} on {pod.spec.node_name}"
    problems = []
    read = exec_in_pod(
        core, ns, name, ["cat", f"/config/{CONFIG_KEY}"], container="reader"
    )
    if read.stdout.strip() != value:
        problems.append(
            f"ConfigMap volume mounted: {where}: /config/{CONFIG_KEY} reads "
            f"{read.stdout.strip()!r} (exit {read.returncode}: "
            f"{read.stderr.strip()}), ConfigMap {name} holds {value!r}"
        )
    token = secrets.token_hex(8)
    wrote = exec_in_pod(
        core,
        ns,
        name,
        ["sh", "-c", f"echo {token} > /scratch/token"],
        container="writer",
    )
    shared = exec_in_pod(
        core, ns, name, ["cat", "/scratch/token"], container="reader"
    )
    if wrote.returncode != 0 or shared.stdout.strip() != token:
        problems.append(
            f"emptyDir mounted and shared: {where}: writer wrote {token!r} "
            f"(exit {wrote.returncode}: {wrote.stderr.strip()}), reader sees "
            f"{shared.stdout.strip()!r} (exit {shared.returncode}: "
            f"{shared.stderr.strip()})"
        )
    if problems:
        raise violated("volumes", "; ".join(problems))


def check_node_leases_renewed(ctx: CheckContext, leases: Watcher) -> None:
    """Every node's Lease renewed with gaps within the bound.

    Waits until each node shows ``LEASE_RENEWALS`` renewals or the window
    ends, then takes per node the longest gap between renewals, counting
    the time since the last one (a kubelet that stopped renewing).

    Raises:
        GuaranteeViolated: naming each node whose renewals lag or that
            has no Lease.
        CheckSkipped: no node to watch (zero samples).
    """
    nodes = sorted(n.name for n in ctx.topology.nodes)
    window = LEASE_WINDOW_S - (time.monotonic() - leases.started)
    try:
        leases.wait(
            f"{LEASE_RENEWALS} renewals of every node lease",
            lambda: all(
                len(_renewals(leases, n)) >= LEASE_RENEWALS for n in nodes
            ),
            max(window, 0.0),
            POLL_INTERVAL_S,
        )
    except GuaranteeTimeout:
        pass  # judged below: a lagging node shows as a long gap
    renewals = {node: _renewals(leases, node) for node in nodes}
    gaps, late = lease_gaps(renewals, datetime.now(UTC))
    if gaps:
        ctx.measure(
            "node lease max gap", max(gaps.values()), "s", LEASE_RENEW_BOUND_S
        )
    ctx.evidence("node lease renew gaps (s)", gaps)
    if late:
        raise violated(
            "node leases renewed about every 10s",
            f"over {LEASE_WINDOW_S:.0f}s (bound {LEASE_RENEW_BOUND_S:.0f}s) "
            f"kubelet heartbeats lag: {joined(late)}",
        )


def lease_gaps(
    renewals: dict[str, list[datetime]], now: datetime
) -> tuple[dict[str, float], list[str]]:
    """Per node the longest gap between renewals, counting the time since
    the last one; and the lagging nodes (over the bound, or no Lease).

    Raises:
        CheckSkipped: no node to judge: zero samples are no evidence of
            a heartbeat. (A node without a Lease is a finding.)
    """
    if not renewals:
        raise CheckSkipped("no node to watch the Lease of")
    gaps = {
        node: max((b - a).total_seconds() for a, b in pairwise([*times, now]))
        for node, times in renewals.items()
        if times
    }
    late = [
        f"{node}: {gap:.0f}s without renewal"
        for node, gap in sorted(gaps.items())
        if gap > LEASE_RENEW_BOUND_S
    ]
    late += [
        f"{node}: no Lease in {NODE_LEASE_NAMESPACE}"
        for node, times in sorted(renewals.items())
        if not times
    ]
    return gaps, late


# -- helpers ------------------------------------------------------------------


def _renewals(leases: Watcher, node: str) -> list[datetime]:
    return sorted(
        {
            s.obj.spec.renew_time
            for s in leases.history(node)
            if s.obj.spec and s.obj.spec.renew_time
        }
    )


def _restarted(pod: KubeObject) -> bool:
    statuses = (pod.status.container_statuses or []) if pod.status else []
    return any((s.restart_count or 0) >= 1 for s in statuses)


def _restart_state(pods: Watcher, name: str) -> str:
    pod = pods.latest().get(name)
    if pod is None or not pod.status or not pod.status.container_statuses:
        return "no container status"
    status = pod.status.container_statuses[0]
    state = status.state
    phase = next(
        (k for k in ("running", "waiting", "terminated") if getattr(state, k)),
        "unknown",
    )
    return f"restartCount {status.restart_count}, container {phase}"


def _volumes_pod(ctx: CheckContext, name: str) -> KubeObject:
    def container(role: str, mounts: list[KubeObject]) -> KubeObject:
        return {
            "name": role,
            "image": ctx.images.workload,
            "imagePullPolicy": "IfNotPresent",
            "command": ["sleep", "3600"],
            "volumeMounts": mounts,
        }

    scratch = {"name": "scratch", "mountPath": "/scratch"}
    config = {"name": "config", "mountPath": "/config", "readOnly": True}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [
                container("writer", [scratch]),
                container("reader", [scratch, config]),
            ],
            "volumes": [
                {"name": "scratch", "emptyDir": {}},
                {"name": "config", "configMap": {"name": name}},
            ],
        },
    }
