"""The built-in rollback kinds, and builders that fill in their params.

Kinds are backend-agnostic: node faults carry the node access backend's
``rollback_params`` and are replayed through ``gauntlet.backends``; cluster
faults carry the target (kubeconfig and context) and reconnect.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import Any, Literal

import urllib3
from kubernetes.client.exceptions import ApiException

from gauntlet import backends
from gauntlet.cluster import drain
from gauntlet.cluster.client import Cluster, ClusterTarget, api_client, connect
from gauntlet.errors import ClusterOperationFailed
from gauntlet.faults.rollback import Rollback, rollback_kind
from gauntlet.nodes import helper_pods
from gauntlet.nodes.base import NodeAccess
from gauntlet.wellknown import MANAGED_BY

__all__ = [
    "delete_e2e_namespaces",
    "delete_helper_pods",
    "delete_outcome",
    "delete_object",
    "heal_partition",
    "restore_argv",
    "start_component",
    "uncordon",
]

DELETE_RETRY_S = 60.0
"""How long a removal waits out an API that is coming back: ``recover``
deletes a namespace right after restarting the etcd members a crashed
run stopped, and the API answers 5xx until etcd has a leader again."""
DELETE_POLL_S = 2.0
DELETE_REQUEST_TIMEOUT_S = 10.0


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
    return Rollback("delete_object", params)


def delete_helper_pods(
    cluster: Cluster, run_id: str, namespace: str = helper_pods.NAMESPACE
) -> Rollback:
    """Undo the pod backend's setup: the run's helper pods, and their
    namespace if kube-gauntlet made it and nothing else runs there."""
    params = {
        **cluster.target.to_params(),
        "run_id": run_id,
        "namespace": namespace,
    }
    return Rollback("delete_helper_pods", params)


E2E_NAMESPACE_LABEL = "e2e-framework"
"""What the upstream e2e framework labels each namespace it makes with."""


def delete_e2e_namespaces(cluster: Cluster, since: str) -> Rollback:
    """Undo a conformance run: the namespaces its specs made (labelled
    ``e2e-framework``, created at ``since`` or later) that its own
    clean-up did not delete (a killed run)."""
    params = {**cluster.target.to_params(), "since": since}
    return Rollback("delete_e2e_namespaces", params)


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


@rollback_kind("delete_object")
def _delete_object(params: Mapping[str, Any]) -> None:
    """Delete the object (see ``delete_outcome``); an API that is down or
    overloaded is retried for ``DELETE_RETRY_S``."""
    kind, name = str(params["kind"]), str(params["name"])
    namespace = str(params["namespace"]) if params.get("namespace") else None
    deadline = time.monotonic() + DELETE_RETRY_S
    while True:
        try:
            _delete_once(params, kind, name, namespace)
            return
        except ApiException as exc:
            outcome = delete_outcome(exc.status)
            reason = f"{exc.status} {exc.reason}"
        except urllib3.exceptions.HTTPError as exc:
            outcome = delete_outcome(None)
            reason = f"{type(exc).__name__}: {exc}"
        if outcome == "done":
            return
        if outcome == "fail" or time.monotonic() >= deadline:
            raise ClusterOperationFailed(
                "delete", f"{kind} {name}", namespace, reason
            )
        time.sleep(DELETE_POLL_S)


def delete_outcome(status: int | None) -> Literal["done", "retry", "fail"]:
    """What a failed DELETE means for a removal: ``done`` when the object
    is gone (404) or already going (409: a terminating namespace);
    ``retry`` when the API is unreachable (no status), overloaded (429)
    or broken for now (5xx); ``fail`` otherwise (403: no permission)."""
    if status in (404, 409):
        return "done"
    if not status or status == 429 or status >= 500:
        return "retry"
    return "fail"


rollback_kind("kubectl_delete")(_delete_object)
"""The same kind under its first name, for ledgers written before."""


def _delete_once(
    params: Mapping[str, Any], kind: str, name: str, namespace: str | None
) -> None:
    from kubernetes.dynamic import DynamicClient

    cluster = api_client(ClusterTarget.from_params(params))
    try:
        dynamic = DynamicClient(cluster.api)  # type: ignore[no-untyped-call]
        resource = dynamic.resources.get(
            api_version=str(params.get("api_version", "v1")), kind=kind
        )
        resource.delete(
            name=name,
            namespace=namespace,
            _request_timeout=DELETE_REQUEST_TIMEOUT_S,
        )
    finally:
        cluster.close()


@rollback_kind("delete_helper_pods")
def _delete_helper_pods(params: Mapping[str, Any]) -> None:
    """The run's helper pods, whichever process made them, then their
    namespace if kube-gauntlet made it (its label says so) and no other
    pod is left there (another run may be using it)."""
    run_id, namespace = str(params["run_id"]), str(params["namespace"])
    cluster = connect(ClusterTarget.from_params(params))
    core = cluster.core()
    try:
        found = core.read_namespace(namespace)
        core.delete_collection_namespaced_pod(
            namespace,
            label_selector=helper_pods.run_selector(run_id),
            grace_period_seconds=0,
        )
        labels = (found.metadata.labels if found.metadata else None) or {}
        left = [
            p
            for p in core.list_namespaced_pod(namespace).items
            if not (p.metadata and p.metadata.deletion_timestamp)
        ]
        if MANAGED_BY.items() <= labels.items() and not left:
            core.delete_namespace(namespace)
    except ApiException as exc:
        _unless_gone(exc, f"helper pods of run {run_id}", namespace)
    finally:
        cluster.close()


def _unless_gone(exc: ApiException, what: str, namespace: str | None) -> None:
    """A failed delete is done if what it deletes is gone (see
    ``delete_outcome``); otherwise it fails naming ``what``."""
    if delete_outcome(exc.status) != "done":
        raise ClusterOperationFailed(
            "delete", what, namespace, f"{exc.status} {exc.reason}"
        ) from exc


@rollback_kind("delete_e2e_namespaces")
def _delete_e2e_namespaces(params: Mapping[str, Any]) -> None:
    since = dt.datetime.fromisoformat(str(params["since"]))
    cluster = connect(ClusterTarget.from_params(params))
    core = cluster.core()
    try:
        found = core.list_namespace(label_selector=E2E_NAMESPACE_LABEL)
        for ns in found.items:
            meta = ns.metadata
            made = meta.creation_timestamp if meta else None
            if meta is None or made is None or made < since:
                continue
            if meta.deletion_timestamp is not None:
                continue  # already going
            try:
                core.delete_namespace(str(meta.name))
            except ApiException as exc:
                _unless_gone(exc, f"e2e namespace {meta.name}", None)
    finally:
        cluster.close()


@rollback_kind("uncordon")
def _uncordon(params: Mapping[str, Any]) -> None:
    cluster = connect(ClusterTarget.from_params(params))
    try:
        drain.uncordon(cluster.core(), str(params["node"]))
    finally:
        cluster.close()
