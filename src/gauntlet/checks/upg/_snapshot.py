# Objects read back from the API always have metadata; the client types
# it as optional.
# mypy: disable-error-code="union-attr"
"""Take the snapshot UPG-05 saves and the post-upgrade run compares.

Every pod (its workload found through ``_owners``), every node's Ready
condition, and the API's latency: ``LATENCY_REQUESTS`` requests through
the front door (the kubeconfig's server, as users reach it), alternating
a GET of one object and a LIST, each timed until its body is read.
Pods and namespaces a kube-gauntlet run made are left out: they come and
go with runs, not with the upgrade.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import urllib3
from kubernetes import client

from gauntlet.checks.arch._apiservers import ApiServer, api_pool, ask, bearer
from gauntlet.checks.upg._baseline_data import Latency, PodState, Snapshot
from gauntlet.checks.upg._owners import (
    DeploymentIndex,
    deployments_of_replicasets,
    made_by_us,
    run_namespaces,
    workload_of,
)
from gauntlet.cluster.client import Cluster
from gauntlet.cluster.workloads import node_is_ready
from gauntlet.errors import ClusterOperationFailed
from gauntlet.observe.watch import percentile
from gauntlet.wellknown import RUN_LABEL

__all__ = ["LATENCY_REQUESTS", "api_latency", "capture", "pod_state"]

LATENCY_REQUESTS = 30
"""Enough for a p50 and a (nearest-rank, i.e. worst) p99, few enough to
take about a second on a healthy cluster."""
PATHS = ("/api/v1/namespaces/kube-system", "/api/v1/namespaces?limit=50")
"""A GET of the one object every cluster has, and a bounded LIST."""


def capture(cluster: Cluster, requests: int = LATENCY_REQUESTS) -> Snapshot:
    """Pods, nodes and latency now."""
    core, apps = cluster.core(), cluster.apps()
    ours = run_namespaces(core.list_namespace(label_selector=RUN_LABEL).items)
    index = deployments_of_replicasets(
        apps.list_replica_set_for_all_namespaces().items
    )
    pods = sorted(
        (
            pod_state(p, index)
            for p in core.list_pod_for_all_namespaces().items
            if not made_by_us(p, ours)
        ),
        key=lambda p: (p.namespace, p.name),
    )
    nodes = {
        str(n.metadata.name): node_is_ready(n) for n in core.list_node().items
    }
    version = client.VersionApi(cluster.api).get_code()
    return Snapshot(
        taken=datetime.now(UTC).isoformat(timespec="seconds"),
        server=str(version.git_version),
        pods=tuple(pods),
        nodes=dict(sorted(nodes.items())),
        latency=api_latency(cluster, requests),
    )


def pod_state(pod: Any, deployments: DeploymentIndex) -> PodState:
    """One pod's identity, workload, readiness and restart counts."""
    kind, name = workload_of(pod, deployments)
    status = pod.status
    conditions = (status.conditions or []) if status else []
    statuses = (status.container_statuses or []) if status else []
    return PodState(
        namespace=str(pod.metadata.namespace),
        name=str(pod.metadata.name),
        uid=str(pod.metadata.uid or ""),
        node=str(pod.spec.node_name or "") if pod.spec else "",
        workload=f"{kind} {name}",
        ready=any(c.type == "Ready" and c.status == "True" for c in conditions),
        restarts={str(s.name): int(s.restart_count or 0) for s in statuses},
    )


def api_latency(cluster: Cluster, requests: int) -> Latency:
    """Time ``requests`` GETs and LISTs (alternating) through the front
    door, after one untimed request that opens the connection.

    Raises:
        ClusterOperationFailed: a request was not answered 200.
        ValueError: ``requests`` is below 1.
    """
    if requests < 1:
        raise ValueError(f"API latency needs at least 1 request: {requests}")
    door = ApiServer(
        "front door", cluster.server.rstrip("/"), is_front_door=True
    )
    headers = bearer(cluster)
    timings: list[float] = []
    with api_pool(cluster, credentials=True) as pool:
        _timed(pool, door, PATHS[0], headers)
        for i in range(requests):
            timings.append(_timed(pool, door, PATHS[i % 2], headers))
    return Latency(
        samples=len(timings),
        p50_ms=round(percentile(timings, 50), 1),
        p99_ms=round(percentile(timings, 99), 1),
    )


def _timed(
    pool: urllib3.PoolManager,
    door: ApiServer,
    path: str,
    headers: dict[str, str],
) -> float:
    """One request, in ms until its whole body is read."""
    start = time.perf_counter()
    answer = ask(pool, door, "GET", path, headers)
    took = (time.perf_counter() - start) * 1000.0
    if answer.status != 200:
        raise ClusterOperationFailed(
            "time", f"GET {path}", None, f"{answer.status}: {answer.body}"
        )
    return took
