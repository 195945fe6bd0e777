"""Privileged helper pods, one per node, and exec into them.

The pod shares the host's PID and network namespaces, so ``nsenter -t 1``
from inside it reaches the host itself. Pods are named after the run and
the node: a later process of the same run (a rollback, ``gauntlet
recover``) finds and reuses them.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from collections.abc import Sequence
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream

from gauntlet.cluster.client import Cluster
from gauntlet.errors import (
    ClusterOperationFailed,
    NodeAccessError,
    PermissionMissing,
)
from gauntlet.images import NODE_IMAGE_ENV, node_helper_image
from gauntlet.nodes import exec_stream
from gauntlet.wellknown import MANAGED_BY, RUN_LABEL, label_value

__all__ = [
    "IMPOSSIBLE",
    "NAMESPACE",
    "HelperPods",
    "default_image",
    "run_selector",
]

NAMESPACE = "kube-gauntlet-system"
IMPOSSIBLE = "node access impossible"
"""Prefix of errors that mean the backend cannot work here at all."""
APP_LABEL = "kube-gauntlet-node-access"
"""The label of a namespace kube-gauntlet made (and may delete)."""
IMAGE_ENV = NODE_IMAGE_ENV
POD_START_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 1.0
SERVICE_ACCOUNT_WAIT_S = 15.0
NAMESPACE_GONE_WAIT_S = 120.0
"""How long an earlier run's helper namespace may take to go (its pods
end first; they have no grace period)."""
_BAD_WAITING = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
}


def default_image() -> str:
    """``$KUBE_GAUNTLET_NODE_IMAGE`` or the e2e busybox (it has the
    ``nsenter`` and ``sleep`` the pod needs), under the image mirror."""
    return node_helper_image()


class HelperPods:
    """Creates, finds, execs into and deletes the run's helper pods."""

    def __init__(
        self,
        cluster: Cluster,
        run_id: str,
        image: str | None = None,
        namespace: str = NAMESPACE,
    ) -> None:
        self.cluster = cluster
        self.run_id = run_id
        self.image = image or default_image()
        self.namespace = namespace
        self._pods: dict[str, str] = {}
        self._running: set[str] = set()
        self._created_namespace = False

    def check_permissions(self) -> None:
        """Ask RBAC up front, so a suite can skip before doing anything.

        Raises:
            NodeAccessError: a needed permission is missing.
        """
        needed = [
            ("create", "pods"),
            ("get", "pods"),
            ("delete", "pods"),
            ("create", "pods/exec"),
        ]
        try:
            if not self._namespace_exists():
                self.cluster.require("create", "namespaces")
            for verb, resource in needed:
                self.cluster.require(verb, resource, namespace=self.namespace)
        except PermissionMissing as exc:
            raise NodeAccessError(f"{IMPOSSIBLE}: {exc}") from exc
        self._ensure_namespace()
        try:  # admission (Pod Security, policies) judges without creating
            self.cluster.core().create_namespaced_pod(
                self.namespace,
                self._manifest("kg-node-dry-run", "dry-run"),
                dry_run="All",
            )
        except ApiException as exc:
            if not _missing_service_account(exc):
                what = "a privileged pod is refused"
                if (exc.status or 0) >= 500:
                    what = "creating a privileged pod (dry run)"
                raise _impossible(what, exc) from exc

    def pod_for(self, node: str) -> str:
        """The name of a running helper pod on ``node``, made if needed."""
        if node in self._running:
            return self._pods[node]
        name = pod_name(self.run_id, node)
        self._ensure_namespace()
        core = self.cluster.core()
        try:
            existing = core.read_namespaced_pod(name, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise _impossible(f"reading pod {name}", exc) from exc
            existing = None
        phase = existing.status.phase if existing and existing.status else None
        if existing is not None and phase in ("Succeeded", "Failed"):
            self._delete(name)
            existing = None
        if existing is None:
            self._create(name, node)
        self._pods[node] = name  # known from now on, so cleanup finds it
        self._wait_running(name, node)
        self._running.add(node)
        return name

    def exec(
        self, node: str, argv: Sequence[str], timeout_s: float
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the node's helper pod; capture output and code.

        Raises:
            StreamLost: the command started, its end was not seen.
            NodeAccessError: the exec could not be started.
        """
        try:
            pod = self.pod_for(node)
            try:
                resp = exec_stream.open_exec(self._core_exec, pod, argv)
            except NodeAccessError:
                if self._phase(pod) == "Running":
                    raise
                # The pod ended (its sleep ran out, or it was evicted).
                self._running.discard(node)
                pod = self.pod_for(node)
                resp = exec_stream.open_exec(self._core_exec, pod, argv)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            # No API server answers (one was stopped, the node cut off).
            raise NodeAccessError(
                f"exec on node {node}: the API is not answering "
                f"({type(exc).__name__}: {str(exc)[:120]})"
            ) from exc
        return exec_stream.collect(resp, node, argv, timeout_s)

    def _core_exec(self, pod: str, argv: Sequence[str]) -> Any:
        """Open an exec stream into ``pod`` (``exec_stream.open_exec``)."""
        return stream(
            self.cluster.core().connect_get_namespaced_pod_exec,
            pod,
            self.namespace,
            command=list(argv),
            stderr=True,
            stdin=False,
            stdout=True,
            tty=False,
            _preload_content=False,
        )

    def _phase(self, pod: str) -> str | None:
        """The pod's phase; None only when the pod is gone (404).

        Raises:
            ClusterOperationFailed: the pod cannot be read (403, 500, ...):
                an unreadable pod is not an absent one.
        """
        try:
            found = self.cluster.core().read_namespaced_pod(pod, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise ClusterOperationFailed(
                "read", f"pod {pod}", self.namespace, _status(exc)
            ) from exc
        return found.status.phase if found.status else None

    def delete_all(self) -> None:
        """Delete this process's helper pods, and the namespace if it made
        it and nothing else runs there."""
        for name in self._pods.values():
            self._delete(name)
        self._pods.clear()
        self._running.clear()
        if self._created_namespace:
            self._delete_namespace_if_empty()

    def _namespace_exists(self) -> bool:
        return self._namespace_phase() is not None

    def _namespace_phase(self) -> str | None:
        """``Active``, ``Terminating``, or None when there is none."""
        try:
            found = self.cluster.core().read_namespace(self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            what = f"reading namespace {self.namespace}"
            raise _impossible(what, exc) from exc
        status = getattr(found, "status", None)
        return str(getattr(status, "phase", None) or "Active")

    def _ensure_namespace(self) -> None:
        """Make the namespace, after the one an earlier run is still
        deleting has gone: a terminating namespace refuses every pod,
        which would read as privileged pods being refused."""
        deadline = time.monotonic() + NAMESPACE_GONE_WAIT_S
        while (phase := self._namespace_phase()) == "Terminating":
            if time.monotonic() > deadline:
                raise NodeAccessError(
                    f"{IMPOSSIBLE}: namespace {self.namespace} is still "
                    f"being deleted after {NAMESPACE_GONE_WAIT_S:.0f}s"
                )
            time.sleep(POLL_INTERVAL_S)
        if phase is not None:
            return
        body = client.V1Namespace(
            metadata=client.V1ObjectMeta(
                name=self.namespace,
                labels={
                    **MANAGED_BY,
                    "pod-security.kubernetes.io/enforce": "privileged",
                },
            )
        )
        try:
            self.cluster.core().create_namespace(body)
        except ApiException as exc:
            if exc.status != 409:
                raise _impossible(
                    f"creating namespace {self.namespace}", exc
                ) from exc
            return
        self._created_namespace = True

    def _manifest(self, name: str, node: str) -> client.V1Pod:
        container = client.V1Container(
            name="host",
            image=self.image,
            image_pull_policy="IfNotPresent",
            command=["sleep", "3600"],
            security_context=client.V1SecurityContext(privileged=True),
        )
        labels = {
            "app.kubernetes.io/name": APP_LABEL,
            RUN_LABEL: label_value(self.run_id),
        }
        return client.V1Pod(
            metadata=client.V1ObjectMeta(
                name=name, namespace=self.namespace, labels=labels
            ),
            spec=client.V1PodSpec(
                node_name=node,
                host_pid=True,
                host_network=True,
                host_ipc=True,
                restart_policy="Never",
                termination_grace_period_seconds=0,
                automount_service_account_token=False,
                tolerations=[client.V1Toleration(operator="Exists")],
                containers=[container],
            ),
        )

    def _create(self, name: str, node: str) -> None:
        """Create the pod; wait out a new namespace's missing default SA."""
        deadline = time.monotonic() + SERVICE_ACCOUNT_WAIT_S
        while True:
            try:
                self.cluster.core().create_namespaced_pod(
                    self.namespace, self._manifest(name, node)
                )
                return
            except ApiException as exc:
                if exc.status == 409:
                    return
                expired = time.monotonic() > deadline
                if not _missing_service_account(exc) or expired:
                    raise _impossible(
                        f"creating a privileged pod on {node}", exc
                    ) from exc
            time.sleep(POLL_INTERVAL_S)

    def _wait_running(self, name: str, node: str) -> None:
        core = self.cluster.core()
        deadline = time.monotonic() + POD_START_TIMEOUT_S
        state = "not yet observed"
        while time.monotonic() < deadline:
            try:
                pod = core.read_namespaced_pod(name, self.namespace)
            except ApiException as exc:
                raise _impossible(f"reading pod {name}", exc) from exc
            status = pod.status or client.V1PodStatus()
            if status.phase == "Running":
                return
            waiting = _waiting_reason(status)
            state = f"phase {status.phase}"
            state += f", {waiting}" if waiting else ""
            if waiting in _BAD_WAITING or status.phase == "Failed":
                raise NodeAccessError(
                    f"{IMPOSSIBLE}: helper pod {name} on {node} "
                    f"cannot start ({state}); set {IMAGE_ENV} to an image "
                    "with nsenter that the node can pull"
                )
            time.sleep(POLL_INTERVAL_S)
        raise NodeAccessError(
            f"{IMPOSSIBLE}: helper pod {name} on {node} not "
            f"running after {POD_START_TIMEOUT_S:.0f}s ({state})"
        )

    def _delete_namespace_if_empty(self) -> None:
        """Remove the namespace we made, unless another run now uses it."""
        core = self.cluster.core()
        try:
            pods = core.list_namespaced_pod(self.namespace).items
            if not [p for p in pods if not _deleting(p)]:
                core.delete_namespace(self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                what = f"deleting namespace {self.namespace}"
                raise _impossible(what, exc) from exc
        self._created_namespace = False

    def _delete(self, name: str) -> None:
        try:
            self.cluster.core().delete_namespaced_pod(
                name, self.namespace, grace_period_seconds=0
            )
        except ApiException as exc:
            if exc.status != 404:
                raise _impossible(f"deleting pod {name}", exc) from exc


def pod_name(run_id: str, node: str) -> str:
    """``kg-node-<run>-<node>``, a valid pod name of at most 63 chars."""
    raw = f"kg-node-{run_id.rsplit('-', 1)[-1]}-{node}".lower()
    name = re.sub(r"[^a-z0-9.-]", "-", raw).strip("-.")
    if len(name) > 63:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:6]
        name = f"{name[:56].rstrip('-.')}-{digest}"
    return name


def run_selector(run_id: str) -> str:
    """The label selector of ``run_id``'s helper pods, whoever made them."""
    return f"{RUN_LABEL}={label_value(run_id)}"


def _missing_service_account(exc: ApiException) -> bool:
    """A new namespace's default ServiceAccount does not exist yet."""
    return exc.status == 403 and "serviceaccount" in str(exc.body or "")


def _deleting(pod: client.V1Pod) -> bool:
    meta = pod.metadata
    return meta is not None and meta.deletion_timestamp is not None


def _waiting_reason(status: client.V1PodStatus) -> str | None:
    for cs in status.container_statuses or []:
        if cs.state is not None and cs.state.waiting is not None:
            return str(cs.state.waiting.reason)
    return None


def _impossible(
    what: str, exc: ApiException
) -> NodeAccessError | ClusterOperationFailed:
    """A refusal (4xx: RBAC, admission, policy) means node access through
    pods cannot work here; a server error (5xx) is the cluster failing,
    which is never a reason to skip."""
    status = exc.status or 0
    if status >= 500 or not status:
        return ClusterOperationFailed(
            what, "for node access", None, _status(exc)
        )
    return NodeAccessError(f"{IMPOSSIBLE}: {what}: {_status(exc)}")


def _status(exc: ApiException) -> str:
    message = _api_message(exc)
    return f"{exc.status} {exc.reason}" + (f" ({message})" if message else "")


def _api_message(exc: ApiException) -> str:
    try:
        message = json.loads(exc.body or "{}").get("message", "")
    except (ValueError, AttributeError):
        return ""
    return str(message).splitlines()[0][:200] if message else ""
