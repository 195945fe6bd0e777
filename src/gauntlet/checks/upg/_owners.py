# The client types every model field as optional; pods read back from the
# API always have metadata.
# mypy: disable-error-code="union-attr"
"""Who owns a pod, and which pods this tool made: pure, over client models.

A drain (UPG-04) and the post-upgrade comparison (UPG-05) both need the
workload behind a pod, because a drain recreates pods under new names:
a ReplicaSet's pod belongs to its Deployment, a mirror pod is a static
pod of its node, a pod without a controller is only itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gauntlet.cluster.drain import MIRROR_ANNOTATION
from gauntlet.wellknown import RUN_LABEL

__all__ = [
    "FINISHED",
    "controller_of",
    "deployments_of_replicasets",
    "is_daemon",
    "is_mirror",
    "made_by_us",
    "run_namespaces",
    "workload_of",
]

FINISHED = frozenset({"Succeeded", "Failed"})
"""Pod phases a drain deletes without asking (nothing runs)."""

DeploymentIndex = Mapping[tuple[str, str], str]
"""(namespace, ReplicaSet) -> the Deployment that controls it."""


def controller_of(obj: Any) -> tuple[str, str] | None:
    """(kind, name) of the owner reference marked ``controller: true``."""
    for ref in obj.metadata.owner_references or []:
        if ref.controller:
            return str(ref.kind), str(ref.name)
    return None


def is_mirror(pod: Any) -> bool:
    """A static pod's mirror: the kubelet owns it, a drain cannot move it."""
    return MIRROR_ANNOTATION in (pod.metadata.annotations or {})


def is_daemon(pod: Any) -> bool:
    """A DaemonSet's pod: it belongs on its node, ``kubectl drain
    --ignore-daemonsets`` leaves it."""
    owner = controller_of(pod)
    return owner is not None and owner[0] == "DaemonSet"


def deployments_of_replicasets(replicasets: Iterable[Any]) -> DeploymentIndex:
    """Each ReplicaSet controlled by a Deployment, to its Deployment."""
    index: dict[tuple[str, str], str] = {}
    for rs in replicasets:
        owner = controller_of(rs)
        if owner is not None and owner[0] == "Deployment":
            index[(rs.metadata.namespace, rs.metadata.name)] = owner[1]
    return index


def workload_of(pod: Any, deployments: DeploymentIndex) -> tuple[str, str]:
    """(kind, namespace/name) of the workload a pod stands for:
    ``Deployment`` (through its ReplicaSet), ``StatefulSet``,
    ``DaemonSet``, ``Job``..., ``static`` for a mirror pod and ``Pod``
    for a pod without a controller (it is its own workload)."""
    ns, name = pod.metadata.namespace, pod.metadata.name
    if is_mirror(pod):
        return "static", f"{ns}/{name}"
    owner = controller_of(pod)
    if owner is None:
        return "Pod", f"{ns}/{name}"
    kind, owner_name = owner
    if kind == "ReplicaSet" and (ns, owner_name) in deployments:
        return "Deployment", f"{ns}/{deployments[(ns, owner_name)]}"
    return kind, f"{ns}/{owner_name}"


def run_namespaces(namespaces: Iterable[Any]) -> frozenset[str]:
    """Namespaces a kube-gauntlet run made (labelled ``RUN_LABEL``)."""
    return frozenset(
        str(ns.metadata.name)
        for ns in namespaces
        if RUN_LABEL in (ns.metadata.labels or {})
    )


def made_by_us(obj: Any, ours: frozenset[str]) -> bool:
    """Made by a kube-gauntlet run: in one of its namespaces, or labelled
    with its run (node-access helper pods live in a shared namespace)."""
    meta = obj.metadata
    return meta.namespace in ours or RUN_LABEL in (meta.labels or {})
