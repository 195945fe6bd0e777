# The kubernetes client types every model field as optional and every
# body as a model; we pass plain dicts and read fields the API always sets.
# mypy: disable-error-code="union-attr,arg-type,operator,return-value"
"""Workloads the suites create: manifests and waits, nothing asserted.

Objects carry the run label so a crashed run's leftovers can be found;
images (``gauntlet.images``: the e2e suite's agnhost by default) are
configurable and never pulled when present (``IfNotPresent``).

Servers are ``agnhost netexec``; clients use only what both the upstream
agnhost image (alpine: openbsd ``nc``) and the lab's (busybox ``nc``)
have: ``sh``, ``nc``, ``sed``, ``head``, ``seq``, ``kill``, ``sleep``.
"""

from __future__ import annotations

import shlex
import time
from typing import Any

from kubernetes import client

from gauntlet import progress

POLL_INTERVAL_S = 1.0
READY_TIMEOUT_S = 120.0
CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"


def spread_affinity(
    match: dict[str, str], required: bool = True
) -> dict[str, Any]:
    """Pod anti-affinity that puts ``match``'s pods on different nodes;
    preferred when a replacement must still fit on an occupied node."""
    term: dict[str, Any] = {
        "topologyKey": "kubernetes.io/hostname",
        "labelSelector": {"matchLabels": match},
    }
    rule: dict[str, Any]
    if required:
        rule = {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
    else:
        rule = {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": term}
            ]
        }
    return {"podAntiAffinity": rule}


WEB_PORT = 8080
NAME_PATH = "/hostname"
"""netexec answers the pod's hostname, i.e. its name: which replica."""
PEER_PATH = "/clientip"
"""netexec answers the caller's address as it saw it (``ip:port``)."""
UNREADY_HOLD_S = 3600
"""How long a server told to turn unready keeps serving (``unready_argv``)."""


def web_command() -> list[str]:
    """``agnhost netexec`` on ``WEB_PORT`` (and UDP 8081, which its
    ``/readyz`` waits for); after SIGTERM it serves on, unready."""
    return [
        "/agnhost",
        "netexec",
        f"--http-port={WEB_PORT}",
        f"--delay-shutdown={UNREADY_HOLD_S}",
    ]


def web_server(image: str) -> dict[str, Any]:
    """A ``web_command`` container; Ready while its ``/readyz`` answers
    200 (its UDP server is up, no SIGTERM seen)."""
    return {
        "name": "web",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": web_command(),
        "ports": [{"containerPort": WEB_PORT}],
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": WEB_PORT},
            "periodSeconds": 1,
            "failureThreshold": 1,
        },
    }


def unready_argv() -> list[str]:
    """Exec'd in a ``web_server``: its ``/readyz`` turns 503 while it
    keeps serving (netexec on SIGTERM, for ``UNREADY_HOLD_S``), so it
    leaves its Service's endpoints alive."""
    return ["kill", "-TERM", "1"]


def web_deployment(
    name: str,
    image: str,
    replicas: int = 2,
    spread: bool = True,
    node_selector: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An HTTP server Deployment (``web_server``) whose pods answer
    ``NAME_PATH`` with their name."""
    match = {"app": name}
    spec: dict[str, Any] = {
        "containers": [web_server(image)],
        "terminationGracePeriodSeconds": 1,
    }
    if node_selector:
        spec["nodeSelector"] = node_selector
    if spread:
        spec["affinity"] = spread_affinity(match)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {**match, **(labels or {})}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": match},
            "template": {
                "metadata": {"labels": {**match, **(labels or {})}},
                "spec": spec,
            },
        },
    }


def cluster_ip_service(
    name: str, port: int = 80, target_port: int = WEB_PORT
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "selector": {"app": name},
            "ports": [{"port": port, "targetPort": target_port}],
        },
    }


def disruption_budget(name: str, min_available: int) -> dict[str, Any]:
    """A PodDisruptionBudget over the pods labelled ``app=<name>``."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {
            "minAvailable": min_available,
            "selector": {"matchLabels": {"app": name}},
        },
    }


def shell_pod(
    name: str,
    image: str,
    node_name: str | None = None,
    tolerate_all: bool = False,
    command: list[str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A long-running pod to run probes from (``exec``)."""
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "shell",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": command or ["sleep", "3600"],
            }
        ],
        "terminationGracePeriodSeconds": 0,
        "restartPolicy": "Never",
    }
    if node_name:
        spec["nodeName"] = node_name
    if tolerate_all:
        spec["tolerations"] = [{"operator": "Exists"}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": spec,
    }


def wait_deployment_ready(
    apps: client.AppsV1Api,
    namespace: str,
    name: str,
    timeout_s: float = READY_TIMEOUT_S,
) -> None:
    def ready() -> bool:
        dep = apps.read_namespaced_deployment(name, namespace)
        want = dep.spec.replicas or 0
        return (dep.status.ready_replicas or 0) >= want and (
            dep.status.updated_replicas or 0
        ) >= want

    def describe() -> str:
        st = apps.read_namespaced_deployment(name, namespace).status
        return f"ready {st.ready_replicas or 0}/{st.replicas or 0}"

    progress.wait_until(
        f"deployment {namespace}/{name} ready",
        ready,
        timeout_s,
        POLL_INTERVAL_S,
        describe,
        quiet=True,
    )


def wait_pod_running(
    core: client.CoreV1Api,
    namespace: str,
    name: str,
    timeout_s: float = READY_TIMEOUT_S,
) -> client.V1Pod:
    def running() -> client.V1Pod | None:
        pod = core.read_namespaced_pod(name, namespace)
        return pod if pod.status.phase == "Running" else None

    def describe() -> str:
        return str(core.read_namespaced_pod(name, namespace).status.phase)

    pod: client.V1Pod = progress.wait_until(
        f"pod {namespace}/{name} running",
        running,
        timeout_s,
        POLL_INTERVAL_S,
        describe,
        quiet=True,
    )
    return pod


def pods_of(
    core: client.CoreV1Api, namespace: str, app: str
) -> list[client.V1Pod]:
    return list(
        core.list_namespaced_pod(namespace, label_selector=f"app={app}").items
    )


def delete_app_pods(
    core: client.CoreV1Api,
    namespace: str,
    app: str,
    timeout_s: float = READY_TIMEOUT_S,
) -> None:
    """Delete the pods of ``app`` at once and wait until they are gone, so
    the next step does not count (or schedule around) pods on their way out."""
    core.delete_collection_namespaced_pod(
        namespace, label_selector=f"app={app}", grace_period_seconds=0
    )
    progress.wait_until(
        f"pods of {app} gone",
        lambda: not pods_of(core, namespace, app),
        timeout_s,
        POLL_INTERVAL_S,
        quiet=True,
    )


def node_is_ready(node: client.V1Node) -> bool:
    return any(
        c.type == "Ready" and c.status == "True"
        for c in node.status.conditions or []
    )


def ready_condition(core: client.CoreV1Api, node_name: str) -> str:
    node = core.read_node(node_name)
    for c in node.status.conditions or []:
        if c.type == "Ready":
            return str(c.status)
    return "missing"


def elapsed_since(start: float) -> float:
    return time.monotonic() - start


def wait_all_scheduled(
    core: client.CoreV1Api,
    namespace: str,
    app: str,
    count: int,
    timeout_s: float,
) -> dict[str, str]:
    """Wait until ``count`` pods of ``app`` have a node; pod -> node."""

    def placed() -> dict[str, str] | None:
        pods = pods_of(core, namespace, app)
        found = {
            p.metadata.name: p.spec.node_name for p in pods if p.spec.node_name
        }
        return found if len(found) >= count else None

    result: dict[str, str] = progress.wait_until(
        f"{count} pods of {app} scheduled",
        placed,
        timeout_s,
        POLL_INTERVAL_S,
        quiet=True,
    )
    return result


def ensure_service_account(
    core: client.CoreV1Api, namespace: str, name: str = "default"
) -> None:
    """Create ``name`` unless it exists: pods are refused until their
    ServiceAccount exists, and a fresh namespace gets ``default`` only
    once the controller-manager gets to it."""
    body = client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))
    try:
        core.create_namespaced_service_account(namespace, body)
    except client.ApiException as exc:
        if exc.status != 409:
            raise


FETCH_TIMEOUT_S = 2
"""Seconds one in-pod HTTP GET (``fetch_function``) may take."""

HTTP_GET = r"""http_get() {
  r=$(printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$3" "$1" \
    | nc -w "$4" "$1" "$2") || return 2
  case "$r" in
    "HTTP/1."?" 200"*) printf '%s\n' "$r" | sed '1,/^\r\{0,1\}$/d' ;;
    *) printf '%s\n' "$r" | head -n 1 >&2; return 1 ;;
  esac
}"""
"""Shell function ``http_get HOST PORT PATH TIMEOUT_S``: the body on a 200,
else the status line on stderr and 1; 2 without an answer. ``nc`` takes
only ``-w`` here, which busybox and openbsd nc share: no image has to
carry curl, and Debian's static busybox ``wget`` crashes on name lookups
(glibc NSS in a static binary)."""


def http_get_argv(
    host: str, port: int, path: str = "/", timeout_s: int = FETCH_TIMEOUT_S
) -> list[str]:
    """Exec argv of one ``http_get`` (arguments passed, never quoted in)."""
    return [
        "sh",
        "-c",
        f'{HTTP_GET}\nhttp_get "$@"',
        "http_get",
        host,
        str(int(port)),
        path,
        str(int(timeout_s)),
    ]


def fetch_function(host: str, port: int) -> str:
    """Shell functions ending in ``fetch``: one GET of ``host:port``'s
    ``NAME_PATH``, success or not, output dropped."""
    args = shlex.join([host, str(int(port)), NAME_PATH, str(FETCH_TIMEOUT_S)])
    return f"{HTTP_GET}\nfetch() {{ http_get {args} >/dev/null; }}"
