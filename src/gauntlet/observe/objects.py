"""None-safe accessors for the typed Kubernetes models.

The client marks every field optional; these read what the API always
fills in for stored objects, with an empty value otherwise.
"""

from __future__ import annotations

from kubernetes import client

__all__ = [
    "addresses",
    "labels",
    "name",
    "namespace",
    "node_name",
    "phase",
    "restarts",
    "uid",
]


def name(obj: client.V1Node | client.V1Pod) -> str:
    return str(obj.metadata.name or "") if obj.metadata else ""


def namespace(obj: client.V1Pod) -> str:
    return str(obj.metadata.namespace or "") if obj.metadata else ""


def uid(obj: client.V1Pod) -> str:
    return str(obj.metadata.uid or "") if obj.metadata else ""


def labels(obj: client.V1Node | client.V1Pod) -> dict[str, str]:
    return dict(obj.metadata.labels or {}) if obj.metadata else {}


def addresses(node: client.V1Node) -> list[str]:
    status = node.status
    return [str(a.address) for a in (status.addresses or [])] if status else []


def node_name(pod: client.V1Pod) -> str:
    return str(pod.spec.node_name or "") if pod.spec else ""


def phase(pod: client.V1Pod) -> str:
    return str(pod.status.phase or "") if pod.status else ""


def restarts(pod: client.V1Pod) -> int:
    statuses = (pod.status.container_statuses or []) if pod.status else []
    return sum(int(s.restart_count or 0) for s in statuses)
