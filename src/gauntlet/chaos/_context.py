"""What every activity needs: the cluster, node access and the ledger.

Activities receive chaoslib's ``configuration`` and ``secrets``; this
module turns them into project objects, looking in ``secrets`` before the
environment like ``chaosk8s.create_k8s_api_client``:

* kubeconfig: ``KUBE_GAUNTLET_KUBECONFIG``, else ``KUBECONFIG``, else
  ``~/.kube/config``; context: ``KUBERNETES_CONTEXT`` or
  ``KUBE_GAUNTLET_CONTEXT``; inside a pod ``CHAOSTOOLKIT_IN_POD=true``.
* node access: configuration ``gauntlet_node_access`` (``lab`` default,
  or ``pod``), else ``KUBE_GAUNTLET_NODE_ACCESS``.
* fault ledger run id: configuration ``gauntlet_run_id``, else
  ``KUBE_GAUNTLET_RUN_ID``, else one id for this process.

Clusters and ledgers are cached per process: the pod backend keeps its
client, and one run's faults must land in one ledger file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gauntlet import backends
from gauntlet.cluster.client import Cluster, ClusterTarget, api_client
from gauntlet.cluster.discovery import discover
from gauntlet.errors import NodeAccessError
from gauntlet.faults.ledger import FaultLedger
from gauntlet.nodes.base import NodeAccess
from gauntlet.observe.etcd import EtcdClient
from gauntlet.runid import current_run_id, new_run_id

__all__ = [
    "Configuration",
    "Secrets",
    "cluster",
    "etcd",
    "ledger",
    "node_access",
    "node_access_kind",
    "register_ledger",
    "run_id",
    "target",
]

Configuration = Mapping[str, Any] | None
Secrets = Mapping[str, Any] | None

DEFAULT_NODE_ACCESS = "lab"
_LOCK = threading.Lock()
_CLUSTERS: dict[ClusterTarget, Cluster] = {}
_LEDGERS: dict[str, FaultLedger] = {}
_ETCD: dict[tuple[ClusterTarget, str], EtcdClient] = {}
_PROCESS_RUN_ID = new_run_id("chaos")


def _lookup(secrets: Secrets, *keys: str) -> str | None:
    for key in keys:
        value = (secrets or {}).get(key) or os.environ.get(key)
        if value:
            return str(value)
    return None


def target(secrets: Secrets = None) -> ClusterTarget:
    """The cluster the activities act on (never contacts it)."""
    if (
        _lookup(secrets, "CHAOSTOOLKIT_IN_POD") == "true"
        or _lookup(secrets, "KUBE_GAUNTLET_IN_CLUSTER") == "1"
    ):
        return ClusterTarget(in_cluster=True)
    kubeconfig = _lookup(secrets, "KUBE_GAUNTLET_KUBECONFIG", "KUBECONFIG")
    context = _lookup(secrets, "KUBERNETES_CONTEXT", "KUBE_GAUNTLET_CONTEXT")
    path = Path(kubeconfig.split(os.pathsep)[0]) if kubeconfig else None
    return ClusterTarget(path, context)


def cluster(secrets: Secrets = None) -> Cluster:
    """A cached client for ``target(secrets)``; built without a request.

    Raises:
        UsageError: the kubeconfig is missing or unusable.
    """
    wanted = target(secrets)
    with _LOCK:
        found = _CLUSTERS.get(wanted)
        if found is None:
            found = _CLUSTERS[wanted] = api_client(wanted)
        # Each activity starts on fresh connections: a kept-alive one may
        # be pinned to an API server the previous activity broke.
        found.reconnect()
        return found


def node_access_kind(configuration: Configuration = None) -> str:
    """``lab`` or ``pod``, from configuration, environment or default."""
    return str(
        (configuration or {}).get("gauntlet_node_access")
        or os.environ.get("KUBE_GAUNTLET_NODE_ACCESS")
        or DEFAULT_NODE_ACCESS
    )


def node_access(
    configuration: Configuration = None, secrets: Secrets = None
) -> NodeAccess:
    """The node access backend the configuration names.

    Raises:
        NodeAccessError: the backend cannot work on this cluster.
        UsageError: unknown backend name.
    """
    return backends.node_access(
        node_access_kind(configuration), cluster(secrets), run_id(configuration)
    )


def etcd(
    configuration: Configuration = None, secrets: Secrets = None
) -> EtcdClient:
    """The project's etcd client for the target, kept per process so
    etcdctl is found once; without node access it looks for the etcd
    static pod only.

    Raises:
        UsageError: the kubeconfig is unusable, or unknown node access.
    """
    wanted = (target(secrets), node_access_kind(configuration))
    with _LOCK:
        found = _ETCD.get(wanted)
    if found is None:
        connected = cluster(secrets)
        try:
            access: NodeAccess | None = node_access(configuration, secrets)
        except NodeAccessError:
            access = None
        found = EtcdClient(connected, discover(connected), access)
        with _LOCK:
            found = _ETCD.setdefault(wanted, found)
    return found


def run_id(configuration: Configuration = None) -> str:
    """The fault ledger's run id for this experiment."""
    return str(
        (configuration or {}).get("gauntlet_run_id")
        or current_run_id()
        or _PROCESS_RUN_ID
    )


def ledger(configuration: Configuration = None) -> FaultLedger:
    """The run's fault ledger (one per run id in this process)."""
    key = run_id(configuration)
    with _LOCK:
        found = _LEDGERS.get(key)
        if found is None:
            found = _LEDGERS[key] = FaultLedger(key)
        return found


def register_ledger(faults: FaultLedger) -> None:
    """Make activities of ``faults.run_id`` use this ledger (the runner's)."""
    with _LOCK:
        _LEDGERS[faults.run_id] = faults
