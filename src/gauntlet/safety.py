"""The destructive-run gate: opt in by naming the cluster you mean.

Runs before anything is sent to the cluster, except one GET of the
``kube-system`` namespace to honour a ``protected`` mark. Naming the
context (not just passing a flag) means a kubeconfig that silently points
at the wrong cluster is refused.
"""

from __future__ import annotations

from kubernetes.client.exceptions import ApiException

from gauntlet.cluster.client import Cluster, reachability_errors
from gauntlet.errors import UsageError
from gauntlet.profiles import ProfileSpec

__all__ = [
    "PROTECTED_KEY",
    "check_destructive",
    "check_opt_in",
    "is_protected",
]

PROTECTED_KEY = "kube-gauntlet.io/protected"
REQUEST_TIMEOUT_S = 5.0


def check_opt_in(
    profile: ProfileSpec, context_name: str, allow_destructive: str | None
) -> None:
    """Refuse a destructive profile unless the target is named.

    Raises:
        UsageError: no ``--allow-destructive``, or it names another
            context.
    """
    if not profile.destructive:
        return
    if not allow_destructive:
        raise UsageError(
            f"profile {profile.name} is destructive: pass "
            "--allow-destructive <context> naming the target cluster "
            "(its kubeconfig context)"
        )
    if allow_destructive != context_name:
        raise UsageError(
            f"--allow-destructive names {allow_destructive!r} but the "
            f"target is context {context_name!r}: refusing profile "
            f"{profile.name}; name the target context to confirm"
        )


def check_destructive(
    profile: ProfileSpec,
    context_name: str,
    allow_destructive: str | None,
    protected: bool,
) -> None:
    """``check_opt_in``, then refuse a cluster marked protected.

    Raises:
        UsageError: not opted in, wrong name, or a protected cluster.
    """
    check_opt_in(profile, context_name, allow_destructive)
    if profile.destructive and protected:
        raise UsageError(
            f"context {context_name!r} is protected ({PROTECTED_KEY}=true "
            f"on namespace kube-system): refusing destructive profile "
            f"{profile.name}; remove the mark to allow it"
        )


def is_protected(cluster: Cluster) -> bool:
    """One GET of ``kube-system``: label or annotation ``protected=true``.

    Raises:
        ClusterUnreachable: the API server does not answer.
        UsageError: the namespace cannot be read, so protection is unknown
            (a destructive run is refused rather than risked).
    """
    with reachability_errors(cluster.server):
        try:
            namespace = cluster.core().read_namespace(
                "kube-system", _request_timeout=REQUEST_TIMEOUT_S
            )
        except ApiException as exc:
            if exc.status not in (403, 404):
                raise
            raise UsageError(
                f"cannot tell whether context {cluster.context!r} is "
                f"protected (GET namespace kube-system: {exc.status} "
                f"{exc.reason}): refusing a destructive run"
            ) from exc
    meta = namespace.metadata
    marks = [
        ((meta.labels if meta else None) or {}).get(PROTECTED_KEY),
        ((meta.annotations if meta else None) or {}).get(PROTECTED_KEY),
    ]
    return any(str(mark).lower() == "true" for mark in marks)
