"""ARCH-09: kube-proxy implements Services.

A two-replica web Deployment spread over the workers sits behind a
ClusterIP Service; a client pod on another node (a control-plane node,
tolerating its taint) fetches the ClusterIP repeatedly and must hear both
backends. Then one backend's readiness is broken (``rm /www/ready``): a
watch times how long it takes to leave the EndpointSlice (turn not-ready
or disappear), and from then on the client must stop reaching it within a
short programming bound, shown over ``REQUESTS`` consecutive requests.
A miss names the client's node and the state of kube-proxy there (its
healthz, asked from the client pod).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from kubernetes import client

from gauntlet import progress
from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.cluster import workloads
from gauntlet.cluster.pod_exec import exec_in_pod
from gauntlet.errors import GuaranteeTimeout
from gauntlet.observe.watch import (
    KubeObject,
    Watcher,
    leader_lease_note,
    unique,
)

POLL_INTERVAL_S = 0.25
TIMEOUT_S = 60.0
"""Bound for the backends and the client pod to run."""
REQUESTS = 20
REQUEST_TIMEOUT_S = 2
ENDPOINT_TIMEOUT_S = 15.0
"""Bound for a failing backend to leave the EndpointSlice."""
PROGRAMMING_TIMEOUT_S = 10.0
"""Bound for kube-proxy to stop sending traffic to it after that."""
KUBE_PROXY_HEALTHZ_PORT = 10256
APP = "backend"
CLIENT = "client"
FAILED = "request-failed"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class ServiceUnderTest:
    """The Service, its backends and the client that calls it."""

    name: str
    """The Service's and the backend Deployment's name."""
    cluster_ip: str
    port: int
    backends: dict[str, str]
    """Backend pod -> node."""
    client_pod: str
    client_node: str
    client_host_ip: str


def check_kube_proxy_implements_services(ctx: CheckContext) -> None:
    """A ClusterIP reaches ready backends only, from another node.

    Raises:
        GuaranteeViolated: a backend never answers, or an unready backend
            stays in the EndpointSlice or keeps getting traffic; names
            the client's node and kube-proxy's health there.
        CheckSkipped: fewer than two workers, or no other node for the
            client.
    """
    service = serve_through_cluster_ip(ctx)
    check_unready_backend_gets_no_traffic(ctx, service)


def serve_through_cluster_ip(ctx: CheckContext) -> ServiceUnderTest:
    """Deploy, expose and call the Service; both backends must answer."""
    if len(ctx.topology.workers) < 2:
        raise CheckSkipped("needs two workers to spread the backends")
    core, ns, name = ctx.cluster.core(), ctx.namespace, unique(APP)
    workloads.ensure_service_account(core, ns)
    deployment: KubeObject = workloads.web_deployment(
        name, ctx.images.workload, replicas=2
    )
    ctx.cluster.apps().create_namespaced_deployment(ns, deployment)
    body: KubeObject = workloads.cluster_ip_service(name)
    svc: KubeObject = core.create_namespaced_service(ns, body)
    workloads.wait_deployment_ready(ctx.cluster.apps(), ns, name, TIMEOUT_S)
    pods: list[KubeObject] = workloads.pods_of(core, ns, name)
    backends = {
        str(p.metadata.name): str(p.spec.node_name)
        for p in pods
        if p.metadata.deletion_timestamp is None
    }
    node = _client_node(ctx, set(backends.values()))
    client_pod = f"{name}-{CLIENT}"
    shell: KubeObject = workloads.shell_pod(
        client_pod, ctx.images.workload, node_name=node, tolerate_all=True
    )
    core.create_namespaced_pod(ns, shell)
    pod: KubeObject = workloads.wait_pod_running(
        core, ns, client_pod, TIMEOUT_S
    )
    service = ServiceUnderTest(
        name=name,
        cluster_ip=svc.spec.cluster_ip,
        port=svc.spec.ports[0].port,
        backends=backends,
        client_pod=client_pod,
        client_node=node,
        client_host_ip=pod.status.host_ip,
    )
    answers = _wait_answers(ctx, service, set(backends), "both backends")
    ctx.evidence("answers through the ClusterIP", dict(answers))
    return service


def check_unready_backend_gets_no_traffic(
    ctx: CheckContext, service: ServiceUnderTest
) -> None:
    """Fail one backend's readiness; it must leave the slice and the path."""
    victim = sorted(service.backends)[0]
    where = f"{victim} on {service.backends[victim]}"
    with Watcher(
        client.DiscoveryV1Api(ctx.cluster.api).list_namespaced_endpoint_slice,
        ctx.namespace,
        label_selector=f"{SERVICE_NAME_LABEL}={service.name}",
    ) as slices:
        start = time.monotonic()
        broken = exec_in_pod(
            ctx.cluster.core(), ctx.namespace, victim, ["rm", "/www/ready"]
        )
        if broken.returncode != 0:
            raise violated("making a backend unready", broken.stderr.strip())
        try:
            slices.wait(
                f"{where} out of the EndpointSlice",
                lambda: not _ready_in(slices, victim),
                ENDPOINT_TIMEOUT_S,
                POLL_INTERVAL_S,
                lambda: f"{victim} still ready in the EndpointSlice",
            )
        except GuaranteeTimeout as exc:
            raise violated(
                "unready backend leaves the EndpointSlice",
                f"{exc}; the EndpointSlice controller runs in "
                + leader_lease_note(ctx.cluster, "kube-controller-manager"),
            ) from exc
    left = ctx.measure(
        "unready out of slice",
        time.monotonic() - start,
        "s",
        ENDPOINT_TIMEOUT_S,
    )
    others = set(service.backends) - {victim}
    mark = time.monotonic()
    answers = _wait_answers(
        ctx,
        service,
        others,
        f"traffic only to ready backends ({where} unready)",
    )
    ctx.measure(
        "unready out of path",
        time.monotonic() - mark,
        "s",
        PROGRAMMING_TIMEOUT_S,
    )
    ctx.evidence(
        "answers after the backend turned unready",
        {"left_slice_s": left, **answers},
    )


# -- helpers ------------------------------------------------------------------


def _client_node(ctx: CheckContext, backend_nodes: set[str]) -> str:
    """A control-plane node, else a worker without a backend."""
    control = sorted(n.name for n in ctx.topology.control_planes)
    spare = sorted(
        n.name for n in ctx.topology.workers if n.name not in backend_nodes
    )
    if not control + spare:
        raise CheckSkipped(
            "no node without a backend to run the client on (no visible "
            "control plane and only two workers)"
        )
    return (control + spare)[0]


def _ready_in(slices: Watcher, pod: str) -> bool:
    for endpoint_slice in slices.latest().values():
        for endpoint in endpoint_slice.endpoints or []:
            ref = endpoint.target_ref
            if ref is not None and ref.name == pod:
                conditions = endpoint.conditions
                return bool(conditions is None or conditions.ready)
    return False


def _fetch(ctx: CheckContext, service: ServiceUnderTest) -> Counter[str]:
    """``REQUESTS`` requests from the client; backend -> answers."""
    script = (
        f"for i in $(seq {REQUESTS}); do "
        f"http-get {service.cluster_ip} {service.port} / {REQUEST_TIMEOUT_S}"
        f" || echo {FAILED}; done"
    )
    result = exec_in_pod(
        ctx.cluster.core(),
        ctx.namespace,
        service.client_pod,
        ["sh", "-c", script],
        timeout_s=REQUESTS * (REQUEST_TIMEOUT_S + 1),
    )
    return Counter(line.strip() for line in result.stdout.splitlines() if line)


def _wait_answers(
    ctx: CheckContext,
    service: ServiceUnderTest,
    expected: set[str],
    what: str,
) -> Counter[str]:
    """Repeat batches until one batch is answered by exactly ``expected``.

    Raises:
        GuaranteeViolated: no such batch within ``PROGRAMMING_TIMEOUT_S``;
            names the unexpected or missing backends, the client's node
            and kube-proxy's health there.
    """
    last: list[Counter[str]] = []

    def exact() -> Counter[str] | None:
        last[:] = [_fetch(ctx, service)]
        return last[0] if set(last[0]) == expected else None

    try:
        answers: Counter[str] = progress.wait_until(
            what, exact, PROGRAMMING_TIMEOUT_S, POLL_INTERVAL_S, quiet=True
        )
    except GuaranteeTimeout as exc:
        seen = last[0] if last else Counter[str]()
        raise violated(
            f"ClusterIP {service.cluster_ip}:{service.port} from "
            f"{service.client_node}",
            f"{what} not reached within {PROGRAMMING_TIMEOUT_S:.0f}s: "
            f"{_answers_text(service, seen, expected)}; "
            f"{_kube_proxy_note(ctx, service)}",
        ) from exc
    return answers


def _answers_text(
    service: ServiceUnderTest, seen: Counter[str], expected: set[str]
) -> str:
    total = sum(seen.values())
    parts = []
    for name, count in sorted(seen.items()):
        node = service.backends.get(name)
        tag = "" if name in expected else " (unexpected)"
        label = f"{name} on {node}" if node else name
        parts.append(f"{label}: {count}/{total}{tag}")
    missing = sorted(expected - set(seen))
    if missing:
        parts.append("never answered: " + ", ".join(missing))
    return ", ".join(parts) or "no answers"


def _kube_proxy_note(ctx: CheckContext, service: ServiceUnderTest) -> str:
    """kube-proxy's /healthz on the client's node, asked from the client."""
    result = exec_in_pod(
        ctx.cluster.core(),
        ctx.namespace,
        service.client_pod,
        [
            "http-get",
            service.client_host_ip,
            str(KUBE_PROXY_HEALTHZ_PORT),
            "/healthz",
            str(REQUEST_TIMEOUT_S),
        ],
    )
    where = (
        f"kube-proxy on {service.client_node} "
        f"({service.client_host_ip}:{KUBE_PROXY_HEALTHZ_PORT}/healthz)"
    )
    if result.returncode == 0:
        return f"{where} answers healthy"
    return f"{where} not answering (exit {result.returncode})"
