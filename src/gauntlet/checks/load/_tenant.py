"""LOAD-02's tenant: a ServiceAccount that API Priority and Fairness
judges like any workload.

The run's own kubeconfig is usually ``system:masters``, which the
``exempt`` FlowSchema takes: it is never queued nor shed, so a load sent
with it can never see a 429. The tenant is a ServiceAccount in the
check's namespace with a Role for the configmaps the load writes and a
ClusterRole to list and watch pods (the cluster-scope LISTs), a token
from the TokenRequest API, and a kubeconfig for it written to a
temporary directory (server and CA from the run's own client).

Every object is recorded in the fault ledger before it is made, with
its removal, and removed LIFO when the block ends (also on failure);
after a killed run ``gauntlet recover`` removes what is left. The
namespaced ones also go with the check's namespace.
"""

from __future__ import annotations

import base64
import contextlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gauntlet.cluster.client import Cluster
from gauntlet.errors import ClusterOperationFailed
from gauntlet.faults import kinds
from gauntlet.faults.ledger import FaultLedger

__all__ = ["ACCOUNT", "Tenant", "as_body", "kubeconfig_for", "made", "tenant"]

ACCOUNT = "kg-load-tenant"
TOKEN_S = 3600
"""The token outlives any ramp (the load does not refresh it)."""
RBAC = "rbac.authorization.k8s.io/v1"


@dataclass(frozen=True)
class Tenant:
    """The ServiceAccount the load runs as, and its kubeconfig file."""

    account: str
    namespace: str
    kubeconfig: Path

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.account}"


def made(
    stack: contextlib.ExitStack,
    ledger: FaultLedger,
    cluster: Cluster,
    what: tuple[str, str, str | None, str],
    create: Callable[[], object],
    delete: Callable[[], object],
) -> None:
    """Record ``what`` (kind, name, namespace, apiVersion) with its
    removal, create it, and remove it with ``delete`` (a 404 is done)
    when ``stack`` closes."""
    kind, name, namespace, api_version = what
    where = f" in {namespace}" if namespace else ""
    entry = ledger.record_object(
        f"{kind} {name}{where}",
        kinds.delete_object(cluster, kind, name, namespace, api_version),
    )
    stack.callback(ledger.remove, entry, lambda: _unless_gone(delete))
    create()


def as_body(manifest: dict[str, Any]) -> Any:
    """A manifest as a request body: the client sends dicts as they are
    (its stubs only name the models)."""
    return manifest


def _unless_gone(delete: Callable[[], object]) -> None:
    try:
        delete()
    except ApiException as exc:
        if kinds.delete_outcome(exc.status) != "done":
            raise


@contextlib.contextmanager
def tenant(
    cluster: Cluster,
    ledger: FaultLedger,
    namespace: str,
    run_name: str,
    account: str = ACCOUNT,
) -> Iterator[Tenant]:
    """The tenant, made for the block and removed after it.

    ``run_name`` names the cluster-scoped objects (unique per run);
    ``account`` the ServiceAccount and its Role.

    Raises:
        ApiException: an object could not be made or no token issued.
    """
    core, rbac = cluster.core(), cluster.rbac()
    with contextlib.ExitStack() as stack:
        made(
            stack,
            ledger,
            cluster,
            ("ServiceAccount", account, namespace, "v1"),
            lambda: core.create_namespaced_service_account(
                namespace, as_body({"metadata": {"name": account}})
            ),
            lambda: core.delete_namespaced_service_account(account, namespace),
        )
        made(
            stack,
            ledger,
            cluster,
            ("Role", account, namespace, RBAC),
            lambda: rbac.create_namespaced_role(
                namespace, as_body(_role(account, "configmaps", ["*"]))
            ),
            lambda: rbac.delete_namespaced_role(account, namespace),
        )
        made(
            stack,
            ledger,
            cluster,
            ("RoleBinding", account, namespace, RBAC),
            lambda: rbac.create_namespaced_role_binding(
                namespace,
                as_body(_binding(account, "Role", namespace, account)),
            ),
            lambda: rbac.delete_namespaced_role_binding(account, namespace),
        )
        made(
            stack,
            ledger,
            cluster,
            ("ClusterRole", run_name, None, RBAC),
            lambda: rbac.create_cluster_role(
                as_body(_role(run_name, "pods", ["get", "list", "watch"]))
            ),
            lambda: rbac.delete_cluster_role(run_name),
        )
        made(
            stack,
            ledger,
            cluster,
            ("ClusterRoleBinding", run_name, None, RBAC),
            lambda: rbac.create_cluster_role_binding(
                as_body(_binding(run_name, "ClusterRole", namespace, account))
            ),
            lambda: rbac.delete_cluster_role_binding(run_name),
        )
        issued = core.create_namespaced_service_account_token(
            account,
            namespace,
            client.AuthenticationV1TokenRequest(
                spec=client.V1TokenRequestSpec(
                    audiences=[], expiration_seconds=TOKEN_S
                )
            ),
        )
        token = issued.status.token if issued.status else None
        if not token:
            raise ClusterOperationFailed(
                "create",
                f"token of ServiceAccount {account}",
                namespace,
                "the TokenRequest answer holds no token",
            )
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        path = folder / "tenant.kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig_for(cluster, str(token))))
        path.chmod(0o600)
        yield Tenant(account, namespace, path)


def kubeconfig_for(cluster: Cluster, token: str) -> dict[str, Any]:
    """A kubeconfig for ``token`` on the run's own server, verifying the
    server as the run's client does (its CA, its TLS server name)."""
    cfg = cluster.api.configuration
    entry: dict[str, Any] = {"server": cluster.server}
    if not cfg.verify_ssl:
        entry["insecure-skip-tls-verify"] = True
    elif cfg.ssl_ca_cert:
        data = Path(cfg.ssl_ca_cert).read_bytes()
        entry["certificate-authority-data"] = base64.b64encode(data).decode()
    if getattr(cfg, "tls_server_name", None):
        entry["tls-server-name"] = cfg.tls_server_name
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cluster", "cluster": entry}],
        "users": [{"name": "tenant", "user": {"token": token}}],
        "contexts": [
            {
                "name": "tenant",
                "context": {"cluster": "cluster", "user": "tenant"},
            }
        ],
        "current-context": "tenant",
    }


def _role(name: str, resource: str, verbs: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "rules": [{"apiGroups": [""], "resources": [resource], "verbs": verbs}],
    }


def _binding(
    name: str, role_kind: str, namespace: str, account: str
) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": role_kind,
            "name": name,
        },
        "subjects": [
            {"kind": "ServiceAccount", "name": account, "namespace": namespace}
        ],
    }
