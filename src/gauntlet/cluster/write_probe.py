"""Does the cluster accept writes at all? One probe before any test writes.

When the API answers writes with a 5xx (an etcd alarm, lost quorum) or
an admission webhook or policy refuses them, every test that makes its
own namespace would error in setup with a bare ``ServiceException``.
The probe finds that once and names what was refused and the API's
reason, so the run can say it in one line, still run the checks that
only read, and mark the rest as not run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.exceptions import ApiException

__all__ = ["PROBE_OBJECT", "WriteRefusal", "probe_writes", "refusal_of"]

PROBE_OBJECT = "kube-gauntlet-write-probe"
"""The ConfigMap the probe creates in its namespace."""
ADMISSION_MARKERS = (
    "admission webhook",
    "failed calling webhook",
    "ValidatingAdmissionPolicy",
)
"""How the API says an admission webhook or policy refused a request."""
MAX_MESSAGE = 300


@dataclass(frozen=True)
class WriteRefusal:
    """A write the cluster refused: what was tried, and the API's answer."""

    what: str
    status: int
    message: str

    def __str__(self) -> str:
        return f"{self.what}: {self.status} {self.message}"


def api_message(exc: ApiException) -> str:
    """The API's own message (the Status body), else the HTTP reason."""
    text = ""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        text = body["message"]
    text = " ".join((text or str(exc.reason or "")).split())
    return text[:MAX_MESSAGE] or f"HTTP {exc.status}"


def refusal_of(what: str, exc: ApiException) -> WriteRefusal | None:
    """``exc`` as a refusal of writes, or None for an ordinary error.

    A refusal is a server error (5xx) or an admission refusal; anything
    else (RBAC's 403, a conflict) is an error of its own to be raised.
    """
    status = int(exc.status or 0)
    message = api_message(exc)
    if status >= 500 or any(m in message for m in ADMISSION_MARKERS):
        return WriteRefusal(what, status, message)
    return None


def probe_writes(
    core: client.CoreV1Api, namespace: str, labels: Mapping[str, str]
) -> WriteRefusal | None:
    """Create ``namespace`` and a ConfigMap in it, then delete both.

    Returns the first refused write, or None when all were accepted.

    Raises:
        ApiException: a failure that is not a refusal (RBAC, conflict).
    """
    body = client.V1Namespace(
        metadata=client.V1ObjectMeta(name=namespace, labels=dict(labels))
    )
    try:
        core.create_namespace(body)
    except ApiException as exc:
        refused = refusal_of(f"create namespace {namespace}", exc)
        if refused is None:
            raise
        return refused
    config_map = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=PROBE_OBJECT), data={"probe": "1"}
    )
    try:
        core.create_namespaced_config_map(namespace, config_map)
    except ApiException as exc:
        refused = refusal_of(
            f"create configmap {namespace}/{PROBE_OBJECT}", exc
        )
        _delete_namespace(core, namespace)
        if refused is None:
            raise
        return refused
    return _delete_namespace(core, namespace)


def _delete_namespace(
    core: client.CoreV1Api, namespace: str
) -> WriteRefusal | None:
    """Delete the probe's namespace; a refused delete is a refusal too."""
    try:
        core.delete_namespace(namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        refused = refusal_of(f"delete namespace {namespace}", exc)
        if refused is None:
            raise
        return refused
    return None
