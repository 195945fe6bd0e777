"""What the RES and PART checks share: workloads, write logs, restores.

Faults go through the fault ledger; a check ends an outage itself (start,
heal) when the guarantee needs the recovery observed, and always calls
``restore`` at the end, which rolls back whatever is still open.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client, utils

from gauntlet.chaos import _api, _etcd, _k8s
from gauntlet.chaos.api.probes import fetch_function
from gauntlet.chaos.history import HistoryRecorder, Operation, check_history
from gauntlet.checks.context import CheckContext, violated
from gauntlet.cluster import workloads
from gauntlet.faults.ledger import FaultLedger
from gauntlet.faults.rollback import Rollback
from gauntlet.nodes.base import NodeAccess

__all__ = [
    "ChaosConfig",
    "apiserver_urls",
    "WriteStats",
    "chaos_config",
    "deploy_web",
    "delete_probes",
    "deploy_web_async",
    "EtcdRoles",
    "etcd_nodes",
    "etcd_roles",
    "inject",
    "node_of_address",
    "pod_snapshot",
    "pod_snapshot_synced",
    "recording",
    "restore",
    "service_log",
    "start_service_client",
    "stop_now",
    "wait_control_plane_healthy",
    "writable",
    "write_stats",
]

HEALTH_TIMEOUT_S = 180.0
API_PORT = "6443"
POLL_S = 1.0
CLIENT_POD = "svc-client"
CLIENT_PERIOD_S = 0.5
PROBE_NAMESPACE = "default"
"""Where write probes go: every API server bootstraps it, whatever store
it talks to (a split-brain API server answers there too)."""
STATUS_SYNC_S = 15.0
"""The kubelet's status manager resends unsent pod statuses every 10 s."""


@dataclass(frozen=True)
class ChaosConfig:
    """chaoslib-style configuration and secrets for the chaos helpers."""

    configuration: dict[str, str]
    secrets: dict[str, str]


def chaos_config(ctx: CheckContext, access: NodeAccess) -> ChaosConfig:
    """Point the chaos extension's helpers at the check's cluster."""
    target = ctx.cluster.target
    found = {"KUBERNETES_CONTEXT": ctx.cluster.context}
    if target.in_cluster:
        found = {"KUBE_GAUNTLET_IN_CLUSTER": "1"}
    else:
        found["KUBE_GAUNTLET_KUBECONFIG"] = str(target.kubeconfig_path)
    return ChaosConfig({"gauntlet_node_access": access.kind}, found)


def inject(
    ledger: FaultLedger,
    description: str,
    rollback: Rollback,
    action: Callable[[], object],
) -> float:
    """Record and inject a fault; return ``time.monotonic()`` after it."""
    ledger.inject(description, rollback, action)
    return time.monotonic()


def stop_now(access: NodeAccess, node: str, component: str) -> None:
    """SIGKILL, then stop: an outage that begins at once.

    A graceful stop of kube-apiserver drains for up to 15 s, and the lab's
    node supervisor answers no other request meanwhile.
    """
    access.kill(node, component, signal.SIGKILL)
    access.stop(node, component)


def restore(ledger: FaultLedger) -> None:
    """Roll back everything still open.

    Raises:
        GuaranteeViolated: a rollback failed (the cluster may be broken).
    """
    failures = ledger.rollback_all()
    if failures:
        raise violated(
            "restoring the cluster",
            "; ".join(f"{f.entry.description}: {f.error}" for f in failures)
            + "; run `gauntlet recover`",
        )


def deploy_web(
    ctx: CheckContext, name: str = "web", replicas: int = 2, spread: bool = True
) -> dict[str, str]:
    """The web Deployment and Service in the check's namespace; pod->node."""
    manifests = [
        workloads.web_deployment(name, ctx.images.workload, replicas, spread),
        workloads.cluster_ip_service(name),
    ]
    for manifest in manifests:
        utils.create_from_dict(  # type: ignore[no-untyped-call]
            ctx.cluster.api, manifest, namespace=ctx.namespace
        )
    workloads.wait_deployment_ready(ctx.cluster.apps(), ctx.namespace, name)
    pods = workloads.pods_of(ctx.cluster.core(), ctx.namespace, name)
    return {_k8s.name(p): _k8s.node_name(p) for p in pods}


def deploy_web_async(ctx: CheckContext, name: str, replicas: int = 1) -> None:
    """Create a web Deployment without waiting (its controller may be
    down: the caller checks later that it converged)."""
    utils.create_from_dict(  # type: ignore[no-untyped-call]
        ctx.cluster.api,
        workloads.web_deployment(name, ctx.images.workload, replicas),
        namespace=ctx.namespace,
    )


def pod_snapshot(ctx: CheckContext, app: str) -> dict[str, tuple[str, int]]:
    """Pod name -> (uid, restart count) of ``app``'s pods."""
    pods = workloads.pods_of(ctx.cluster.core(), ctx.namespace, app)
    return {_k8s.name(p): (_k8s.uid(p), _k8s.restarts(p)) for p in pods}


def pod_snapshot_synced(
    ctx: CheckContext, app: str, before: dict[str, tuple[str, int]]
) -> dict[str, tuple[str, int]]:
    """``pod_snapshot`` once the kubelets could report: a restart made
    while they could not reach the API shows up only at the status
    manager's next sync, so a snapshot equal to ``before`` is retaken
    for ``STATUS_SYNC_S``."""
    deadline = time.monotonic() + STATUS_SYNC_S
    while True:
        after = pod_snapshot(ctx, app)
        if after != before or time.monotonic() >= deadline:
            return after
        time.sleep(1.0)


def start_service_client(ctx: CheckContext, service: str, node: str) -> None:
    """A pod on ``node`` that GETs the Service's ClusterIP every 0.5 s and
    logs ``<epoch> ok|fail``: it keeps measuring while the API is down."""
    core = ctx.cluster.core()
    svc = core.read_namespaced_service(service, ctx.namespace)
    ip = str(svc.spec.cluster_ip) if svc.spec else ""
    script = (
        f"{fetch_function(ip, 80)}; while true; do "
        'if fetch; then r=ok; else r=fail; fi; echo "$(date +%s) $r"; '
        f"sleep {CLIENT_PERIOD_S}; done"
    )
    manifest = workloads.shell_pod(
        CLIENT_POD,
        ctx.images.workload,
        node_name=node,
        command=["sh", "-c", script],
    )
    core.create_namespaced_pod(ctx.namespace, manifest)  # type: ignore[arg-type]
    workloads.wait_pod_running(core, ctx.namespace, CLIENT_POD)


def service_log(
    ctx: CheckContext, start_epoch: float, end_epoch: float
) -> tuple[int, int]:
    """(ok, total) fetches the service client logged in the window."""
    text = ctx.cluster.core().read_namespaced_pod_log(CLIENT_POD, ctx.namespace)
    ok = total = 0
    for line in str(text).splitlines():
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            continue
        if start_epoch <= int(parts[0]) <= end_epoch:
            total += 1
            ok += parts[1] == "ok"
    return ok, total


@contextlib.contextmanager
def recording(
    ctx: CheckContext,
    endpoints: Mapping[str, str],
    namespace: str | None = None,
    **options: Any,
) -> Iterator[HistoryRecorder]:
    """A started ``HistoryRecorder``; stopped on exit, also on failure."""
    recorder = HistoryRecorder(
        ctx.cluster,
        endpoints,
        namespace or ctx.namespace,
        prefix=f"kube-gauntlet-{secrets.token_hex(3)}",
        **options,
    )
    recorder.setup()
    recorder.start()
    try:
        yield recorder
    finally:
        recorder.stop()


def lost_writes(recorder: HistoryRecorder) -> list[str]:
    """Read every probe back once the cluster is healthy again and check
    the history: acknowledged writes lost, stale reads, rewinds."""
    recorder.final_reads()
    return check_history(recorder.ops, None)


def delete_probes(ctx: CheckContext, recorder: HistoryRecorder) -> None:
    """Delete a recorder's ConfigMaps (after its final reads): probes in
    ``PROBE_NAMESPACE`` outlive the check's namespace."""
    core = ctx.cluster.core()
    for key in recorder.keys:
        try:
            core.delete_namespaced_config_map(key, recorder.namespace)
        except (client.ApiException, urllib3.exceptions.HTTPError):
            continue  # best effort: a leftover probe ConfigMap is harmless


@dataclass(frozen=True)
class WriteStats:
    """Writes in a time window: how many worked and how fast."""

    total: int
    ok: int
    latency_p50_s: float
    latency_p99_s: float
    max_gap_s: float
    """Longest time between two successful writes (the outage window)."""

    @property
    def failed(self) -> int:
        return self.total - self.ok


def write_stats(
    ops: Sequence[Operation],
    start: float = 0.0,
    end: float = float("inf"),
    endpoint: str | None = None,
) -> WriteStats:
    """Stats of the writes that began in ``[start, end]``."""
    writes = sorted(
        (
            op
            for op in ops
            if op.kind == "write"
            and start <= op.start <= end
            and (endpoint is None or op.endpoint == endpoint)
        ),
        key=lambda op: op.start,
    )
    ok = [op for op in writes if op.result == "ok"]
    latencies = sorted(op.end - op.start for op in ok)
    ends = [start, *sorted(op.end for op in ok)]
    if writes:
        ends.append(min(end, max(op.end for op in writes)))
    gaps = [b - a for a, b in zip(ends, ends[1:], strict=False)]
    return WriteStats(
        total=len(writes),
        ok=len(ok),
        latency_p50_s=statistics.median(latencies) if latencies else 0.0,
        latency_p99_s=_p99(latencies),
        max_gap_s=max(gaps, default=0.0),
    )


def _p99(sorted_values: Sequence[float]) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, int(0.99 * len(sorted_values)))
    return sorted_values[index]


def node_of_address(ctx: CheckContext, address: str) -> str:
    """The node whose InternalIP is ``address`` (else the address)."""
    for node in ctx.topology.nodes:
        if node.internal_ip == address:
            return node.name
    return address


def etcd_nodes(config: ChaosConfig) -> tuple[str, list[str]]:
    """(leader address, follower addresses) from etcdctl."""
    members = _etcd.members(config.configuration, config.secrets)
    leaders = [m.host for m in members if m.is_leader]
    if len(leaders) != 1:
        raise violated("finding the etcd leader", f"{len(leaders)} leaders")
    return leaders[0], sorted(m.host for m in members if not m.is_leader)


@dataclass(frozen=True)
class EtcdRoles:
    """The etcd members as the nodes they run on."""

    leader: str
    followers: list[str]


def etcd_roles(ctx: CheckContext, config: ChaosConfig) -> EtcdRoles:
    leader, followers = etcd_nodes(config)
    return EtcdRoles(
        node_of_address(ctx, leader),
        [node_of_address(ctx, f) for f in followers],
    )


def apiserver_urls(ctx: CheckContext) -> dict[str, str]:
    """Each control plane's API server URL: as published in the
    ``kubernetes`` EndpointSlices, else its InternalIP on the published
    port (an API server that just came back may not be published yet)."""
    found = _api.apiserver_endpoints(ctx.cluster)
    port = next((u.rsplit(":", 1)[1] for u in found.values()), API_PORT)
    for node in ctx.topology.control_planes:
        if node.name not in found and node.internal_ip:
            found[node.name] = f"https://{node.internal_ip}:{port}"
    return dict(sorted(found.items()))


def wait_control_plane_healthy(
    ctx: CheckContext,
    config: ChaosConfig,
    members: int,
    timeout_s: float = HEALTH_TIMEOUT_S,
) -> float:
    """Wait until etcd has ``members`` members with one leader and every
    API server answers a write; return the seconds it took.

    Raises:
        GuaranteeTimeout: not healthy within ``timeout_s``.
    """
    from gauntlet import progress

    start = time.monotonic()

    def healthy() -> bool:
        ctx.cluster.reconnect()  # not pinned to what was left during a fault
        found = _etcd.members(config.configuration, config.secrets)
        leaders = {m.leader_id for m in found}
        if len(found) < members or len(leaders) != 1 or "0" in leaders:
            return False
        endpoints = apiserver_urls(ctx)
        if not all(writable(ctx, url) for url in endpoints.values()):
            return False
        # The ServiceAccount controller (kube-controller-manager) works:
        ctx.cluster.core().read_namespaced_service_account(
            "default", ctx.namespace
        )
        return True

    progress.wait_until(
        "the control plane to be healthy again",
        healthy,
        timeout_s,
        POLL_S,
        quiet=True,
    )
    return time.monotonic() - start


def writable(ctx: CheckContext, endpoint: str, timeout_s: float = 5.0) -> bool:
    """A ConfigMap create and delete through ``endpoint`` (raises on any
    failure), in ``PROBE_NAMESPACE``: writability, not namespaces."""
    api = _api.endpoint_client(ctx.cluster, endpoint)
    core = client.CoreV1Api(api)
    name = f"kube-gauntlet-health-{secrets.token_hex(3)}"
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name))
    try:
        core.create_namespaced_config_map(
            PROBE_NAMESPACE, body, _request_timeout=timeout_s
        )
        core.delete_namespaced_config_map(
            name, PROBE_NAMESPACE, _request_timeout=timeout_s
        )
    finally:
        api.close()  # type: ignore[no-untyped-call]
    return True
