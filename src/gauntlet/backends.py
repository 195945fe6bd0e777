"""Pick a node access backend, in this process or from ledger params.

Sits above both backends (``nodes.pod_backend`` and ``lab.access``), so
that neither floor imports the other.

Backends are cached by their parameters, so a rollback replayed in the
same process reuses the run's helper pods instead of creating more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

from gauntlet.cluster.client import Cluster, ClusterTarget, connect
from gauntlet.errors import NodeAccessError, UsageError
from gauntlet.lab.access import LabNodeAccess
from gauntlet.lab.cluster import LabCluster
from gauntlet.nodes.base import NodeAccess
from gauntlet.nodes.pod_backend import PodNodeAccess
from gauntlet.runid import current_run_id
from gauntlet.wellknown import LAB_NAME

__all__ = [
    "KINDS",
    "NodeAccessKind",
    "cleanup_all",
    "from_params",
    "node_access",
]

NodeAccessKind = Literal["lab", "pod"]
KINDS: tuple[NodeAccessKind, ...] = ("lab", "pod")
_CACHE: dict[tuple[tuple[str, str], ...], NodeAccess] = {}


def node_access(
    kind: str, cluster: Cluster, run_id: str | None = None
) -> NodeAccess:
    """A ready backend of ``kind`` for ``cluster``.

    Raises:
        UsageError: ``kind`` is not ``lab`` or ``pod``.
        NodeAccessError: the backend cannot work here (no lab on this host,
            no RBAC for privileged pods); suites skip with this reason.
    """
    if kind == "lab":
        if cluster.cluster_name != LAB_NAME:
            raise NodeAccessError(
                f"node access impossible: the lab backend only reaches the "
                f"kube-gauntlet lab, not context {cluster.context}; use "
                "--node-access pod"
            )
        return _cached({"backend": "lab"}, _lab)
    if kind == "pod":
        params = {
            "backend": "pod",
            "run_id": run_id or current_run_id() or "adhoc",
            **cluster.target.to_params(),
        }
        return _cached(params, lambda p: _pod(p, cluster))
    raise UsageError(
        f"unknown node access {kind!r}: choose one of {', '.join(KINDS)}"
    )


def from_params(params: Mapping[str, object]) -> NodeAccess:
    """Rebuild the backend a ledger entry recorded (``rollback_params``).

    Raises:
        UsageError: the params name no known backend.
    """
    clean = {str(k): str(v) for k, v in params.items()}
    backend = clean.get("backend")
    if backend == "lab":
        return _cached({"backend": "lab"}, _lab)
    if backend == "pod":
        keys = ("backend", "run_id", "kubeconfig", "context", "in_cluster")
        wanted = {k: clean[k] for k in keys if k in clean}
        return _cached(
            wanted,
            lambda p: _pod(p, connect(ClusterTarget.from_params(p))),
        )
    raise UsageError(
        f"rollback names unknown node access backend {backend!r} "
        f"(known: {', '.join(KINDS)})"
    )


def cleanup_all() -> None:
    """Clean up and forget every cached backend (end of run or recover)."""
    while _CACHE:
        _, access = _CACHE.popitem()
        access.cleanup()


def _cached(
    params: dict[str, str],
    build: Callable[[dict[str, str]], NodeAccess],
) -> NodeAccess:
    key = tuple(sorted(params.items()))
    if key not in _CACHE:
        _CACHE[key] = build(params)
    return _CACHE[key]


def _lab(_params: dict[str, str]) -> NodeAccess:
    lab = LabCluster()
    if lab.topology() is None:
        raise NodeAccessError(
            "node access impossible: no lab is up on this host; run "
            "`gauntlet lab up` or use --node-access pod"
        )
    if lab.flavor() != "services":
        raise NodeAccessError(
            f"node access impossible: the lab backend reaches only the "
            f"services flavor; this lab is {lab.flavor()}: use "
            "--node-access pod"
        )
    return LabNodeAccess(lab)


def _pod(params: dict[str, str], cluster: Cluster) -> NodeAccess:
    target = {k: v for k, v in params.items() if k not in ("backend", "run_id")}
    access = PodNodeAccess(cluster, params["run_id"], target)
    access.check()
    return access
