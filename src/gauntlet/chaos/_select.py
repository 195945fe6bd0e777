"""Node selection by role or name, resolved when the activity runs.

Selectors: a node name, or ``etcd-leader``, ``etcd-follower``,
``scheduler-leader``, ``controller-manager-leader``, ``any-worker``,
``worker-running:<namespace>/<label-selector>`` and ``control-plane:<i>``
(1-based, in name order). A plain name is passed through untouched, so
rollbacks work while the API server is down.

A selector resolves once per run (``gauntlet_run_id``): later activities
with the same selector act on the same node, so ``start_component`` on
``etcd-leader`` restarts the member ``stop_component`` stopped, not the
new leader, and works while the API server is down.
"""

from __future__ import annotations

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet.chaos import _context
from gauntlet.cluster.workloads import node_is_ready
from gauntlet.errors import ClusterOperationFailed, UsageError
from gauntlet.observe import objects

__all__ = ["SELECTORS", "lease_holder_node", "resolve_node", "resolve_nodes"]

SELECTORS = (
    "etcd-leader",
    "etcd-follower",
    "scheduler-leader",
    "controller-manager-leader",
    "any-worker",
    "worker-running:<namespace>/<label-selector>",
    "control-plane:<i>",
)
CONTROL_PLANE_LABELS = (
    "node-role.kubernetes.io/control-plane",
    "node-role.kubernetes.io/master",
)
_RESOLVED: dict[tuple[str, str], str] = {}
_LEASES = {
    "scheduler-leader": "kube-scheduler",
    "controller-manager-leader": "kube-controller-manager",
}


def resolve_node(
    selector: str,
    configuration: _context.Configuration = None,
    secrets: _context.Secrets = None,
) -> str:
    """The node name ``selector`` stands for right now.

    Raises:
        UsageError: a malformed selector, or no node matches it.
        ClusterOperationFailed: the API refused a lookup.
    """
    key = (_context.run_id(configuration), selector)
    if key not in _RESOLVED:
        _RESOLVED[key] = _resolve(selector, configuration, secrets)
    return _RESOLVED[key]


def _resolve(
    selector: str,
    configuration: _context.Configuration,
    secrets: _context.Secrets,
) -> str:
    if selector in ("etcd-leader", "etcd-follower"):
        return _etcd_node(selector == "etcd-leader", configuration, secrets)
    if selector in _LEASES:
        return lease_holder_node(_LEASES[selector], secrets=secrets)
    if selector == "any-worker":
        return _workers(secrets, ready_only=True)[0]
    if selector.startswith("worker-running:"):
        return _worker_running(selector.split(":", 1)[1], secrets)
    if selector.startswith("control-plane:"):
        return _control_plane(selector.split(":", 1)[1], secrets)
    if not selector or ":" in selector:
        raise UsageError(
            f"unknown node selector {selector!r}: use a node name or one of "
            f"{', '.join(SELECTORS)}"
        )
    return selector


def resolve_nodes(
    selectors: list[str] | str,
    configuration: _context.Configuration = None,
    secrets: _context.Secrets = None,
) -> list[str]:
    """``resolve_node`` for each entry; a single string is one entry."""
    items = [selectors] if isinstance(selectors, str) else list(selectors)
    return [resolve_node(s, configuration, secrets) for s in items]


def lease_holder_node(
    lease: str, namespace: str = "kube-system", secrets: _context.Secrets = None
) -> str:
    """The node whose component holds ``lease`` (``cp1_<uuid>`` -> cp1)."""
    holder = _lease_holder(lease, namespace, secrets)
    if not holder:
        raise UsageError(f"lease {namespace}/{lease} has no holder")
    return holder.split("_", 1)[0]


def _lease_holder(lease: str, namespace: str, secrets: _context.Secrets) -> str:
    api = _context.cluster(secrets).coordination()
    try:
        found = api.read_namespaced_lease(lease, namespace)
    except ApiException as exc:
        raise ClusterOperationFailed(
            "read", f"lease {lease}", namespace, f"{exc.status} {exc.reason}"
        ) from exc
    return str(found.spec.holder_identity or "") if found.spec else ""


def _nodes(secrets: _context.Secrets) -> list[client.V1Node]:
    try:
        items = _context.cluster(secrets).core().list_node().items
    except ApiException as exc:
        raise ClusterOperationFailed(
            "list", "nodes", None, f"{exc.status} {exc.reason}"
        ) from exc
    return sorted(items, key=objects.name)


def _is_control_plane(node: client.V1Node) -> bool:
    labels = objects.labels(node)
    return any(label in labels for label in CONTROL_PLANE_LABELS)


def _workers(secrets: _context.Secrets, ready_only: bool) -> list[str]:
    names = [
        objects.name(n)
        for n in _nodes(secrets)
        if not _is_control_plane(n) and (node_is_ready(n) or not ready_only)
    ]
    if not names:
        raise UsageError("no Ready worker node for selector any-worker")
    return names


def _control_plane(index: str, secrets: _context.Secrets) -> str:
    names = [objects.name(n) for n in _nodes(secrets) if _is_control_plane(n)]
    try:
        position = int(index)
    except ValueError:
        position = 0
    if not 1 <= position <= len(names):
        raise UsageError(
            f"control-plane:{index}: expected 1 to {len(names)} "
            f"(control planes: {', '.join(names) or 'none visible'})"
        )
    return names[position - 1]


def _worker_running(spec: str, secrets: _context.Secrets) -> str:
    namespace, sep, selector = spec.partition("/")
    if not sep or not namespace or not selector:
        raise UsageError(
            f"worker-running:{spec}: expected "
            "worker-running:<namespace>/<label-selector>"
        )
    core = _context.cluster(secrets).core()
    try:
        pods = core.list_namespaced_pod(namespace, label_selector=selector)
    except ApiException as exc:
        raise ClusterOperationFailed(
            "list", "pods", namespace, f"{exc.status} {exc.reason}"
        ) from exc
    workers = set(_workers(secrets, ready_only=False))
    hosts = sorted(
        {
            objects.node_name(p)
            for p in pods.items
            if objects.node_name(p) in workers and objects.phase(p) == "Running"
        }
    )
    if not hosts:
        raise UsageError(
            f"no worker runs a Running pod matching {selector!r} in "
            f"namespace {namespace}"
        )
    return hosts[0]


def _etcd_node(
    leader: bool,
    configuration: _context.Configuration,
    secrets: _context.Secrets,
) -> str:
    found = _context.etcd(configuration, secrets).statuses()
    wanted = [m for m in found if m.is_leader == leader]
    role = "leader" if leader else "follower"
    if not wanted:
        raise UsageError(f"no etcd {role} among {len(found)} members")
    host = sorted(wanted, key=lambda m: m.endpoint)[0].host
    for node in _nodes(secrets):
        if host in objects.addresses(node):
            return objects.name(node)
    raise UsageError(f"etcd {role} at {host} is on no known node")
