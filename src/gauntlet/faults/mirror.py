"""A copy of the open faults in the cluster itself, for humans.

Whoever looks at a broken cluster (``kubectl -n kube-system get cm``)
sees which run broke what, and that ``gauntlet recover`` undoes it. Best
effort: the API may be the very thing a fault took down, so failures are
reported once and retried later, never raised.

The ConfigMap is itself an object the run creates: the ledger records its
``removal`` before the first fault is mirrored (``ClusterMirror``), so
``recover`` deletes the mirror of a crashed run once its faults are
undone. Deleted rather than marked recovered: it lists the faults in
force, and after ``recover`` there are none; the ledger file keeps the
history.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Sequence

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet import progress
from gauntlet.cluster.client import Cluster
from gauntlet.faults import kinds
from gauntlet.faults.ledger import LedgerEntry
from gauntlet.faults.rollback import Rollback

__all__ = ["ConfigMapMirror", "configmap_name"]

NAMESPACE = "kube-system"
REQUEST_TIMEOUT_S = 3.0
RETRY_AFTER_S = 30.0


def configmap_name(run_id: str) -> str:
    """``kube-gauntlet-ledger-<run-id>`` as a valid object name."""
    slug = re.sub(r"[^a-z0-9-]", "-", run_id.lower()).strip("-")
    return f"kube-gauntlet-ledger-{slug}"[:63].rstrip("-")


class ConfigMapMirror:
    """Keeps ``kube-system/kube-gauntlet-ledger-<run-id>`` up to date."""

    def __init__(
        self, cluster: Cluster, run_id: str, namespace: str = NAMESPACE
    ) -> None:
        self.cluster = cluster
        self.run_id = run_id
        self.namespace = namespace
        self.name = configmap_name(run_id)
        self.description = f"ConfigMap {namespace}/{self.name} (ledger mirror)"
        self._quiet_until = 0.0
        self._exists = False
        self._maybe_exists = False

    def removal(self) -> Rollback:
        """How ``recover`` deletes this mirror (404: already gone)."""
        return kinds.delete_object(
            self.cluster, "ConfigMap", self.name, self.namespace
        )

    def __call__(self, entries: Sequence[LedgerEntry]) -> None:
        """Write the open entries; delete the ConfigMap when none is left."""
        if entries and time.monotonic() < self._quiet_until:
            return  # the final, empty update is always attempted
        try:
            if entries:
                self._write(entries)
            elif self._maybe_exists:
                self._delete()
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            self._quiet_until = time.monotonic() + RETRY_AFTER_S
            progress.say(
                f"could not update ConfigMap {self.namespace}/{self.name} "
                f"({type(exc).__name__}); the ledger file is authoritative"
            )

    def _write(self, entries: Sequence[LedgerEntry]) -> None:
        faults = [
            {
                "seq": e.seq,
                "description": e.description,
                "rollback": e.rollback.to_dict(),
                "opened_at": e.opened_at,
            }
            for e in entries
        ]
        body = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(
                name=self.name,
                namespace=self.namespace,
                labels={"app.kubernetes.io/managed-by": "kube-gauntlet"},
            ),
            data={
                "run-id": self.run_id,
                "host": socket.gethostname(),
                "pid": str(os.getpid()),
                "recover": "run `gauntlet recover` on that host",
                "open-faults.json": json.dumps(faults, indent=2),
            },
        )
        core = self.cluster.core()
        if self._exists:
            core.replace_namespaced_config_map(
                self.name,
                self.namespace,
                body,
                _request_timeout=REQUEST_TIMEOUT_S,
            )
            return
        self._maybe_exists = True  # a timed-out create may still land
        try:
            core.create_namespaced_config_map(
                self.namespace, body, _request_timeout=REQUEST_TIMEOUT_S
            )
        except ApiException as exc:
            if exc.status != 409:
                raise
            core.replace_namespaced_config_map(
                self.name,
                self.namespace,
                body,
                _request_timeout=REQUEST_TIMEOUT_S,
            )
        self._exists = True

    def _delete(self) -> None:
        try:
            self.cluster.core().delete_namespaced_config_map(
                self.name, self.namespace, _request_timeout=REQUEST_TIMEOUT_S
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
        self._exists = self._maybe_exists = False
