"""The built-in rollback kinds, and builders that fill in their params.

Kinds are backend-agnostic: node faults carry the node access backend's
``rollback_params`` and are replayed through ``gauntlet.backends``; cluster
faults carry the target (kubeconfig and context) and reconnect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from gauntlet import backends
from gauntlet.cluster import drain
from gauntlet.cluster.client import Cluster, ClusterTarget, connect
from gauntlet.errors import ClusterOperationFailed
from gauntlet.faults.rollback import Rollback, rollback_kind
from gauntlet.nodes.base import NodeAccess

__all__ = [
    "delete_object",
    "heal_partition",
    "restore_argv",
    "start_component",
    "uncordon",
]


# -- builders ---------------------------------------------------------------


def start_component(access: NodeAccess, node: str, component: str) -> Rollback:
    """Undo a stop: start ``component`` on ``node``."""
    params = {**access.rollback_params(), "node": node, "component": component}
    return Rollback("start_component", params)


def heal_partition(access: NodeAccess, node: str) -> Rollback:
    """Undo a partition: remove ``node``'s partition rules."""
    params = {**access.rollback_params(), "node": node}
    return Rollback("heal_partition", params)


def restore_argv(
    access: NodeAccess, node: str, component: str, argv: list[str]
) -> Rollback:
    """Undo a flag change: put ``argv`` back."""
    params = {
        **access.rollback_params(),
        "node": node,
        "component": component,
        "argv": list(argv),
    }
    return Rollback("restore_argv", params)


def delete_object(
    cluster: Cluster,
    kind: str,
    name: str,
    namespace: str | None = None,
    api_version: str = "v1",
) -> Rollback:
    """Undo a create: delete the object (a 404 counts as done)."""
    params: dict[str, Any] = {
        **cluster.target.to_params(),
        "api_version": api_version,
        "kind": kind,
        "name": name,
    }
    if namespace:
        params["namespace"] = namespace
    return Rollback("kubectl_delete", params)


def uncordon(cluster: Cluster, node: str) -> Rollback:
    """Undo a cordon: mark ``node`` schedulable again."""
    return Rollback("uncordon", {**cluster.target.to_params(), "node": node})


# -- registered kinds ---------------------------------------------------------


@rollback_kind("start_component")
def _start_component(params: Mapping[str, Any]) -> None:
    access = backends.from_params(params)
    access.start(str(params["node"]), str(params["component"]))


@rollback_kind("heal_partition")
def _heal_partition(params: Mapping[str, Any]) -> None:
    backends.from_params(params).heal(str(params["node"]))


@rollback_kind("restore_argv")
def _restore_argv(params: Mapping[str, Any]) -> None:
    access = backends.from_params(params)
    argv = [str(a) for a in params["argv"]]
    access.set_argv(str(params["node"]), str(params["component"]), argv)


@rollback_kind("kubectl_delete")
def _kubectl_delete(params: Mapping[str, Any]) -> None:
    from kubernetes.dynamic import DynamicClient

    cluster = connect(ClusterTarget.from_params(params))
    kind, name = str(params["kind"]), str(params["name"])
    namespace = params.get("namespace")
    try:
        dynamic = DynamicClient(cluster.api)  # type: ignore[no-untyped-call]
        resource = dynamic.resources.get(
            api_version=str(params.get("api_version", "v1")), kind=kind
        )
        resource.delete(name=name, namespace=namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise ClusterOperationFailed(
                "delete",
                f"{kind} {name}",
                str(namespace) if namespace else None,
                f"{exc.status} {exc.reason}",
            ) from exc
    finally:
        cluster.close()


@rollback_kind("uncordon")
def _uncordon(params: Mapping[str, Any]) -> None:
    cluster = connect(ClusterTarget.from_params(params))
    try:
        drain.uncordon(cluster.core(), str(params["node"]))
    finally:
        cluster.close()
