"""ARCH-09: kube-proxy implements Services.

A two-replica web Deployment spread over the workers sits behind a
ClusterIP Service. kube-proxy runs on every node, so the Service is
called from every Ready node (a client pod pinned to each, tolerating
control-plane taints; an evenly spread sample beyond
``KUBE_GAUNTLET_PATH_NODES``, the rest reported as unobserved by name):
from each, repeated fetches of the ClusterIP must hear both backends
(one part per node). Then one backend's readiness is broken (its
netexec is sent SIGTERM: ``/readyz`` fails, it goes on serving): a watch
times how long it takes to leave the EndpointSlice
(turn not-ready or disappear), and from then on every client must stop
reaching it within a short programming bound, shown over ``REQUESTS``
consecutive requests (the readiness-removal part). A miss names the
client's node and the state of kube-proxy there (its healthz, asked from
the client pod).
"""

from __future__ import annotations

import shlex
import time
from collections import Counter
from dataclasses import dataclass

from kubernetes import client

from gauntlet import progress
from gauntlet.checks.arch._chain import deployment_chain, why_not_within
from gauntlet.checks.arch._nodes import (
    NodeSample,
    path_node_limit,
    record_left_out,
    sample_nodes,
)
from gauntlet.checks.context import CheckContext, CheckSkipped, violated
from gauntlet.cluster import workloads
from gauntlet.cluster.pod_exec import exec_in_pod
from gauntlet.errors import GuaranteeTimeout, GuaranteeViolated
from gauntlet.observe.watch import (
    KubeObject,
    Watcher,
    leader_lease_note,
    unique,
)

POLL_INTERVAL_S = 0.25
TIMEOUT_S = 60.0
"""Bound for the backends and the client pods to run."""
REQUESTS = 20
REQUEST_TIMEOUT_S = 2
ENDPOINT_TIMEOUT_S = 15.0
"""Bound for a failing backend to leave the EndpointSlice."""
PROGRAMMING_TIMEOUT_S = 10.0
"""Bound for kube-proxy to stop sending traffic to it after that."""
KUBE_PROXY_HEALTHZ_PORT = 10256
BACKENDS = 2
APP = "backend"
CLIENT = "client"
FAILED = "request-failed"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
STEP = "kube-proxy implements Services"
PATH = "path"
REMOVAL = "readiness removal"


@dataclass(frozen=True)
class Client:
    """A pod on one node that calls the Service."""

    pod: str
    node: str
    host_ip: str


@dataclass(frozen=True)
class ServiceUnderTest:
    """The Service, its backends and the clients that call it."""

    name: str
    """The Service's and the backend Deployment's name."""
    cluster_ip: str
    port: int
    backends: dict[str, str]
    """Backend pod -> node."""
    clients: tuple[Client, ...]
    """One running client per node it could run on."""
    not_running: dict[str, str]
    """Node -> why its client pod is not running."""
    sample: NodeSample


def check_kube_proxy_implements_services(ctx: CheckContext) -> None:
    """A ClusterIP reaches ready backends only, from every node.

    Raises:
        GuaranteeViolated: naming each node from which a backend never
            answers or an unready backend keeps getting traffic (with
            kube-proxy's health there), or an unready backend that stays
            in the EndpointSlice.
        CheckSkipped: fewer than two workers, or no part observed.
    """
    service = serve_through_cluster_ip(ctx)
    record_left_out(ctx, PATH, service.sample)
    for node, why in sorted(service.not_running.items()):
        ctx.unobserved(f"{PATH} from {node}", why)
    for caller in service.clients:
        with ctx.part(f"{PATH} from {caller.node}"):
            answers = wait_answers(
                ctx, service, caller, set(service.backends), "both backends"
            )
            ctx.evidence(
                f"answers through the ClusterIP from {caller.node}",
                dict(answers),
            )
    with ctx.part(REMOVAL) as part:
        for finding in check_unready_backend_gets_no_traffic(ctx, service):
            part.finding(finding)
    ctx.conclude(STEP)


def serve_through_cluster_ip(ctx: CheckContext) -> ServiceUnderTest:
    """Deploy and expose the backends; start a client on each node.

    Raises:
        CheckSkipped: fewer than two workers to spread the backends on.
        GuaranteeViolated: the backends never became Ready (naming the
            link of the chain that broke).
    """
    if len(ctx.topology.workers) < BACKENDS:
        raise CheckSkipped("needs two workers to spread the backends")
    core, ns, name = ctx.cluster.core(), ctx.namespace, unique(APP)
    workloads.ensure_service_account(core, ns)
    deployment: KubeObject = workloads.web_deployment(
        name, ctx.images.workload, replicas=BACKENDS
    )
    ctx.cluster.apps().create_namespaced_deployment(ns, deployment)
    body: KubeObject = workloads.cluster_ip_service(name)
    svc: KubeObject = core.create_namespaced_service(ns, body)
    listed: KubeObject = core.list_node()
    sample = sample_nodes(listed.items, path_node_limit())
    started = {
        node: _start_client(ctx, f"{name}-{CLIENT}-{i}", node)
        for i, node in enumerate(sample.chosen)
    }
    _wait_backends(ctx, name)
    pods: list[KubeObject] = workloads.pods_of(core, ns, name)
    backends = {
        str(p.metadata.name): str(p.spec.node_name)
        for p in pods
        if p.metadata.deletion_timestamp is None
    }
    clients, not_running = _clients_running(ctx, started)
    return ServiceUnderTest(
        name=name,
        cluster_ip=svc.spec.cluster_ip,
        port=svc.spec.ports[0].port,
        backends=backends,
        clients=tuple(clients),
        not_running=not_running,
        sample=sample,
    )


def check_unready_backend_gets_no_traffic(
    ctx: CheckContext, service: ServiceUnderTest
) -> list[str]:
    """Fail one backend's readiness; it must leave the slice, then the
    path from every client. The findings, one per node that still sends
    it traffic.

    Raises:
        GuaranteeViolated: the backend cannot be made unready, or stays
            ready in the EndpointSlice (kube-proxy is then not to blame).
        CheckSkipped: no client runs to call the Service from.
    """
    victim = sorted(service.backends)[0]
    where = f"{victim} on {service.backends[victim]}"
    with Watcher(
        client.DiscoveryV1Api(ctx.cluster.api).list_namespaced_endpoint_slice,
        ctx.namespace,
        label_selector=f"{SERVICE_NAME_LABEL}={service.name}",
    ) as slices:
        start = time.monotonic()
        broken = exec_in_pod(
            ctx.cluster.core(),
            ctx.namespace,
            victim,
            workloads.unready_argv(),
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
    ctx.measure(
        "unready out of slice",
        time.monotonic() - start,
        "s",
        ENDPOINT_TIMEOUT_S,
    )
    if not service.clients:
        raise CheckSkipped("no client pod runs to call the Service from")
    others = set(service.backends) - {victim}
    mark = time.monotonic()
    findings, cleared = [], []
    for caller in service.clients:
        try:
            wait_answers(
                ctx,
                service,
                caller,
                others,
                f"traffic only to ready backends ({where} unready)",
            )
        except GuaranteeViolated as exc:
            findings.append(str(exc))
            continue
        cleared.append(time.monotonic() - mark)
    if cleared:  # an upper bound: the clients are probed in turn
        ctx.measure(
            "unready out of path", max(cleared), "s", PROGRAMMING_TIMEOUT_S
        )
    return findings


def wait_answers(
    ctx: CheckContext,
    service: ServiceUnderTest,
    caller: Client,
    expected: set[str],
    what: str,
) -> Counter[str]:
    """Repeat batches from ``caller`` until one batch is answered by
    exactly ``expected``.

    Raises:
        GuaranteeViolated: no such batch within ``PROGRAMMING_TIMEOUT_S``;
            names the unexpected or missing backends, the caller's node
            and kube-proxy's health there.
    """
    last: list[Counter[str]] = []

    def exact() -> Counter[str] | None:
        last[:] = [_fetch(ctx, caller, service)]
        return last[0] if set(last[0]) == expected else None

    try:
        answers: Counter[str] = progress.wait_until(
            what, exact, PROGRAMMING_TIMEOUT_S, POLL_INTERVAL_S, quiet=True
        )
    except GuaranteeTimeout as exc:
        seen = last[0] if last else Counter[str]()
        raise violated(
            f"ClusterIP {service.cluster_ip}:{service.port} from {caller.node}",
            f"{what} not reached within {PROGRAMMING_TIMEOUT_S:.0f}s: "
            f"{answers_text(service.backends, seen, expected)}; "
            f"{_kube_proxy_note(ctx, caller)}",
        ) from exc
    return answers


def answers_text(
    backends: dict[str, str], seen: Counter[str], expected: set[str]
) -> str:
    """``b-1 on w1: 12/20, b-2 on w2: 8/20 (unexpected)``, and who never
    answered."""
    total = sum(seen.values())
    parts = []
    for name, count in sorted(seen.items()):
        node = backends.get(name)
        tag = "" if name in expected else " (unexpected)"
        label = f"{name} on {node}" if node else name
        parts.append(f"{label}: {count}/{total}{tag}")
    missing = sorted(expected - set(seen))
    if missing:
        parts.append("never answered: " + ", ".join(missing))
    return ", ".join(parts) or "no answers"


# -- helpers ------------------------------------------------------------------


def _start_client(ctx: CheckContext, pod: str, node: str) -> str:
    shell: KubeObject = workloads.shell_pod(
        pod, ctx.images.workload, node_name=node, tolerate_all=True
    )
    ctx.cluster.core().create_namespaced_pod(ctx.namespace, shell)
    return pod


def _wait_backends(ctx: CheckContext, name: str) -> None:
    try:
        workloads.wait_deployment_ready(
            ctx.cluster.apps(), ctx.namespace, name, TIMEOUT_S
        )
    except GuaranteeTimeout as exc:
        chain = deployment_chain(ctx, name, BACKENDS, "ready")
        why = why_not_within(ctx, chain, "ready", TIMEOUT_S)
        raise violated(f"backends {name}", why or exc.last_state) from exc


def _clients_running(
    ctx: CheckContext, pods: dict[str, str]
) -> tuple[list[Client], dict[str, str]]:
    """The clients that run (within one shared bound), and why the
    others do not."""
    core, deadline = ctx.cluster.core(), time.monotonic() + TIMEOUT_S
    running, not_running = [], {}
    for node, name in pods.items():
        left = max(deadline - time.monotonic(), POLL_INTERVAL_S)
        try:
            pod: KubeObject = workloads.wait_pod_running(
                core, ctx.namespace, name, left
            )
        except GuaranteeTimeout as exc:
            not_running[node] = (
                f"client pod {name} not running within {TIMEOUT_S:.0f}s "
                f"({exc.last_state})"
            )
            continue
        running.append(Client(name, node, str(pod.status.host_ip)))
    return running, not_running


def _ready_in(slices: Watcher, pod: str) -> bool:
    for endpoint_slice in slices.latest().values():
        for endpoint in endpoint_slice.endpoints or []:
            ref = endpoint.target_ref
            if ref is not None and ref.name == pod:
                conditions = endpoint.conditions
                return bool(conditions is None or conditions.ready)
    return False


def _fetch(
    ctx: CheckContext, caller: Client, service: ServiceUnderTest
) -> Counter[str]:
    """``REQUESTS`` requests from ``caller``; backend -> answers."""
    target = shlex.join(
        [service.cluster_ip, str(service.port), workloads.NAME_PATH]
    )
    script = (
        f"{workloads.HTTP_GET}\nfor i in $(seq {REQUESTS}); do "
        f"http_get {target} {REQUEST_TIMEOUT_S} || echo {FAILED}; done"
    )
    result = exec_in_pod(
        ctx.cluster.core(),
        ctx.namespace,
        caller.pod,
        ["sh", "-c", script],
        timeout_s=REQUESTS * (REQUEST_TIMEOUT_S + 1),
    )
    return Counter(line.strip() for line in result.stdout.splitlines() if line)


def _kube_proxy_note(ctx: CheckContext, caller: Client) -> str:
    """kube-proxy's /healthz on the caller's node, asked from the caller."""
    result = exec_in_pod(
        ctx.cluster.core(),
        ctx.namespace,
        caller.pod,
        workloads.http_get_argv(
            caller.host_ip,
            KUBE_PROXY_HEALTHZ_PORT,
            "/healthz",
            REQUEST_TIMEOUT_S,
        ),
    )
    where = (
        f"kube-proxy on {caller.node} "
        f"({caller.host_ip}:{KUBE_PROXY_HEALTHZ_PORT}/healthz)"
    )
    if result.returncode == 0:
        return f"{where} answers healthy"
    return f"{where} not answering (exit {result.returncode})"
