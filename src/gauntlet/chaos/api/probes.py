"""Probes through the Kubernetes API: writes, Services, pods and nodes."""

import secrets as tokens
from typing import Any

from chaoslib.exceptions import ActivityFailed
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet.chaos import _context, _select
from gauntlet.chaos._context import Configuration, Secrets
from gauntlet.cluster import workloads
from gauntlet.cluster.pod_exec import exec_in_pod
from gauntlet.images import workload_image
from gauntlet.observe import endpoints, objects

__all__ = [
    "api_write_refused",
    "api_writable",
    "node_not_ready",
    "node_ready",
    "nodes_ready",
    "pod_restarts_total",
    "pod_uids_and_restarts",
    "service_available",
]

WRITE_TIMEOUT_S = 5.0
PROBE_POD = "kube-gauntlet-prober"


def api_writable(
    endpoint: str | None = None,
    namespace: str = "default",
    timeout_s: float = WRITE_TIMEOUT_S,
    raise_on_failure: bool = True,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """Whether a ConfigMap can be created and deleted through the API.

    ``endpoint`` is one API server's ``https://<address>:<port>``; by
    default the kubeconfig's server (usually the load balancer). Each
    request gives up after ``timeout_s``.

    Raises:
        ActivityFailed: the create or delete failed or timed out (unless
            ``raise_on_failure`` is false, then the probe returns
            ``False``).
    """
    cluster = _context.cluster(secrets)
    api = endpoints.endpoint_client(cluster, endpoint)
    core = client.CoreV1Api(api)
    name = f"kube-gauntlet-write-{tokens.token_hex(4)}"
    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name), data={"probe": "1"}
    )
    where = endpoint or cluster.server
    try:
        core.create_namespaced_config_map(
            namespace, body, _request_timeout=timeout_s
        )
        core.delete_namespaced_config_map(
            name, namespace, _request_timeout=timeout_s
        )
    except Exception as exc:  # noqa: BLE001 - any failure means not writable
        if raise_on_failure:
            raise ActivityFailed(
                f"write through {where} failed: {_short(exc)}"
            ) from exc
        return False
    finally:
        api.close()  # type: ignore[no-untyped-call]
    return True


def api_write_refused(
    endpoint: str | None = None,
    namespace: str = "default",
    timeout_s: float = WRITE_TIMEOUT_S,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """Whether a ConfigMap create through the API fails (or times out).

    The inverse of ``api_writable``, for faults that must stop writes
    (quorum loss, a minority partition). A create that succeeds is
    deleted again.

    Raises:
        ActivityFailed: the write was accepted.
    """
    if not api_writable(
        endpoint, namespace, timeout_s, False, configuration, secrets
    ):
        return True
    where = endpoint or _context.cluster(secrets).server
    raise ActivityFailed(f"write through {where} was accepted")


def service_available(
    namespace: str,
    name: str,
    port: int = 80,
    attempts: int = 10,
    min_success_ratio: float = 1.0,
    image: str | None = None,
    raise_on_failure: bool = True,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> float:
    """The share of ``attempts`` HTTP GETs of a Service that succeeded.

    The requests come from a probe pod (``kube-gauntlet-prober``, created
    in ``namespace`` on first use from ``image`` or the workload image)
    to the Service's ClusterIP and ``port``, each with a 2 s timeout: the
    Service's routing is judged, not the cluster DNS.

    Raises:
        ActivityFailed: the ratio is below ``min_success_ratio`` (unless
            ``raise_on_failure`` is false).
    """
    core = _context.cluster(secrets).core()
    address = _cluster_ip(core, namespace, name)
    _ensure_probe_pod(core, namespace, image or workload_image())
    script = (
        f"{workloads.fetch_function(address, port)}; "
        f"for i in $(seq {int(attempts)}); "
        "do fetch && echo ok || echo fail; done"
    )
    result = exec_in_pod(
        core,
        namespace,
        PROBE_POD,
        ["sh", "-c", script],
        timeout_s=attempts * (workloads.FETCH_TIMEOUT_S + 1) + 10,
    )
    lines = result.stdout.split()
    ratio = lines.count("ok") / max(attempts, 1)
    if ratio < min_success_ratio and raise_on_failure:
        raise ActivityFailed(
            f"service {namespace}/{name}:{port}: {lines.count('ok')} of "
            f"{attempts} requests succeeded"
        )
    return ratio


def _cluster_ip(core: client.CoreV1Api, namespace: str, name: str) -> str:
    try:
        service = core.read_namespaced_service(name, namespace)
    except ApiException as exc:
        raise ActivityFailed(
            f"service {namespace}/{name}: {exc.status} {exc.reason}"
        ) from exc
    address = service.spec.cluster_ip if service.spec else None
    if not address or address == "None":
        raise ActivityFailed(f"service {namespace}/{name} has no ClusterIP")
    return str(address)


def pod_uids_and_restarts(
    namespace: str,
    label_selector: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, dict[str, Any]]:
    """Pod name -> ``{"uid", "node", "restarts", "phase"}`` for the pods.

    Compare two snapshots to prove that pods survived a fault in place:
    same UIDs, same restart counts.

    Raises:
        ActivityFailed: the pods cannot be listed.
    """
    return {
        objects.name(p): {
            "uid": objects.uid(p),
            "node": objects.node_name(p),
            "restarts": objects.restarts(p),
            "phase": objects.phase(p),
        }
        for p in _pods(namespace, label_selector, secrets)
    }


def pod_restarts_total(
    namespace: str,
    label_selector: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> int:
    """The summed container restart count of the matching pods.

    Raises:
        ActivityFailed: the pods cannot be listed.
    """
    return sum(
        objects.restarts(p) for p in _pods(namespace, label_selector, secrets)
    )


def nodes_ready(
    label_selector: str | None = None,
    minimum: int = 1,
    raise_on_failure: bool = True,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """Whether every (matching) node is Ready, and at least ``minimum``.

    Raises:
        ActivityFailed: a node is not Ready or too few exist (unless
            ``raise_on_failure`` is false).
    """
    core = _context.cluster(secrets).core()
    try:
        items = core.list_node(label_selector=label_selector or "").items
    except ApiException as exc:
        raise ActivityFailed(f"list nodes: {exc.status} {exc.reason}") from exc
    not_ready = sorted(
        objects.name(n) for n in items if not workloads.node_is_ready(n)
    )
    problem = ""
    if not_ready:
        problem = f"not Ready: {', '.join(not_ready)}"
    elif len(items) < minimum:
        problem = f"{len(items)} nodes, expected at least {minimum}"
    if problem and raise_on_failure:
        raise ActivityFailed(problem)
    return not problem


def node_ready(
    name: str,
    raise_on_failure: bool = True,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """Whether node ``name`` reports Ready=True.

    ``name`` also takes the node selectors of ``stop_component``.

    Raises:
        ActivityFailed: it does not (Ready False or Unknown), or cannot be
            read (unless ``raise_on_failure`` is false).
    """
    node, state = _ready_state(name, configuration, secrets)
    if state != "True" and raise_on_failure:
        raise ActivityFailed(f"node {node} is not Ready (Ready={state})")
    return state == "True"


def node_not_ready(
    name: str,
    raise_on_failure: bool = True,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """Whether node ``name`` reports Ready False or Unknown.

    For faults that must take a node out (a stopped kubelet, a worker cut
    off from the control plane). ``name`` also takes node selectors.

    Raises:
        ActivityFailed: the node is still Ready (unless
            ``raise_on_failure`` is false), or cannot be read.
    """
    node, state = _ready_state(name, configuration, secrets)
    if state == "True" and raise_on_failure:
        raise ActivityFailed(f"node {node} is still Ready")
    return state != "True"


def _ready_state(
    name: str, configuration: Configuration, secrets: Secrets
) -> tuple[str, str]:
    node = _select.resolve_node(name, configuration, secrets)
    core = _context.cluster(secrets).core()
    try:
        return node, workloads.ready_condition(core, node)
    except ApiException as exc:
        raise ActivityFailed(
            f"read node {node}: {exc.status} {exc.reason}"
        ) from exc


def _pods(
    namespace: str, label_selector: str, secrets: Secrets
) -> list[client.V1Pod]:
    core = _context.cluster(secrets).core()
    try:
        return list(
            core.list_namespaced_pod(
                namespace, label_selector=label_selector
            ).items
        )
    except ApiException as exc:
        raise ActivityFailed(
            f"list pods {label_selector!r} in {namespace}: "
            f"{exc.status} {exc.reason}"
        ) from exc


def _ensure_probe_pod(
    core: client.CoreV1Api, namespace: str, image: str
) -> None:
    try:
        core.read_namespaced_pod(PROBE_POD, namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise
        manifest = workloads.shell_pod(PROBE_POD, image)
        core.create_namespaced_pod(namespace, manifest)  # type: ignore[arg-type]
    workloads.wait_pod_running(core, namespace, PROBE_POD)


def _short(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"{exc.status} {exc.reason}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}"[:200]
