# Pods read back from the API always have metadata; the client types it
# as optional.
# mypy: disable-error-code="union-attr"
"""Cordon and drain a node as ``kubectl drain --force --ignore-daemonsets``
does: evictions, which PodDisruptionBudgets may refuse, retried until the
node is empty or the time is up.

Evictions rather than deletes, because respecting the budgets is what
RES-09 checks; counted refusals show that a budget was in play.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet.errors import ClusterOperationFailed

__all__ = ["DrainResult", "cordon", "drain", "drainable"]

POLL_S = 1.0
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
TERMINATING = "because it is being terminated"


@dataclass
class DrainResult:
    """What a drain did, and what was left when it stopped."""

    evicted: list[str] = field(default_factory=list)
    refused: int = 0
    """429 answers: a PodDisruptionBudget said "not now"."""
    remaining: list[str] = field(default_factory=list)
    """``namespace/name`` of pods still on the node at the deadline."""
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return not self.remaining


def cordon(core: client.CoreV1Api, node: str) -> None:
    """Mark ``node`` unschedulable."""
    _patch(core, node, True)


def uncordon(core: client.CoreV1Api, node: str) -> None:
    """Mark ``node`` schedulable; a node that is gone has nothing to undo
    (it registers again schedulable)."""
    _patch(core, node, False)


def drainable(pod: Any) -> bool:
    """Not a DaemonSet's or a static (mirror) pod, and not finished."""
    meta = pod.metadata
    if MIRROR_ANNOTATION in (meta.annotations or {}):
        return False
    if any(ref.kind == "DaemonSet" for ref in meta.owner_references or []):
        return False
    return pod.status.phase not in ("Succeeded", "Failed")


def drain(core: client.CoreV1Api, node: str, timeout_s: float) -> DrainResult:
    """Evict every drainable pod on ``node`` (cordon it first) and wait
    until they are gone; a refused eviction is retried every second."""
    result = DrainResult()
    start = time.monotonic()
    while True:
        pods = [
            p
            for p in core.list_pod_for_all_namespaces(
                field_selector=f"spec.nodeName={node}"
            ).items
            if drainable(p)
        ]
        result.remaining = [
            f"{p.metadata.namespace}/{p.metadata.name}" for p in pods
        ]
        result.seconds = time.monotonic() - start
        if not pods or result.seconds > timeout_s:
            return result
        for pod in pods:
            if pod.metadata.deletion_timestamp is None:
                _evict(core, pod, result)
        time.sleep(POLL_S)


def _evict(core: client.CoreV1Api, pod: Any, result: DrainResult) -> None:
    name, namespace = pod.metadata.name, pod.metadata.namespace
    body = client.V1Eviction(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace)
    )
    try:
        core.create_namespaced_pod_eviction(name, namespace, body)
        result.evicted.append(f"{namespace}/{name}")
    except ApiException as exc:
        if exc.status == 429:
            result.refused += 1
        elif exc.status == 403 and TERMINATING in str(exc.body):
            pass  # its namespace is being deleted: the pod goes anyway
        elif exc.status != 404:
            raise ClusterOperationFailed(
                "evict", f"pod {name}", namespace, f"{exc.status} {exc.reason}"
            ) from exc


def _patch(core: client.CoreV1Api, node: str, unschedulable: bool) -> None:
    try:
        core.patch_node(node, {"spec": {"unschedulable": unschedulable}})
    except ApiException as exc:
        if exc.status == 404 and not unschedulable:
            return
        verb = "cordon" if unschedulable else "uncordon"
        raise ClusterOperationFailed(
            verb, f"node {node}", None, f"{exc.status} {exc.reason}"
        ) from exc
