"""The workload the RES and PART checks watch: web pods and a client.

The web Deployment serves through a ClusterIP Service; the client pod
on a worker logs ``<epoch> ok|fail`` per request, so it keeps measuring
while the API server is down.
"""

from __future__ import annotations

import time

from kubernetes import utils

from gauntlet.checks.chaos import timelines
from gauntlet.checks.context import CheckContext
from gauntlet.cluster import workloads
from gauntlet.observe import objects

__all__ = [
    "judge_service",
    "SERVICE_MIN_RATIO",
    "client_script",
    "deploy_web",
    "deploy_web_async",
    "pod_snapshot",
    "pod_snapshot_synced",
    "service_finding",
    "service_log",
    "start_service_client",
]

CLIENT_POD = "svc-client"
CLIENT_PERIOD_S = 0.5
SERVICE_MIN_RATIO = 0.95
"""Share of the client's requests the Service must answer in a fault."""
STATUS_SYNC_S = 15.0
"""The kubelet's status manager resends unsent pod statuses every 10 s."""


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
    return {objects.name(p): objects.node_name(p) for p in pods}


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
    return {
        objects.name(p): (objects.uid(p), objects.restarts(p)) for p in pods
    }


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
    manifest = workloads.shell_pod(
        CLIENT_POD,
        ctx.images.workload,
        node_name=node,
        command=["sh", "-c", client_script(ctx, service)],
    )
    core.create_namespaced_pod(ctx.namespace, manifest)  # type: ignore[arg-type]
    workloads.wait_pod_running(core, ctx.namespace, CLIENT_POD)


def client_script(ctx: CheckContext, service: str) -> str:
    """A shell loop that GETs the Service's ClusterIP every 0.5 s and logs
    ``<epoch> ok|fail`` (what ``service_log`` reads)."""
    svc = ctx.cluster.core().read_namespaced_service(service, ctx.namespace)
    ip = str(svc.spec.cluster_ip) if svc.spec else ""
    return (
        f"{workloads.fetch_function(ip, 80)}; while true; do "
        'if fetch; then r=ok; else r=fail; fi; echo "$(date +%s) $r"; '
        f"sleep {CLIENT_PERIOD_S}; done"
    )


def service_log(
    ctx: CheckContext, start_epoch: float, end_epoch: float
) -> tuple[int, int]:
    """(ok, total) fetches the service client logged in the window."""
    text = ctx.cluster.core().read_namespaced_pod_log(CLIENT_POD, ctx.namespace)
    logged = [
        (int(parts[0]), parts[1] == "ok")
        for parts in (line.split() for line in str(text).splitlines())
        if len(parts) == 2 and parts[0].isdigit()
    ]
    ctx.timeline.series(
        timelines.SERVICE_PANEL,
        "Service client (every 0.5 s)",
        timelines.service_points(logged),
        color="tab:blue",
        share=True,
    )
    window = [ok for at, ok in logged if start_epoch <= at <= end_epoch]
    return sum(window), len(window)


def service_finding(
    ok: int, total: int, where: str, min_ratio: float = SERVICE_MIN_RATIO
) -> str | None:
    """What the Service client's log says against the workload ``where``
    (``during the drain``), or None when it answered enough.

    A window without any logged request is a finding, not a missing
    sample: the client is itself a pod of the workload, logging every
    0.5 s, so silence means the workload did not run.
    """
    if not total:
        return f"the Service client logged no request {where}"
    if ok / total < min_ratio:
        return f"the Service answered {ok} of {total} requests {where}"
    return None


def judge_service(
    ctx: CheckContext,
    part_name: str,
    ok: int,
    total: int,
    measured_as: str,
    where: str,
) -> None:
    """The Service client's log as one part of the guarantee: measured
    (``Service success <measured_as>``) and judged (``service_finding``)."""
    with ctx.part(part_name) as part:
        if total:
            ctx.measure(f"Service success {measured_as}", 100 * ok / total, "%")
        finding = service_finding(ok, total, where)
        if finding:
            part.finding(finding)
