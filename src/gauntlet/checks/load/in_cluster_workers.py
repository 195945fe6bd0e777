"""In-cluster Locust workers made on a cluster and removed after.

The manifests are ``gauntlet.load.in_cluster``'s (pure, on the load
floor); making them needs the fault ledger, so that ``gauntlet recover``
finds a Job whose run died, which lives on this floor.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from kubernetes.dynamic import DynamicClient

from gauntlet.cluster.client import Cluster
from gauntlet.faults.ledger import FaultLedger
from gauntlet.faults.made import make_recorded
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
            make_recorded(
                stack, ledger, cluster, dynamic, manifest, DELETE_TIMEOUT_S
            )
        yield manifests
