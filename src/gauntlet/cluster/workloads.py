# The kubernetes client types every model field as optional and every
# body as a model; we pass plain dicts and read fields the API always sets.
# mypy: disable-error-code="union-attr,arg-type,operator,return-value"
"""Workloads the suites create: manifests and waits, nothing asserted.

Objects carry the run label so a crashed run's leftovers can be found;
images are configurable for clusters without the lab's images and never
pulled when present (``IfNotPresent``).
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


def web_deployment(
    name: str,
    image: str,
    replicas: int = 2,
    spread: bool = True,
    node_selector: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An HTTP server Deployment (port 8080) that answers its pod name."""
    match = {"app": name}
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "web",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["/bin/serve"],
                "ports": [{"containerPort": 8080}],
                "readinessProbe": {
                    "exec": {"command": ["cat", "/www/ready"]},
                    "periodSeconds": 1,
                    "failureThreshold": 1,
                },
            }
        ],
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
    name: str, port: int = 80, target_port: int = 8080
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
    """A long-running busybox pod to run probes from (``exec``)."""
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


def fetch_function(host: str, port: int) -> str:
    """A shell function ``fetch``: one HTTP GET of ``host:port``.

    Uses the lab image's ``http-get`` (nc based) when present, since a
    static busybox ``wget`` may crash on name lookups, else ``wget``.
    """
    url = shlex.quote(f"http://{host}:{port}/")
    quoted = shlex.quote(host)
    return (
        "fetch() { if command -v http-get >/dev/null; then "
        f"http-get {quoted} {int(port)} / {FETCH_TIMEOUT_S} >/dev/null; "
        f"else wget -q -T {FETCH_TIMEOUT_S} -O /dev/null {url}; fi; }}"
    )
