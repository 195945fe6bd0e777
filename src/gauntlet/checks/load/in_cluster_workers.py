"""In-cluster Locust workers made on a cluster and removed after.

The manifests are ``gauntlet.load.in_cluster``'s (pure, on the load
floor); making them needs the fault ledger, so that ``gauntlet recover``
finds a Job whose run died, which lives on this floor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from gauntlet.cluster.client import Cluster
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger
from gauntlet.load.in_cluster import (
    DELETE_TIMEOUT_S,
    WorkerJob,
    worker_manifests,
)

__all__ = ["running_workers"]


@contextlib.contextmanager
def running_workers(
    cluster: Cluster, ledger: FaultLedger, job: WorkerJob
) -> Iterator[list[dict[str, Any]]]:
    """The worker Job and its RBAC, made for the block and removed after
    it (the Job with its pods); each object is in ``ledger`` before it is
    made.

    Raises:
        ApiException: an object could not be made (those made are removed).
    """
    dynamic = DynamicClient(cluster.api)  # type: ignore[no-untyped-call]
    manifests = worker_manifests(job)
    with contextlib.ExitStack() as stack:
        for manifest in manifests:
            _make(stack, ledger, cluster, dynamic, manifest)
        yield manifests


def _make(
    stack: contextlib.ExitStack,
    ledger: FaultLedger,
    cluster: Cluster,
    dynamic: DynamicClient,
    manifest: dict[str, Any],
) -> None:
    kind, api_version = manifest["kind"], manifest["apiVersion"]
    name = manifest["metadata"]["name"]
    namespace = manifest["metadata"].get("namespace")
    resource = dynamic.resources.get(api_version=api_version, kind=kind)
    where = f" in {namespace}" if namespace else ""
    entry = ledger.record_object(
        f"{kind} {name}{where}",
        kinds.delete_object(cluster, kind, name, namespace, api_version),
    )

    def delete() -> None:
        try:
            resource.delete(
                name=name,
                namespace=namespace,
                body={"propagationPolicy": "Background"},
                _request_timeout=DELETE_TIMEOUT_S,
            )
        except ApiException as exc:
            if kinds.delete_outcome(exc.status) != "done":
                raise

    stack.callback(ledger.remove, entry, delete)
    resource.create(body=manifest, namespace=namespace)
