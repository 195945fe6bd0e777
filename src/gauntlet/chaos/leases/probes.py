"""Who holds a leader-election Lease, and whether it is renewed."""

from datetime import UTC, datetime

from chaoslib.exceptions import ActivityFailed
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet.chaos import _context
from gauntlet.chaos._context import Configuration, Secrets

__all__ = ["lease_holder", "lease_renewed_within"]


def lease_holder(
    name: str,
    namespace: str = "kube-system",
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> str:
    """The holder identity of Lease ``namespace/name``.

    For ``kube-scheduler`` and ``kube-controller-manager`` this is
    ``<node>_<uuid>``: a change of value is a failover.

    Raises:
        ActivityFailed: the Lease cannot be read or has no holder.
    """
    spec = _lease(name, namespace, secrets).spec
    holder = spec.holder_identity if spec else None
    if not holder:
        raise ActivityFailed(f"lease {namespace}/{name} has no holder")
    return str(holder)


def lease_renewed_within(
    name: str,
    seconds: float = 20.0,
    namespace: str = "kube-system",
    raise_on_failure: bool = True,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """Whether Lease ``namespace/name`` was renewed in the last ``seconds``.

    Raises:
        ActivityFailed: it was not (unless ``raise_on_failure`` is
            false), or it cannot be read.
    """
    spec = _lease(name, namespace, secrets).spec or client.V1LeaseSpec()
    renewed = spec.renew_time
    age = (
        (datetime.now(UTC) - renewed).total_seconds()
        if renewed is not None
        else float("inf")
    )
    fresh = age <= seconds
    if not fresh and raise_on_failure:
        raise ActivityFailed(
            f"lease {namespace}/{name} last renewed {age:.0f}s ago "
            f"(holder {spec.holder_identity})"
        )
    return fresh


def _lease(name: str, namespace: str, secrets: Secrets) -> client.V1Lease:
    api = _context.cluster(secrets).coordination()
    try:
        return api.read_namespaced_lease(name, namespace)
    except ApiException as exc:
        raise ActivityFailed(
            f"read lease {namespace}/{name}: {exc.status} {exc.reason}"
        ) from exc
