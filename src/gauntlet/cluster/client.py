"""The one place that builds Kubernetes API clients.

Every problem with the target (no file, bad YAML, unknown context, server
down, credentials refused) is found here, before any test runs, and comes
out as one ``GauntletError`` line that says what to do.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from gauntlet.cluster.kubeconfig import default_kubeconfig, read_kubeconfig
from gauntlet.errors import (
    ClusterOperationFailed,
    ClusterUnreachable,
    PermissionMissing,
    UsageError,
)

__all__ = [
    "CONNECT_TIMEOUT_S",
    "Cluster",
    "ClusterTarget",
    "api_client",
    "connect",
    "context_name",
    "reachability_errors",
]

CONNECT_TIMEOUT_S = 5.0
IN_CLUSTER = "in-cluster"
ENV_KUBECONFIG = "KUBE_GAUNTLET_KUBECONFIG"
ENV_CONTEXT = "KUBE_GAUNTLET_CONTEXT"
ENV_IN_CLUSTER = "KUBE_GAUNTLET_IN_CLUSTER"


@dataclass(frozen=True)
class ClusterTarget:
    """Which cluster to talk to; resolving it never contacts the cluster."""

    kubeconfig: Path | None = None
    """``None`` means ``$KUBECONFIG`` or ``~/.kube/config``."""
    context: str | None = None
    """``None`` means the kubeconfig's current-context."""
    in_cluster: bool = False
    """Use the pod's service account instead of a kubeconfig."""

    @property
    def kubeconfig_path(self) -> Path:
        """The kubeconfig file this target reads."""
        return self.kubeconfig or default_kubeconfig()

    def to_params(self) -> dict[str, str]:
        """Plain strings, so a rollback in another process can reconnect."""
        params = {"kubeconfig": str(self.kubeconfig_path.resolve())}
        if self.context:
            params["context"] = self.context
        if self.in_cluster:
            params = {"in_cluster": "1"}
        return params

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> ClusterTarget:
        """Inverse of ``to_params`` (extra keys are ignored)."""
        if params.get("in_cluster"):
            return cls(in_cluster=True)
        kubeconfig = params.get("kubeconfig")
        context = params.get("context")
        return cls(
            kubeconfig=Path(str(kubeconfig)) if kubeconfig else None,
            context=str(context) if context else None,
        )

    @classmethod
    def from_env(cls) -> ClusterTarget | None:
        """The target ``gauntlet run`` hands to pytest, if it set one."""
        if os.environ.get(ENV_IN_CLUSTER) == "1":
            return cls(in_cluster=True)
        kubeconfig = os.environ.get(ENV_KUBECONFIG)
        if not kubeconfig:
            return None
        return cls(Path(kubeconfig), os.environ.get(ENV_CONTEXT) or None)


class Cluster:
    """An API client known to reach its server, with typed accessors."""

    def __init__(
        self,
        api: client.ApiClient,
        target: ClusterTarget,
        context: str,
        cluster: str,
        server: str,
    ) -> None:
        self.api = api
        self.target = target
        """How this client was built (to rebuild it in another process)."""
        self.context = context
        """The kubeconfig context name (``in-cluster`` inside a pod)."""
        self.cluster_name = cluster
        """The kubeconfig cluster entry the context points at."""
        self.server = server

    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    def policy(self) -> client.PolicyV1Api:
        return client.PolicyV1Api(self.api)

    def coordination(self) -> client.CoordinationV1Api:
        return client.CoordinationV1Api(self.api)

    def rbac(self) -> client.RbacAuthorizationV1Api:
        return client.RbacAuthorizationV1Api(self.api)

    def authz(self) -> client.AuthorizationV1Api:
        return client.AuthorizationV1Api(self.api)

    def require(
        self,
        verb: str,
        resource: str,
        group: str = "",
        namespace: str | None = None,
    ) -> None:
        """Ask the API server whether we may ``verb`` ``resource``.

        ``resource`` may name a subresource as ``pods/exec``.

        Raises:
            PermissionMissing: the answer is no.
            ClusterOperationFailed: the review itself failed.
        """
        name, _, sub = resource.partition("/")
        attributes = client.V1ResourceAttributes(
            verb=verb,
            resource=name,
            subresource=sub or None,
            group=group,
            namespace=namespace,
        )
        review = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=attributes
            )
        )
        try:
            answer = self.authz().create_self_subject_access_review(review)
        except ApiException as exc:
            raise ClusterOperationFailed(
                "create", "selfsubjectaccessreviews", None, _api_reason(exc)
            ) from exc
        if answer.status is not None and answer.status.allowed:
            return
        what = f"{group}/{resource}" if group else resource
        where = f" in namespace {namespace}" if namespace else ""
        raise PermissionMissing(
            f"missing RBAC permission: {verb} {what}{where} "
            f"(context {self.context}); grant it or use a cluster-admin "
            "context"
        )

    def reconnect(self) -> None:
        """Drop kept-alive connections: through a TCP balancer one stays
        pinned to the API server it reached first, even one that a fault
        broke; the next request opens a new one to a ready API server."""
        self.api.rest_client.pool_manager.clear()

    def close(self) -> None:
        """Release the connection pool (and its threads)."""
        self.api.close()  # type: ignore[no-untyped-call]


def context_name(target: ClusterTarget) -> str:
    """The context ``target`` resolves to, read from the file only.

    Raises:
        UsageError: the kubeconfig is missing, malformed or lacks the
            context.
    """
    if target.in_cluster:
        return IN_CLUSTER
    return read_kubeconfig(target.kubeconfig_path, target.context).context


def api_client(target: ClusterTarget) -> Cluster:
    """A client for ``target`` without contacting the server.

    Only for the safety check's single GET; everything else uses
    ``connect``.

    Raises:
        UsageError: the kubeconfig or in-cluster configuration is unusable.
    """
    cfg = client.Configuration()
    if target.in_cluster:
        try:
            config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=cfg
            )
        except ConfigException as exc:
            raise UsageError(
                f"in-cluster configuration unavailable ({_first_line(exc)}): "
                "run inside a pod or pass --kubeconfig"
            ) from exc
        context = cluster = IN_CLUSTER
    else:
        info = read_kubeconfig(target.kubeconfig_path, target.context)
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=str(info.path),
                context=info.context,
                client_configuration=cfg,
                persist_config=False,
            )
        except (ConfigException, OSError, ValueError) as exc:
            raise UsageError(
                f"kubeconfig {info.path}, context {info.context}: cannot "
                f"load credentials ({_first_line(exc)}); fix its user entry"
            ) from exc
        context, cluster = info.context, info.cluster
        target = ClusterTarget(info.path.resolve(), info.context)
    cfg.retries = 0  # fail fast and quietly; callers decide about retries
    return Cluster(
        client.ApiClient(cfg), target, context, cluster, str(cfg.host)
    )


def connect(
    target: ClusterTarget, timeout_s: float = CONNECT_TIMEOUT_S
) -> Cluster:
    """Build a client for ``target`` and check that the server answers.

    Raises:
        UsageError: the kubeconfig is missing, malformed or lacks the
            context.
        ClusterUnreachable: the server does not answer ``/version`` within
            ``timeout_s`` or rejects the credentials.
    """
    cluster = api_client(target)
    try:
        with reachability_errors(cluster.server):
            client.VersionApi(cluster.api).get_code(_request_timeout=timeout_s)
            # /version is public: check the credentials on an RBAC-free
            # endpoint that still needs authentication.
            cluster.authz().create_self_subject_access_review(
                client.V1SelfSubjectAccessReview(
                    spec=client.V1SelfSubjectAccessReviewSpec(
                        non_resource_attributes=client.V1NonResourceAttributes(
                            path="/version", verb="get"
                        )
                    )
                ),
                _request_timeout=timeout_s,
            )
    except BaseException:
        cluster.close()
        raise
    return cluster


@contextlib.contextmanager
def reachability_errors(server: str) -> Iterator[None]:
    """Turn transport errors and 401 into ``ClusterUnreachable``."""
    try:
        yield
    except ApiException as exc:
        if exc.status == 401:
            raise ClusterUnreachable(
                f"credentials rejected by {server} (401 Unauthorized): "
                "refresh the kubeconfig's credentials or pick another "
                "--context"
            ) from exc
        if exc.status == 403:
            raise ClusterUnreachable(
                f"{server} refuses these credentials (403 Forbidden): "
                "the kubeconfig's user is probably anonymous; fix its "
                "credentials or pick another --context"
            ) from exc
        raise ClusterUnreachable(
            f"the API server at {server} answered {_api_reason(exc)}; "
            "check the address and that the cluster is healthy"
        ) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise ClusterUnreachable(
            f"cannot reach the API server at {server}: "
            f"{_transport_reason(exc)}; check the address and that the "
            "cluster is up"
        ) from exc


def _transport_reason(exc: BaseException) -> str:
    """A short cause: ``connection refused``, ``timed out``."""
    errors = urllib3.exceptions
    if isinstance(exc, errors.MaxRetryError) and exc.reason:
        exc = exc.reason
    if isinstance(exc, errors.NameResolutionError):
        return "cannot resolve the host name"
    if isinstance(exc, errors.SSLError):
        return f"TLS failed ({_first_line(exc).rsplit(': ', 1)[-1]})"
    timeouts = errors.ConnectTimeoutError | errors.ReadTimeoutError
    # NewConnectionError subclasses ConnectTimeoutError but is a refusal.
    refused = isinstance(exc, errors.NewConnectionError)
    if isinstance(exc, timeouts | TimeoutError) and not refused:
        return "timed out"
    text = _first_line(exc).rsplit(": ", 1)[-1]
    if text.startswith("[Errno"):
        text = text.split("] ", 1)[-1]
    return text[:1].lower() + text[1:] if text else type(exc).__name__


def _api_reason(exc: ApiException) -> str:
    return f"{exc.status} {exc.reason}".strip()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
